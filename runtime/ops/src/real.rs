//! The real numbers the kernels compute in (`f32` and `f64`), with the elementary functions
//! the table's entries are written in.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A real floating-point number: the arithmetic and the elementary functions of the op table.
pub trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;

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
    /// [`Real::exp`] with the multiply-adds of its polynomial fused, each rounded once: for
    /// loops compiled for a processor with FMA, where one is a single instruction and the
    /// chain of dependent operations is shorter (elsewhere each is a library call). Within
    /// the same error bound as `exp`; the two may differ in the last bit. `exp` itself where
    /// there is no polynomial of ours to fuse.
    fn exp_fused(self) -> Self {
        self.exp()
    }
    /// [`Real::tanh`] with its multiply-adds fused, as [`Real::exp_fused`].
    fn tanh_fused(self) -> Self {
        self.tanh()
    }
    /// [`Real::exp_fused`] where `fused`, else [`Real::exp`]: for code generic over the vector
    /// unit, `fused` the unit's constant, so that the choice compiles away.
    #[inline(always)]
    fn exp_in(self, fused: bool) -> Self {
        if fused { self.exp_fused() } else { self.exp() }
    }
    /// √x
    fn sqrt(self) -> Self;
    /// |x|
    fn abs(self) -> Self;
    /// The error function `erf x = (2/√π) ∫₀ˣ e^{−t²} dt`.
    fn erf(self) -> Self;
    /// The larger of two values; which one NaN gives is not promised.
    fn max(self, other: Self) -> Self;
    /// The smaller of two values; which one NaN gives is not promised.
    fn min(self, other: Self) -> Self;
    /// Whether the value is neither infinite nor NaN.
    fn is_finite(self) -> bool;
}

macro_rules! impl_real {
    ($t:ident, $exp:path, $tanh:path, $exp_fused:path, $tanh_fused:path) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;

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
            fn exp_fused(self) -> Self {
                $exp_fused(self)
            }
            #[inline(always)]
            fn tanh_fused(self) -> Self {
                $tanh_fused(self)
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
            fn erf(self) -> Self {
                erf(self as f64) as $t
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
        }
    };
}

impl_real!(
    f32,
    exp_f32::<false>,
    tanh_f32::<false>,
    exp_f32::<true>,
    tanh_f32::<true>
);
// libm's, whose own polynomials fuse or not as the library was built.
impl_real!(f64, f64::exp, f64::tanh, f64::exp, f64::tanh);

/// `erf x` to within a few ulps. Below 2.5 in magnitude the series
/// `erf x = (2/√π) e^{−x²} Σₙ 2ⁿ x^{2n+1} / (1·3·…·(2n+1))`, whose terms are all positive (nothing
/// cancels); from 2.5 to 6, `1 − erfc x` with `erfc x = e^{−x²}/√π · 1/(x + ½/(x + 1/(x + ³⁄₂/(x + …))))`,
/// the continued fraction, evaluated from a depth of 120 (its error at 2.5 is below 10⁻¹⁵ of
/// `erfc`, itself below 5·10⁻⁴); beyond 6, `erfc x < 10⁻¹⁶` and `erf x` rounds to ±1.
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    let magnitude = if a < 2.5 {
        let (a2, mut term, mut sum) = (2.0 * a * a, a, a);
        let mut n = 0.0;
        while term > sum * 1e-17 {
            n += 1.0;
            term *= a2 / (2.0 * n + 1.0);
            sum += term;
        }
        std::f64::consts::FRAC_2_SQRT_PI * (-a * a).exp() * sum
    } else if a < 6.0 {
        let mut fraction = a;
        for k in (1..=120).rev() {
            fraction = a + f64::from(k) / 2.0 / fraction;
        }
        1.0 - (-a * a).exp() / (std::f64::consts::PI.sqrt() * fraction)
    } else if a.is_nan() {
        a
    } else {
        1.0
    };
    magnitude.copysign(x)
}

/// `tanh x` in f32 without a library call, one formula for every `x`, so that loops over it
/// vectorise: `tanh |x| = −m/(2 + m)` with `m = e^y − 1`, `y = −2|x|`, and the sign of `x`.
/// `m` comes from the reduction of [`exp_f32`] ([`exp_reduction`]): `y = n ln 2 + r`, `eʳ − 1 = r + p(r) r²` (no
/// 1 added, so nothing cancels where `n = 0`, `|x| < 0.17`), `m = 2ⁿ(eʳ − 1) + (2ⁿ − 1)`,
/// where for `n ≤ −1` the second term is at most −½ and `|m| ≥ 0.29`. `y` stops at −20, where
/// `tanh` is 1 to f32's precision.
/// `FUSED` as in [`mul_add`].
#[inline(always)]
fn tanh_f32<const FUSED: bool>(x: f32) -> f32 {
    let (n, r) = exp_reduction::<FUSED>((-2.0 * x.abs()).max(-20.0));
    let q = mul_add::<FUSED>(exp_polynomial::<FUSED>(r) * r, r, r);
    let two_n = f32::from_bits(((n + 127) as u32) << 23);
    let m = mul_add::<FUSED>(two_n, q, two_n - 1.0);
    let t = (-m / (2.0 + m)).copysign(x);
    if x.is_nan() { x } else { t }
}

/// `log₂ e`, and `ln 2` as a sum of two parts, the first with enough trailing zeros that
/// `n · LN2_HI` is exact for the `n` of f32's range.
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding and subtracting 1.5·2²³ rounds to the nearest integer without a rounding instruction.
const ROUND: f32 = 12_582_912.0;

/// `x = n ln 2 + r` with `n` an integer and `|r| ≤ ln 2 / 2`, for `x` within f32's exponent
/// range. The integer n is in the low bits of `x log₂ e + 1.5·2²³`, so no conversion (which
/// would saturate lane by lane) is needed.
#[inline(always)]
fn exp_reduction<const FUSED: bool>(x: f32) -> (i32, f32) {
    let rounded = mul_add::<FUSED>(x, LOG2E, ROUND);
    let n = rounded - ROUND;
    (
        rounded.to_bits() as i32 - ROUND.to_bits() as i32,
        mul_add::<FUSED>(-n, LN2_LO, mul_add::<FUSED>(-n, LN2_HI, x)),
    )
}

/// `p(r)` with `eʳ ≈ 1 + r + p(r) r²` for `|r| ≤ ln 2 / 2`: the degree-5 polynomial of Cephes'
/// `expf` (relative error of `eʳ` about 2·10⁻⁷, near one ulp).
#[inline(always)]
fn exp_polynomial<const FUSED: bool>(r: f32) -> f32 {
    let mut p = 1.987_569_1e-4_f32;
    for c in [1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = mul_add::<FUSED>(p, r, c);
    }
    p
}

/// `a·b + c`: rounded once where `FUSED` (one instruction on a processor with FMA, for which
/// the callers compile their loops; a library call on one without), else rounded twice, the
/// product and then the sum.
#[inline(always)]
fn mul_add<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// `eˣ` in f32 without a library call, so that loops over it vectorise: `x = n ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, `eʳ` by a degree-7 polynomial (the coefficients of Cephes' `expf`,
/// relative error about 2·10⁻⁷, near one ulp), and `2ⁿ` put into the exponent bits. Below
/// −87.33 the result is 0 and above 88.72 it is ∞, as IEEE arithmetic gives; NaN stays NaN.
/// `FUSED` as in [`mul_add`].
#[inline(always)]
fn exp_f32<const FUSED: bool>(x: f32) -> f32 {
    let (n, r) = exp_reduction::<FUSED>(x.clamp(-87.336_54, 88.722_83));
    let er = mul_add::<FUSED>(exp_polynomial::<FUSED>(r) * r, r, r) + 1.0;
    // 2ⁿ as 2^⌊n/2⌋ · 2^(n − ⌊n/2⌋): n reaches 128 (and −126), beyond one exponent field.
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
    use super::{erf, exp_f32, tanh_f32};

    /// Both forms of each function, separate and fused multiply-adds (the second a library
    /// call where the processor has no FMA, but as accurate).
    const TANH: [fn(f32) -> f32; 2] = [tanh_f32::<false>, tanh_f32::<true>];
    const EXP: [fn(f32) -> f32; 2] = [exp_f32::<false>, exp_f32::<true>];

    #[test]
    fn fast_tanh_is_within_two_ulps_of_libm() {
        for tanh in TANH {
            let mut worst = 0.0_f64;
            for i in -200_000..=200_000 {
                let x = i as f32 * 1e-4;
                let (ours, exact) = (tanh(x) as f64, (x as f64).tanh());
                if exact != 0.0 {
                    worst = worst.max((ours - exact).abs() / exact.abs());
                }
            }
            // Finer where `2ⁿ(eʳ − 1) + (2ⁿ − 1)` cancels most (n = −1, 0.17 < |x| < 0.52).
            for i in 100_000..=600_000 {
                let x = i as f32 * 1e-6;
                let (ours, exact) = (tanh(x) as f64, (x as f64).tanh());
                worst = worst.max((ours - exact).abs() / exact.abs());
            }
            // Two ulps of f32: 2·2⁻²³ ≈ 2.4·10⁻⁷ relative.
            assert!(worst < 2.4e-7, "worst relative error {worst:e}");
            assert_eq!(tanh(1e4), 1.0);
            assert_eq!(tanh(-1e4), -1.0);
            assert!(tanh(f32::NAN).is_nan());
        }
    }

    #[test]
    fn fast_exp_is_within_two_ulps_of_libm() {
        for exp in EXP {
            let mut worst = 0.0_f64;
            for i in -870_000..=887_000 {
                let x = i as f32 * 1e-4;
                let (ours, exact) = (exp(x) as f64, (x as f64).exp());
                worst = worst.max((ours - exact).abs() / exact);
            }
            // Two ulps of f32 are 2·2⁻²³ ≈ 2.4·10⁻⁷ relative.
            assert!(worst < 2.4e-7, "worst relative error {worst:e}");
            assert_eq!(exp(-100.0), 0.0);
            assert_eq!(exp(100.0), f32::INFINITY);
            assert!(exp(f32::NAN).is_nan());
            assert_eq!(exp(0.0), 1.0);
        }
    }

    #[test]
    fn erf_matches_reference_values() {
        // Values of erf to 16 digits, as the C library's `erf` gives them (Python's `math.erf`).
        let cases = [
            (0.0, 0.0),
            (1e-10, 1.128_379_167_095_512_6e-10),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (1.5, 0.966_105_146_475_310_8),
            (2.0, 0.995_322_265_018_952_7),
            (2.499_999, 0.999_593_045_804_265_3),
            (2.5, 0.999_593_047_982_555),
            (3.0, 0.999_977_909_503_001_4),
            (4.0, 0.999_999_984_582_742_1),
            (5.9, 0.999_999_999_999_999_9),
            (7.0, 1.0),
        ];
        for (x, expected) in cases {
            for (x, expected) in [(x, expected), (-x, -expected)] {
                let got = erf(x);
                // A few ulps: the series and the continued fraction each round a few dozen times.
                assert!(
                    (got - expected).abs() <= 4.0 * f64::EPSILON * expected.abs().max(1e-300),
                    "erf({x}) = {got:e}, expected {expected:e}"
                );
            }
        }
        assert!(erf(f64::NAN).is_nan());
        assert_eq!(erf(f64::INFINITY), 1.0);
    }
}
