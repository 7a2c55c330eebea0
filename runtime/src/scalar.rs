//! The element types networks compute in: `f32` for training, `f64` for gradient checks.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real floating-point scalar: the arithmetic the kernels need and the gemm that fits it.
///
/// Implemented for `f32` and `f64` only; generated networks are generic over it.
pub trait Scalar:
    Copy
    + Default
    + Debug
    + Display
    + PartialOrd
    + Send
    + Sync
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + num_traits::Zero
    + num_traits::One
    + 'static
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// The type's name, for reports and checkpoints (`"f32"`, `"f64"`).
    const NAME: &'static str;

    /// Rounds an `f64` to this type.
    fn from_f64(value: f64) -> Self;
    /// Widens to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts a count or index.
    fn from_usize(value: usize) -> Self {
        Self::from_f64(value as f64)
    }

    /// eˣ
    fn exp(self) -> Self;
    /// eˣ − 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// ln x
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// tanh x
    fn tanh(self) -> Self;
    /// √x
    fn sqrt(self) -> Self;
    /// |x|
    fn abs(self) -> Self;
    /// The larger of two values; NaN if either is NaN is not promised.
    fn max(self, other: Self) -> Self;
    /// Whether the value is neither infinite nor NaN.
    fn is_finite(self) -> bool;

    /// `C ← α A B + β C` through matrixmultiply, on raw strided storage.
    ///
    /// # Safety
    /// The pointers must address `m×k`, `k×n` and `m×n` matrices with the given row and column
    /// strides (in elements); `c` must not alias `a` or `b`. If `β = 0`, `c` is not read.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

macro_rules! impl_scalar {
    ($t:ident, $gemm:ident, $exp:path, $tanh:path) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $t::EPSILON;
            const NAME: &'static str = stringify!($t);

            #[inline(always)]
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                $t::exp_m1(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }

            #[inline]
            unsafe fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded verbatim; the caller upholds matrixmultiply's contract.
                unsafe { matrixmultiply::$gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
        }
    };
}

impl_scalar!(f32, sgemm, exp_f32, tanh_f32);
impl_scalar!(f64, dgemm, f64::exp, f64::tanh);

/// `tanh x` in f32 without a library call. For `|x| < 0.55` the odd Taylor series to `x¹⁵`
/// (its first omitted term is below 10⁻⁷ relative there); beyond it
/// `sign(x)·(1 − e^{−2|x|})/(1 + e^{−2|x|})`, where `e^{−2|x|} < 0.34` and nothing cancels.
/// Both are computed and one selected, so loops over it vectorise.
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    let x2 = x * x;
    let mut p = -929_569.0 / 638_512_875.0_f32;
    p = p * x2 + 21_844.0 / 6_081_075.0;
    p = p * x2 - 1_382.0 / 155_925.0;
    p = p * x2 + 62.0 / 2_835.0;
    p = p * x2 - 17.0 / 315.0;
    p = p * x2 + 2.0 / 15.0;
    p = p * x2 - 1.0 / 3.0;
    let series = x + x * x2 * p;
    let e = exp_f32(-2.0 * x.abs());
    let far = ((1.0 - e) / (1.0 + e)).copysign(x);
    if x.abs() < 0.55 { series } else { far }
}

/// `eˣ` in f32 without a library call, so that loops over it vectorise: `x = n ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, `eʳ` by a degree-7 polynomial (the coefficients of Cephes' `expf`,
/// relative error about 2·10⁻⁷, near one ulp), and `2ⁿ` put into the exponent bits. Below
/// −87.33 the result is 0 and above 88.72 it is ∞, as IEEE arithmetic gives; NaN stays NaN.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a rounding instruction.
    const ROUND: f32 = 12_582_912.0;
    let clamped = x.clamp(-87.336_54, 88.722_83);
    let n = (clamped * LOG2E + ROUND) - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // 2ⁿ as 2^⌊n/2⌋ · 2^(n − ⌊n/2⌋): n reaches 128 (and −126), beyond one exponent field.
    let n = n as i32;
    let half = n >> 1;
    let power = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let y = er * power(half) * power(n - half);
    if x < -87.336_54 {
        0.0
    } else if x > 88.722_83 {
        f32::INFINITY
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, tanh_f32};

    #[test]
    fn fast_tanh_is_within_two_ulps_of_libm() {
        let mut worst = 0.0_f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            let (ours, exact) = (tanh_f32(x) as f64, (x as f64).tanh());
            if exact != 0.0 {
                worst = worst.max((ours - exact).abs() / exact.abs());
            }
        }
        // Two ulps of f32: 2·2⁻²³ ≈ 2.4·10⁻⁷ relative.
        assert!(worst < 2.4e-7, "worst relative error {worst:e}");
        assert_eq!(tanh_f32(1e4), 1.0);
        assert_eq!(tanh_f32(-1e4), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }

    #[test]
    fn fast_exp_is_within_two_ulps_of_libm() {
        let mut worst = 0.0_f64;
        for i in -870_000..=887_000 {
            let x = i as f32 * 1e-4;
            let (ours, exact) = (exp_f32(x) as f64, (x as f64).exp());
            worst = worst.max((ours - exact).abs() / exact);
        }
        // Two ulps of f32 are 2·2⁻²³ ≈ 2.4·10⁻⁷ relative.
        assert!(worst < 2.4e-7, "worst relative error {worst:e}");
        assert_eq!(exp_f32(-100.0), 0.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
    }
}
