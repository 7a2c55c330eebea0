//! Two-dimensional convolution and pooling over images stored one per row of a matrix: a row
//! holds a sample's `c·h·w` values channel by channel, each channel row by row (NCHW with each
//! sample flattened), the layout every value of a network has. A convolution's kernel is the
//! matrix `[o, c·kh·kw]`, an OIHW array viewed as rows of filters.
//!
//! At stride 1, on processors with AVX-512, the three passes run as direct kernels (the
//! private module `direct`) where their tiles are not mostly padding. Otherwise the convolution lowers each
//! sample to a product: its patches are copied into the columns of a buffer (`im2col`,
//! `[c·kh·kw, oh·ow]`), and `Y_s = K·cols` is one gemm. The buffer belongs to the caller
//! ([`Conv2d::columns_len`] elements; the direct kernels use it as their scratch where it is
//! long enough, else the patches run), so a step allocates nothing here. Given
//! [`Conv2d::scratch_len`] elements instead, a pass splits the batch into two halves, each
//! with its own patch buffer (and, for the kernel's gradient, its own sum), which run on two
//! threads with the `threading` feature: the arithmetic is that of the halves either way, so
//! the result does not depend on the thread count.
//!
//! As everywhere in this crate, "convolution" is the cross-correlation of deep learning:
//! `y[f, i, j] = Σ_{c, u, v} k[f, c, u, v] · x[c, s·i + d·u − p, s·j + d·v − p]`, with zeros
//! outside the image.

use ndarray::{ArrayView2, ArrayViewMut2, Axis};

use crate::error::{Error, Result};
use crate::gemm::{gemm, join};
use crate::scalar::Scalar;

mod direct;

/// The geometry of a convolution: `channels` input maps of `height × width`, `filters` filters
/// of `channels × kernel.0 × kernel.1`, moved by `stride`, over the input padded with `padding`
/// zeros on every side, their taps `dilation` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Input channels `c`.
    pub channels: usize,
    /// Input height `h`.
    pub height: usize,
    /// Input width `w`.
    pub width: usize,
    /// Output channels `o`.
    pub filters: usize,
    /// The kernel's height and width `(kh, kw)`.
    pub kernel: (usize, usize),
    /// The step between outputs, in input pixels.
    pub stride: usize,
    /// Zeros added on every side of each input map.
    pub padding: usize,
    /// The step between a kernel's taps (1: adjacent pixels).
    pub dilation: usize,
}

impl Conv2d {
    /// Checks that every size is at least 1 (padding may be 0) and that the kernel, dilated,
    /// fits inside the padded input.
    pub fn check(&self) -> Result<()> {
        let sizes = [
            ("channels", self.channels),
            ("height", self.height),
            ("width", self.width),
            ("filters", self.filters),
            ("kernel height", self.kernel.0),
            ("kernel width", self.kernel.1),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, size)| *size == 0) {
            return Err(config(format!("the {name} is 0; it must be at least 1")));
        }
        let (span_h, span_w) = self.span();
        let (padded_h, padded_w) = (self.height + 2 * self.padding, self.width + 2 * self.padding);
        if span_h > padded_h || span_w > padded_w {
            return Err(config(format!(
                "the kernel covers {span_h} × {span_w} pixels (dilation {}) but the input with padding {} \
                 is {padded_h} × {padded_w}",
                self.dilation, self.padding
            )));
        }
        Ok(())
    }

    /// The pixels a dilated kernel covers, `(d(kh − 1) + 1, d(kw − 1) + 1)`.
    fn span(&self) -> (usize, usize) {
        (
            self.dilation * (self.kernel.0 - 1) + 1,
            self.dilation * (self.kernel.1 - 1) + 1,
        )
    }

    /// The output maps' height and width: `(h + 2p − d(kh − 1) − 1)/s + 1`, rounded down, and
    /// the same across. Valid after [`Conv2d::check`].
    pub fn output_size(&self) -> (usize, usize) {
        let (span_h, span_w) = self.span();
        (
            (self.height + 2 * self.padding - span_h) / self.stride + 1,
            (self.width + 2 * self.padding - span_w) / self.stride + 1,
        )
    }

    /// Features of an input row, `c·h·w`.
    pub fn input_features(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Features of an output row, `o·oh·ow`.
    pub fn output_features(&self) -> usize {
        let (oh, ow) = self.output_size();
        self.filters * oh * ow
    }

    /// Values in one patch, the kernel matrix's columns: `c·kh·kw`.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel.0 * self.kernel.1
    }

    /// The length of the column buffer the passes need: `c·kh·kw · oh·ow`.
    pub fn columns_len(&self) -> usize {
        let (oh, ow) = self.output_size();
        self.patch_len() * oh * ow
    }

    /// The scratch a pass needs to split the batch into two halves: a patch buffer for each,
    /// and the second half's kernel gradient, `2·columns_len + o·c·kh·kw`.
    pub fn scratch_len(&self) -> usize {
        2 * self.columns_len() + self.filters * self.patch_len()
    }

    /// The two halves of a batch of `rows` samples: where the second starts, each half's
    /// patch buffer and the second half's kernel gradient; `None` if `scratch` is shorter
    /// than [`Conv2d::scratch_len`] or there are fewer than two samples.
    #[allow(clippy::type_complexity)]
    fn halves<'a, T>(&self, rows: usize, scratch: &'a mut [T]) -> Option<(usize, [&'a mut [T]; 2], &'a mut [T])> {
        if rows < 2 || scratch.len() < self.scratch_len() {
            return None;
        }
        let (first, rest) = scratch.split_at_mut(self.columns_len());
        let (second, kernel) = rest.split_at_mut(self.columns_len());
        Some((
            rows / 2,
            [first, second],
            &mut kernel[..self.filters * self.patch_len()],
        ))
    }

    /// The outputs `j` of one output row whose tap at column offset `d·v` reads inside the
    /// image: `0 ≤ s·j + d·v − p < w`.
    fn valid_columns(&self, v: usize) -> std::ops::Range<usize> {
        let (_, ow) = self.output_size();
        let offset = self.dilation * v;
        // The first j with s·j ≥ p − d·v, and the first with s·j > w − 1 + p − d·v.
        let first = self.padding.saturating_sub(offset).div_ceil(self.stride);
        let end = match (self.width - 1 + self.padding).checked_sub(offset) {
            Some(last) => (last / self.stride + 1).min(ow),
            None => 0,
        };
        first.min(end)..end
    }

    /// Calls `each(column start, input start, length)` for every run of taps that read the image
    /// (not padding): for each tap `(c, u, v)` and output row `i`, the outputs `j` whose pixels
    /// lie inside the image, consecutive in the column buffer and `stride` apart in the input.
    fn for_each_run(&self, mut each: impl FnMut(usize, usize, usize)) {
        let (oh, ow) = self.output_size();
        let (kh, kw) = self.kernel;
        // The kernel column `v` outermost: which outputs of a row read inside the image
        // depends on it alone.
        for v in 0..kw {
            let columns = self.valid_columns(v);
            if columns.is_empty() {
                continue;
            }
            for c in 0..self.channels {
                for u in 0..kh {
                    let tap = (c * kh + u) * kw + v;
                    for i in 0..oh {
                        let Some(row) = (self.stride * i + self.dilation * u).checked_sub(self.padding) else {
                            continue;
                        };
                        if row >= self.height {
                            continue;
                        }
                        let col = self.stride * columns.start + self.dilation * v - self.padding;
                        let at = tap * oh * ow + i * ow + columns.start;
                        each(at, (c * self.height + row) * self.width + col, columns.len());
                    }
                }
            }
        }
    }

    /// `cols[(c, u, v), (i, j)] = x[c, s·i + d·u − p, s·j + d·v − p]` (zero in the padding):
    /// each element written once, the runs of pixels copied and the padding around them
    /// zeroed.
    fn im2col<T: Scalar>(&self, image: &[T], cols: &mut [T]) {
        let (oh, ow) = self.output_size();
        let (kh, kw) = self.kernel;
        let stride = self.stride;
        for v in 0..kw {
            let columns = self.valid_columns(v);
            for c in 0..self.channels {
                for u in 0..kh {
                    let tap = (c * kh + u) * kw + v;
                    let rows = cols[tap * oh * ow..(tap + 1) * oh * ow].chunks_exact_mut(ow);
                    for (i, out) in rows.enumerate() {
                        let row = (stride * i + self.dilation * u)
                            .checked_sub(self.padding)
                            .filter(|&row| row < self.height);
                        let (Some(row), false) = (row, columns.is_empty()) else {
                            out.fill(T::ZERO);
                            continue;
                        };
                        out[..columns.start].fill(T::ZERO);
                        out[columns.end..].fill(T::ZERO);
                        let from = (c * self.height + row) * self.width + stride * columns.start + self.dilation * v
                            - self.padding;
                        let to = &mut out[columns.clone()];
                        if stride == 1 {
                            copy_run(to, &image[from..from + to.len()]);
                        } else {
                            to.iter_mut()
                                .zip(image[from..].iter().step_by(stride))
                                .for_each(|(t, &x)| *t = x);
                        }
                    }
                }
            }
        }
    }

    /// Adds every column entry back onto the pixel it was copied from: the adjoint of `im2col`.
    fn col2im_add<T: Scalar>(&self, cols: &[T], image: &mut [T]) {
        let stride = self.stride;
        self.for_each_run(|at, to, len| {
            let from = &cols[at..at + len];
            if stride == 1 {
                image[to..to + len].iter_mut().zip(from).for_each(|(x, &c)| *x += c);
            } else {
                image[to..]
                    .iter_mut()
                    .step_by(stride)
                    .zip(from)
                    .for_each(|(x, &c)| *x += c);
            }
        });
    }

    /// Checks the operands of a pass: `rows` samples, the kernel matrix, the column buffer.
    fn check_operands<T>(
        &self,
        x: (usize, usize),
        kernel: (usize, usize),
        y: (usize, usize),
        cols: &[T],
    ) -> Result<()> {
        self.check()?;
        let expect = |what: &'static str, got: (usize, usize), want: (usize, usize)| {
            if got == want {
                Ok(())
            } else {
                Err(Error::Shape {
                    op: "conv2d",
                    lhs_name: what,
                    lhs: vec![got.0, got.1],
                    rhs_name: "the geometry's",
                    rhs: vec![want.0, want.1],
                })
            }
        };
        expect("input", x, (x.0, self.input_features()))?;
        expect("kernel", kernel, (self.filters, self.patch_len()))?;
        expect("output", y, (x.0, self.output_features()))?;
        if cols.len() >= self.columns_len() {
            return Ok(());
        }
        expect("column buffer", (1, cols.len()), (1, self.columns_len()))
    }

    /// `Y = K ⋆ X`: for each sample, `cols = im2col(x_s)` and `Y_s = K·cols`; `cols` holds at
    /// least [`Conv2d::columns_len`] elements, or [`Conv2d::scratch_len`] for two halves.
    pub fn forward<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        kernel: ArrayView2<'_, T>,
        y: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        self.check_operands(x.dim(), kernel.dim(), y.dim(), cols)?;
        self.sample_by_sample(x, y, cols, |x, y, cols| self.forward_samples(x, kernel, y, cols))
    }

    /// `pass(input rows, output rows, patch buffer)` over the samples, in two halves with a
    /// patch buffer each when `cols` holds [`Conv2d::scratch_len`] elements (see
    /// [`Conv2d::halves`]), else in one.
    fn sample_by_sample<T: Scalar>(
        &self,
        input: ArrayView2<'_, T>,
        mut output: ArrayViewMut2<'_, T>,
        cols: &mut [T],
        pass: impl Fn(ArrayView2<'_, T>, ArrayViewMut2<'_, T>, &mut [T]) -> Result<()> + Sync,
    ) -> Result<()> {
        let Some((mid, [first, second], _)) = self.halves(input.nrows(), cols) else {
            return pass(input, output, cols);
        };
        let ((in0, in1), (out0, out1)) = (input.split_at(Axis(0), mid), output.view_mut().split_at(Axis(0), mid));
        let (a, b) = join(|| pass(in0, out0, first), || pass(in1, out1, second));
        a.and(b)
    }

    /// The samples' forward passes: direct where the direct kernels run them and it pays, else through
    /// patches.
    fn forward_samples<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        kernel: ArrayView2<'_, T>,
        mut y: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        if let (Some(xs), Some(ks), Some(ys)) = (x.as_slice(), kernel.as_slice(), y.as_slice_mut())
            && direct::pays(self, direct::Pass::Forward)
            && direct::forward(self, xs, ks, ys, cols)
        {
            return Ok(());
        }
        self.forward_patches(x, kernel, y, cols)
    }

    fn forward_patches<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        kernel: ArrayView2<'_, T>,
        mut y: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        let (oh, ow) = self.output_size();
        let cols = &mut cols[..self.columns_len()];
        for (image, mut out) in x.rows().into_iter().zip(y.rows_mut()) {
            self.im2col(row_slice(&image, "conv2d input")?, cols);
            let out = matrix_mut(&mut out, self.filters, oh * ow)?;
            gemm(T::ONE, kernel, matrix(cols, self.patch_len(), oh * ow), T::ZERO, out)?;
        }
        Ok(())
    }

    /// The input's adjoint, `X̄_s = col2im(Kᵀ·Ȳ_s)`: each pixel gathers every output that read it,
    /// times the tap that read it.
    pub fn backward_input<T: Scalar>(
        &self,
        dy: ArrayView2<'_, T>,
        kernel: ArrayView2<'_, T>,
        dx: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        self.check_operands(dx.dim(), kernel.dim(), dy.dim(), cols)?;
        self.sample_by_sample(dy, dx, cols, |dy, dx, cols| self.input_samples(dy, kernel, dx, cols))
    }

    /// The samples' input gradients: direct where the direct kernels run them and it pays, else through
    /// patches.
    fn input_samples<T: Scalar>(
        &self,
        dy: ArrayView2<'_, T>,
        kernel: ArrayView2<'_, T>,
        mut dx: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        if let (Some(dys), Some(ks), Some(dxs)) = (dy.as_slice(), kernel.as_slice(), dx.as_slice_mut())
            && direct::pays(self, direct::Pass::Input)
            && direct::backward_input(self, dys, ks, dxs, cols)
        {
            return Ok(());
        }
        self.input_patches(dy, kernel, dx, cols)
    }

    fn input_patches<T: Scalar>(
        &self,
        dy: ArrayView2<'_, T>,
        kernel: ArrayView2<'_, T>,
        mut dx: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        let (oh, ow) = self.output_size();
        let cols = &mut cols[..self.columns_len()];
        for (grad, mut image) in dy.rows().into_iter().zip(dx.rows_mut()) {
            let grad = matrix(row_slice(&grad, "conv2d output gradient")?, self.filters, oh * ow);
            gemm(
                T::ONE,
                kernel.t(),
                grad,
                T::ZERO,
                matrix_mut_slice(cols, self.patch_len(), oh * ow),
            )?;
            let image = row_slice_mut(&mut image, "conv2d input gradient")?;
            image.fill(T::ZERO);
            self.col2im_add(cols, image);
        }
        Ok(())
    }

    /// The kernel's adjoint, `K̄ = Σ_s Ȳ_s·im2col(x_s)ᵀ`, added onto `beta·K̄` (0: overwrite). In
    /// two halves, the second half's sum is added onto the first's at the end.
    pub fn backward_kernel<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        dy: ArrayView2<'_, T>,
        beta: T,
        mut dk: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        self.check_operands(x.dim(), dk.dim(), dy.dim(), cols)?;
        let Some((mid, [first, second], other)) = self.halves(x.nrows(), cols) else {
            return self.kernel_samples(x, dy, beta, dk, cols);
        };
        let ((x0, x1), (g0, g1)) = (x.split_at(Axis(0), mid), dy.split_at(Axis(0), mid));
        let mut other = matrix_mut_slice(other, self.filters, self.patch_len());
        let (a, b) = join(
            || self.kernel_samples(x0, g0, beta, dk.view_mut(), first),
            || self.kernel_samples(x1, g1, T::ZERO, other.view_mut(), second),
        );
        a.and(b)?;
        dk.zip_mut_with(&other, |k, &o| *k += o);
        Ok(())
    }

    /// The samples' kernel gradient: direct where the direct kernels run it and it pays, else through
    /// patches.
    fn kernel_samples<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        dy: ArrayView2<'_, T>,
        beta: T,
        mut dk: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        if let (Some(xs), Some(dys), Some(dks)) = (x.as_slice(), dy.as_slice(), dk.as_slice_mut())
            && direct::pays(self, direct::Pass::Kernel)
            && direct::backward_kernel(self, xs, dys, beta, dks, cols)
        {
            return Ok(());
        }
        self.kernel_patches(x, dy, beta, dk, cols)
    }

    fn kernel_patches<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        dy: ArrayView2<'_, T>,
        beta: T,
        mut dk: ArrayViewMut2<'_, T>,
        cols: &mut [T],
    ) -> Result<()> {
        let (oh, ow) = self.output_size();
        let cols = &mut cols[..self.columns_len()];
        if x.nrows() == 0 {
            dk.map_inplace(|v| *v *= beta);
        }
        for (s, (image, grad)) in x.rows().into_iter().zip(dy.rows()).enumerate() {
            self.im2col(row_slice(&image, "conv2d input")?, cols);
            let grad = matrix(row_slice(&grad, "conv2d output gradient")?, self.filters, oh * ow);
            let beta = if s == 0 { beta } else { T::ONE };
            gemm(
                T::ONE,
                grad,
                matrix(cols, self.patch_len(), oh * ow).t(),
                beta,
                dk.view_mut(),
            )?;
        }
        Ok(())
    }
}

/// `to ← from`, for the short runs of im2col (a row of a map, a few dozen values): in moves of
/// eight values, the last eight overlapping the ones before, so that a run is a few vector
/// moves rather than a call to `memcpy`, whose overhead is most of the cost at these lengths
/// (a plain copy loop is compiled to such a call).
fn copy_run<T: Copy>(to: &mut [T], from: &[T]) {
    const LANES: usize = 8;
    let n = to.len();
    if n < LANES {
        to.copy_from_slice(from);
        return;
    }
    let eight = |to: &mut [T], from: &[T]| {
        if let (Ok(to), Ok(from)) = (<&mut [T; LANES]>::try_from(to), <&[T; LANES]>::try_from(from)) {
            *to = *from;
        }
    };
    for (t, f) in to.chunks_exact_mut(LANES).zip(from.chunks_exact(LANES)) {
        eight(t, f);
    }
    eight(&mut to[n - LANES..], &from[n - LANES..]);
}

/// The geometry of a pooling: `channels` maps of `height × width`, windows of `size`, moved by
/// `stride` (no padding: a window lies inside its map).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// Channels `c`, pooled one by one.
    pub channels: usize,
    /// Input height `h`.
    pub height: usize,
    /// Input width `w`.
    pub width: usize,
    /// The window's height and width.
    pub size: (usize, usize),
    /// The step between windows.
    pub stride: usize,
}

impl Pool2d {
    /// Checks that every size is at least 1 and that a window fits in a map.
    pub fn check(&self) -> Result<()> {
        let sizes = [
            ("channels", self.channels),
            ("height", self.height),
            ("width", self.width),
            ("window height", self.size.0),
            ("window width", self.size.1),
            ("stride", self.stride),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, size)| *size == 0) {
            return Err(config(format!("the pooling's {name} is 0; it must be at least 1")));
        }
        if self.size.0 > self.height || self.size.1 > self.width {
            return Err(config(format!(
                "the pooling window is {} × {} but the map is {} × {}",
                self.size.0, self.size.1, self.height, self.width
            )));
        }
        Ok(())
    }

    /// The output maps' height and width, `(h − kh)/s + 1` rounded down, and the same across.
    pub fn output_size(&self) -> (usize, usize) {
        (
            (self.height - self.size.0) / self.stride + 1,
            (self.width - self.size.1) / self.stride + 1,
        )
    }

    /// Features of an input row, `c·h·w`.
    pub fn input_features(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Features of an output row, `c·oh·ow`.
    pub fn output_features(&self) -> usize {
        let (oh, ow) = self.output_size();
        self.channels * oh * ow
    }

    /// Calls `each(output index, index of its window's top-left pixel)` for every output of a
    /// sample; pixel `(u, v)` of the window is `width·u + v` after it.
    fn for_each_window(&self, mut each: impl FnMut(usize, usize)) {
        let (oh, ow) = self.output_size();
        for c in 0..self.channels {
            for i in 0..oh {
                let row = (c * self.height + i * self.stride) * self.width;
                for j in 0..ow {
                    each((c * oh + i) * ow + j, row + j * self.stride);
                }
            }
        }
    }

    /// Calls `each(input index)` for the pixels of the window starting at `start`, row by row.
    #[inline(always)]
    fn for_each_pixel(&self, start: usize, mut each: impl FnMut(usize)) {
        for u in 0..self.size.0 {
            let row = start + u * self.width;
            (row..row + self.size.1).for_each(&mut each);
        }
    }

    fn check_operands(&self, x: (usize, usize), y: (usize, usize)) -> Result<()> {
        self.check()?;
        if x.1 == self.input_features() && y == (x.0, self.output_features()) {
            return Ok(());
        }
        Err(Error::Shape {
            op: "pool2d",
            lhs_name: "input and output",
            lhs: vec![x.0, x.1, y.0, y.1],
            rhs_name: "the geometry's",
            rhs: vec![x.0, self.input_features(), x.0, self.output_features()],
        })
    }

    /// The largest value of each window, and where it is (its index in the sample's row) in
    /// `argmax`, one per output, which the backward pass reads. A window holding NaN gives NaN.
    pub fn max_forward<T: Scalar>(
        &self,
        x: ArrayView2<'_, T>,
        mut y: ArrayViewMut2<'_, T>,
        argmax: &mut [usize],
    ) -> Result<()> {
        self.check_operands(x.dim(), y.dim())?;
        if argmax.len() != y.len() {
            return Err(Error::Shape {
                op: "max_pool2d",
                lhs_name: "arg-max buffer",
                lhs: vec![argmax.len()],
                rhs_name: "output",
                rhs: vec![y.len()],
            });
        }
        let per_row = self.output_features();
        for ((image, mut out), argmax) in x.rows().into_iter().zip(y.rows_mut()).zip(argmax.chunks_mut(per_row)) {
            let image = row_slice(&image, "max_pool2d input")?;
            let out = row_slice_mut(&mut out, "max_pool2d output")?;
            let (oh, ow) = self.output_size();
            let rows = out.chunks_exact_mut(ow).zip(argmax.chunks_exact_mut(ow));
            for (row, (out, taken)) in rows.enumerate() {
                let top = (row / oh * self.height + row % oh * self.stride) * self.width;
                self.row_maxima(&image[top..], out);
                self.row_argmaxes(&image[top..], out, taken);
                taken.iter_mut().for_each(|t| *t += top);
            }
        }
        Ok(())
    }

    /// The maxima of one row of windows, whose first starts at `pixels[0]`, a NaN winning over
    /// numbers: pixel by pixel of the windows, all windows of the row side by side. There is
    /// no branch on the data (`|` joins the comparisons, not `||`), so nothing to mispredict
    /// where which pixel wins is unpredictable, as it is in training.
    fn row_maxima<T: Scalar>(&self, pixels: &[T], out: &mut [T]) {
        // The larger, or the NaN: `b` taken if larger or NaN (and a NaN `a` kept otherwise).
        #[allow(clippy::eq_op)]
        let larger = |a: T, b: T| if (b > a) | (b != b) { b } else { a };
        if self.size == (2, 2) && self.stride == 2 {
            // The common case, as pairs of pixels from two rows: vector instructions.
            let n = 2 * out.len();
            let (top, bottom) = (&pixels[..n], &pixels[self.width..self.width + n]);
            for ((o, a), b) in out.iter_mut().zip(top.chunks_exact(2)).zip(bottom.chunks_exact(2)) {
                *o = larger(larger(a[0], a[1]), larger(b[0], b[1]));
            }
            return;
        }
        let stride = self.stride;
        out.iter_mut()
            .zip(pixels.iter().step_by(stride))
            .for_each(|(o, &value)| *o = value);
        for u in 0..self.size.0 {
            for v in (0..self.size.1).skip(usize::from(u == 0)) {
                let window = pixels[u * self.width + v..].iter().step_by(stride);
                for (o, &value) in out.iter_mut().zip(window) {
                    *o = larger(*o, value);
                }
            }
        }
    }

    /// Where each maximum of one row of windows is, as an index from `pixels[0]`: the first
    /// pixel of its window (row by row) equal to it, or NaN. Counted without branches: the
    /// index moves on to the next pixel for as long as none was found.
    fn row_argmaxes<T: Scalar>(&self, pixels: &[T], maxima: &[T], taken: &mut [usize]) {
        // Whether `value` is the maximum `max` (or a NaN, which only a NaN maximum has).
        #[allow(clippy::eq_op)]
        let is = |value: T, max: T| usize::from((value == max) | (value != value));
        if self.size == (2, 2) && self.stride == 2 {
            let n = 2 * maxima.len();
            let (top, bottom) = (&pixels[..n], &pixels[self.width..self.width + n]);
            let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (j, ((t, &max), (a, b))) in taken.iter_mut().zip(maxima).zip(windows).enumerate() {
                // Past the first pixel unless it is the maximum, past the second unless that
                // is, then to the next row, past its first: 0, 1, w or w + 1.
                let (not0, not1, not2) = (1 - is(a[0], max), 1 - is(a[1], max), 1 - is(b[0], max));
                *t = 2 * j + not0 * (1 + not1 * (self.width - 1 + not2));
            }
            return;
        }
        let (kh, kw) = self.size;
        for (j, (t, &max)) in taken.iter_mut().zip(maxima).enumerate() {
            let start = j * self.stride;
            let (mut at, mut found) = (start, false);
            for u in 0..kh {
                let row = &pixels[start + u * self.width..start + u * self.width + kw];
                for (v, &value) in row.iter().enumerate() {
                    found |= is(value, max) == 1;
                    // The step to the next pixel: along the row, or to the next row's start.
                    let step = if v + 1 < kw { 1 } else { self.width + 1 - kw };
                    at += usize::from(!found) * step;
                }
            }
            *t = at;
        }
    }

    /// The input's adjoint of max pooling: each output's adjoint goes to the pixel it took,
    /// `X̄[argmax[o]] += Ȳ[o]`, zero elsewhere.
    pub fn max_backward<T: Scalar>(
        &self,
        dy: ArrayView2<'_, T>,
        argmax: &[usize],
        mut dx: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        self.check_operands(dx.dim(), dy.dim())?;
        let per_row = self.output_features();
        for ((grad, mut image), argmax) in dy.rows().into_iter().zip(dx.rows_mut()).zip(argmax.chunks(per_row)) {
            let image = row_slice_mut(&mut image, "max_pool2d input gradient")?;
            image.fill(T::ZERO);
            for (g, &at) in grad.iter().zip(argmax) {
                image[at] += *g;
            }
        }
        Ok(())
    }

    /// `X̄` gathered at the arg-maxes, `Y[o] = X̄[argmax[o]]`: the adjoint of
    /// [`Pool2d::max_backward`] (a derivative of the max-pooling's derivative reads it).
    pub fn max_gather<T: Scalar>(
        &self,
        dx: ArrayView2<'_, T>,
        argmax: &[usize],
        mut y: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        self.check_operands(dx.dim(), y.dim())?;
        let per_row = self.output_features();
        for ((image, mut out), argmax) in dx.rows().into_iter().zip(y.rows_mut()).zip(argmax.chunks(per_row)) {
            let image = row_slice(&image, "max_pool2d gather input")?;
            for (o, &at) in out.iter_mut().zip(argmax) {
                *o = image[at];
            }
        }
        Ok(())
    }

    /// Each window's sum times `scale`: average pooling with `scale = 1/(kh·kw)`.
    pub fn window_sum<T: Scalar>(&self, scale: T, x: ArrayView2<'_, T>, mut y: ArrayViewMut2<'_, T>) -> Result<()> {
        self.check_operands(x.dim(), y.dim())?;
        for (image, mut out) in x.rows().into_iter().zip(y.rows_mut()) {
            let image = row_slice(&image, "window sum input")?;
            let out = row_slice_mut(&mut out, "window sum output")?;
            self.for_each_window(|o, start| {
                let mut sum = T::ZERO;
                self.for_each_pixel(start, |at| sum += image[at]);
                out[o] = sum * scale;
            });
        }
        Ok(())
    }

    /// The adjoint of [`Pool2d::window_sum`]: each pixel gathers `scale·Ȳ[o]` from every window
    /// `o` it is in. With windows `s × s` at stride `s` and `scale = 1`, nearest-neighbour
    /// upsampling of `Ȳ` by `s`.
    pub fn window_spread<T: Scalar>(
        &self,
        scale: T,
        dy: ArrayView2<'_, T>,
        mut dx: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        self.check_operands(dx.dim(), dy.dim())?;
        for (grad, mut image) in dy.rows().into_iter().zip(dx.rows_mut()) {
            let image = row_slice_mut(&mut image, "window spread output")?;
            image.fill(T::ZERO);
            self.for_each_window(|o, start| {
                let share = grad[o] * scale;
                self.for_each_pixel(start, |at| image[at] += share);
            });
        }
        Ok(())
    }
}

fn config(message: String) -> Error {
    Error::Config {
        setting: "conv2d / pool2d geometry".into(),
        message,
    }
}

fn layout(what: &'static str, len: usize) -> Error {
    Error::Layout {
        what: what.into(),
        shape: vec![len],
        needed: "each sample's row must be contiguous",
    }
}

fn row_slice<'a, T>(row: &'a ndarray::ArrayView1<'_, T>, what: &'static str) -> Result<&'a [T]> {
    row.as_slice().ok_or_else(|| layout(what, row.len()))
}

fn row_slice_mut<'a, T>(row: &'a mut ndarray::ArrayViewMut1<'_, T>, what: &'static str) -> Result<&'a mut [T]> {
    let len = row.len();
    row.as_slice_mut().ok_or_else(|| layout(what, len))
}

/// `values` as a `rows × cols` matrix (row-major).
fn matrix<T>(values: &[T], rows: usize, cols: usize) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((rows, cols), &values[..rows * cols]).expect("the lengths were checked")
}

fn matrix_mut_slice<T>(values: &mut [T], rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((rows, cols), &mut values[..rows * cols]).expect("the lengths were checked")
}

fn matrix_mut<'a, T>(
    row: &'a mut ndarray::ArrayViewMut1<'_, T>,
    rows: usize,
    cols: usize,
) -> Result<ArrayViewMut2<'a, T>> {
    Ok(matrix_mut_slice(row_slice_mut(row, "conv2d output")?, rows, cols))
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::{Conv2d, Pool2d, direct};

    fn random(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0..1.0))
    }

    /// `Σ aᵢbᵢ` and `Σ |aᵢbᵢ|`, its scale.
    fn dot(a: &Array2<f64>, b: &Array2<f64>) -> (f64, f64) {
        a.iter()
            .zip(b)
            .fold((0.0, 0.0), |(s, m), (x, y)| (s + x * y, m + (x * y).abs()))
    }

    /// Random geometries, stride, padding and dilation included, that fit.
    fn geometries(rng: &mut StdRng) -> impl Iterator<Item = Conv2d> + '_ {
        std::iter::repeat_with(move || Conv2d {
            channels: rng.random_range(1..4),
            height: rng.random_range(1..9),
            width: rng.random_range(1..9),
            filters: rng.random_range(1..4),
            kernel: (rng.random_range(1..4), rng.random_range(1..4)),
            stride: rng.random_range(1..3),
            padding: rng.random_range(0..3),
            dilation: rng.random_range(1..3),
        })
        .filter(|g| g.check().is_ok())
        .take(200)
    }

    /// The definition, one output at a time.
    fn direct(g: &Conv2d, x: &Array2<f64>, k: &Array2<f64>) -> Array2<f64> {
        let (oh, ow) = g.output_size();
        let (kh, kw) = g.kernel;
        Array2::from_shape_fn((x.nrows(), g.output_features()), |(s, out)| {
            let (f, i, j) = (out / (oh * ow), out / ow % oh, out % ow);
            let mut sum = 0.0;
            for c in 0..g.channels {
                for u in 0..kh {
                    for v in 0..kw {
                        let row = (g.stride * i + g.dilation * u) as isize - g.padding as isize;
                        let col = (g.stride * j + g.dilation * v) as isize - g.padding as isize;
                        if (0..g.height as isize).contains(&row) && (0..g.width as isize).contains(&col) {
                            let pixel = x[[s, (c * g.height + row as usize) * g.width + col as usize]];
                            sum += k[[f, (c * kh + u) * kw + v]] * pixel;
                        }
                    }
                }
            }
            sum
        })
    }

    /// The forward pass is the definition; the two backward passes are its adjoints:
    /// `⟨K ⋆ X, Ȳ⟩ = ⟨X, X̄⟩ = ⟨K, K̄⟩` for any `Ȳ`, which pins every entry of both. In f64 the
    /// sums of a few hundred products agree to 10⁻¹⁵ of their magnitudes; 10⁻¹² is allowed.
    #[test]
    fn convolution_matches_its_definition_and_its_backward_passes_are_its_adjoints() {
        let mut rng = StdRng::seed_from_u64(0);
        let geometries: Vec<Conv2d> = geometries(&mut rng).collect();
        for g in geometries {
            let rows = rng.random_range(1..4);
            let (x, k) = (
                random(&mut rng, rows, g.input_features()),
                random(&mut rng, g.filters, g.patch_len()),
            );
            let mut cols = vec![0.0; g.columns_len()];
            let mut y = Array2::zeros((rows, g.output_features()));
            g.forward(x.view(), k.view(), y.view_mut(), &mut cols).unwrap();
            let expected = direct(&g, &x, &k);
            let worst = (&y - &expected).iter().fold(0.0_f64, |m, d| m.max(d.abs()));
            assert!(worst <= 1e-12 * g.patch_len() as f64, "{g:?}: forward off by {worst}");

            let dy = random(&mut rng, rows, g.output_features());
            let mut dx = Array2::from_elem(x.dim(), f64::NAN);
            g.backward_input(dy.view(), k.view(), dx.view_mut(), &mut cols).unwrap();
            let mut dk = random(&mut rng, k.nrows(), k.ncols());
            let before = dk.clone();
            g.backward_kernel(x.view(), dy.view(), 1.0, dk.view_mut(), &mut cols)
                .unwrap();
            let dk = dk - before;
            let (out, scale) = dot(&y, &dy);
            for (what, adjoint, primal) in [("input", &dx, &x), ("kernel", &dk, &k)] {
                let (sum, _) = dot(adjoint, primal);
                assert!(
                    (sum - out).abs() <= 1e-12 * scale.max(1.0),
                    "{g:?}: {what} adjoint {sum} vs {out}"
                );
            }
        }
    }

    /// With scratch for two halves of the batch, the passes compute what they compute sample by
    /// sample: the same outputs and input gradients bit for bit (each sample alone), the kernel
    /// gradient up to the order of its sum.
    #[test]
    fn two_halves_compute_what_one_pass_does() {
        let mut rng = StdRng::seed_from_u64(2);
        let geometries: Vec<Conv2d> = geometries(&mut rng).take(60).collect();
        for g in geometries {
            let rows = rng.random_range(2..6);
            let (x, k) = (
                random(&mut rng, rows, g.input_features()),
                random(&mut rng, g.filters, g.patch_len()),
            );
            let dy = random(&mut rng, rows, g.output_features());
            let start = random(&mut rng, k.nrows(), k.ncols());
            let passes = |cols: &mut Vec<f64>| {
                let mut y = Array2::zeros((rows, g.output_features()));
                g.forward(x.view(), k.view(), y.view_mut(), cols).unwrap();
                let mut dx = Array2::zeros(x.dim());
                g.backward_input(dy.view(), k.view(), dx.view_mut(), cols).unwrap();
                let mut dk = start.clone();
                g.backward_kernel(x.view(), dy.view(), 0.5, dk.view_mut(), cols)
                    .unwrap();
                (y, dx, dk)
            };
            let (y, dx, dk) = passes(&mut vec![0.0; g.columns_len()]);
            let (y2, dx2, dk2) = passes(&mut vec![0.0; g.scratch_len()]);
            assert_eq!((y, dx), (y2, dx2), "{g:?}");
            let worst = (&dk - &dk2).iter().fold(0.0_f64, |m, d| m.max(d.abs()));
            // A sum of `rows` products of `oh·ow` terms in another order: a few ulps of its
            // terms' magnitude (each O(1) here).
            assert!(
                worst <= 1e-12 * (rows * g.columns_len()) as f64,
                "{g:?}: kernel off by {worst}"
            );
        }
    }

    /// Stride-1 geometries wide and tall enough for several vectors of pixels per row and
    /// several tiles of maps, pixels, rows and taps, with their remainders; with few and with
    /// many maps on either side (each pass's sums run along the maps where there are a vector's
    /// worth, else along the pixels), and at most 10⁶ multiply-adds a sample.
    fn wide_geometries(rng: &mut StdRng) -> impl Iterator<Item = Conv2d> + '_ {
        std::iter::repeat_with(move || Conv2d {
            channels: rng.random_range(1..20),
            height: rng.random_range(1..20),
            width: rng.random_range(1..40),
            filters: rng.random_range(1..21),
            kernel: (rng.random_range(1..6), rng.random_range(1..6)),
            stride: 1,
            padding: rng.random_range(0..4),
            dilation: rng.random_range(1..3),
        })
        .filter(|g| g.check().is_ok() && g.filters * g.columns_len() <= 1_000_000)
        .take(150)
    }

    /// The three direct passes in `T` on the operands (rounded to `T`), back in f64: the
    /// output, the input's adjoint and the kernel's adjoint added onto `0.5·start`.
    fn direct_passes<T: crate::Scalar>(
        g: &Conv2d,
        [x, k, dy, start]: [&Array2<f64>; 4],
        scratch: usize,
    ) -> [Vec<f64>; 3] {
        let narrow = |a: &Array2<f64>| a.iter().map(|&v| T::from_f64(v)).collect::<Vec<T>>();
        let widen = |a: Vec<T>| a.into_iter().map(T::to_f64).collect::<Vec<f64>>();
        let mut cols = vec![T::ZERO; scratch];
        let mut y = vec![T::from_f64(f64::NAN); dy.len()];
        let mut dx = vec![T::from_f64(f64::NAN); x.len()];
        let mut dk = narrow(start);
        let half = T::from_f64(0.5);
        assert!(direct::forward(g, &narrow(x), &narrow(k), &mut y, &mut cols), "{g:?}");
        assert!(
            direct::backward_input(g, &narrow(dy), &narrow(k), &mut dx, &mut cols),
            "{g:?}"
        );
        assert!(
            direct::backward_kernel(g, &narrow(x), &narrow(dy), half, &mut dk, &mut cols),
            "{g:?}"
        );
        [widen(y), widen(dx), widen(dk)]
    }

    /// The direct kernels (where this processor runs them) compute what the patches and
    /// products do, in f64 to 10⁻¹² of the terms' magnitude (sums of at most 4·25 products of
    /// O(1) terms per output, over at most 3 samples for the kernel; either order rounds within
    /// a few ulps), and in f32 against the f64 result to 10⁻⁵ of it (f32's ulp is 6·10⁻⁸;
    /// sums of up to 2,000 terms).
    #[test]
    fn direct_kernels_compute_what_the_patches_do() {
        let g = wide_geometries(&mut StdRng::seed_from_u64(3)).next().unwrap();
        if !direct::applies::<f64>(&g) {
            eprintln!("this processor has no AVX-512: the direct kernels do not run here");
            return;
        }
        let mut rng = StdRng::seed_from_u64(4);
        let geometries: Vec<Conv2d> = wide_geometries(&mut rng).collect();
        for g in geometries {
            let rows = rng.random_range(1..4);
            let (x, k) = (
                random(&mut rng, rows, g.input_features()),
                random(&mut rng, g.filters, g.patch_len()),
            );
            let dy = random(&mut rng, rows, g.output_features());
            let start = random(&mut rng, k.nrows(), k.ncols());
            // Scratch for the direct kernels as for the patches, whichever is longer.
            let scratch = g.columns_len().max(direct::scratch_len(&g));
            let mut cols = vec![0.0; scratch];
            let mut y = Array2::zeros((rows, g.output_features()));
            g.forward_patches(x.view(), k.view(), y.view_mut(), &mut cols).unwrap();
            let mut dx = Array2::zeros(x.dim());
            g.input_patches(dy.view(), k.view(), dx.view_mut(), &mut cols).unwrap();
            let mut dk = start.clone();
            g.kernel_patches(x.view(), dy.view(), 0.5, dk.view_mut(), &mut cols)
                .unwrap();

            let operands = [&x, &k, &dy, &start];
            for (name, tolerance, got) in [
                ("f64", 1e-12, direct_passes::<f64>(&g, operands, scratch)),
                ("f32", 1e-5, direct_passes::<f32>(&g, operands, scratch)),
            ] {
                for ((what, want), got) in [("forward", &y), ("input", &dx), ("kernel", &dk)].into_iter().zip(got) {
                    let worst = want.iter().zip(&got).fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
                    assert!(
                        worst <= tolerance * g.patch_len() as f64 * rows as f64,
                        "{g:?}: {name} {what} off by {worst}"
                    );
                }
            }
        }
    }

    #[test]
    fn geometries_that_cannot_work_are_errors_in_words() {
        let g = Conv2d {
            channels: 1,
            height: 4,
            width: 4,
            filters: 2,
            kernel: (3, 3),
            stride: 1,
            padding: 0,
            dilation: 2,
        };
        let message = g.check().unwrap_err().to_string();
        assert!(message.contains("covers 5 × 5 pixels (dilation 2)"), "{message}");
        assert!(message.contains("padding 0 is 4 × 4"), "{message}");
        let message = Conv2d { stride: 0, ..g }.check().unwrap_err().to_string();
        assert!(message.contains("the stride is 0"), "{message}");
        let pool = Pool2d {
            channels: 1,
            height: 2,
            width: 5,
            size: (3, 2),
            stride: 2,
        };
        assert!(
            pool.check()
                .unwrap_err()
                .to_string()
                .contains("window is 3 × 2 but the map is 2 × 5")
        );
        // Operands of the wrong size name the operand.
        let g = Conv2d { padding: 2, ..g };
        let (x, k) = (Array2::<f64>::zeros((2, 16)), Array2::<f64>::zeros((2, 8)));
        let mut y = Array2::zeros((2, g.output_features()));
        let message = g.forward(x.view(), k.view(), y.view_mut(), &mut vec![0.0; g.columns_len()]);
        assert!(message.unwrap_err().to_string().contains("kernel is [2, 8]"));
    }

    /// Max pooling takes each window's largest value (NaN if the window holds one), and its
    /// backward pass is the adjoint of that selection; average pooling likewise.
    #[test]
    fn pooling_takes_the_windows_and_its_backward_passes_are_adjoints() {
        let mut rng = StdRng::seed_from_u64(1);
        for case in 0..300 {
            let (height, width) = (rng.random_range(1..9), rng.random_range(1..9));
            // Every third case the common 2×2 windows at stride 2.
            let (size, stride) = if case % 3 == 0 && height >= 2 && width >= 2 {
                ((2, 2), 2)
            } else {
                (
                    (rng.random_range(1..=height), rng.random_range(1..=width)),
                    rng.random_range(1..4),
                )
            };
            let g = Pool2d {
                channels: rng.random_range(1..4),
                height,
                width,
                size,
                stride,
            };
            let rows = rng.random_range(1..4);
            let x = random(&mut rng, rows, g.input_features());
            // Every other case, values with ties, as a ReLU leaves them (zeros, and a few
            // repeated levels): the first pixel holding the maximum is taken.
            let x = if case % 2 == 0 {
                x.mapv(|v| (2.0 * v).round().max(0.0))
            } else {
                x
            };
            let mut y = Array2::zeros((rows, g.output_features()));
            let mut argmax = vec![0; y.len()];
            g.max_forward(x.view(), y.view_mut(), &mut argmax).unwrap();
            let (oh, ow) = g.output_size();
            for ((s, o), &value) in y.indexed_iter() {
                let (c, i, j) = (o / (oh * ow), o / ow % oh, o % ow);
                let window = (0..g.size.0).flat_map(|u| (0..g.size.1).map(move |v| (u, v)));
                let pixels: Vec<usize> = window
                    .map(|(u, v)| (c * height + i * g.stride + u) * width + j * g.stride + v)
                    .collect();
                let max = pixels.iter().map(|&p| x[[s, p]]).fold(f64::NEG_INFINITY, f64::max);
                assert_eq!(value, max, "{g:?}");
                let first = pixels.iter().copied().find(|&p| x[[s, p]] == max);
                assert_eq!(Some(argmax[s * y.ncols() + o]), first, "{g:?}: the first maximum");
            }
            let dy = random(&mut rng, rows, g.output_features());
            let mut dx = Array2::from_elem(x.dim(), f64::NAN);
            g.max_backward(dy.view(), &argmax, dx.view_mut()).unwrap();
            let ((out, scale), (back, _)) = (dot(&y, &dy), dot(&dx, &x));
            assert!((out - back).abs() <= 1e-12 * scale.max(1.0), "{g:?}: max adjoint");
            // The gather reads what the scatter wrote: its adjoint.
            let mut gathered = Array2::zeros(y.dim());
            g.max_gather(x.view(), &argmax, gathered.view_mut()).unwrap();
            assert_eq!(gathered, y, "{g:?}: gathered at the arg-maxes");
            let z = random(&mut rng, rows, g.input_features());
            g.max_gather(z.view(), &argmax, gathered.view_mut()).unwrap();
            let ((out, scale), (back, _)) = (dot(&gathered, &dy), dot(&z, &dx));
            assert!((out - back).abs() <= 1e-12 * scale.max(1.0), "{g:?}: gather adjoint");
            let window_scale = rng.random_range(0.1..2.0);
            g.window_sum(window_scale, x.view(), y.view_mut()).unwrap();
            for ((s, o), &value) in y.indexed_iter() {
                let (c, i, j) = (o / (oh * ow), o / ow % oh, o % ow);
                let window = (0..g.size.0).flat_map(|u| (0..g.size.1).map(move |v| (u, v)));
                let sum: f64 = window
                    .map(|(u, v)| x[[s, (c * height + i * g.stride + u) * width + j * g.stride + v]])
                    .sum();
                assert!(
                    (value - window_scale * sum).abs() <= 1e-12 * sum.abs().max(1.0),
                    "{g:?}: window sum"
                );
            }
            g.window_spread(window_scale, dy.view(), dx.view_mut()).unwrap();
            let ((out, scale), (back, _)) = (dot(&y, &dy), dot(&dx, &x));
            assert!((out - back).abs() <= 1e-12 * scale.max(1.0), "{g:?}: window adjoint");
        }
        let g = Pool2d {
            channels: 1,
            height: 2,
            width: 2,
            size: (2, 2),
            stride: 2,
        };
        let x = Array2::from_shape_vec((1, 4), vec![1.0, f64::NAN, 3.0, 2.0]).unwrap();
        let mut y = Array2::zeros((1, 1));
        g.max_forward(x.view(), y.view_mut(), &mut [0]).unwrap();
        assert!(y[[0, 0]].is_nan(), "NaN is not hidden by max pooling");
    }
}
