//! Small dense chains a block of samples at a time, each sample a row of constant width.
//!
//! For a chain `hₗ = fₗ(hₗ₋₁ Wₗ + bₗ)` whose widths are all small, the batch-wide kernels spend
//! most of a step calling ~30 kernels on a few hundred values each. Here `network!` emits
//! the whole step of such a chain as one loop over blocks of [`BLOCK`] samples, every width a
//! constant: a sample's values at a hidden layer are one row, its width rounded up with zeros
//! to whole [`ROW`]s (a vector register or two), and every product below is a sum of rows
//! scaled by scalars, so that the vectoriser turns each row into whole registers. The weights
//! are padded once per step (and, for the input adjoints, transposed) where their rows are not
//! whole already; no value leaves the block's buffers between the layers. With `Wₗ` of shape
//! `[I, O]`, `z = hW + b` and sample rows `r`:
//!
//! - forward, [`affine`]: `z[r] = b + Σᵢ h[r][i] W[i]`, then [`activate`];
//! - the last layer, [`logits`], with the samples along the vectors instead, a class a row
//!   ([`Classes`]): `zᵀ[c] = b[c] + Σᵢ W[i][c] hᵀ[i]`, from the block transposed, since a
//!   classifier's few classes would fill a few lanes of each row;
//! - the loss, [`softmax_cross_entropy`]: `z̄ = (softmax(z) − onehot(y)) / B`, on the whole
//!   block at once, a class a row;
//! - the chain rule through the activation, [`activation_adjoint`]: `z̄ = h̄ ⊙ f′(h)`;
//! - the input's adjoint, [`input_adjoint`]: `h̄[r] = Σₒ z̄[r][o] Wᵀ[o]` (`h̄ = z̄ Wᵀ`);
//! - the parameters' adjoints, [`weight_adjoint`]: `W̄[i] += Σ_r h[r][i] z̄[r]` (`W̄ = hᵀ z̄`),
//!   or where that takes fewer vectors (the last layer always),
//!   [`transposed_weight_adjoint`]: `W̄ᵀ[o] += Σ_r z̄[r][o] h[r]`, so that the longer index runs
//!   along the vectors; and [`bias_adjoint`], `b̄ += Σ_r z̄[r]` (for the last layer
//!   [`class_bias_adjoint`], a lane a sample, summed once a step); each summed over the
//!   block's samples, the batch's first block starting the gradient rather than adding to it
//!   ([`Sum`]), so that no buffer has to be zeroed first.
//!
//! The last block of a batch is padded: its unused rows compute on zeros, and their adjoints
//! are zero and left out of the sums. The padding columns of every product are zero (the
//! padded weights and biases are zero there); an activation may make them nonzero (the
//! sigmoid's ½), but no product reads them as inputs, and where they reach a gradient (the
//! padding of a `W̄ᵀ`) they are dropped when it is written.

use ndarray::{Array1, Array2, ArrayView2};

use crate::kernels::Activation;
use crate::scalar::{Scalar, TILE};

/// Samples per block.
pub const BLOCK: usize = 16;

/// What a row's width is rounded up to a multiple of: 16 values, one vector of `f32` with
/// AVX-512 (two of `f64`), two with AVX2.
pub const ROW: usize = 16;

/// A block's rows of `P` values.
pub type Block<T, const P: usize> = [[T; P]; BLOCK];

/// A block transposed: `C` rows of the block's [`BLOCK`] samples, one a lane (the logits and
/// their adjoints, a class a row).
pub type Classes<T, const C: usize> = [[T; BLOCK]; C];

/// A block's adjoints `z̄[r][o]`, read a value at a time as the coefficients of a sum: stored a
/// sample a row ([`Block`]) or a class a row ([`Transposed`]).
pub trait Adjoint<T> {
    /// Values a sample.
    const WIDTH: usize;
    /// `z̄[r][o]`.
    fn at(&self, r: usize, o: usize) -> T;
}

impl<T: Scalar, const P: usize> Adjoint<T> for Block<T, P> {
    const WIDTH: usize = P;
    #[inline(always)]
    fn at(&self, r: usize, o: usize) -> T {
        self[r][o]
    }
}

/// [`Classes`] as an [`Adjoint`].
pub struct Transposed<'a, T, const C: usize>(pub &'a Classes<T, C>);

impl<T: Scalar, const C: usize> Adjoint<T> for Transposed<'_, T, C> {
    const WIDTH: usize = C;
    #[inline(always)]
    fn at(&self, r: usize, o: usize) -> T {
        self.0[o][r]
    }
}

/// How a block's sums meet a gradient that is summed over the batch's blocks: the first block
/// starts it, whatever its buffer held (so that nothing has to zero it first), and the others
/// add to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sum {
    /// The batch's first block: the gradient is the block's sums.
    Start,
    /// A later block: the block's sums are added to the gradient.
    Add,
}

impl Sum {
    /// [`Sum::Start`] for the block of samples from `start` on, if it is the batch's first.
    #[inline(always)]
    pub fn at(start: usize) -> Self {
        if start == 0 { Sum::Start } else { Sum::Add }
    }

    /// What a row of the gradient's sums start from: zero, or the row's running sums.
    #[inline(always)]
    fn from<T: Scalar, const W: usize>(self, running: &[T; W]) -> [T; W] {
        match self {
            Sum::Start => [T::ZERO; W],
            Sum::Add => *running,
        }
    }
}

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

/// A parameter vector `[O]` as a one-row matrix, if it is contiguous.
#[inline]
pub fn vector<T: Scalar, const O: usize>(a: &Array1<T>) -> Option<&[[T; O]; 1]> {
    let row: &[T; O] = a.as_slice()?.try_into().ok()?;
    Some(std::array::from_ref(row))
}

/// [`vector`], writable.
#[inline]
pub fn vector_mut<T: Scalar, const O: usize>(a: &mut Array1<T>) -> Option<&mut [[T; O]; 1]> {
    let row: &mut [T; O] = a.as_slice_mut()?.try_into().ok()?;
    Some(std::array::from_mut(row))
}

/// `scratch` from its first value aligned to 64 bytes (a cache line, and a vector of AVX-512),
/// which is at most [`ROW`] values in.
#[inline]
pub fn aligned<T: Scalar>(scratch: &mut [T]) -> &mut [T] {
    let skip = scratch.as_ptr().align_offset(64).min(scratch.len());
    &mut scratch[skip..]
}

/// The first `N·M` values of `scratch` as `N` arrays of `M`, and the rest.
#[inline]
pub fn carve<T: Scalar, const N: usize, const M: usize>(scratch: &mut [T]) -> Option<(&mut [[T; M]; N], &mut [T])> {
    let (head, rest) = scratch.split_at_mut_checked(N * M)?;
    let (arrays, []) = head.as_chunks_mut::<M>() else {
        return None;
    };
    Some((arrays.try_into().ok()?, rest))
}

/// `W`'s rows, each padded with zeros to `P ≥ O` values.
#[inline(always)]
pub fn pad<T: Scalar, const I: usize, const O: usize, const P: usize>(w: &[[T; O]; I], padded: &mut [[T; P]; I]) {
    const { assert!(P >= O, "padded rows narrower than the matrix") };
    for (row, wi) in padded.iter_mut().zip(w) {
        *row = std::array::from_fn(|o| if o < O { wi[o] } else { T::ZERO });
    }
}

/// `Wᵀ`'s rows, each padded with zeros to `P ≥ I` values.
#[inline(always)]
pub fn pad_transposed<T: Scalar, const I: usize, const O: usize, const P: usize>(
    w: &[[T; O]; I],
    padded: &mut [[T; P]; O],
) {
    const { assert!(P >= I, "padded rows narrower than the matrix") };
    for row in padded.iter_mut() {
        row[I..].fill(T::ZERO);
    }
    transpose(w.as_flattened(), O, (I, O), padded.as_flattened_mut(), P);
}

/// The transpose of the `rows × cols` matrix in `from` (row `i` at `i · from_stride`) into
/// `to` (row `j` at `j · to_stride`), a tile at a time by [`Scalar::transpose_tile`], the
/// tiles at the right and bottom edges partial.
#[inline(always)]
fn transpose<T: Scalar>(from: &[T], from_stride: usize, (rows, cols): (usize, usize), to: &mut [T], to_stride: usize) {
    for i in (0..rows).step_by(TILE) {
        for j in (0..cols).step_by(TILE) {
            T::transpose_tile(
                &from[i * from_stride + j..],
                from_stride,
                (TILE.min(rows - i), TILE.min(cols - j)),
                &mut to[j * to_stride + i..],
                to_stride,
            );
        }
    }
}

/// [`transpose`] value by value.
#[inline(always)]
pub(crate) fn transpose_values<T: Scalar>(
    from: &[T],
    from_stride: usize,
    (rows, cols): (usize, usize),
    to: &mut [T],
    to_stride: usize,
) {
    for i in 0..rows {
        for j in 0..cols {
            to[j * to_stride + i] = from[i * from_stride + j];
        }
    }
}

/// The first `O` values of each of `padded`'s rows into `w`: [`pad`] undone.
#[inline(always)]
pub fn unpad<T: Scalar, const I: usize, const O: usize, const P: usize>(padded: &[[T; P]; I], w: &mut [[T; O]; I]) {
    const { assert!(P >= O, "padded rows narrower than the matrix") };
    for (wi, row) in w.iter_mut().zip(padded) {
        wi.copy_from_slice(&row[..O]);
    }
}

/// The first `I` values of each of `padded`'s rows, the rows of `Wᵀ`, into `W`.
#[inline(always)]
pub fn unpad_transposed<T: Scalar, const I: usize, const O: usize, const H: usize>(
    padded: &[[T; H]; O],
    w: &mut [[T; O]; I],
) {
    const { assert!(H >= I, "padded rows narrower than the matrix") };
    transpose(padded.as_flattened(), H, (O, I), w.as_flattened_mut(), O);
}

/// The block of `x`'s rows from `start` (at most [`BLOCK`] of them, `n`), and `n`: read in
/// place where `x` is stored row by row and the block is whole, else copied into `scratch`,
/// the rows past `n` zero.
#[inline(always)]
pub fn block<'a, T: Scalar, const I: usize>(
    x: &'a ArrayView2<'_, T>,
    start: usize,
    scratch: &'a mut Block<T, I>,
) -> (&'a Block<T, I>, usize) {
    let n = x.nrows().saturating_sub(start).min(BLOCK);
    if let Some((rows, [])) = x.as_slice().map(<[T]>::as_chunks::<I>)
        && x.ncols() == I
        && let Some(Ok(whole)) = rows.get(start..start + BLOCK).map(<&Block<T, I>>::try_from)
    {
        return (whole, n);
    }
    for (r, row) in scratch.iter_mut().enumerate() {
        *row = [T::ZERO; I];
        if r < n {
            for (value, &v) in row.iter_mut().zip(x.row(start + r)) {
                *value = v;
            }
        }
    }
    (scratch, n)
}

/// `z[r] = b + Σᵢ h[r][i] W[i]` for every row of the block: the forward product of one
/// layer, `z = hW + b`, with `W`'s rows and `b` padded to `P` values (`h`'s rows may be wider
/// than `I`: their padding is not read).
#[inline(always)]
pub fn affine<T: Scalar, const H: usize, const I: usize, const P: usize>(
    isa: impl Isa,
    h: &Block<T, H>,
    w: &[[T; P]; I],
    b: &[T; P],
    z: &mut Block<T, P>,
) {
    const { assert!(I <= H, "input rows narrower than the layer") };
    sums(isa, z, w, |_, _| *b, |i, r| h[r][i], |zr, sum| *zr = sum);
}

/// `zᵀ[c] = b[c] + Σᵢ W[i][c] hᵀ[i]` for the block's samples at once: the last layer's product
/// `z = hW + b` with the samples along the vectors, a class a row ([`Classes`]), from `hᵀ`
/// (the block's rows transposed into `ht`, of which the first `I` are read). A classifier's
/// few classes would fill a few lanes of each row: 2-16-16-2's last layer takes 32 vector
/// multiply-adds a block so, against 256 a sample a row.
#[inline(always)]
pub fn logits<T: Scalar, const H: usize, const I: usize, const C: usize>(
    isa: impl Isa,
    h: &Block<T, H>,
    w: &[[T; C]; I],
    b: &[T; C],
    ht: &mut Classes<T, H>,
    z: &mut Classes<T, C>,
) {
    const { assert!(I <= H, "input rows narrower than the layer") };
    transpose(h.as_flattened(), H, (BLOCK, H), ht.as_flattened_mut(), BLOCK);
    sums(
        isa,
        z,
        &ht[..I],
        |c, _| [b[c]; BLOCK],
        |i, c| w[i][c],
        |zc, sum| *zc = sum,
    );
}

/// `h = f(z)` in place, with fused multiply-adds where the unit has them
/// ([`Activation::value_in`]: `tanh` took a third of the 2-16-16-2 step with them apart, its
/// chain of dependent operations the bound).
#[inline(always)]
pub fn activate<I: Isa, T: Scalar, const P: usize>(_isa: I, f: Activation, z: &mut Block<T, P>) {
    for v in z.as_flattened_mut() {
        *v = f.value_in(*v, I::FMA);
    }
}

/// `z̄ = h̄ ⊙ f′(h)` in place of `h̄`, for an activation whose derivative is written in its
/// output `h` (or needs nothing: `Saved::Output` and `Saved::Nothing`).
#[inline(always)]
pub fn activation_adjoint<T: Scalar, const P: usize>(f: Activation, h: &Block<T, P>, adjoint: &mut Block<T, P>) {
    for (g, &y) in adjoint.as_flattened_mut().iter_mut().zip(h.as_flattened()) {
        *g *= f.derivative(y);
    }
}

/// `h̄[r] = Σₒ z̄[r][o] Wᵀ[o]`: the adjoint of a layer's input, `h̄ = z̄ Wᵀ`, from `Wᵀ` with
/// its rows padded to `H` values (the padding of `h̄` is zero).
#[inline(always)]
pub fn input_adjoint<T: Scalar, Z: Adjoint<T>, const O: usize, const H: usize>(
    isa: impl Isa,
    z: &Z,
    wt: &[[T; H]; O],
    h: &mut Block<T, H>,
) {
    const { assert!(O <= Z::WIDTH, "adjoint rows narrower than the layer") };
    sums(isa, h, wt, |_, _| [T::ZERO; H], |o, r| z.at(r, o), |hr, sum| *hr = sum);
}

/// `W̄[i] += Σ_r h[r][i] z̄[r]` over the block's first `n` rows (`=` for the batch's first
/// block, [`Sum::Start`]): a layer's weight adjoint `W̄ = hᵀ z̄`, accumulated over the blocks,
/// with `W̄`'s rows padded to `P` values as `z̄`'s are. The output index runs along the vectors: `I·⌈P/ROW⌉` of them a sample, against
/// [`transposed_weight_adjoint`]'s `O·⌈H/ROW⌉`.
#[inline(always)]
pub fn weight_adjoint<T: Scalar, const H: usize, const I: usize, const P: usize>(
    isa: impl Isa,
    h: &Block<T, H>,
    z: &Block<T, P>,
    n: usize,
    sum: Sum,
    w: &mut [[T; P]; I],
) {
    const { assert!(I <= H, "input rows narrower than the layer") };
    sums(
        isa,
        w,
        &z[..n],
        |_, wi| sum.from(wi),
        |r, i| h[r][i],
        |wi, total| *wi = total,
    );
}

/// [`weight_adjoint`] with the input index along the vectors: `W̄ᵀ[o] += Σ_r z̄[r][o] h[r]`
/// (`=` where [`Sum::Start`]),
/// `W̄ᵀ`'s rows as wide as `h`'s (their values past the layer's inputs are not part of the
/// gradient: [`unpad_transposed`] drops them). For a layer narrowing to a few outputs, as a
/// classifier's last, it multiplies whole vectors where [`weight_adjoint`] would fill a few
/// lanes of each (2-16-16-2's last layer: 32 vectors a block instead of 256).
#[inline(always)]
pub fn transposed_weight_adjoint<T: Scalar, Z: Adjoint<T>, const H: usize, const O: usize>(
    isa: impl Isa,
    h: &Block<T, H>,
    z: &Z,
    n: usize,
    sum: Sum,
    wt: &mut [[T; H]; O],
) {
    const { assert!(O <= Z::WIDTH, "adjoint rows narrower than the layer") };
    sums(
        isa,
        wt,
        &h[..n],
        |_, wo| sum.from(wo),
        |r, o| z.at(r, o),
        |wo, total| *wo = total,
    );
}

/// `b̄ += Σ_r z̄[r]` over the block's first `n` rows (`=` where [`Sum::Start`]), as one more
/// sum with every coefficient 1: a plain loop over the rows was compiled to one scalar
/// addition per value.
#[inline(always)]
pub fn bias_adjoint<T: Scalar, const P: usize>(isa: impl Isa, z: &Block<T, P>, n: usize, sum: Sum, b: &mut [T; P]) {
    sums(
        isa,
        std::array::from_mut(b),
        &z[..n],
        |_, b| sum.from(b),
        |_, _| T::ONE,
        |b, total| *b = total,
    );
}

/// [`bias_adjoint`] from adjoints a class a row (the rows past the block's samples zero): each
/// sample's share kept in its own lane, `b̄ᵀ[c] += z̄ᵀ[c]` (`=` where [`Sum::Start`]), and the
/// lanes summed once a step by
/// [`lane_sums`]. Each row's sums are formed whole before any is stored: added in place, value
/// by value, they were compiled to one scalar addition each (the two rows might overlap, for
/// all the compiler knew after inlining).
#[inline(always)]
pub fn class_bias_adjoint<T: Scalar, const C: usize>(z: &Classes<T, C>, sum: Sum, b: &mut Classes<T, C>) {
    for (bc, zc) in b.iter_mut().zip(z) {
        let running = sum.from(bc);
        *bc = std::array::from_fn(|r| running[r] + zc[r]);
    }
}

/// `b[c] = Σ_r lanes[c][r]`: [`class_bias_adjoint`]'s sums.
#[inline(always)]
pub fn lane_sums<T: Scalar, const C: usize>(lanes: &Classes<T, C>, b: &mut [T; C]) {
    for (bc, lanes) in b.iter_mut().zip(lanes) {
        *bc = lanes.iter().fold(T::ZERO, |s, &v| s + v);
    }
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

/// [`sums`], `G` targets at a time, then what is left 4, 2 and 1 at a time: a lone sum
/// would wait on its own additions (a classifier's last layer, 2 or 10 targets, is all rest).
#[inline(always)]
fn sums_by<T: Scalar, I: Isa, X, const W: usize, const G: usize>(
    isa: I,
    targets: &mut [X],
    vectors: &[[T; W]],
    kernel: (
        impl Fn(usize, &X) -> [T; W],
        impl Fn(usize, usize) -> T,
        impl Fn(&mut X, [T; W]),
    ),
) {
    let (first, rest) = groups_of::<T, I, X, W, G>(isa, 0, targets, vectors, &kernel);
    let (first, rest) = groups_of::<T, I, X, W, 4>(isa, first, rest, vectors, &kernel);
    let (first, rest) = groups_of::<T, I, X, W, 2>(isa, first, rest, vectors, &kernel);
    groups_of::<T, I, X, W, 1>(isa, first, rest, vectors, &kernel);
}

/// The whole groups of `G` of `targets`, the first of them target `first`; returns the index
/// and the targets past them.
#[inline(always)]
fn groups_of<'t, T: Scalar, I: Isa, X, const W: usize, const G: usize>(
    _isa: I,
    first: usize,
    targets: &'t mut [X],
    vectors: &[[T; W]],
    (init, coefficient, store): &(
        impl Fn(usize, &X) -> [T; W],
        impl Fn(usize, usize) -> T,
        impl Fn(&mut X, [T; W]),
    ),
) -> (usize, &'t mut [X]) {
    let (groups, rest) = targets.as_chunks_mut::<G>();
    for (g, group) in groups.iter_mut().enumerate() {
        let start = first + g * G;
        let sums = sum_group::<T, I, W, G>(start, vectors, |k| init(start + k, &group[k]), coefficient);
        for (target, sum) in group.iter_mut().zip(sums) {
            store(target, sum);
        }
    }
    (first + groups.len() * G, rest)
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

/// The softmax cross-entropy of the block's first `labels.len()` samples, from their logits
/// a class a row (`z[j][r]`, [`logits`]), each replaced by its adjoint
/// `z̄ = scale · (softmax(z) − onehot(y))` (the lanes past the samples by zero); returns the
/// sum of the samples' losses `ln Σⱼ e^{zⱼ−m} − (z_y − m)`, `m = maxⱼ zⱼ` (the stable form).
/// Every label must be below `C`. With the samples along the vectors, the maxima,
/// exponentials and sums run on the whole block at once rather than along rows of mostly
/// padding. The label's value (`z_y`, and the `−scale` of the one-hot) is read and written
/// sample by sample, so that the loops over the classes hold no test of the label. The
/// exponentials fuse their multiply-adds where the unit has FMA
/// ([`Real::exp_in`](crate::scalar::Real::exp_in)).
#[inline(always)]
pub fn softmax_cross_entropy<I: Isa, T: Scalar, const C: usize>(
    _isa: I,
    z: &mut Classes<T, C>,
    labels: &[usize],
    scale: T,
) -> T {
    const { assert!(C > 0, "no classes") };
    let n = labels.len();
    let mut max = z[0];
    for zj in &z[1..] {
        for (m, &v) in max.iter_mut().zip(zj) {
            *m = m.max(v);
        }
    }
    let mut picked = T::ZERO;
    for (r, (&label, &m)) in labels.iter().zip(&max).enumerate() {
        picked += z[label][r] - m;
    }
    let mut sum = [T::ZERO; BLOCK];
    for zj in z.iter_mut() {
        for ((v, &m), s) in zj.iter_mut().zip(&max).zip(&mut sum) {
            *v = (*v - m).exp_in(I::FMA);
            *s += *v;
        }
    }
    // The lanes past the samples share nothing, so that their adjoints are zero.
    let share: [T; BLOCK] = std::array::from_fn(|r| if r < n { scale / sum[r] } else { T::ZERO });
    for zj in z.iter_mut() {
        for (v, &s) in zj.iter_mut().zip(&share) {
            *v *= s;
        }
    }
    for (r, &label) in labels.iter().enumerate() {
        z[label][r] -= scale;
    }
    // Σᵣ ln sᵣ as ln Πᵣ sᵣ, one logarithm for the block instead of a library call a sample:
    // each sᵣ is in [1, C] (the maximum's own term is 1), so the product of the block's is at
    // most C¹⁶, finite in f32 for the chains' C ≤ 64, and as exact as the sum of the
    // logarithms (16 roundings of the product against 16 of the logarithms and their sum).
    const { assert!(C <= 64, "a block's product of sums could overflow") };
    sum[..n].iter().fold(T::ONE, |p, &s| p * s).ln() - picked
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
        let mut scratch = vec![0.0f32; 3 * ROW + 1];
        let (three, rest) = carve::<f32, 3, ROW>(&mut scratch).unwrap();
        assert_eq!((three.len(), rest.len()), (3, 1));
        assert!(carve::<f32, 4, ROW>(&mut scratch).is_none());
        let aligned = aligned(&mut scratch);
        assert!(aligned.as_ptr().addr().is_multiple_of(64) && aligned.len() + ROW > 3 * ROW);
    }

    /// The three products against plain loops, for every vector unit's grouping (the units'
    /// constants alone choose the groups, so each runs here whatever the processor), with
    /// widths that leave a remainder after the groups and padding, and a partial block.
    #[test]
    fn the_products_agree_with_plain_loops_for_every_unit() {
        fn check<U: Isa>(isa: U) {
            const I: usize = 13;
            const O: usize = 10;
            const P: usize = 16;
            let value = |k: usize| ((k * 37 % 101) as f64 - 50.0) / 25.0;
            // Input rows wider than the layer: their padding must not be read.
            let h: Block<f64, P> =
                std::array::from_fn(|r| std::array::from_fn(|i| if i < I { value(r * I + i) } else { 9.0 }));
            let zbar: Block<f64, P> =
                std::array::from_fn(|r| std::array::from_fn(|o| if o < O { value(r * O + o + 7) } else { 0.0 }));
            let w: [[f64; O]; I] = std::array::from_fn(|i| std::array::from_fn(|o| value(i * O + o + 3)));
            let b: [f64; O] = std::array::from_fn(|o| value(o + 11));
            let (mut wp, mut bp, mut wt) = ([[f64::NAN; P]; I], [[f64::NAN; P]; 1], [[f64::NAN; P]; O]);
            pad(&w, &mut wp);
            pad(std::array::from_ref(&b), &mut bp);
            pad_transposed(&w, &mut wt);
            // Sums of at most 16 products of values below 2 in magnitude: fused and separate
            // roundings differ by a few ulps of 64, far below 1e-12.
            let close = |a: f64, e: f64| assert!((a - e).abs() <= 1e-12, "{a} against {e}");

            let mut z = [[f64::NAN; P]; BLOCK];
            affine(isa, &h, &wp, &bp[0], &mut z);
            for (r, o) in (0..BLOCK).flat_map(|r| (0..P).map(move |o| (r, o))) {
                let expected = if o < O {
                    b[o] + (0..I).map(|i| h[r][i] * w[i][o]).sum::<f64>()
                } else {
                    0.0
                };
                close(z[r][o], expected);
            }
            let mut hbar = [[f64::NAN; P]; BLOCK];
            input_adjoint(isa, &zbar, &wt, &mut hbar);
            for (r, i) in (0..BLOCK).flat_map(|r| (0..P).map(move |i| (r, i))) {
                let expected = if i < I {
                    (0..O).map(|o| w[i][o] * zbar[r][o]).sum::<f64>()
                } else {
                    0.0
                };
                close(hbar[r][i], expected);
            }
            let n = 11;
            let (mut gw, mut gb) = (wp, bp);
            weight_adjoint(isa, &h, &zbar, n, Sum::Add, &mut gw);
            bias_adjoint(isa, &zbar, n, Sum::Add, &mut gb[0]);
            let (mut gw_out, mut gb_out) = ([[f64::NAN; O]; I], [[f64::NAN; O]; 1]);
            unpad(&gw, &mut gw_out);
            unpad(&gb, &mut gb_out);
            for o in 0..O {
                close(gb_out[0][o], b[o] + (0..n).map(|r| zbar[r][o]).sum::<f64>());
                for i in 0..I {
                    close(
                        gw_out[i][o],
                        w[i][o] + (0..n).map(|r| h[r][i] * zbar[r][o]).sum::<f64>(),
                    );
                }
            }
            assert!(gw.iter().all(|row| row[O..].iter().all(|&v| v == 0.0)), "padding of W̄");

            // The same with the inputs along the vectors, into W̄ᵀ whose padding starts as
            // garbage (it is dropped), from the adjoints a sample a row and a class a row (the
            // rows past n zero): the same products in the same order.
            let mut zbar_t: Classes<f64, O> = std::array::from_fn(|o| std::array::from_fn(|r| zbar[r][o]));
            for zo in &mut zbar_t {
                zo[n..].fill(0.0);
            }
            let start: [[f64; P]; O] =
                std::array::from_fn(|o| std::array::from_fn(|i| if i < I { w[i][o] } else { 7.0 }));
            let (mut by_rows, mut by_classes) = (start, start);
            transposed_weight_adjoint(isa, &h, &zbar, n, Sum::Add, &mut by_rows);
            transposed_weight_adjoint(isa, &h, &Transposed(&zbar_t), n, Sum::Add, &mut by_classes);
            let (mut by_rows_out, mut by_classes_out) = ([[f64::NAN; O]; I], [[f64::NAN; O]; I]);
            unpad_transposed(&by_rows, &mut by_rows_out);
            unpad_transposed(&by_classes, &mut by_classes_out);
            assert_eq!((by_rows_out, by_classes_out), (gw_out, gw_out));
            let mut lanes: Classes<f64, O> =
                std::array::from_fn(|o| std::array::from_fn(|r| if r == 0 { b[o] } else { 0.0 }));
            class_bias_adjoint(&zbar_t, Sum::Add, &mut lanes);
            let mut gb_lanes = [f64::NAN; O];
            lane_sums(&lanes, &mut gb_lanes);
            for o in 0..O {
                close(gb_lanes[o], gb_out[0][o]);
            }
            let mut hbar_t = [[f64::NAN; P]; BLOCK];
            input_adjoint(isa, &Transposed(&zbar_t), &wt, &mut hbar_t);
            assert_eq!(hbar_t[..n], hbar[..n]);

            // A batch's first block starts each gradient, whatever its buffer held (NaN here):
            // the same numbers as adding to zeros.
            let (mut gw_start, mut gw_zero) = ([[f64::NAN; P]; I], [[0.0; P]; I]);
            weight_adjoint(isa, &h, &zbar, n, Sum::Start, &mut gw_start);
            weight_adjoint(isa, &h, &zbar, n, Sum::Add, &mut gw_zero);
            let (mut gb_start, mut gb_zero) = ([f64::NAN; P], [0.0; P]);
            bias_adjoint(isa, &zbar, n, Sum::Start, &mut gb_start);
            bias_adjoint(isa, &zbar, n, Sum::Add, &mut gb_zero);
            let (mut gwt_start, mut gwt_zero) = ([[f64::NAN; P]; O], [[0.0; P]; O]);
            transposed_weight_adjoint(isa, &h, &Transposed(&zbar_t), n, Sum::Start, &mut gwt_start);
            transposed_weight_adjoint(isa, &h, &Transposed(&zbar_t), n, Sum::Add, &mut gwt_zero);
            let (mut lanes_start, mut lanes_zero) = ([[f64::NAN; BLOCK]; O], [[0.0; BLOCK]; O]);
            class_bias_adjoint(&zbar_t, Sum::Start, &mut lanes_start);
            class_bias_adjoint(&zbar_t, Sum::Add, &mut lanes_zero);
            assert_eq!((gw_start, gb_start), (gw_zero, gb_zero));
            assert_eq!((gwt_start, lanes_start), (gwt_zero, lanes_zero));

            // The logits a class a row against the forward product a sample a row.
            let (mut ht, mut zt) = ([[f64::NAN; BLOCK]; P], [[f64::NAN; BLOCK]; O]);
            logits(isa, &h, &w, &b, &mut ht, &mut zt);
            for (r, o) in (0..BLOCK).flat_map(|r| (0..O).map(move |o| (r, o))) {
                close(zt[o][r], z[r][o]);
            }
        }
        check(Avx512);
        check(Avx2);
        check(Baseline);
    }

    /// The loss and adjoint of each sample against the textbook formula (in f64, where the two
    /// orders of summation agree to 1e-15), the lanes past the labels zero.
    #[test]
    fn softmax_cross_entropy_sample_by_sample() {
        const C: usize = 5;
        let mut z: Classes<f64, C> = std::array::from_fn(|j| {
            std::array::from_fn(|r| ((r * 7 + j * 3) % 11) as f64 - 5.0 + if r == 2 { 700.0 } else { 0.0 })
        });
        let logits = z;
        let labels = [0, 4, 2, 1, 3, 3];
        let scale = 0.25;
        let loss = softmax_cross_entropy::<_, f64, C>(Baseline, &mut z, &labels, scale);
        let mut expected_loss = 0.0;
        for (r, &label) in labels.iter().enumerate() {
            let max = (0..C).map(|j| logits[j][r]).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..C).map(|j| (logits[j][r] - max).exp()).sum();
            expected_loss += sum.ln() + max - logits[label][r];
            for j in 0..C {
                let p = (logits[j][r] - max).exp() / sum;
                let expected = scale * (p - if j == label { 1.0 } else { 0.0 });
                assert!(
                    (z[j][r] - expected).abs() <= 1e-15,
                    "sample {r}, class {j}: {} against {expected}",
                    z[j][r]
                );
            }
        }
        assert!(
            (loss - expected_loss).abs() <= 1e-12 * expected_loss,
            "{loss} against {expected_loss}"
        );
        assert!(z.iter().all(|zj| zj[labels.len()..].iter().all(|&v| v == 0.0)));
    }

    /// Whole tiles (in vector registers for `f32` where the processor has AVX-512) and the
    /// partial ones at the edges, into rows wider than the matrix, whose other values stay.
    #[test]
    fn transposes_agree_with_indexing() {
        fn check<T: Scalar>() {
            let (rows, cols, stride, to_stride) = (37, 21, 23, 40);
            // The last row ends at the matrix's last value: nothing past it may be read.
            let from: Vec<T> = (0..(rows - 1) * stride + cols).map(|k| T::from_usize(k)).collect();
            let mut to = vec![-T::ONE; cols * to_stride];
            transpose(&from, stride, (rows, cols), &mut to, to_stride);
            for (j, row) in to.chunks(to_stride).enumerate() {
                for (i, &v) in row.iter().enumerate() {
                    assert_eq!(v, if i < rows { from[i * stride + j] } else { -T::ONE }, "({j}, {i})");
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }

    #[test]
    fn a_partial_block_is_copied_and_padded_with_zeros() {
        let x = Array2::from_shape_fn((20, 3), |(i, j)| (i * 3 + j + 1) as f32);
        let (view, mut scratch) = (x.view(), [[f32::NAN; 3]; BLOCK]);
        let (whole, n) = block(&view, 0, &mut scratch);
        assert_eq!((whole[15], n), ([46.0, 47.0, 48.0], 16));
        assert!(scratch[0][0].is_nan(), "a whole contiguous block is read in place");
        let (last, n) = block(&view, 16, &mut scratch);
        assert_eq!((last[1], last[4], n), ([52.0, 53.0, 54.0], [0.0; 3], 4));
        // Strided rows read the same values.
        let xs = x.slice(ndarray::s![..;2, ..]);
        let (strided, n) = block(&xs, 0, &mut scratch);
        assert_eq!((strided[1], strided[10], n), ([7.0, 8.0, 9.0], [0.0; 3], 10));
    }
}
