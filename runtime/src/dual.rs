//! Dual numbers `a + bε` with `ε² = 0`, over `f64`: forward-mode differentiation of any code
//! generic over [`Scalar`]. Evaluating `f` at `x + vε` gives `f(x) + (f′(x)·v)ε`, the value and
//! the directional derivative at once. Running the tape's reverse pass on dual numbers is
//! forward over reverse: the tangent of the gradient at `θ + vε` is `H·v`, an oracle for the
//! Hessian-vector products `network!` derives, independent of them.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::scalar::{Real, Scalar};

/// `value + tangent·ε`, `ε² = 0`. Comparisons, `max`, `min` and `abs` follow the value (the
/// tangent of a kink is that of the side taken).
#[derive(Clone, Copy, Debug, Default)]
pub struct Dual {
    /// The value.
    pub value: f64,
    /// The coefficient of `ε`: the derivative along the direction seeded.
    pub tangent: f64,
}

impl Dual {
    /// `value + tangent·ε`.
    pub const fn new(value: f64, tangent: f64) -> Dual {
        Dual { value, tangent }
    }

    /// A constant: no tangent.
    pub const fn constant(value: f64) -> Dual {
        Dual { value, tangent: 0.0 }
    }

    /// `f(self)` from `f(value)` and `f′(value)` (the chain rule, `(f∘x)′ = f′(x)·x′`).
    fn chain(self, f: f64, derivative: f64) -> Dual {
        Dual::new(f, derivative * self.tangent)
    }
}

impl PartialEq for Dual {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl PartialOrd for Dual {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl fmt::Display for Dual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {}ε", self.value, self.tangent)
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, other: Dual) -> Dual {
        Dual::new(self.value + other.value, self.tangent + other.tangent)
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, other: Dual) -> Dual {
        Dual::new(self.value - other.value, self.tangent - other.tangent)
    }
}

/// `(a + a′ε)(b + b′ε) = ab + (a′b + ab′)ε`.
impl Mul for Dual {
    type Output = Dual;
    fn mul(self, other: Dual) -> Dual {
        Dual::new(
            self.value * other.value,
            self.tangent * other.value + self.value * other.tangent,
        )
    }
}

/// `(a + a′ε)/(b + b′ε) = a/b + (a′ − (a/b)b′)/b · ε`.
impl Div for Dual {
    type Output = Dual;
    fn div(self, other: Dual) -> Dual {
        let quotient = self.value / other.value;
        Dual::new(quotient, (self.tangent - quotient * other.tangent) / other.value)
    }
}

impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual::new(-self.value, -self.tangent)
    }
}

macro_rules! assign_op {
    ($trait:ident, $method:ident, $op:tt) => {
        impl $trait for Dual {
            fn $method(&mut self, other: Dual) {
                *self = *self $op other;
            }
        }
    };
}

assign_op!(AddAssign, add_assign, +);
assign_op!(SubAssign, sub_assign, -);
assign_op!(MulAssign, mul_assign, *);
assign_op!(DivAssign, div_assign, /);

impl Sum for Dual {
    fn sum<I: Iterator<Item = Dual>>(iter: I) -> Dual {
        iter.fold(Dual::ZERO, Add::add)
    }
}

impl num_traits::Zero for Dual {
    fn zero() -> Dual {
        Dual::ZERO
    }
    fn is_zero(&self) -> bool {
        self.value == 0.0 && self.tangent == 0.0
    }
}

impl num_traits::One for Dual {
    fn one() -> Dual {
        Dual::ONE
    }
}

impl Real for Dual {
    const ZERO: Dual = Dual::constant(0.0);
    const ONE: Dual = Dual::constant(1.0);

    fn from_f64(value: f64) -> Dual {
        Dual::constant(value)
    }
    /// The value; the tangent is dropped.
    fn to_f64(self) -> f64 {
        self.value
    }
    fn exp(self) -> Dual {
        let e = self.value.exp();
        self.chain(e, e)
    }
    fn exp_m1(self) -> Dual {
        self.chain(self.value.exp_m1(), self.value.exp())
    }
    fn ln(self) -> Dual {
        self.chain(self.value.ln(), 1.0 / self.value)
    }
    fn ln_1p(self) -> Dual {
        self.chain(self.value.ln_1p(), 1.0 / (1.0 + self.value))
    }
    fn tanh(self) -> Dual {
        let t = self.value.tanh();
        self.chain(t, 1.0 - t * t)
    }
    fn sqrt(self) -> Dual {
        let s = self.value.sqrt();
        self.chain(s, 0.5 / s)
    }
    fn abs(self) -> Dual {
        if self.value < 0.0 { -self } else { self }
    }
    /// `erf′ x = (2/√π) e^{−x²}`.
    fn erf(self) -> Dual {
        let x = self.value;
        self.chain(symgrad_ops::erf(x), std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp())
    }
    fn max(self, other: Dual) -> Dual {
        if other.value > self.value { other } else { self }
    }
    fn min(self, other: Dual) -> Dual {
        if other.value < self.value { other } else { self }
    }
    fn is_finite(self) -> bool {
        self.value.is_finite() && self.tangent.is_finite()
    }
}

impl Scalar for Dual {
    const EPSILON: Dual = Dual::constant(f64::EPSILON);
    const MIN_POSITIVE: Dual = Dual::constant(f64::MIN_POSITIVE);
    const NAME: &'static str = "dual";

    /// A plain triple loop: dual numbers are for oracles, not speed.
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Dual,
        a: *const Dual,
        rsa: isize,
        csa: isize,
        b: *const Dual,
        rsb: isize,
        csb: isize,
        beta: Dual,
        c: *mut Dual,
        rsc: isize,
        csc: isize,
    ) {
        for i in 0..m as isize {
            for j in 0..n as isize {
                let mut sum = Dual::ZERO;
                for p in 0..k as isize {
                    // SAFETY: the caller guarantees `a` is m×k and `b` is k×n with these strides.
                    sum += unsafe { *a.offset(i * rsa + p * csa) * *b.offset(p * rsb + j * csb) };
                }
                // SAFETY: the caller guarantees `c` is m×n with these strides and aliases neither
                // operand; with β = 0 it is written without being read.
                unsafe {
                    let slot = c.offset(i * rsc + j * csc);
                    *slot = if beta.value == 0.0 && beta.tangent == 0.0 {
                        alpha * sum
                    } else {
                        alpha * sum + beta * *slot
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dual;
    use crate::scalar::Real;

    /// A function of one dual number, named.
    type Function = (&'static str, fn(Dual) -> Dual);

    /// Each elementary function's tangent against central differences of its value.
    #[test]
    fn tangents_are_derivatives() {
        let functions: [Function; 8] = [
            ("exp", Real::exp),
            ("exp_m1", Real::exp_m1),
            ("ln", Real::ln),
            ("ln_1p", Real::ln_1p),
            ("tanh", Real::tanh),
            ("sqrt", Real::sqrt),
            ("erf", Real::erf),
            ("quotient", |x| (x * x + Dual::ONE) / (x + Dual::from_f64(3.0))),
        ];
        let h = 1e-6;
        for (name, f) in functions {
            for x in [0.3, 0.9, 1.7, 2.6] {
                let derived = f(Dual::new(x, 1.0)).tangent;
                let numeric = (f(Dual::constant(x + h)).value - f(Dual::constant(x - h)).value) / (2.0 * h);
                // Central differences err by h²f‴/6 ≈ 10⁻¹² plus rounding ε|f|/h ≈ 10⁻¹⁰.
                assert!(
                    (derived - numeric).abs() < 1e-8 * derived.abs().max(1.0),
                    "{name} at {x}: {derived} vs {numeric}"
                );
            }
        }
    }
}
