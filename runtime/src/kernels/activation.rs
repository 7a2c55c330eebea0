//! Elementwise activations `y = f(x)` and their derivatives.
//!
//! Backward applies the chain rule elementwise, `∂L/∂x = ∂L/∂y ⊙ f′(x)`, and reads `f′` from
//! whichever of `x` or `y` is cheaper ([`Activation::derivative_from`]): sigmoid's derivative is
//! `y(1 − y)` and tanh's `1 − y²`, so backward needs only the saved output, and a forward that
//! overwrites its input in place loses nothing.

use ndarray::{ArrayView2, ArrayViewMut2, Zip};

use crate::error::{Result, expect_same_shape};
use crate::scalar::Scalar;

/// An elementwise function with its derivative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `y = x`, `f′ = 1`.
    Identity,
    /// `y = max(x, 0)`, `f′ = [y > 0]` (0 at the kink).
    Relu,
    /// `y = x` for `x > 0`, else `αx`; `f′ = 1` or `α`, read from the sign of `y` (`α ≥ 0`).
    LeakyRelu(f64),
    /// `y = 1 / (1 + e⁻ˣ)`, `f′ = y(1 − y)`.
    Sigmoid,
    /// `y = tanh x`, `f′ = 1 − y²`.
    Tanh,
    /// `y = ln(1 + eˣ)`, `f′ = σ(x) = 1 − e⁻ʸ`.
    Softplus,
    /// `y = eˣ`, `f′ = y`.
    Exp,
    /// `y = ln x`, `f′ = 1/x`.
    Log,
    /// `y = x²`, `f′ = 2x`.
    Square,
    /// `y = |x|`, `f′ = sign x` (0 at the kink).
    Abs,
}

/// Which saved value the derivative is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DerivativeFrom {
    /// `f′` is constant: nothing needs saving.
    Nothing,
    /// `f′` is read from the input `x`.
    Input,
    /// `f′` is read from the output `y`.
    Output,
}

/// Runs `$body` with `$f` bound to a monomorphic closure for the activation, so the loop in
/// the body is compiled (and vectorised) once per activation rather than matching per element.
macro_rules! dispatch {
    ($act:expr, $f:ident => $body:block) => {
        match $act {
            Activation::Identity => {
                let $f = |x: T| x;
                $body
            }
            Activation::Relu => {
                let $f = relu::<T>;
                $body
            }
            Activation::LeakyRelu(alpha) => {
                let alpha = T::from_f64(alpha);
                let $f = |x: T| leaky_relu(x, alpha);
                $body
            }
            Activation::Sigmoid => {
                let $f = sigmoid::<T>;
                $body
            }
            Activation::Tanh => {
                let $f = |x: T| x.tanh();
                $body
            }
            Activation::Softplus => {
                let $f = softplus::<T>;
                $body
            }
            Activation::Exp => {
                let $f = |x: T| x.exp();
                $body
            }
            other => {
                let $f = |x: T| other.value(x);
                $body
            }
        }
    };
}

/// As [`dispatch!`], for the derivative.
macro_rules! dispatch_derivative {
    ($act:expr, $df:ident => $body:block) => {
        match $act {
            Activation::Relu => {
                let $df = |y: T| step(y, T::ZERO);
                $body
            }
            Activation::Sigmoid => {
                let $df = |y: T| y * (T::ONE - y);
                $body
            }
            Activation::Tanh => {
                let $df = |y: T| T::ONE - y * y;
                $body
            }
            other => {
                let $df = |s: T| other.derivative(s);
                $body
            }
        }
    };
}

impl Activation {
    /// Every activation, with 0.01 as the leaky slope: for exhaustive tests.
    pub const ALL: [Activation; 10] = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(0.01),
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Exp,
        Activation::Log,
        Activation::Square,
        Activation::Abs,
    ];

    /// The function's name as written in a network definition.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softplus => "softplus",
            Activation::Exp => "exp",
            Activation::Log => "log",
            Activation::Square => "square",
            Activation::Abs => "abs",
        }
    }

    /// Which value backward must keep to evaluate `f′`.
    pub fn derivative_from(self) -> DerivativeFrom {
        match self {
            Activation::Identity => DerivativeFrom::Nothing,
            Activation::Relu
            | Activation::LeakyRelu(_)
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Softplus
            | Activation::Exp => DerivativeFrom::Output,
            Activation::Log | Activation::Square | Activation::Abs => DerivativeFrom::Input,
        }
    }

    /// `f(x)` for one value.
    #[inline(always)]
    pub fn value<T: Scalar>(self, x: T) -> T {
        match self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::LeakyRelu(alpha) => leaky_relu(x, T::from_f64(alpha)),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Softplus => softplus(x),
            Activation::Exp => x.exp(),
            Activation::Log => x.ln(),
            Activation::Square => x * x,
            Activation::Abs => x.abs(),
        }
    }

    /// `f′` from the saved value named by [`derivative_from`](Self::derivative_from)
    /// (ignored for [`DerivativeFrom::Nothing`]).
    #[inline(always)]
    pub fn derivative<T: Scalar>(self, saved: T) -> T {
        match self {
            Activation::Identity => T::ONE,
            Activation::Relu => step(saved, T::ZERO),
            Activation::LeakyRelu(alpha) => step(saved, T::from_f64(alpha)),
            Activation::Sigmoid => saved * (T::ONE - saved),
            Activation::Tanh => T::ONE - saved * saved,
            // σ(x) = 1 − e^{−y}, with expm1 for accuracy when y is tiny.
            Activation::Softplus => -(-saved).exp_m1(),
            Activation::Exp => saved,
            Activation::Log => T::ONE / saved,
            Activation::Square => saved + saved,
            Activation::Abs => sign(saved),
        }
    }

    /// `out = f(x)` elementwise. Panics if the lengths differ.
    pub fn forward<T: Scalar>(self, x: &[T], out: &mut [T]) {
        assert_eq!(x.len(), out.len(), "{}: input and output lengths differ", self.name());
        dispatch!(self, f => { map(x, out, f) });
    }

    /// `xy = f(xy)` elementwise, in place.
    pub fn forward_inplace<T: Scalar>(self, xy: &mut [T]) {
        dispatch!(self, f => { map_inplace(xy, f) });
    }

    /// `grad_in = grad_out ⊙ f′(saved)` (chain rule), `saved` as named by
    /// [`derivative_from`](Self::derivative_from). Panics if the lengths differ.
    pub fn backward<T: Scalar>(self, saved: &[T], grad_out: &[T], grad_in: &mut [T]) {
        assert_eq!(
            grad_out.len(),
            grad_in.len(),
            "{}: gradient lengths differ",
            self.name()
        );
        if self.derivative_from() == DerivativeFrom::Nothing {
            grad_in.copy_from_slice(grad_out);
            return;
        }
        assert_eq!(
            saved.len(),
            grad_in.len(),
            "{}: saved value length differs",
            self.name()
        );
        dispatch_derivative!(self, df => {
            for ((gi, &g), &s) in grad_in.iter_mut().zip(grad_out).zip(saved) {
                *gi = g * df(s);
            }
        });
    }

    /// `grad = grad ⊙ f′(saved)` in place: the adjoint of `x` overwrites that of `y`.
    pub fn backward_inplace<T: Scalar>(self, saved: &[T], grad: &mut [T]) {
        if self.derivative_from() == DerivativeFrom::Nothing {
            return;
        }
        assert_eq!(saved.len(), grad.len(), "{}: saved value length differs", self.name());
        dispatch_derivative!(self, df => {
            for (g, &s) in grad.iter_mut().zip(saved) {
                *g *= df(s);
            }
        });
    }
}

/// `out[i] = f(x[i])`. On x86-64 processors with AVX2 the loop is compiled a second time for
/// 256-bit vectors and chosen at run time (the functions `f` of this module inline into it).
#[inline(always)]
fn map<T: Scalar>(x: &[T], out: &mut [T], f: impl Fn(T) -> T) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn wide<T: Scalar>(x: &[T], out: &mut [T], f: impl Fn(T) -> T) {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = f(x);
            }
        }
        // SAFETY: the processor supports AVX2, checked just above.
        return unsafe { wide(x, out, f) };
    }
    for (o, &x) in out.iter_mut().zip(x) {
        *o = f(x);
    }
}

/// `xy[i] = f(xy[i])`, dispatched as [`map`].
#[inline(always)]
fn map_inplace<T: Scalar>(xy: &mut [T], f: impl Fn(T) -> T) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn wide<T: Scalar>(xy: &mut [T], f: impl Fn(T) -> T) {
            for v in xy.iter_mut() {
                *v = f(*v);
            }
        }
        // SAFETY: the processor supports AVX2, checked just above.
        return unsafe { wide(xy, f) };
    }
    for v in xy.iter_mut() {
        *v = f(*v);
    }
}

#[inline(always)]
fn relu<T: Scalar>(x: T) -> T {
    if x > T::ZERO { x } else { T::ZERO }
}

#[inline(always)]
fn leaky_relu<T: Scalar>(x: T, alpha: T) -> T {
    if x > T::ZERO { x } else { alpha * x }
}

/// `1 / (1 + e⁻ˣ)`, branch-free so that it vectorises. For very negative `x`, `e⁻ˣ`
/// overflows to ∞ and the quotient is exactly 0, the correctly rounded result.
#[inline(always)]
pub(crate) fn sigmoid<T: Scalar>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp())
}

/// `ln(1 + eˣ) = max(x, 0) + ln(1 + e^{−|x|})`, finite for every finite `x`.
#[inline(always)]
pub(crate) fn softplus<T: Scalar>(x: T) -> T {
    relu(x) + (-x.abs()).exp().ln_1p()
}

/// 1 where `y > 0`, else `below`.
#[inline(always)]
fn step<T: Scalar>(y: T, below: T) -> T {
    if y > T::ZERO { T::ONE } else { below }
}

/// `sign x`, with 0 at 0 (the zero subgradient of `|x|`).
#[inline(always)]
pub(crate) fn sign<T: Scalar>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// The same kernels on matrices: contiguous data goes through the slice loops above, any other
/// layout through a strided walk.
impl Activation {
    /// `out = f(x)` elementwise.
    pub fn forward_view<T: Scalar>(self, x: ArrayView2<'_, T>, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
        expect_same_shape(self.name(), "input", x.shape(), "output", out.shape())?;
        if let (Some(x), Some(out)) = (x.as_slice(), out.as_slice_mut()) {
            self.forward(x, out);
        } else {
            Zip::from(&mut out).and(&x).for_each(|o, &x| *o = self.value(x));
        }
        Ok(())
    }

    /// `xy = f(xy)` in place.
    pub fn forward_view_inplace<T: Scalar>(self, mut xy: ArrayViewMut2<'_, T>) {
        match xy.as_slice_mut() {
            Some(xy) => self.forward_inplace(xy),
            None => xy.map_inplace(|v| *v = self.value(*v)),
        }
    }

    /// `grad_in = grad_out ⊙ f′(saved)`.
    pub fn backward_view<T: Scalar>(
        self,
        saved: ArrayView2<'_, T>,
        grad_out: ArrayView2<'_, T>,
        mut grad_in: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        expect_same_shape(self.name(), "saved value", saved.shape(), "gradient", grad_out.shape())?;
        expect_same_shape(
            self.name(),
            "gradient",
            grad_out.shape(),
            "input gradient",
            grad_in.shape(),
        )?;
        if let (Some(s), Some(g), Some(gi)) = (saved.as_slice(), grad_out.as_slice(), grad_in.as_slice_mut()) {
            self.backward(s, g, gi);
        } else {
            Zip::from(&mut grad_in)
                .and(&grad_out)
                .and(&saved)
                .for_each(|gi, &g, &s| *gi = g * self.derivative(s));
        }
        Ok(())
    }

    /// `grad = grad ⊙ f′(saved)` in place.
    pub fn backward_view_inplace<T: Scalar>(
        self,
        saved: ArrayView2<'_, T>,
        mut grad: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        expect_same_shape(self.name(), "saved value", saved.shape(), "gradient", grad.shape())?;
        if let (Some(s), Some(g)) = (saved.as_slice(), grad.as_slice_mut()) {
            self.backward_inplace(s, g);
        } else {
            Zip::from(&mut grad)
                .and(&saved)
                .for_each(|g, &s| *g *= self.derivative(s));
        }
        Ok(())
    }
}
