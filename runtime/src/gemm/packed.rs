//! The packed product on processors with AVX-512, or with AVX2 and FMA, in `f32` and `f64`:
//! `C ← α A B + β C` on any strides, allocating nothing once a thread's packing buffer has
//! grown to fit. One kernel, generic over the vector unit ([`Vector`]), compiled once for each.
//!
//! With AVX-512, C is computed in tiles of 6 rows by 4 vectors of columns (64 in `f32`, 32 in
//! `f64`), the 24 sums in registers while k runs: each step of k loads four vectors of a packed
//! strip of B and broadcasts the tile's six values of A's column into each, 24 fused
//! multiply-adds to 10 loads,
//!
//! `acc[r][j] ← A[i + r, p] · B[p, j] + acc[r][j]`, then `C[i + r, j] ← β C[i + r, j] + α acc[r][j]`.
//!
//! A C of at most one vector of columns gets tiles of 24 rows by one vector instead. AVX2 has
//! half the registers, each half as wide: tiles of 4 rows by 3 vectors (24 `f32` columns, 12
//! sums), 6 by 2 for a C of two vectors of columns, 12 by 1 for one; A is always copied into a
//! strip there (six rows read in place spilled their pointers). B is
//! packed, [`KC`] rows of k by [`NC`] columns at a time, into strips one tile wide, so that a
//! tile reads it contiguously and the columns past C's last are zeros: by vector copies where
//! B's rows are contiguous, by blocks of 16 × 16 transposed in registers where its columns are
//! (8 × 8 with AVX2; a layer's input gradient `Z̄·Wᵀ`). A is read where it lies when its rows are contiguous
//! (a tile's rows over a block of k stay in the L1 cache while every strip of B passes them);
//! otherwise, and for the last rows, a tile's rows are copied once per block of k, by masked
//! vectors where A's columns are contiguous (`Hᵀ` of a weight's gradient: read in place, its
//! columns 4 KiB apart in a 1024-wide layer would all fall in the same sets of the L1 cache). A column-major C is computed as
//! `Cᵀ = BᵀAᵀ`, so that tiles are stored as vectors; so is a narrow C (a layer with ten
//! outputs) with more rows than columns, which then runs in the wide tiles: a narrow tile
//! broadcasts a value of A for every multiply-add, and on a Zen 4 (whose AVX-512 runs as two
//! 256-bit halves) it completed them at 40 % of the wide tiles' rate. Where A is stored by
//! columns, only from 64 rows of C on: the transposed form packs A's rows as B, in strips of
//! a wide tile's 64 columns, and a 5 × 5 convolution's kernel gradient (25 rows, six
//! columns, k of 50,176) took 1.7× as long packing strips that were mostly padding. The
//! weight gradients `Hᵀ·Z̄` of a ten-output layer (A stored by columns), which had kept the
//! narrow tiles, took 0.32–0.44 of their time transposed (`taskset -c 1 cargo bench --bench kernel_pairs -- x10/`,
//! 2026-12-02, medians: 64 × 128 × 10 10.4 → 3.7 µs, 256 × 128 × 10 34.7 → 11.2 µs,
//! 128 × 1024 × 10 113.5 → 50.5 µs; the `gemm` crate, run alongside, took 0.36–0.78 of the
//! own kernel's time on them before and 1.17–1.63 after; the AVX2 form 0.59–0.86).
//!
//! Before each tile's loop over k, the cache lines of its part of C are prefetched (a weight
//! updated in place, `W ← W − lr · HᵀZ̄`, is megabytes out of every cache), and each step of k
//! prefetches B's strip 16 rows ahead. A last strip narrower than a tile (784 = 12 · 64 + 16)
//! gets a tile with only as many vectors of sums as it needs.
//!
//! Against the `gemm` crate (0.19, its AVX-512 kernels) on the products of the benchmark
//! networks' steps, with the step's α and β (`cargo bench --bench gemm -- kernels`, one core
//! of a 2-vCPU AMD EPYC Zen 5 pinned, 2026-12-02), time over the crate's: 0.75–0.98 on the
//! input gradients `Z̄·Wᵀ` (128 × 1024 × 1024: 2.14 against 2.83 ms), 0.93–1.07 on the forward
//! products, 0.97–1.23 on the weight gradients (the worst: the short 64 × 256 × 64,
//! 64 × 256 × 128 and 256 × 256 × 128, at 1.13–1.23), 0.89–1.12 on the products with ten columns. Whole steps of
//! 784-256-128-10 and 784-1024-1024-10 took the same time with either kernel within this
//! machine's noise, the autoencoder's 0–8 % longer (`benches/README.md`).
//!
//! Every element of C goes through the same operations wherever it lies: fused multiply-adds
//! in the order of k, in blocks of k that depend on k alone, then the update above (the
//! product `a·b` is the same number as `b·a`, so the transposed form changes nothing). A split
//! of C across threads therefore changes no result.

use std::arch::x86_64::{
    __m256, __m512, _MM_HINT_T0, _mm_prefetch, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps,
    _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_shuffle_ps, _mm512_storeu_ps,
    _mm512_unpackhi_ps, _mm512_unpacklo_ps,
};
use std::cell::RefCell;

use crate::kernels::rows::Isa;
use crate::scalar::Scalar;
use crate::simd::{Avx2, Avx512, Vector, lanes};

/// The most rows of k packed at once: a tile's rows of A over them (6 or 24 rows, 6 or
/// 24 KiB in `f32`) stay within a 48 KiB L1 cache while the tile's strip of B streams past. k
/// is cut into equal blocks of at most this many.
const KC: usize = 256;
/// The most columns of B packed at once: `KC × NC` values, 512 KiB in `f32`, within a 1 MiB L2.
const NC: usize = 512;
/// The most values a tile holds (`R · V · LANES`), for its copy in memory.
const TILE: usize = 24 * 16;

/// The vector units the kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// AVX-512 Foundation.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
}

/// The widest unit this processor has, if it has one of them (checked once and cached by the
/// standard library).
pub(crate) fn unit() -> Option<Unit> {
    if std::arch::is_x86_feature_detected!("avx512f") {
        Some(Unit::Avx512)
    } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        Some(Unit::Avx2)
    } else {
        None
    }
}

/// A matrix as a pointer and its row and column strides, in elements.
#[derive(Clone, Copy)]
pub(crate) struct Strided<P> {
    pub(crate) ptr: P,
    pub(crate) rows: isize,
    pub(crate) cols: isize,
}

impl<P: Copy> Strided<P> {
    /// The transpose: the strides swapped.
    fn t(self) -> Self {
        Strided {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
        }
    }

    /// The offset of element `(row, col)`.
    fn at(&self, row: usize, col: usize) -> isize {
        row as isize * self.rows + col as isize * self.cols
    }
}

thread_local! {
    /// The packed strips of B and a copied strip of A, per thread, kept between products; as
    /// vectors, so that every strip starts on a 64-byte boundary.
    static PACK: RefCell<Vec<__m512>> = const { RefCell::new(Vec::new()) };
}

/// `C ← α A B + β C` for `A: m×k`, `B: k×n`, `C: m×n`, with k ≥ 1; C is not read if `β = 0`.
///
/// # Safety
/// The processor must have `unit` ([`unit`]); the pointers and strides must address
/// matrices of these shapes, and C must not alias A or B.
pub(crate) unsafe fn gemm<T: Wide<Avx512> + Wide<Avx2>>(
    unit: Unit,
    (m, k, n): (usize, usize, usize),
    alpha: T,
    a: Strided<*const T>,
    b: Strided<*const T>,
    beta: T,
    c: Strided<*mut T>,
) {
    let lanes = match unit {
        Unit::Avx512 => <T as Vector<Avx512>>::N,
        Unit::Avx2 => <T as Vector<Avx2>>::N,
    };
    let column_major = c.cols != 1 && c.rows == 1;
    // At most 64 bytes of columns: one AVX-512 vector, two of AVX2.
    let narrow = n * size_of::<T>() <= 64 && m > n && (a.cols == 1 || m >= 64);
    let (m, n, a, b, c) = if column_major || narrow {
        (n, m, b.t(), a.t(), c.t())
    } else {
        (m, n, a, b, c)
    };
    let args = ((m, k, n), alpha, a, b, beta, c);
    // SAFETY: the caller's contract, with the shapes and strides of one of the two forms.
    unsafe {
        match (unit, n.div_ceil(lanes)) {
            (Unit::Avx512, 1) => avx512::<T, 24, 1>(args),
            (Unit::Avx512, _) => avx512::<T, 6, 4>(args),
            (Unit::Avx2, 1) => avx2::<T, 12, 1>(args),
            (Unit::Avx2, 2) => avx2::<T, 6, 2>(args),
            (Unit::Avx2, _) => avx2::<T, 4, 3>(args),
        }
    }
}

/// What [`blocked`] takes: the shape `(m, k, n)`, α, A, B, β and C.
type Args<T> = (
    (usize, usize, usize),
    T,
    Strided<*const T>,
    Strided<*const T>,
    T,
    Strided<*mut T>,
);

/// [`blocked`] compiled for AVX-512.
///
/// # Safety
/// As [`blocked`], on a processor with AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn avx512<T: Wide<Avx512>, const R: usize, const V: usize>(args: Args<T>) {
    // SAFETY: the caller's.
    unsafe { blocked::<T, Avx512, R, V>(args) }
}

/// [`blocked`] compiled for AVX2 with FMA.
///
/// # Safety
/// As [`blocked`], on a processor with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<T: Wide<Avx2>, const R: usize, const V: usize>(args: Args<T>) {
    // SAFETY: the caller's.
    unsafe { blocked::<T, Avx2, R, V>(args) }
}

/// [`gemm`] in tiles of `R` rows by `V` vectors of `U`. Inlined, with everything it calls, into
/// the function compiled for `U` that calls it.
///
/// # Safety
/// As [`gemm`], on a processor with `U`; `R · V` at most 24 with AVX-512, 12 with AVX2 (the
/// vector registers left for sums), `R · V · LANES ≤ TILE`.
#[inline(always)]
unsafe fn blocked<T: Wide<U>, U: Isa, const R: usize, const V: usize>(((m, k, n), alpha, a, b, beta, c): Args<T>) {
    let lane_count = <T as Vector<U>>::N;
    let nr = V * lane_count;
    let (blocks, columns) = (k.div_ceil(KC), NC.min(n).div_ceil(nr) * nr);
    let depth = k.div_ceil(blocks);
    let values = columns * depth + R * depth;
    // Taken out of the thread's slot for the product and put back after, rather than
    // borrowed in a closure: a closure is compiled without the unit's features.
    let mut pack = PACK.take();
    let vectors = values.div_ceil(size_of::<__m512>() / size_of::<T>());
    if pack.len() < vectors {
        // SAFETY: a vector of zero bits is a vector of zeros.
        pack.resize(vectors, unsafe { std::mem::zeroed() });
    }
    let b_pack = pack.as_mut_ptr().cast::<T>();
    let a_copy = b_pack.wrapping_add(columns * depth);
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(depth) {
            let kc = depth.min(k - pc);
            let b_block = Strided {
                ptr: b.ptr.wrapping_offset(b.at(pc, jc)),
                ..b
            };
            // SAFETY: the caller's contract; `b_pack` holds `columns · depth` values.
            unsafe { pack_b::<T, U, V>(kc, nc, b_block, b_pack) };
            let beta = if pc == 0 { beta } else { T::ONE };
            for ic in (0..m).step_by(R) {
                let mr = R.min(m - ic);
                let mut tile_a = Strided {
                    ptr: a.ptr.wrapping_offset(a.at(ic, pc)),
                    ..a
                };
                if mr < R || a.cols != 1 || U::REGISTERS < 32 {
                    // SAFETY: rows ic..ic + mr and columns pc..pc + kc of A are in bounds;
                    // `a_copy` holds `R · depth` values.
                    unsafe { copy_a::<T, U, R>(mr, kc, tile_a, a_copy) };
                    tile_a = Strided {
                        ptr: a_copy.cast_const(),
                        rows: 1,
                        cols: R as isize,
                    };
                }
                for (s, jr) in (0..nc).step_by(nr).enumerate() {
                    let tile_c = Strided {
                        ptr: c.ptr.wrapping_offset(c.at(ic, jc + jr)),
                        ..c
                    };
                    let strip = b_pack.wrapping_add(s * kc * nr).cast_const();
                    let size = (mr, nr.min(nc - jr));
                    let rows = tile_a.cols == 1;
                    // SAFETY: `tile_a` addresses R rows (copied where fewer are left) and kc
                    // columns; `strip` kc rows of `nr` packed values; `tile_c` the `size`
                    // elements of C written.
                    unsafe {
                        match rows {
                            _ if V > 1 && size.1 <= (V - 1) * lane_count => {
                                last_tile::<T, U, R, V>(rows, kc, tile_a, (strip, nr), alpha, beta, tile_c, size)
                            }
                            true => tile::<T, U, R, V, true>(kc, tile_a, (strip, nr), alpha, beta, tile_c, size),
                            false => tile::<T, U, R, V, false>(kc, tile_a, (strip, nr), alpha, beta, tile_c, size),
                        }
                    }
                }
            }
        }
    }
    PACK.set(pack);
}

/// Packs the `kc × nc` values of `b` into strips of `V · LANES` columns, each `kc` rows of
/// contiguous values, the columns past `nc` zeros: rows copied as vectors where B's rows are
/// contiguous, blocks of `LANES × LANES` transposed in registers where its columns are. Those
/// blocks go down k one band of `LANES` columns at a time, so that the columns are read as
/// `LANES` streams of contiguous values rather than a strip's `V · LANES`: the processor's
/// prefetchers follow the fewer streams, and packing `Wᵀ` for a layer's input gradient took
/// 3.0 % of 784-1024-1024-10's step instead of 4.8–5.1 % (and 2.0 % of the autoencoder's
/// instead of 2.7–2.8 %), its loads of `W` the time (`perf record` of `benches/step.rs`'s
/// `generated_sgd`, `taskset -c 1`, two runs of each build, 2026-12-02, a Zen 4).
///
/// # Safety
/// `U`'s features; `b` addresses `kc × nc` values; `to` holds `kc · nc.div_ceil(V · LANES) · V · LANES`.
#[inline(always)]
unsafe fn pack_b<T: Wide<U>, U, const V: usize>(kc: usize, nc: usize, b: Strided<*const T>, to: *mut T) {
    let lane_count = <T as Vector<U>>::N;
    let nr = V * lane_count;
    for (s, jr) in (0..nc).step_by(nr).enumerate() {
        let width = nr.min(nc - jr);
        let strip = to.wrapping_add(s * kc * nr);
        if b.cols == 1 {
            let masks: [u32; V] = std::array::from_fn(|h| lanes(width.saturating_sub(h * lane_count)));
            for p in 0..kc {
                let row = b.ptr.wrapping_offset(b.at(p, jr));
                for (h, &mask) in masks.iter().enumerate() {
                    // SAFETY: the mask covers the row's values that exist; the strip holds
                    // `kc · nr` values.
                    unsafe {
                        <T as Vector<U>>::store(
                            u32::MAX,
                            strip.add(p * nr + h * lane_count),
                            <T as Vector<U>>::load(mask, row.wrapping_add(h * lane_count)),
                        )
                    };
                }
            }
            continue;
        }
        for j0 in (0..nr).step_by(lane_count) {
            for p0 in (0..kc).step_by(lane_count) {
                let to = strip.wrapping_add(p0 * nr + j0);
                if b.rows == 1 && p0 + lane_count <= kc && j0 + lane_count <= width {
                    // SAFETY: B's columns jr + j0.. hold `lane_count` contiguous values from row p0.
                    unsafe { <T as Wide<U>>::transpose(b.ptr.offset(b.at(p0, jr + j0)), b.cols, to, nr) };
                    continue;
                }
                for p in p0..(p0 + lane_count).min(kc) {
                    for j in j0..j0 + lane_count {
                        let value = if j < width {
                            // SAFETY: (p, jr + j) is in bounds.
                            unsafe { *b.ptr.offset(b.at(p, jr + j)) }
                        } else {
                            T::ZERO
                        };
                        // SAFETY: p < kc, j < nr.
                        unsafe { strip.add(p * nr + j).write(value) };
                    }
                }
            }
        }
    }
}

/// Copies `A[..mr, ..kc]` column by column, `R` values a column, the rows past `mr` zeros: by
/// masked vectors where A's columns are contiguous, value by value otherwise.
///
/// # Safety
/// `U`'s features; `from` addresses `mr × kc` values; `to` holds `R · kc`.
#[inline(always)]
unsafe fn copy_a<T: Wide<U>, U, const R: usize>(mr: usize, kc: usize, from: Strided<*const T>, to: *mut T) {
    if from.rows == 1 {
        for p in 0..kc {
            for h in (0..R).step_by(<T as Vector<U>>::N) {
                let (read, write) = (lanes(mr.saturating_sub(h)), lanes(R - h));
                // SAFETY: the masked lanes are in bounds; unmasked lanes read as zeros.
                unsafe {
                    let column = <T as Vector<U>>::load(read, from.ptr.offset(from.at(h, p)));
                    <T as Vector<U>>::store(write, to.add(p * R + h), column);
                }
            }
        }
        return;
    }
    for p in 0..kc {
        for r in 0..R {
            let value = if r < mr {
                // SAFETY: in bounds by the contract.
                unsafe { *from.ptr.offset(from.at(r, p)) }
            } else {
                T::ZERO
            };
            // SAFETY: p · R + r < R · kc.
            unsafe { to.add(p * R + r).write(value) };
        }
    }
}

/// One tile: `acc = A[..R, ..kc] · strip` in `R · V` registers, then `C ← α acc + β C` on the
/// `(rows, cols)` elements that exist. `ROWS`: A's rows are contiguous (else its columns are).
///
/// # Safety
/// `U`'s features; `a` addresses `R × kc` values with unit column stride if `ROWS`, else unit
/// row stride; `strip` holds `kc` rows of `V · LANES` values, `stride` apart; `c` addresses
/// `rows × cols` values.
#[inline(always)]
unsafe fn tile<T: Wide<U>, U, const R: usize, const V: usize, const ROWS: bool>(
    kc: usize,
    a: Strided<*const T>,
    (strip, stride): (*const T, usize),
    alpha: T,
    beta: T,
    c: Strided<*mut T>,
    (rows, cols): (usize, usize),
) {
    let lane_count = <T as Vector<U>>::N;
    let nr = V * lane_count;
    if c.cols == 1 {
        // C's tile is read (β ≠ 0) or written only after the loop over k: its cache lines are
        // requested now, so that the loop hides their latency (a weight updated in place is
        // several megabytes, out of every cache).
        for r in 0..rows {
            let row = c.ptr.wrapping_offset(r as isize * c.rows).cast::<i8>().cast_const();
            for line in (0..cols * size_of::<T>()).step_by(64) {
                // SAFETY: a prefetch reads nothing (SSE, part of every x86-64).
                unsafe { _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(line)) };
            }
        }
    }
    // SAFETY (this and every block below): `U`'s features and the bounds of the contract.
    let mut acc = [[unsafe { <T as Vector<U>>::zero() }; V]; R];
    let starts: [*const T; R] = std::array::from_fn(|r| a.ptr.wrapping_offset(r as isize * a.rows));
    for p in 0..kc {
        unsafe {
            for h in 0..V {
                _mm_prefetch::<_MM_HINT_T0>(strip.wrapping_add((p + 16) * stride + h * lane_count).cast::<i8>());
            }
            let b: [<T as Vector<U>>::V; V] =
                std::array::from_fn(|h| <T as Vector<U>>::load(u32::MAX, strip.add(p * stride + h * lane_count)));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = <T as Vector<U>>::splat(if ROWS {
                    starts[r].add(p)
                } else {
                    a.ptr.offset(p as isize * a.cols + r as isize)
                });
                for (acc, &b) in acc.iter_mut().zip(&b) {
                    *acc = <T as Vector<U>>::fma(x, b, *acc);
                }
            }
        }
    }
    let (alpha_v, beta_v) = unsafe { (<T as Vector<U>>::splat(&alpha), <T as Vector<U>>::splat(&beta)) };
    if c.cols == 1 {
        let masks: [u32; V] = std::array::from_fn(|h| lanes(cols.saturating_sub(h * lane_count)));
        for (r, acc) in acc.iter().enumerate().take(rows) {
            for (h, (&mask, &acc)) in masks.iter().zip(acc).enumerate() {
                unsafe {
                    let to = c.ptr.wrapping_offset(c.at(r, h * lane_count));
                    let mut v = <T as Vector<U>>::mul(alpha_v, acc);
                    if beta != T::ZERO {
                        v = <T as Vector<U>>::fma(beta_v, <T as Vector<U>>::load(mask, to), v);
                    }
                    <T as Vector<U>>::store(mask, to, v);
                }
            }
        }
    } else {
        let mut sums = [T::ZERO; TILE];
        for (r, acc) in acc.iter().enumerate() {
            for (h, &acc) in acc.iter().enumerate() {
                unsafe { <T as Vector<U>>::store(u32::MAX, sums.as_mut_ptr().add(r * nr + h * lane_count), acc) };
            }
        }
        for r in 0..rows {
            for j in 0..cols {
                unsafe {
                    let to = c.ptr.offset(c.at(r, j));
                    let v = alpha * sums[r * nr + j];
                    *to = if beta != T::ZERO { beta.mul_add(*to, v) } else { v };
                }
            }
        }
    }
}

/// [`tile`] of `R` rows for a last strip of fewer than `V` vectors of columns, with only as many
/// vectors of sums as it has columns (with AVX-512, a C of 784 columns ends in a strip of one
/// vector of four).
///
/// # Safety
/// As [`tile`]; `cols ≤ (V − 1) · LANES`, `V ≤ 4`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn last_tile<T: Wide<U>, U, const R: usize, const V: usize>(
    rows: bool,
    kc: usize,
    a: Strided<*const T>,
    strip: (*const T, usize),
    alpha: T,
    beta: T,
    c: Strided<*mut T>,
    size: (usize, usize),
) {
    // SAFETY: the caller's.
    unsafe {
        match (size.1.div_ceil(<T as Vector<U>>::N), rows) {
            (1, true) => tile::<T, U, R, 1, true>(kc, a, strip, alpha, beta, c, size),
            (1, false) => tile::<T, U, R, 1, false>(kc, a, strip, alpha, beta, c, size),
            (2, true) if V > 2 => tile::<T, U, R, 2, true>(kc, a, strip, alpha, beta, c, size),
            (2, false) if V > 2 => tile::<T, U, R, 2, false>(kc, a, strip, alpha, beta, c, size),
            (_, true) if V > 3 => tile::<T, U, R, 3, true>(kc, a, strip, alpha, beta, c, size),
            (_, false) if V > 3 => tile::<T, U, R, 3, false>(kc, a, strip, alpha, beta, c, size),
            _ => unreachable!("a last strip of {} columns in tiles of {V} vectors", size.1),
        }
    }
}

/// What the kernel needs of an element type beyond [`Vector`]: the transpose of a block of
/// `N × N` values, for packing a B stored by columns.
pub(crate) trait Wide<U>: Scalar + Vector<U> {
    /// Writes the transpose of an `N × N` block: row `i` of `from` (at `i · stride`, `N`
    /// contiguous values) becomes column `i` of `to` (rows at `j · to_stride`). Value by value
    /// unless the type has a faster way.
    ///
    /// # Safety
    /// `U`'s features; both blocks in bounds.
    #[inline(always)]
    unsafe fn transpose(from: *const Self, stride: isize, to: *mut Self, to_stride: usize) {
        for i in 0..<Self as Vector<U>>::N {
            for j in 0..<Self as Vector<U>>::N {
                // SAFETY: the caller's.
                unsafe {
                    to.add(j * to_stride + i)
                        .write(*from.offset(i as isize * stride + j as isize))
                };
            }
        }
    }

    /// [`Wide::transpose`] of the `rows × cols` corner of a block (each at most `N`): nothing
    /// past it is read or written.
    ///
    /// # Safety
    /// `U`'s features; `from` addresses `rows` rows of `cols` values at `stride`, `to` `cols`
    /// rows of `rows` values at `to_stride`.
    #[inline(always)]
    unsafe fn transpose_part(
        from: *const Self,
        stride: usize,
        (rows, cols): (usize, usize),
        to: *mut Self,
        to_stride: usize,
    ) {
        for i in 0..rows {
            for j in 0..cols {
                // SAFETY: the caller's.
                unsafe { to.add(j * to_stride + i).write(*from.add(i * stride + j)) };
            }
        }
    }
}

impl Wide<Avx512> for f32 {
    #[inline(always)]
    unsafe fn transpose(from: *const f32, stride: isize, to: *mut f32, to_stride: usize) {
        // SAFETY: the caller's.
        unsafe { transpose16(from, stride, to, to_stride) }
    }

    #[inline(always)]
    unsafe fn transpose_part(from: *const f32, stride: usize, size: (usize, usize), to: *mut f32, to_stride: usize) {
        // SAFETY: the caller's.
        unsafe { transpose16_part(from, stride, size, to, to_stride) }
    }
}

impl Wide<Avx512> for f64 {}
impl Wide<Avx2> for f32 {
    #[inline(always)]
    unsafe fn transpose(from: *const f32, stride: isize, to: *mut f32, to_stride: usize) {
        // SAFETY: the caller's.
        unsafe { transpose8(from, stride, to, to_stride) }
    }
}

impl Wide<Avx2> for f64 {}

/// [`Wide::transpose`] for `f32` in registers: sixteen rows loaded, [`columns16`], sixteen
/// columns stored.
///
/// # Safety
/// AVX-512F; `from` addresses 16 rows of 16 values at `stride`, `to` 16 rows at `to_stride`.
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(from: *const f32, stride: isize, to: *mut f32, to_stride: usize) {
    // SAFETY: in bounds by the contract.
    let rows: [__m512; 16] = std::array::from_fn(|i| unsafe { _mm512_loadu_ps(from.offset(i as isize * stride)) });
    for (j, column) in columns16(rows).into_iter().enumerate() {
        // SAFETY: in bounds by the contract.
        unsafe { _mm512_storeu_ps(to.add(j * to_stride), column) };
    }
}

/// The transpose of the `rows × cols` corner of a tile (each at most 16) in registers: the
/// rows' first `cols` values loaded under a mask (the rest of the tile zero), [`columns16`],
/// and the first `rows` values of the first `cols` columns stored under a mask, so that
/// nothing past the corner is read or written.
///
/// # Safety
/// AVX-512F; `rows, cols ≤ 16`; `from` addresses `rows` rows of `cols` values at `stride`,
/// `to` `cols` rows of `rows` values at `to_stride`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose16_part(
    from: *const f32,
    stride: usize,
    (rows, cols): (usize, usize),
    to: *mut f32,
    to_stride: usize,
) {
    let mask = |n: usize| (((1u32 << n) - 1) & 0xFFFF) as u16;
    let loaded: [__m512; 16] = std::array::from_fn(|i| {
        if i < rows {
            // SAFETY: the mask covers the row's `cols` values, in bounds by the contract.
            unsafe { _mm512_maskz_loadu_ps(mask(cols), from.add(i * stride)) }
        } else {
            _mm512_setzero_ps()
        }
    });
    for (j, column) in columns16(loaded).into_iter().enumerate().take(cols) {
        // SAFETY: the mask covers the column's `rows` values, in bounds by the contract.
        unsafe { _mm512_mask_storeu_ps(to.add(j * to_stride), mask(rows), column) };
    }
}

/// The sixteen columns of the tile whose rows are `rows`: interleaved by pairs of values
/// (`unpack`), by pairs of pairs (`shuffle`), then by 128-bit quarters (`shuffle_f32x4`,
/// twice).
#[target_feature(enable = "avx512f")]
#[inline]
fn columns16(rows: [__m512; 16]) -> [__m512; 16] {
    // Within each 128-bit quarter: [a0 b0 a1 b1] and [a2 b2 a3 b3] for rows a, b = 2i, 2i + 1.
    let pairs: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (rows[i & !1], rows[i | 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // Quads, for rows a, b, c, d = 4g..4g + 4: quad 4g + q holds in quarter l the values of
    // column 4l + q of those rows.
    let quads: [__m512; 16] = std::array::from_fn(|i| {
        let (g, q) = (i / 4, i % 4);
        let (ab, cd) = (pairs[4 * g + q / 2], pairs[4 * g + 2 + q / 2]);
        if q % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(ab, cd)
        } else {
            _mm512_shuffle_ps::<0xEE>(ab, cd)
        }
    });
    // Column 4l + q gathers quarter l of quads q, 4 + q, 8 + q, 12 + q.
    let mut columns = [_mm512_setzero_ps(); 16];
    for q in 0..4 {
        let even = _mm512_shuffle_f32x4::<0x88>(quads[q], quads[4 + q]);
        let odd = _mm512_shuffle_f32x4::<0xDD>(quads[q], quads[4 + q]);
        let even2 = _mm512_shuffle_f32x4::<0x88>(quads[8 + q], quads[12 + q]);
        let odd2 = _mm512_shuffle_f32x4::<0xDD>(quads[8 + q], quads[12 + q]);
        columns[q] = _mm512_shuffle_f32x4::<0x88>(even, even2);
        columns[4 + q] = _mm512_shuffle_f32x4::<0x88>(odd, odd2);
        columns[8 + q] = _mm512_shuffle_f32x4::<0xDD>(even, even2);
        columns[12 + q] = _mm512_shuffle_f32x4::<0xDD>(odd, odd2);
    }
    columns
}

/// [`Wide::transpose`] for `f32` with AVX: eight rows loaded, interleaved by pairs of values
/// (`unpack`), by pairs of pairs (`shuffle`: columns `j` and `j + 4` of four rows in the two
/// 128-bit halves), then the halves of rows 0–3 and 4–7 joined (`permute2f128`).
///
/// # Safety
/// AVX; `from` addresses 8 rows of 8 values at `stride`, `to` 8 rows at `to_stride`.
#[target_feature(enable = "avx")]
unsafe fn transpose8(from: *const f32, stride: isize, to: *mut f32, to_stride: usize) {
    // SAFETY: in bounds by the contract.
    let rows: [__m256; 8] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(from.offset(i as isize * stride)) });
    // For rows a, b = 2i, 2i + 1: [a0 b0 a1 b1 | a4 b4 a5 b5] and [a2 b2 a3 b3 | a6 b6 a7 b7].
    let pairs: [__m256; 8] = std::array::from_fn(|i| {
        let (a, b) = (rows[i & !1], rows[i | 1]);
        if i % 2 == 0 {
            _mm256_unpacklo_ps(a, b)
        } else {
            _mm256_unpackhi_ps(a, b)
        }
    });
    // For rows 4g..4g + 4: quad 4g + q holds column q of them in its low half, q + 4 in its high.
    let quads: [__m256; 8] = std::array::from_fn(|i| {
        let (g, q) = (i / 4, i % 4);
        let (ab, cd) = (pairs[4 * g + q / 2], pairs[4 * g + 2 + q / 2]);
        if q % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(ab, cd)
        } else {
            _mm256_shuffle_ps::<0xEE>(ab, cd)
        }
    });
    for q in 0..4 {
        let (low, high) = (quads[q], quads[4 + q]);
        // SAFETY: in bounds by the contract.
        unsafe {
            _mm256_storeu_ps(to.add(q * to_stride), _mm256_permute2f128_ps::<0x20>(low, high));
            _mm256_storeu_ps(to.add((q + 4) * to_stride), _mm256_permute2f128_ps::<0x31>(low, high));
        }
    }
}
