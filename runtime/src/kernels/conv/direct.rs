//! Direct convolution at stride 1 on AVX-512: each output is summed tap by tap straight from
//! the input, in vectors of 16 `f32` or 8 `f64` lanes, with no patch buffer and no product
//! call. `im2col`, `col2im` and the gemm's packing of the patches, which together cost as much
//! as the products at LeNet's sizes, disappear.
//!
//! The three passes of a convolution are a sliding sum and the kernel's adjoint:
//! - the sliding sum `out[r, i, j] = Σ_{c,u,v} w(r, c, u, v) · in[c, i + d·u − p, j + d·v − p]`,
//!   zero outside the input. Where there are a vector's worth of output maps ([`Across`]),
//!   `avx::slide_maps` takes the maps as the lanes: a tile of up to 28 consecutive output pixels
//!   of a row × one or two vectors of maps in registers, per tap one vector of weights times
//!   each pixel's input broadcast from a padded copy; the sums are laid out pixel by pixel, then
//!   put back map by map. Otherwise `avx::slide_rows` takes the pixels of a row as the lanes: a
//!   tile of 8 maps × 3 rows, per tap a (masked) vector load of each input row, consecutive at
//!   stride 1, times each map's weight broadcast. The forward pass slides the input under
//!   `w = K`. The input's adjoint slides the output gradient under the kernel flipped and its two
//!   channel axes swapped, `w(c, f, u, v) = K[f, c, kh−1−u, kw−1−v]`, padded by `d·(kh−1) − p`
//!   (`d·(kw−1) − p` across): by the chain rule `x̄[c, y, x] = Σ_{f,a,b} K[f, c, a, b] ·
//!   ȳ[f, y + p − d·a, x + p − d·b]`, and `a = kh−1−u` turns that into a sliding sum of the same
//!   form.
//! - `avx::correlate`: the kernel's adjoint, `K̄[f, c, u, v] = Σ_{s,i,j} ȳ_s[f, i, j] ·
//!   x_s[c, i + d·u − p, j + d·v − p]`, with the filters as the lanes: per output pixel, a
//!   vector of `ȳ` over filters times each tap's input pixel broadcast, so the sums need no
//!   sum across lanes. It reads a sample's output gradient pixel by pixel and its input padded.
//!
//! The copies (weights, padded inputs, sums pixel by pixel) live in the caller's scratch.

use std::any::TypeId;

use super::Conv2d;

/// Whether the direct kernels run `g` on this processor for elements of type `T`: stride 1,
/// `f32` or `f64`, AVX-512.
pub(super) fn applies<T: 'static>(g: &Conv2d) -> bool {
    let typed = TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<T>() == TypeId::of::<f64>();
    g.stride == 1 && typed && avx512()
}

#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512() -> bool {
    false
}

/// A pass of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    Forward,
    Input,
    Kernel,
}

/// Whether the direct kernel for `pass` is worth running on `g` rather than patches and
/// products: with fewer than half a tile's maps (4 of [`MR`] for the sliding sums over pixels,
/// 8 of 16 filters for the kernel's adjoint), most of each tile is padding. Measured with
/// `cargo bench --bench conv` at LeNet-5's sizes (2026-12-01, one thread): 6 filters over one
/// input channel take 257 against 411 µs forward, but 1,084 against 630 for the input's adjoint
/// (one map of a tile of 8) and 605 against 516 for the kernel's (6 filters of 16).
pub(super) fn pays(g: &Conv2d, pass: Pass) -> bool {
    match pass {
        Pass::Forward => g.filters >= MR / 2,
        Pass::Input => g.channels >= MR / 2,
        Pass::Kernel => g.filters >= 8,
    }
}

/// Reinterprets a slice of `T` as one of `U`, the same type (checked).
fn same<T: 'static, U: 'static>(values: &[T]) -> Option<&[U]> {
    // SAFETY: T and U are one type, so the slice is a valid slice of U.
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| unsafe { &*(values as *const [T] as *const [U]) })
}

fn same_mut<T: 'static, U: 'static>(values: &mut [T]) -> Option<&mut [U]> {
    // SAFETY: as in `same`.
    (TypeId::of::<T>() == TypeId::of::<U>()).then(|| unsafe { &mut *(values as *mut [T] as *mut [U]) })
}

/// Where the weight `w(r, c, u, v)` of a sliding sum lies in the kernel matrix:
/// `origin + r·row + c·channel + u·down + v·across` (negative steps walk a flipped kernel).
#[derive(Clone, Copy, Debug)]
struct Taps {
    origin: isize,
    row: isize,
    channel: isize,
    down: isize,
    across: isize,
}

impl Taps {
    /// The index of `w(r, c, u, v)` in the kernel matrix.
    fn at(&self, r: usize, c: usize, u: usize, v: usize) -> usize {
        let at = self.origin
            + r as isize * self.row
            + c as isize * self.channel
            + u as isize * self.down
            + v as isize * self.across;
        at as usize
    }
}

/// One sliding sum over a sample: `channels` input maps of `height × width` into `maps` output
/// maps of `out`, taps `kernel` and `dilation`, the input padded by `padding` rows and columns
/// (negative: cropped).
#[derive(Clone, Copy, Debug)]
struct Sliding {
    channels: usize,
    height: usize,
    width: usize,
    maps: usize,
    out: (usize, usize),
    kernel: (usize, usize),
    dilation: usize,
    padding: (isize, isize),
    taps: Taps,
}

impl Sliding {
    /// The input maps' height and width with their padding.
    fn padded(&self) -> (usize, usize) {
        let grow = |len: usize, pad: isize| (len as isize + 2 * pad).max(0) as usize;
        (grow(self.height, self.padding.0), grow(self.width, self.padding.1))
    }

    /// The forward pass of `g`: the input slides under `K` itself.
    fn forward(g: &Conv2d) -> Sliding {
        let (kh, kw) = g.kernel;
        Sliding {
            channels: g.channels,
            height: g.height,
            width: g.width,
            maps: g.filters,
            out: g.output_size(),
            kernel: g.kernel,
            dilation: g.dilation,
            padding: (g.padding as isize, g.padding as isize),
            taps: Taps {
                origin: 0,
                row: g.patch_len() as isize,
                channel: (kh * kw) as isize,
                down: kw as isize,
                across: 1,
            },
        }
    }

    /// The input's adjoint of `g`: the output gradient slides under `K` flipped, its channel
    /// axes swapped, padded by `d·(kh − 1) − p` rows and `d·(kw − 1) − p` columns (see the
    /// module's documentation).
    fn adjoint(g: &Conv2d) -> Sliding {
        let (kh, kw) = g.kernel;
        let (oh, ow) = g.output_size();
        Sliding {
            channels: g.filters,
            height: oh,
            width: ow,
            maps: g.channels,
            out: (g.height, g.width),
            kernel: g.kernel,
            dilation: g.dilation,
            padding: (
                (g.dilation * (kh - 1)) as isize - g.padding as isize,
                (g.dilation * (kw - 1)) as isize - g.padding as isize,
            ),
            taps: Taps {
                origin: ((kh - 1) * kw + kw - 1) as isize,
                row: (kh * kw) as isize,
                channel: g.patch_len() as isize,
                down: -(kw as isize),
                across: -1,
            },
        }
    }
}

/// Which lanes a sliding sum's vectors run along: the output maps, where a pass has a vector's
/// worth of them and no negative padding (an adjoint's, when `p > d·(k − 1)`, would crop its
/// input), else the output pixels of a row. Measured (2026-12-01, one pinned core): with 16 and
/// 32 maps, maps as the lanes (no masked-off lanes, 28 accumulators, no mask arithmetic) took the
/// LeNet step of `benches/lenet.rs` from 13.2–13.4 to 11.7–11.8 ms (interleaved runs); with 6
/// maps, LeNet-5's first layer (`cargo bench --bench conv`), the pixels as the lanes take
/// 245–258 µs forward against 490 for the maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Across {
    Maps,
    Pixels,
}

/// The lanes a sliding sum runs along for elements of `T` (`None`: the kernel is too wide for
/// the pixels' masks and there are too few maps).
fn across<T>(pass: &Sliding) -> Option<Across> {
    let lanes = 64 / size_of::<T>();
    if pass.maps >= lanes && pass.padding.0 >= 0 && pass.padding.1 >= 0 {
        Some(Across::Maps)
    } else {
        (pass.kernel.1 <= MAX_KW).then_some(Across::Pixels)
    }
}

/// Kernel widths up to this run with the pixels as the lanes (the column masks of a row's taps
/// are kept on the stack).
const MAX_KW: usize = 16;

/// Output maps in one tile of a sliding sum over pixels, and output rows.
const MR: usize = 8;
const RY: usize = 3;

/// The scratch a sliding sum needs. Over pixels: the weights packed `MR` maps at a time. Over
/// maps: the weights tap by tap with the maps of a tap side by side (rounded up to a multiple of
/// 16), a sample's input padded (and a vector's worth of zeros after it, which a tile's last
/// pixels may read), and its output pixel by pixel.
fn slide_scratch_len(pass: &Sliding, across: Across) -> usize {
    let taps = pass.channels * pass.kernel.0 * pass.kernel.1;
    match across {
        Across::Pixels => pass.maps.next_multiple_of(MR) * taps,
        Across::Maps => {
            let wide = pass.maps.next_multiple_of(16);
            let (hp, wp) = pass.padded();
            let (oh, ow) = pass.out;
            (taps + oh * ow) * wide + pass.channels * hp * wp + 32
        }
    }
}

/// `Y = K ⋆ X` for every sample (rows of `x` and `y`, laid one after the other), using
/// `scratch`; false, and nothing written, if the direct kernels do not run `g` on `T` here (see
/// [`applies`]) or `scratch` is too short for its packed weights.
pub(super) fn forward<T: 'static>(g: &Conv2d, x: &[T], kernel: &[T], y: &mut [T], scratch: &mut [T]) -> bool {
    applies::<T>(g) && slide_samples(&Sliding::forward(g), x, kernel, y, scratch)
}

/// `X̄` from `Ȳ` for every sample; false as [`forward`].
pub(super) fn backward_input<T: 'static>(g: &Conv2d, dy: &[T], kernel: &[T], dx: &mut [T], scratch: &mut [T]) -> bool {
    applies::<T>(g) && slide_samples(&Sliding::adjoint(g), dy, kernel, dx, scratch)
}

fn slide_samples<T: 'static>(pass: &Sliding, input: &[T], kernel: &[T], out: &mut [T], scratch: &mut [T]) -> bool {
    let Some(across) = across::<T>(pass) else {
        return false;
    };
    let Some(scratch) = scratch.get_mut(..slide_scratch_len(pass, across)) else {
        return false;
    };
    #[cfg(target_arch = "x86_64")]
    {
        if let (Some(input), Some(kernel), Some(out), Some(scratch)) =
            (same(input), same(kernel), same_mut(out), same_mut(scratch))
        {
            match across {
                Across::Maps => avx::maps_samples::<f32>(pass, input, kernel, out, scratch),
                Across::Pixels => avx::rows_samples::<f32>(pass, input, kernel, out, scratch),
            }
            return true;
        }
        if let (Some(input), Some(kernel), Some(out), Some(scratch)) =
            (same(input), same(kernel), same_mut(out), same_mut(scratch))
        {
            match across {
                Across::Maps => avx::maps_samples::<f64>(pass, input, kernel, out, scratch),
                Across::Pixels => avx::rows_samples::<f64>(pass, input, kernel, out, scratch),
            }
            return true;
        }
    }
    let _ = (pass, input, kernel, out, scratch);
    false
}

/// The scratch every direct pass of `g` fits in.
#[cfg(test)]
pub(super) fn scratch_len(g: &Conv2d) -> usize {
    let passes = [Sliding::forward(g), Sliding::adjoint(g)];
    let slide = passes
        .iter()
        .flat_map(|pass| [Across::Maps, Across::Pixels].map(|a| slide_scratch_len(pass, a)));
    slide.fold(kernel_scratch_len(g), usize::max)
}

/// The scratch [`backward_kernel`] needs: one sample's output gradient laid out pixel by pixel
/// (the filters of a pixel side by side, rounded up to a multiple of 16), its input maps
/// padded, and the sum, taps by filters.
pub(super) fn kernel_scratch_len(g: &Conv2d) -> usize {
    let wide = g.filters.next_multiple_of(16);
    let (oh, ow) = g.output_size();
    let padded = g.channels * (g.height + 2 * g.padding) * (g.width + 2 * g.padding);
    (oh * ow + g.patch_len()) * wide + padded
}

/// `K̄ ← β·K̄ + Σ_s Ȳ_s ⋆ x_s` (β = 0: overwrite), in `scratch` of [`kernel_scratch_len`]
/// elements; false as [`forward`], or if `scratch` is shorter.
pub(super) fn backward_kernel<T: 'static>(
    g: &Conv2d,
    x: &[T],
    dy: &[T],
    beta: T,
    dk: &mut [T],
    scratch: &mut [T],
) -> bool {
    if !applies::<T>(g) || scratch.len() < kernel_scratch_len(g) {
        return false;
    }
    let beta = std::slice::from_ref(&beta);
    #[cfg(target_arch = "x86_64")]
    {
        if let (Some(x), Some(dy), Some(&[beta]), Some(dk), Some(scratch)) =
            (same(x), same(dy), same(beta), same_mut(dk), same_mut(scratch))
        {
            avx::correlate_samples::<f32>(g, x, dy, beta, dk, scratch);
            return true;
        }
        if let (Some(x), Some(dy), Some(&[beta]), Some(dk), Some(scratch)) =
            (same(x), same(dy), same(beta), same_mut(dk), same_mut(scratch))
        {
            avx::correlate_samples::<f64>(g, x, dy, beta, dk, scratch);
            return true;
        }
    }
    let _ = (x, dy, beta, dk, scratch);
    false
}

// The micro-kernels index their register tiles by map, row and tap, as the math does.
#[allow(clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::super::copy_run;
    use super::{Conv2d, MAX_KW, MR, RY, Sliding};
    use crate::simd::{Lanes, lanes};

    /// The lanes `l < N` with `0 ≤ start + l < len`, as a mask.
    #[inline(always)]
    fn window<T: Lanes>(start: isize, len: usize) -> u32 {
        let low = (-start).clamp(0, T::N as isize);
        let high = (len as isize - start).clamp(low, T::N as isize);
        lanes(high as usize) & !lanes(low as usize)
    }

    /// The sliding sum of every sample with the pixels as the lanes ([`slide_rows`]), its
    /// weights packed into `packed` first.
    pub(super) fn rows_samples<T: Lanes>(pass: &Sliding, input: &[T], kernel: &[T], out: &mut [T], packed: &mut [T]) {
        // The weights `MR` maps at a time, tap by tap (c, u, v), the maps of a tap side by side;
        // maps past the last repeat it.
        let Sliding { maps, taps, .. } = *pass;
        let (kh, kw) = pass.kernel;
        let mut at = 0;
        for r0 in (0..maps).step_by(MR) {
            for c in 0..pass.channels {
                for u in 0..kh {
                    for v in 0..kw {
                        for r in 0..MR {
                            packed[at] = kernel[taps.at((r0 + r).min(maps - 1), c, u, v)];
                            at += 1;
                        }
                    }
                }
            }
        }
        let in_len = pass.channels * pass.height * pass.width;
        let out_len = pass.maps * pass.out.0 * pass.out.1;
        for (x, y) in input.chunks_exact(in_len).zip(out.chunks_exact_mut(out_len)) {
            // SAFETY: AVX-512F was detected by the caller; the slices have the pass's sizes.
            unsafe { slide_rows::<T>(pass, x.as_ptr(), packed.as_ptr(), y.as_mut_ptr()) };
        }
    }

    /// One sample's sliding sum (see the module's documentation) with the pixels as the lanes,
    /// `MR` maps × `RY` rows × one vector of pixels at a time: per tap, `RY` loads of input rows
    /// and `MR` broadcasts of weights feed `MR·RY` fused multiply-adds. Pixels outside the input
    /// are masked out of the loads (a masked-off lane is neither read nor faulted on). Maps and
    /// rows past the end repeat the last ones' weights or read nothing, and are not stored.
    ///
    /// # Safety
    /// AVX-512F; `input` and `out` address the pass's input and output maps, `packed` its
    /// weights as [`rows_samples`] packs them.
    #[target_feature(enable = "avx512f")]
    unsafe fn slide_rows<T: Lanes>(pass: &Sliding, input: *const T, packed: *const T, out: *mut T) {
        let Sliding {
            channels,
            height,
            width,
            maps,
            out: (oh, ow),
            kernel: (kh, kw),
            dilation,
            padding: (pad_rows, pad_cols),
            ..
        } = *pass;
        let d = dilation as isize;
        let plane = (height * width) as isize;
        let taps = channels * kh * kw;
        // SAFETY (every vector operation below): AVX-512F, the caller's contract.
        let zero = unsafe { T::zero() };
        for r0 in (0..maps).step_by(MR) {
            let weights = packed.wrapping_add(r0 * taps);
            for y0 in (0..oh).step_by(RY) {
                for x0 in (0..ow).step_by(T::N) {
                    let keep = lanes(T::N.min(ow - x0));
                    let mut columns = [0u32; MAX_KW];
                    for (v, mask) in columns.iter_mut().enumerate().take(kw) {
                        *mask = window::<T>(x0 as isize + d * v as isize - pad_cols, width) & keep;
                    }
                    let mut sums = [[zero; RY]; MR];
                    let mut tap = weights;
                    for c in 0..channels {
                        let maps_at = input.wrapping_offset(c as isize * plane);
                        for u in 0..kh {
                            // Each row's masks for the taps of this kernel row: none where the
                            // row lies outside the input.
                            let mut rows = [maps_at; RY];
                            let mut masks = [[0u32; MAX_KW]; RY];
                            for yy in 0..RY {
                                let row = (y0 + yy) as isize + d * u as isize - pad_rows;
                                if (0..height as isize).contains(&row) && y0 + yy < oh {
                                    masks[yy] = columns;
                                }
                                rows[yy] = maps_at.wrapping_offset(row * width as isize + x0 as isize - pad_cols);
                            }
                            for v in 0..kw {
                                let mut pixels = [zero; RY];
                                for yy in 0..RY {
                                    // SAFETY: the mask selects pixels inside the input row.
                                    pixels[yy] =
                                        unsafe { T::load(masks[yy][v], rows[yy].wrapping_offset(d * v as isize)) };
                                }
                                for r in 0..MR {
                                    // SAFETY: the tap's weight for map r0 + r.
                                    let w = unsafe { T::splat(tap.add(r)) };
                                    for yy in 0..RY {
                                        sums[r][yy] = unsafe { T::fma(w, pixels[yy], sums[r][yy]) };
                                    }
                                }
                                tap = tap.wrapping_add(MR);
                            }
                        }
                    }
                    for r in 0..MR.min(maps - r0) {
                        for yy in 0..RY.min(oh - y0) {
                            let at = ((r0 + r) * oh + y0 + yy) * ow + x0;
                            // SAFETY: `keep` selects pixels inside the output row.
                            unsafe { T::store(keep, out.add(at), sums[r][yy]) };
                        }
                    }
                }
            }
        }
    }

    /// The tiles' blocks of vectors over `maps` maps: `(first vector, whether it is a pair)`,
    /// pairs while two vectors are left, then a single one.
    fn vector_blocks<T: Lanes>(maps: usize) -> impl Iterator<Item = (usize, bool)> {
        let vectors = maps.div_ceil(T::N);
        (0..vectors / 2)
            .map(|b| (2 * b, true))
            .chain((vectors % 2 == 1).then_some((vectors - 1, false)))
    }

    /// The sliding sum of every sample with the maps as the lanes ([`slide_maps`]): its weights
    /// packed, each sample's input padded, in `scratch`.
    pub(super) fn maps_samples<T: Lanes>(pass: &Sliding, input: &[T], kernel: &[T], out: &mut [T], scratch: &mut [T]) {
        let Sliding {
            channels,
            height,
            width,
            maps,
            out: (oh, ow),
            kernel: (kh, kw),
            padding: (pad_rows, pad_cols),
            taps,
            ..
        } = *pass;
        let wide = maps.next_multiple_of(T::N);
        let (hp, wp) = pass.padded();
        let (packed, rest) = scratch.split_at_mut(channels * kh * kw * wide);
        let (pixels, padded) = rest.split_at_mut(oh * ow * wide);
        // The weights tap by tap (c, u, v), the maps of a tap side by side; lanes past the last
        // map, the padding and the slack after it stay zero.
        packed.fill(T::default());
        padded.fill(T::default());
        for (q, row) in packed.chunks_exact_mut(wide).enumerate() {
            let (c, u, v) = (q / (kh * kw), q / kw % kh, q % kw);
            for (r, w) in row.iter_mut().enumerate().take(maps) {
                *w = kernel[taps.at(r, c, u, v)];
            }
        }
        let (pad_rows, pad_cols) = (pad_rows as usize, pad_cols as usize);
        let in_len = channels * height * width;
        let out_len = maps * oh * ow;
        for (x, y) in input.chunks_exact(in_len).zip(out.chunks_exact_mut(out_len)) {
            for (c, map) in x.chunks_exact(height * width).enumerate() {
                for (i, row) in map.chunks_exact(width).enumerate() {
                    let at = (c * hp + i + pad_rows) * wp + pad_cols;
                    copy_run(&mut padded[at..at + width], row);
                }
            }
            // SAFETY: AVX-512F was detected by the caller; the buffers have the sizes above.
            unsafe {
                slide_maps(pass, padded, packed, pixels);
                untranspose(pixels, wide, maps, y);
            }
        }
    }

    /// `to[r, p] = from[p, r]` for the `maps` maps of `to`, rows of `from` `wide` apart: a
    /// vector of pixels gathered per map.
    ///
    /// # Safety
    /// AVX-512F; `from` holds a row of `wide ≥ maps` per pixel of `to`.
    #[target_feature(enable = "avx512f")]
    unsafe fn untranspose<T: Lanes>(from: &[T], wide: usize, maps: usize, to: &mut [T]) {
        let pixels = to.len() / maps;
        for (r, map) in to.chunks_exact_mut(pixels).enumerate() {
            for p0 in (0..pixels).step_by(T::N) {
                let mask = lanes(T::N.min(pixels - p0));
                // SAFETY: the lanes of pixels p0.. below `pixels`, map r of `to`.
                unsafe {
                    let v = T::gather(mask, from.as_ptr().add(p0 * wide + r), wide);
                    T::store(mask, map.as_mut_ptr().add(p0), v);
                }
            }
        }
    }

    /// One sample's sliding sum (see the module's documentation) with the output maps as the
    /// lanes: for a tile of up to 28 consecutive output pixels of a row × one or two vectors of
    /// maps, per tap, the tap's weights for those maps (one or two loads) times each pixel's
    /// input broadcast. `padded` holds the input padded, `packed` the weights as
    /// [`maps_samples`] packs them; the sums go to `pixels`, `wide` maps a pixel.
    ///
    /// # Safety
    /// AVX-512F; the buffers as [`maps_samples`] lays them out.
    #[target_feature(enable = "avx512f")]
    unsafe fn slide_maps<T: Lanes>(pass: &Sliding, padded: &[T], packed: &[T], pixels: &mut [T]) {
        let (oh, ow) = pass.out;
        for (v0, pair) in vector_blocks::<T>(pass.maps) {
            for i in 0..oh {
                let mut j0 = 0;
                while j0 < ow {
                    let left = ow - j0;
                    // SAFETY (each arm): the caller's contract.
                    j0 += unsafe {
                        match (pair, left) {
                            (true, ..=4) => maps_tile::<T, 2, 4>(pass, padded, packed, pixels, (v0, i, j0)),
                            (true, ..=8) => maps_tile::<T, 2, 8>(pass, padded, packed, pixels, (v0, i, j0)),
                            (true, ..=12) => maps_tile::<T, 2, 12>(pass, padded, packed, pixels, (v0, i, j0)),
                            (true, _) => maps_tile::<T, 2, 14>(pass, padded, packed, pixels, (v0, i, j0)),
                            (false, ..=8) => maps_tile::<T, 1, 8>(pass, padded, packed, pixels, (v0, i, j0)),
                            (false, ..=16) => maps_tile::<T, 1, 16>(pass, padded, packed, pixels, (v0, i, j0)),
                            (false, ..=24) => maps_tile::<T, 1, 24>(pass, padded, packed, pixels, (v0, i, j0)),
                            (false, _) => maps_tile::<T, 1, 28>(pass, padded, packed, pixels, (v0, i, j0)),
                        }
                    };
                }
            }
        }
    }

    /// One tile of [`slide_maps`]: map vectors `v0 .. v0 + FV`, output pixels `(i, j0 .. j0 + P)`
    /// (those inside the row stored); returns the pixels it covered.
    ///
    /// # Safety
    /// As [`slide_maps`].
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn maps_tile<T: Lanes, const FV: usize, const P: usize>(
        pass: &Sliding,
        padded: &[T],
        packed: &[T],
        pixels: &mut [T],
        (v0, i, j0): (usize, usize, usize),
    ) -> usize {
        let (_, ow) = pass.out;
        let (kh, kw) = pass.kernel;
        let (hp, wp) = pass.padded();
        let d = pass.dilation;
        let wide = pass.maps.next_multiple_of(T::N);
        let (padded, packed) = (padded.as_ptr(), packed.as_ptr());
        // SAFETY (every vector operation below): AVX-512F; the pixels a tile reads lie inside
        // the padded maps or the slack after them, the weights inside `packed`.
        let zero = unsafe { T::zero() };
        let mut acc = [[zero; FV]; P];
        let mut weights = unsafe { packed.add(v0 * T::N) };
        for c in 0..pass.channels {
            for u in 0..kh {
                let row = unsafe { padded.add((c * hp + i + d * u) * wp + j0) };
                for v in 0..kw {
                    let mut w = [zero; FV];
                    for (f, w) in w.iter_mut().enumerate() {
                        *w = unsafe { T::load(u32::MAX, weights.add(f * T::N)) };
                    }
                    let taps = unsafe { row.add(d * v) };
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let x = unsafe { T::splat(taps.add(p)) };
                        for (acc, &w) in acc.iter_mut().zip(&w) {
                            *acc = unsafe { T::fma(x, w, *acc) };
                        }
                    }
                    weights = unsafe { weights.add(wide) };
                }
            }
        }
        let covered = P.min(ow - j0);
        let out = unsafe { pixels.as_mut_ptr().add((i * ow + j0) * wide + v0 * T::N) };
        for (p, acc) in acc.iter().enumerate().take(covered) {
            for (f, &acc) in acc.iter().enumerate() {
                unsafe { T::store(u32::MAX, out.add(p * wide + f * T::N), acc) };
            }
        }
        covered
    }

    /// Taps in one tile of [`correlate`] with one vector of filters, and with two.
    const TAPS_1: usize = 24;
    const TAPS_2: usize = 12;

    pub(super) fn correlate_samples<T: Lanes>(g: &Conv2d, x: &[T], dy: &[T], beta: T, dk: &mut [T], scratch: &mut [T]) {
        let (oh, ow) = g.output_size();
        let wide = g.filters.next_multiple_of(T::N);
        let (hp, wp) = (g.height + 2 * g.padding, g.width + 2 * g.padding);
        let (grads, rest) = scratch.split_at_mut(oh * ow * wide);
        let (padded, rest) = rest.split_at_mut(g.channels * hp * wp);
        let sums = &mut rest[..g.patch_len() * wide];
        // Lanes past the last filter, and the padding, stay zero.
        grads.fill(T::default());
        padded.fill(T::default());
        sums.fill(T::default());
        for (image, grad) in x
            .chunks_exact(g.input_features())
            .zip(dy.chunks_exact(g.output_features()))
        {
            // SAFETY: AVX-512F was detected by the caller; `grad` and `grads` have the sizes
            // `transpose` reads and writes.
            unsafe { transpose(grad, g.filters, grads, wide) };
            for (c, map) in image.chunks_exact(g.height * g.width).enumerate() {
                for (i, row) in map.chunks_exact(g.width).enumerate() {
                    let at = (c * hp + i + g.padding) * wp + g.padding;
                    copy_run(&mut padded[at..at + g.width], row);
                }
            }
            // SAFETY: AVX-512F was detected by the caller; the buffers have the sizes above.
            unsafe { correlate(g, grads, padded, sums) };
        }
        for (f, row) in dk.chunks_exact_mut(g.patch_len()).enumerate() {
            for (q, k) in row.iter_mut().enumerate() {
                let sum = sums[q * wide + f];
                *k = if beta == T::default() { sum } else { beta.fused(*k, sum) };
            }
        }
    }

    /// `to[p, f] = from[f, p]` for the `maps` maps of `from`, rows of `to` `wide` apart: a
    /// vector of filters gathered per pixel.
    ///
    /// # Safety
    /// AVX-512F; `to` holds a row of `wide ≥ maps` (a multiple of `T::N`) per pixel of `from`.
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose<T: Lanes>(from: &[T], maps: usize, to: &mut [T], wide: usize) {
        let pixels = from.len() / maps;
        for p in 0..pixels {
            for f0 in (0..maps).step_by(T::N) {
                // SAFETY: the lanes of maps f0.. below `maps` at pixel p, a row of `to`.
                unsafe {
                    let v = T::gather(lanes(T::N.min(maps - f0)), from.as_ptr().add(f0 * pixels + p), pixels);
                    T::store(u32::MAX, to.as_mut_ptr().add(p * wide + f0), v);
                }
            }
        }
    }

    /// One sample's part of the kernel's adjoint, added onto `sums[q, f]` (taps by filters,
    /// `wide` filters a row): for each pixel, the output gradient's vector of filters times
    /// each tap's input pixel broadcast, in tiles of one or two vectors of filters × up to 24
    /// or 12 taps (the last tile of taps rounded up to a multiple of 4; the taps past the end
    /// repeat the last one and are not stored). `grads` holds the output gradient pixel by
    /// pixel, `wide` filters each; `padded` the input maps padded by `p` on every side.
    ///
    /// # Safety
    /// AVX-512F; the buffers as [`correlate_samples`] lays them out.
    #[target_feature(enable = "avx512f")]
    unsafe fn correlate<T: Lanes>(g: &Conv2d, grads: &[T], padded: &[T], sums: &mut [T]) {
        let patch = g.patch_len();
        for (v0, pair) in vector_blocks::<T>(g.filters) {
            let mut q0 = 0;
            while q0 < patch {
                let left = patch - q0;
                // SAFETY (each arm): the caller's contract.
                let step = unsafe {
                    match (pair, left.next_multiple_of(4)) {
                        (true, 4) => correlate_tile::<T, 2, 4>(g, grads, padded, sums, v0, q0),
                        (true, 8) => correlate_tile::<T, 2, 8>(g, grads, padded, sums, v0, q0),
                        (true, _) => correlate_tile::<T, 2, TAPS_2>(g, grads, padded, sums, v0, q0),
                        (false, 4) => correlate_tile::<T, 1, 4>(g, grads, padded, sums, v0, q0),
                        (false, 8) => correlate_tile::<T, 1, 8>(g, grads, padded, sums, v0, q0),
                        (false, 12) => correlate_tile::<T, 1, 12>(g, grads, padded, sums, v0, q0),
                        (false, 16) => correlate_tile::<T, 1, 16>(g, grads, padded, sums, v0, q0),
                        (false, 20) => correlate_tile::<T, 1, 20>(g, grads, padded, sums, v0, q0),
                        (false, _) => correlate_tile::<T, 1, TAPS_1>(g, grads, padded, sums, v0, q0),
                    }
                };
                q0 += step;
            }
        }
    }

    /// One tile of [`correlate`]: filter vectors `v0 .. v0 + FV`, taps `q0 .. q0 + NT` (those
    /// inside the kernel stored); returns the taps it covered.
    ///
    /// # Safety
    /// As [`correlate`].
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn correlate_tile<T: Lanes, const FV: usize, const NT: usize>(
        g: &Conv2d,
        grads: &[T],
        padded: &[T],
        sums: &mut [T],
        v0: usize,
        q0: usize,
    ) -> usize {
        let (oh, ow) = g.output_size();
        let (kh, kw) = g.kernel;
        let (hp, wp) = (g.height + 2 * g.padding, g.width + 2 * g.padding);
        let patch = g.patch_len();
        let wide = g.filters.next_multiple_of(T::N);
        let d = g.dilation;
        // Where each tap of the tile reads the padded input, for output pixel (0, 0).
        let mut taps = [0usize; NT];
        for (t, at) in taps.iter_mut().enumerate() {
            let q = (q0 + t).min(patch - 1);
            let (c, u, v) = (q / (kh * kw), q / kw % kh, q % kw);
            *at = (c * hp + d * u) * wp + d * v;
        }
        let (grads, padded) = (grads.as_ptr(), padded.as_ptr());
        // SAFETY (every vector operation below): AVX-512F; every pixel of every tap lies inside
        // the padded maps, every filter vector inside a row of `grads`.
        let zero = unsafe { T::zero() };
        let mut acc = [[zero; FV]; NT];
        for i in 0..oh {
            for j in 0..ow {
                let mut grad = [zero; FV];
                for (v, grad) in grad.iter_mut().enumerate() {
                    *grad = unsafe { T::load(u32::MAX, grads.add((i * ow + j) * wide + (v0 + v) * T::N)) };
                }
                let pixel = i * wp + j;
                for t in 0..NT {
                    let x = unsafe { T::splat(padded.add(taps[t] + pixel)) };
                    for v in 0..FV {
                        acc[t][v] = unsafe { T::fma(x, grad[v], acc[t][v]) };
                    }
                }
            }
        }
        let covered = NT.min(patch - q0);
        for (t, acc) in acc.iter().enumerate().take(covered) {
            for (v, &acc) in acc.iter().enumerate() {
                let at = (q0 + t) * wide + (v0 + v) * T::N;
                unsafe {
                    let sum = sums.as_mut_ptr().add(at);
                    T::store(u32::MAX, sum, T::add(T::load(u32::MAX, sum), acc));
                }
            }
        }
        covered
    }
}
