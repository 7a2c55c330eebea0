//! AVX-512 vectors for the hand-written kernels (the direct convolutions and the packed product), over `f32` (16
//! lanes) and `f64` (8): one trait, so that each kernel is written once for both.
//! Everything here needs a processor with AVX-512F, which the callers check at run time.

use std::arch::x86_64::*;

/// A vector of AVX-512 lanes of `Self` and the operations the kernels use. Masks hold one
/// bit per lane, lowest lane first.
pub(crate) trait Lanes: Copy + Default + PartialEq + 'static {
    type V: Copy;
    const N: usize;
    /// # Safety (every method)
    /// The processor has AVX-512F; pointers address the lanes their mask selects.
    unsafe fn zero() -> Self::V;
    unsafe fn splat(at: *const Self) -> Self::V;
    unsafe fn load(mask: u32, at: *const Self) -> Self::V;
    unsafe fn store(mask: u32, at: *mut Self, v: Self::V);
    /// `a·b + c`, rounded once.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// The lanes `at[l·step]` the mask selects (zero in the others).
    unsafe fn gather(mask: u32, at: *const Self, step: usize) -> Self::V;
    /// `self·a + b`, rounded once.
    fn fused(self, a: Self, b: Self) -> Self;
}

/// `Lanes` for one element type: its vector and mask types, lane count and intrinsics, and the
/// lane offsets of a gather as an expression of the step.
macro_rules! lanes {
    ($t:ident, $v:ident, $mask:ident, $n:literal, $setzero:ident, $set1:ident, $load:ident, $store:ident,
     $fmadd:ident, $add:ident, $mul:ident, $gather:ident::<$scale:literal>, offsets($step:ident) = $offsets:expr) => {
        impl Lanes for $t {
            type V = $v;
            const N: usize = $n;
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn zero() -> $v {
                $setzero()
            }
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn splat(at: *const $t) -> $v {
                // SAFETY: the caller's contract.
                $set1(unsafe { *at })
            }
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn load(mask: u32, at: *const $t) -> $v {
                // SAFETY: the caller's contract; masked-off lanes are not read.
                unsafe { $load(mask as $mask, at) }
            }
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn store(mask: u32, at: *mut $t, v: $v) {
                // SAFETY: the caller's contract; masked-off lanes are not written.
                unsafe { $store(at, mask as $mask, v) }
            }
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn fma(a: $v, b: $v, c: $v) -> $v {
                $fmadd(a, b, c)
            }
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn add(a: $v, b: $v) -> $v {
                $add(a, b)
            }
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn mul(a: $v, b: $v) -> $v {
                $mul(a, b)
            }
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn gather(mask: u32, at: *const $t, step: usize) -> $v {
                let $step = step as i32;
                // SAFETY: the caller's contract; masked-off lanes are not read.
                unsafe { $gather::<$scale>($setzero(), mask as $mask, $offsets, at) }
            }
            fn fused(self, a: $t, b: $t) -> $t {
                self.mul_add(a, b)
            }
        }
    };
}

lanes!(
    f32,
    __m512,
    __mmask16,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_maskz_loadu_ps,
    _mm512_mask_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_mul_ps,
    _mm512_mask_i32gather_ps::<4>,
    offsets(step) = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(step)
    )
);
lanes!(
    f64,
    __m512d,
    __mmask8,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_maskz_loadu_pd,
    _mm512_mask_storeu_pd,
    _mm512_fmadd_pd,
    _mm512_add_pd,
    _mm512_mul_pd,
    _mm512_mask_i32gather_pd::<8>,
    offsets(step) = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(step))
);

/// The lowest `n ≤ 32` lanes, as a mask.
#[inline(always)]
pub(crate) fn lanes(n: usize) -> u32 {
    if n >= 32 { u32::MAX } else { (1 << n) - 1 }
}
