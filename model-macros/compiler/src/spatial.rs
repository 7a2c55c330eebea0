//! The geometry of convolutions and poolings over a batch of maps `[batch, c, h, w]` (NCHW,
//! each sample stored as one row of `c·h·w` values): the sizes the shapes follow from, and
//! the fields of the runtime's `Conv2d` and `Pool2d`, which the emitted calls construct.

use crate::ops::Shape;

/// A convolution: `channels` maps of `height × width` in, `filters` maps out, each filter
/// `channels × kernel.0 × kernel.1` moved by `stride` over the input padded with `padding`
/// zeros on every side, its taps `dilation` apart.
///
/// `y[f, i, j] = Σ_{c, u, v} k[f, c, u, v] · x[c, s·i + d·u − p, s·j + d·v − p]` (the
/// cross-correlation of deep learning), zero outside the image.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Conv {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub filters: usize,
    pub kernel: (usize, usize),
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
}

impl Conv {
    /// The pixels a dilated kernel covers, `(d(kh − 1) + 1, d(kw − 1) + 1)`.
    pub fn span(self) -> (usize, usize) {
        let cover = |k: usize| self.dilation.saturating_mul(k.saturating_sub(1)).saturating_add(1);
        (cover(self.kernel.0), cover(self.kernel.1))
    }

    /// The output maps' height and width, `⌊(h + 2p − span)/s⌋ + 1`; `None` if the kernel
    /// does not fit inside the padded input (or the stride is 0).
    pub fn output_size(self) -> Option<(usize, usize)> {
        let (span_h, span_w) = self.span();
        let out = |n: usize, span: usize| {
            let padded = n.checked_add(self.padding.checked_mul(2)?)?;
            Some(padded.checked_sub(span)?.checked_div(self.stride)? + 1)
        };
        Some((out(self.height, span_h)?, out(self.width, span_w)?))
    }

    /// `[batch, o, oh, ow]`.
    pub fn output_shape(self) -> Option<Shape> {
        let (oh, ow) = self.output_size()?;
        Shape::of_batch(&[self.filters, oh, ow])
    }

    /// The kernel, `[o, c, kh, kw]` (OIHW).
    pub fn kernel_shape(self) -> Option<Shape> {
        Shape::of(&[self.filters, self.channels, self.kernel.0, self.kernel.1])
    }

    /// The elements of the buffer one sample's patches are copied into, `c·kh·kw · oh·ow`.
    pub fn columns_len(self) -> usize {
        let (oh, ow) = self.output_size().unwrap_or((0, 0));
        crate::ops::product(&[self.channels, self.kernel.0, self.kernel.1, oh, ow])
    }

    /// The scratch the runtime's passes need to split a batch into two halves (which run on
    /// two threads with its `threading` feature): a patch buffer for each half and the second
    /// half's kernel gradient, `2·columns_len + o·c·kh·kw`.
    pub fn scratch_len(self) -> usize {
        let kernel = crate::ops::product(&[self.filters, self.channels, self.kernel.0, self.kernel.1]);
        self.columns_len().saturating_mul(2).saturating_add(kernel)
    }
}

/// A pooling: `channels` maps of `height × width`, windows of `size` moved by `stride`, each
/// inside its map (no padding).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Pool {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub size: (usize, usize),
    pub stride: usize,
}

impl Pool {
    /// The output maps' height and width, `⌊(h − k)/s⌋ + 1`; `None` if a window does not fit.
    pub fn output_size(self) -> Option<(usize, usize)> {
        let out = |n: usize, k: usize| Some(n.checked_sub(k)?.checked_div(self.stride)? + 1);
        Some((out(self.height, self.size.0)?, out(self.width, self.size.1)?))
    }

    /// `[batch, c, h, w]`.
    pub fn input_shape(self) -> Option<Shape> {
        Shape::of_batch(&[self.channels, self.height, self.width])
    }

    /// `[batch, c, oh, ow]`.
    pub fn output_shape(self) -> Option<Shape> {
        let (oh, ow) = self.output_size()?;
        Shape::of_batch(&[self.channels, oh, ow])
    }

    /// The pixels of a window, `kh·kw`.
    pub fn window(self) -> usize {
        self.size.0 * self.size.1
    }
}
