//! Small dense chains a block of samples at a time, one sample per vector lane.
//!
//! For a chain `hₗ = fₗ(hₗ₋₁ Wₗ + bₗ)` whose widths are all small, the batch-wide kernels spend
//! most of a step calling ~30 kernels on a few hundred values each. Here `network!` emits
//! the whole step of such a chain as one loop over blocks of [`LANES`] samples, the widths
//! fixed at compile time: a layer's values are stored transposed, `hᵀ[i]` holding unit `i` of
//! every sample of the block, so that every operation below is the same operation on each
//! lane (the vectoriser turns `[T; LANES]` into one or a few vector registers) and no value
//! leaves the block's buffers between the layers. With `Wₗ` of shape `[I, O]` and `z = hW + b`:
//!
//! - forward, [`affine`]: `zᵀ[o] = b[o] + Σᵢ W[i][o] hᵀ[i]`, then [`activate`];
//! - the loss, [`softmax_cross_entropy`]: `z̄ = (softmax(z) − onehot(y)) / B`;
//! - the chain rule through the activation, [`activation_adjoint`]: `z̄ = h̄ ⊙ f′(h)`;
//! - the input's adjoint, [`input_adjoint`]: `h̄ᵀ[i] = Σₒ W[i][o] z̄ᵀ[o]` (`h̄ = z̄ Wᵀ`);
//! - the parameters' adjoints, [`weight_adjoint`]: `W̄[i][o] += Σ_r h[r][i] z̄[r][o]`
//!   (`W̄ = hᵀ z̄`) and `b̄[o] += Σ_r z̄[r][o]`, summed over the block's samples.
//!
//! The last block of a batch is padded: its unused lanes compute on zeros, and their adjoints
//! are zero and left out of the sums.

use ndarray::{Array1, Array2, ArrayView2};

use crate::kernels::Activation;
use crate::scalar::Scalar;

/// Samples per block: one vector of `f32` with AVX-512, two with AVX2.
pub const LANES: usize = 16;

/// One unit's values for the samples of a block.
pub type Lanes<T> = [T; LANES];

/// The vector unit a block loop is compiled for: how wide its registers are, how many there
/// are, and whether it multiplies and adds in one instruction. The kernels below take it as
/// an argument so that each compiled copy of a loop keeps as many sums going as its unit has
/// room for.
pub trait Isa: Copy {
    /// Bytes in one vector register.
    const VECTOR_BYTES: usize;
    /// Vector registers.
    const REGISTERS: usize;
    /// Whether `a·b + c` is one instruction ([`Scalar::mul_add`]); without it, it is a library
    /// call, so the loops multiply and add apart.
    const FMA: bool;
}

/// AVX-512F: 32 registers of 64 bytes, with FMA.
#[derive(Clone, Copy, Debug)]
pub struct Avx512;

/// AVX2 with FMA: 16 registers of 32 bytes.
#[derive(Clone, Copy, Debug)]
pub struct Avx2;

/// What every x86-64 (SSE2) or other processor the build targets has: taken as 16 registers
/// of 16 bytes, no FMA.
#[derive(Clone, Copy, Debug)]
pub struct Baseline;

impl Isa for Avx512 {
    const VECTOR_BYTES: usize = 64;
    const REGISTERS: usize = 32;
    const FMA: bool = true;
}

impl Isa for Avx2 {
    const VECTOR_BYTES: usize = 32;
    const REGISTERS: usize = 16;
    const FMA: bool = true;
}

impl Isa for Baseline {
    const VECTOR_BYTES: usize = 16;
    const REGISTERS: usize = 16;
    const FMA: bool = false;
}

/// The loop over a batch's blocks, which `network!` emits for each chain.
pub trait Blocks {
    /// What the loop returns (the loss).
    type Output;
    /// Runs the loop, handing `isa` to the kernels; implementations are `#[inline(always)]`,
    /// so that [`with_wide_vectors`] compiles it into its own body.
    fn run<I: Isa>(self, isa: I) -> Self::Output;
}

/// `blocks.run(isa)`, compiled for the widest vectors the processor has: AVX-512 (one `f32`
/// block per register), else AVX2 with FMA, else the build's own (the loop is inlined into a
/// function built with the feature, so that it is vectorised for it).
#[inline(always)]
pub fn with_wide_vectors<B: Blocks>(blocks: B) -> B::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (which implies FMA).
            return unsafe { avx512(blocks) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the processor has AVX2 and FMA.
            return unsafe { avx2(blocks) };
        }
    }
    blocks.run(Baseline)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn avx512<B: Blocks>(blocks: B) -> B::Output {
    blocks.run(Avx512)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<B: Blocks>(blocks: B) -> B::Output {
    blocks.run(Avx2)
}

/// A parameter matrix `[I, O]` as fixed-size rows, if it has that shape and is stored
/// contiguously row by row.
#[inline]
pub fn matrix<T: Scalar, const I: usize, const O: usize>(a: &Array2<T>) -> Option<&[[T; O]; I]> {
    if a.dim() != (I, O) {
        return None;
    }
    let (rows, []) = a.as_slice()?.as_chunks::<O>() else {
        return None;
    };
    rows.try_into().ok()
}

/// [`matrix`], writable.
#[inline]
pub fn matrix_mut<T: Scalar, const I: usize, const O: usize>(a: &mut Array2<T>) -> Option<&mut [[T; O]; I]> {
    if a.dim() != (I, O) {
        return None;
    }
    let (rows, []) = a.as_slice_mut()?.as_chunks_mut::<O>() else {
        return None;
    };
    rows.try_into().ok()
}

/// A parameter vector `[O]` as a fixed-size array, if it is contiguous.
#[inline]
pub fn vector<T: Scalar, const O: usize>(a: &Array1<T>) -> Option<&[T; O]> {
    a.as_slice()?.try_into().ok()
}

/// [`vector`], writable.
#[inline]
pub fn vector_mut<T: Scalar, const O: usize>(a: &mut Array1<T>) -> Option<&mut [T; O]> {
    a.as_slice_mut()?.try_into().ok()
}

/// The first `N·LANES` values of `scratch` as `N` units' lanes, and the rest.
#[inline]
pub fn units<T: Scalar, const N: usize>(scratch: &mut [T]) -> Option<(&mut [Lanes<T>; N], &mut [T])> {
    carve::<T, N, LANES>(scratch)
}

/// The first `LANES·P` values of `scratch` as `LANES` samples of `P` values (the scratch of
/// [`weight_adjoint`]), and the rest.
#[inline]
pub fn sample_rows<T: Scalar, const P: usize>(scratch: &mut [T]) -> Option<(&mut [[T; P]; LANES], &mut [T])> {
    carve::<T, LANES, P>(scratch)
}

fn carve<T: Scalar, const N: usize, const M: usize>(scratch: &mut [T]) -> Option<(&mut [[T; M]; N], &mut [T])> {
    let (head, rest) = scratch.split_at_mut_checked(N * M)?;
    let (arrays, []) = head.as_chunks_mut::<M>() else {
        return None;
    };
    Some((arrays.try_into().ok()?, rest))
}

/// Rows `start..start + n` of `x` transposed into `xᵀ`, the other lanes zero, where `n` is
/// at most [`LANES`] and what is left of `x`; returns `n`.
#[inline(always)]
pub fn load<T: Scalar, const I: usize>(x: ArrayView2<'_, T>, start: usize, xt: &mut [Lanes<T>; I]) -> usize {
    let n = x.nrows().saturating_sub(start).min(LANES);
    if n < LANES {
        for unit in xt.iter_mut() {
            unit[n..].fill(T::ZERO);
        }
    }
    match x.as_slice().map(<[T]>::as_chunks::<I>) {
        Some((rows, [])) if x.ncols() == I => {
            for (lane, row) in rows[start..start + n].iter().enumerate() {
                for (unit, &value) in xt.iter_mut().zip(row) {
                    unit[lane] = value;
                }
            }
        }
        _ => {
            for (lane, row) in x.rows().into_iter().skip(start).take(n).enumerate() {
                for (unit, &value) in xt.iter_mut().zip(row) {
                    unit[lane] = value;
                }
            }
        }
    }
    n
}

/// `zᵀ[o] = b[o] + Σᵢ W[i][o] hᵀ[i]`: the forward product of one layer.
#[inline(always)]
pub fn affine<T: Scalar, const I: usize, const O: usize>(
    isa: impl Isa,
    h: &[Lanes<T>; I],
    w: &[[T; O]; I],
    b: &[T; O],
    z: &mut [Lanes<T>; O],
) {
    sums(isa, z, h, |o, _| [b[o]; LANES], |i, o| w[i][o], |zo, sum| *zo = sum);
}

/// `h = f(z)` in place.
#[inline(always)]
pub fn activate<T: Scalar, const N: usize>(f: Activation, z: &mut [Lanes<T>; N]) {
    for v in z.as_flattened_mut() {
        *v = f.value(*v);
    }
}

/// `z̄ = h̄ ⊙ f′(h)` in place of `h̄`, for an activation whose derivative is written in its
/// output `h` (or needs nothing: `Saved::Output` and `Saved::Nothing`).
#[inline(always)]
pub fn activation_adjoint<T: Scalar, const N: usize>(f: Activation, h: &[Lanes<T>; N], adjoint: &mut [Lanes<T>; N]) {
    for (g, &y) in adjoint.as_flattened_mut().iter_mut().zip(h.as_flattened()) {
        *g *= f.derivative(y);
    }
}

/// `h̄ᵀ[i] = Σₒ W[i][o] z̄ᵀ[o]`: the adjoint of a layer's input, `h̄ = z̄ Wᵀ`.
#[inline(always)]
pub fn input_adjoint<T: Scalar, const I: usize, const O: usize>(
    isa: impl Isa,
    z: &[Lanes<T>; O],
    w: &[[T; O]; I],
    h: &mut [Lanes<T>; I],
) {
    sums(isa, h, z, |_, _| [T::ZERO; LANES], |o, i| w[i][o], |hi, sum| *hi = sum);
}

/// `W̄[i][o] += Σ_r h[r][i] z̄[r][o]` and `b̄[o] += Σ_r z̄[r][o]` over the first `n` lanes: a
/// layer's parameter adjoints `W̄ = hᵀ z̄`, `b̄ = 1ᵀ z̄`, accumulated over the blocks. `z̄` is
/// first put back sample by sample into `rows` (scratch), each row padded with zeros to `P ≥ O`
/// values (a whole number of vectors, so that the sums along `o`, the contiguous axis of `W̄`,
/// run on whole vectors; the padding's sums are dropped).
#[inline(always)]
pub fn weight_adjoint<T: Scalar, const I: usize, const O: usize, const P: usize>(
    isa: impl Isa,
    h: &[Lanes<T>; I],
    z: &[Lanes<T>; O],
    n: usize,
    rows: &mut [[T; P]; LANES],
    w: &mut [[T; O]; I],
    b: &mut [T; O],
) {
    const { assert!(P >= O, "rows narrower than the layer") };
    for (r, row) in rows.iter_mut().enumerate() {
        for (o, value) in row.iter_mut().enumerate() {
            *value = if o < O { z[o][r] } else { T::ZERO };
        }
    }
    let rows = &rows[..n];
    let padded = |values: &[T; O]| std::array::from_fn(|o| if o < O { values[o] } else { T::ZERO });
    sums(
        isa,
        w,
        rows,
        |_, wi| padded(wi),
        |r, i| h[i][r],
        |wi, sum: [T; P]| {
            wi.copy_from_slice(&sum[..O]);
        },
    );
    let mut bias: [T; P] = padded(b);
    for row in rows {
        for (s, &g) in bias.iter_mut().zip(row) {
            *s += g;
        }
    }
    b.copy_from_slice(&bias[..O]);
}

/// `store(target, init(t, target) + Σⱼ coefficient(j, t) · vectors[j])` for each target `t`, a group
/// of targets at a time: a sum alone waits on its previous addition (3–4 cycles) at every
/// `j`, while independent sums fill those cycles. The group is as large as keeps half of the
/// unit's registers holding sums (more spill to the stack), and at most 8: with 12 or 16
/// targets a group LLVM kept the sums in memory and the 64-32-10 step took 4x as long.
#[inline(always)]
fn sums<T: Scalar, I: Isa, X, const W: usize>(
    isa: I,
    targets: &mut [X],
    vectors: &[[T; W]],
    init: impl Fn(usize, &X) -> [T; W],
    coefficient: impl Fn(usize, usize) -> T,
    store: impl Fn(&mut X, [T; W]),
) {
    let registers = (W * std::mem::size_of::<T>()).div_ceil(I::VECTOR_BYTES);
    let group = I::REGISTERS / 2 / registers;
    let kernel = (init, coefficient, store);
    match group {
        8.. => sums_by::<T, I, X, W, 8>(isa, targets, vectors, kernel),
        4.. => sums_by::<T, I, X, W, 4>(isa, targets, vectors, kernel),
        2.. => sums_by::<T, I, X, W, 2>(isa, targets, vectors, kernel),
        _ => sums_by::<T, I, X, W, 1>(isa, targets, vectors, kernel),
    }
}

/// [`sums`], `G` targets at a time.
#[inline(always)]
fn sums_by<T: Scalar, I: Isa, X, const W: usize, const G: usize>(
    _isa: I,
    targets: &mut [X],
    vectors: &[[T; W]],
    (init, coefficient, store): (
        impl Fn(usize, &X) -> [T; W],
        impl Fn(usize, usize) -> T,
        impl Fn(&mut X, [T; W]),
    ),
) {
    let (groups, rest) = targets.as_chunks_mut::<G>();
    for (g, group) in groups.iter_mut().enumerate() {
        let first = g * G;
        let sums = sum_group::<T, I, W, G>(first, vectors, |k| init(first + k, &group[k]), &coefficient);
        for (target, sum) in group.iter_mut().zip(sums) {
            store(target, sum);
        }
    }
    let first = groups.len() * G;
    for (t, target) in rest.iter_mut().enumerate() {
        let [sum] = sum_group::<T, I, W, 1>(first + t, vectors, |_| init(first + t, target), &coefficient);
        store(target, sum);
    }
}

/// The sums of the `G` targets from `first` on, `init(g)` the start of target `first + g`'s.
#[inline(always)]
fn sum_group<T: Scalar, I: Isa, const W: usize, const G: usize>(
    first: usize,
    vectors: &[[T; W]],
    init: impl Fn(usize) -> [T; W],
    coefficient: &impl Fn(usize, usize) -> T,
) -> [[T; W]; G] {
    let mut acc: [[T; W]; G] = std::array::from_fn(init);
    for (j, v) in vectors.iter().enumerate() {
        for (g, a) in acc.iter_mut().enumerate() {
            let c = coefficient(j, first + g);
            for (s, &x) in a.iter_mut().zip(v) {
                *s = if I::FMA { c.mul_add(x, *s) } else { *s + c * x };
            }
        }
    }
    acc
}

/// The softmax cross-entropy of the first `labels.len()` lanes of the logits `zᵀ`, replaced
/// by their adjoint `z̄ = scale · (softmax(z) − onehot(y))` (the other lanes by zero); returns
/// the sum of the lanes' losses `ln Σⱼ e^{zⱼ−m} − (z_y − m)`, `m = maxⱼ zⱼ` (the stable form).
/// Every label must be below `C`.
#[inline(always)]
pub fn softmax_cross_entropy<T: Scalar, const C: usize>(z: &mut [Lanes<T>; C], labels: &[usize], scale: T) -> T {
    let mut max = z[0];
    for zj in &z[1..] {
        for (m, &v) in max.iter_mut().zip(zj) {
            *m = m.max(v);
        }
    }
    let (mut sum, mut picked) = ([T::ZERO; LANES], [T::ZERO; LANES]);
    for (j, zj) in z.iter_mut().enumerate() {
        for (lane, v) in zj.iter_mut().enumerate() {
            let shifted = *v - max[lane];
            if labels.get(lane) == Some(&j) {
                picked[lane] = shifted;
            }
            *v = shifted.exp();
            sum[lane] += *v;
        }
    }
    for (j, zj) in z.iter_mut().enumerate() {
        for (lane, v) in zj.iter_mut().enumerate() {
            *v = match labels.get(lane) {
                Some(&label) => (*v / sum[lane] - if label == j { T::ONE } else { T::ZERO }) * scale,
                None => T::ZERO,
            };
        }
    }
    (0..labels.len()).map(|lane| sum[lane].ln() - picked[lane]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_need_contiguous_storage_of_the_right_size() {
        let a = Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f64);
        assert_eq!(matrix::<f64, 3, 2>(&a), Some(&[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]));
        assert_eq!(matrix::<f64, 2, 3>(&a), None);
        assert_eq!(
            matrix::<f64, 2, 3>(&a.t().as_standard_layout().into_owned()).map(|m| m[0]),
            Some([0.0, 2.0, 4.0])
        );
        let mut t = a.clone().reversed_axes();
        assert!(matrix_mut::<f64, 2, 3>(&mut t).is_none());
        let mut scratch = vec![0.0f32; 3 * LANES + 1];
        let (three, rest) = units::<f32, 3>(&mut scratch).unwrap();
        assert_eq!((three.len(), rest.len()), (3, 1));
        assert!(units::<f32, 4>(&mut scratch).is_none());
    }

    /// The three products against plain loops, for every vector unit's grouping (the units'
    /// constants alone choose the groups, so each runs here whatever the processor), with
    /// widths that leave a remainder after the groups and a partial last block.
    #[test]
    fn the_products_agree_with_plain_loops_for_every_unit() {
        fn check<U: Isa>(isa: U) {
            const I: usize = 13;
            const O: usize = 10;
            let value = |k: usize| ((k * 37 % 101) as f64 - 50.0) / 25.0;
            let h: [Lanes<f64>; I] = std::array::from_fn(|i| std::array::from_fn(|r| value(i * LANES + r)));
            let zbar: [Lanes<f64>; O] = std::array::from_fn(|o| std::array::from_fn(|r| value(o * LANES + r + 7)));
            let w: [[f64; O]; I] = std::array::from_fn(|i| std::array::from_fn(|o| value(i * O + o + 3)));
            let b: [f64; O] = std::array::from_fn(|o| value(o + 11));
            // Sums of at most 16 products of values below 2 in magnitude: fused and separate
            // roundings differ by a few ulps of 64, far below 1e-12.
            let close = |a: f64, e: f64| assert!((a - e).abs() <= 1e-12, "{a} against {e}");

            let mut z = [[0.0; LANES]; O];
            affine(isa, &h, &w, &b, &mut z);
            for (o, r) in (0..O).flat_map(|o| (0..LANES).map(move |r| (o, r))) {
                close(z[o][r], b[o] + (0..I).map(|i| w[i][o] * h[i][r]).sum::<f64>());
            }
            let mut hbar = [[0.0; LANES]; I];
            input_adjoint(isa, &zbar, &w, &mut hbar);
            for (i, r) in (0..I).flat_map(|i| (0..LANES).map(move |r| (i, r))) {
                close(hbar[i][r], (0..O).map(|o| w[i][o] * zbar[o][r]).sum::<f64>());
            }
            let n = 11;
            let (mut gw, mut gb) = (w, b);
            let mut rows = [[f64::NAN; 16]; LANES];
            weight_adjoint(isa, &h, &zbar, n, &mut rows, &mut gw, &mut gb);
            for o in 0..O {
                close(gb[o], b[o] + (0..n).map(|r| zbar[o][r]).sum::<f64>());
                for i in 0..I {
                    close(gw[i][o], w[i][o] + (0..n).map(|r| h[i][r] * zbar[o][r]).sum::<f64>());
                }
            }
        }
        check(Avx512);
        check(Avx2);
        check(Baseline);
    }

    #[test]
    fn a_partial_block_is_padded_with_zeros() {
        let x = Array2::from_shape_fn((20, 3), |(i, j)| (i * 3 + j + 1) as f32);
        let mut xt = [[f32::NAN; LANES]; 3];
        assert_eq!(load(x.view(), 16, &mut xt), 4);
        assert_eq!(xt[1][..5], [50.0, 53.0, 56.0, 59.0, 0.0]);
        assert!(xt.iter().all(|u| u[4..].iter().all(|&v| v == 0.0)));
        // Strided rows read the same values.
        let xs = x.slice(ndarray::s![..;2, ..]);
        assert_eq!(load(xs, 0, &mut xt), 10);
        assert_eq!(xt[0][..3], [1.0, 7.0, 13.0]);
    }
}
