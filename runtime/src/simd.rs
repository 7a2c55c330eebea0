//! Vectors for the hand-written kernels (the packed product and the direct convolutions), over
//! `f32` and `f64`: one trait per vector unit, so that each kernel is written once for both
//! element types, and the product once for both units. [`Vector`]`<Avx512>` (16 or 8 lanes)
//! needs a processor with AVX-512F and [`Vector`]`<Avx2>` (8 or 4) one with AVX2 and FMA,
//! which the callers check at run time; [`Lanes`] adds what the convolutions need of AVX-512.

use std::arch::x86_64::*;

pub(crate) use crate::kernels::rows::{Avx2, Avx512};

/// A vector of `U`'s lanes of `Self` and the operations the kernels use. Masks hold one bit per
/// lane, lowest lane first.
pub(crate) trait Vector<U>: Copy + Default + PartialEq + 'static {
    type V: Copy;
    const N: usize;
    /// # Safety (every method)
    /// The processor has the unit's features; pointers address the lanes their mask selects.
    unsafe fn zero() -> Self::V;
    unsafe fn splat(at: *const Self) -> Self::V;
    unsafe fn load(mask: u32, at: *const Self) -> Self::V;
    unsafe fn store(mask: u32, at: *mut Self, v: Self::V);
    /// `a·b + c`, rounded once.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
}

/// AVX-512 vectors with what the convolutions need beyond [`Vector`].
pub(crate) trait Lanes: Vector<Avx512> {
    /// The lanes `at[l·step]` the mask selects (zero in the others).
    ///
    /// # Safety
    /// AVX-512F; the selected lanes are in bounds.
    unsafe fn gather(mask: u32, at: *const Self, step: usize) -> Self::V;
    /// `self·a + b`, rounded once.
    fn fused(self, a: Self, b: Self) -> Self;
}

/// `Vector<$unit>` for one element type: its vector type, lane count, the features its
/// intrinsics need, and how a masked load and store are written (`$mask`, `$at`, `$v` bound).
macro_rules! vector {
    ($t:ident, $unit:ident, $feature:literal, $v:ident, $n:literal, $setzero:ident, $set1:ident,
     $fmadd:ident, $add:ident, $mul:ident,
     load($lm:ident, $la:ident) = $load:expr, store($sm:ident, $sa:ident, $sv:ident) = $store:expr) => {
        impl Vector<$unit> for $t {
            type V = $v;
            const N: usize = $n;
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn zero() -> $v {
                $setzero()
            }
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn splat(at: *const $t) -> $v {
                // SAFETY: the caller's contract.
                $set1(unsafe { *at })
            }
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn load($lm: u32, $la: *const $t) -> $v {
                // SAFETY: the caller's contract; masked-off lanes are not read.
                unsafe { $load }
            }
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn store($sm: u32, $sa: *mut $t, $sv: $v) {
                // SAFETY: the caller's contract; masked-off lanes are not written.
                unsafe { $store }
            }
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn fma(a: $v, b: $v, c: $v) -> $v {
                $fmadd(a, b, c)
            }
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn add(a: $v, b: $v) -> $v {
                $add(a, b)
            }
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn mul(a: $v, b: $v) -> $v {
                $mul(a, b)
            }
        }
    };
}

vector!(
    f32,
    Avx512,
    "avx512f",
    __m512,
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_mul_ps,
    load(mask, at) = _mm512_maskz_loadu_ps(mask as __mmask16, at),
    store(mask, at, v) = _mm512_mask_storeu_ps(at, mask as __mmask16, v)
);
vector!(
    f64,
    Avx512,
    "avx512f",
    __m512d,
    8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_fmadd_pd,
    _mm512_add_pd,
    _mm512_mul_pd,
    load(mask, at) = _mm512_maskz_loadu_pd(mask as __mmask8, at),
    store(mask, at, v) = _mm512_mask_storeu_pd(at, mask as __mmask8, v)
);
// AVX2 has no mask registers: a whole vector is a plain load or store. A part of one is loaded
// through `vmaskmov` with the mask spread over the lanes' sign bits (lanes it leaves out are
// not read, and read as zeros), and stored lane by lane (`vmaskmov` stores are microcoded on
// AMD processors, tens of cycles each).
vector!(
    f32,
    Avx2,
    "avx2,fma",
    __m256,
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_mul_ps,
    load(mask, at) = if mask & 0xff == 0xff {
        _mm256_loadu_ps(at)
    } else {
        _mm256_maskload_ps(at, spread8(mask))
    },
    store(mask, at, v) = if mask & 0xff == 0xff {
        _mm256_storeu_ps(at, v)
    } else {
        store_lanes(mask, at, std::mem::transmute::<__m256, [f32; 8]>(v))
    }
);
vector!(
    f64,
    Avx2,
    "avx2,fma",
    __m256d,
    4,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_fmadd_pd,
    _mm256_add_pd,
    _mm256_mul_pd,
    load(mask, at) = if mask & 0xf == 0xf {
        _mm256_loadu_pd(at)
    } else {
        _mm256_maskload_pd(at, spread4(mask))
    },
    store(mask, at, v) = if mask & 0xf == 0xf {
        _mm256_storeu_pd(at, v)
    } else {
        store_lanes(mask, at, std::mem::transmute::<__m256d, [f64; 4]>(v))
    }
);

/// The lanes of `v` that `mask` selects, stored one by one.
///
/// # Safety
/// The selected lanes of `at` are writable.
#[inline(always)]
unsafe fn store_lanes<T: Copy, const N: usize>(mask: u32, at: *mut T, v: [T; N]) {
    for (l, value) in v.into_iter().enumerate() {
        if mask & (1 << l) != 0 {
            // SAFETY: the caller's contract.
            unsafe { at.add(l).write(value) };
        }
    }
}

/// The low 8 bits of `mask` as eight 32-bit lanes, all ones where the bit is set.
#[inline]
#[target_feature(enable = "avx2")]
fn spread8(mask: u32) -> __m256i {
    let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(mask as i32), bits), bits)
}

/// The low 4 bits of `mask` as four 64-bit lanes, all ones where the bit is set.
#[inline]
#[target_feature(enable = "avx2")]
fn spread4(mask: u32) -> __m256i {
    let bits = _mm256_setr_epi64x(1, 2, 4, 8);
    _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(i64::from(mask)), bits), bits)
}

/// `Lanes` for one element type: the gather's intrinsic and its lane offsets as an expression
/// of the step.
macro_rules! lanes {
    ($t:ident, $mask:ident, $setzero:ident, $gather:ident::<$scale:literal>, offsets($step:ident) = $offsets:expr) => {
        impl Lanes for $t {
            #[inline]
            #[target_feature(enable = "avx512f")]
            unsafe fn gather(mask: u32, at: *const $t, step: usize) -> Self::V {
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
    __mmask16,
    _mm512_setzero_ps,
    _mm512_mask_i32gather_ps::<4>,
    offsets(step) = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(step)
    )
);
lanes!(
    f64,
    __mmask8,
    _mm512_setzero_pd,
    _mm512_mask_i32gather_pd::<8>,
    offsets(step) = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(step))
);

/// The lowest `n ≤ 32` lanes, as a mask.
#[inline(always)]
pub(crate) fn lanes(n: usize) -> u32 {
    if n >= 32 { u32::MAX } else { (1 << n) - 1 }
}
