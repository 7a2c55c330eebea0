//! The activation kernels: the op table's elementwise functions ([`Activation`]) run over
//! slices and matrices.
//!
//! Backward applies the chain rule elementwise, `∂L/∂x = ∂L/∂y ⊙ f′(x)`, reading `f′` from
//! the saved value the table names ([`Activation::saved`]).
//!
//! The loops over slices run through [`zip_with`], compiled for the widest vectors the
//! processor has, where `exp`, `tanh` and the sigmoid fuse their multiply-adds: compiled for
//! AVX2 alone, without FMA, the autoencoder's activations had taken 4.1 % of its step (1.3–1.4 %
//! on wide vectors with FMA, `perf record` of `benches/step.rs`, 2026-12-03).

use ndarray::{ArrayView2, ArrayViewMut2, Zip};
pub use symgrad_ops::{Activation, Saved};

use crate::error::{Result, expect_same_shape};
use crate::kernels::elementwise::zip_with;
use crate::scalar::Scalar;

/// Runs `$body` with `$f` bound to a monomorphic closure for the activation, so the loop in
/// the body is compiled (and vectorised) once per activation rather than matching per element:
/// each arm calls the table's function on an activation whose variant is a constant, so the
/// table's `match` folds away. The arms list the activations worth a loop of their own. The
/// forward closures take, besides the value, whether the loop's vector unit fuses
/// multiply-adds ([`Activation::value_in`]).
macro_rules! dispatch {
    ($act:expr, $f:ident => $body:block) => {
        dispatch!(@arms $act, $f, forward_closure, $body, Identity, Relu, Sigmoid, Tanh, Softplus, Exp)
    };
    (@arms $act:expr, $f:ident, $closure:ident, $body:block, $($plain:ident),*) => {
        match $act {
            $(Activation::$plain => {
                let $f = $closure!(Activation::$plain);
                $body
            })*
            Activation::LeakyRelu(alpha) => {
                let act = Activation::LeakyRelu(alpha);
                let $f = $closure!(act);
                $body
            }
            other => {
                let $f = $closure!(other);
                $body
            }
        }
    };
}

/// `f(x)` of the activation, told whether the loop's unit fuses multiply-adds.
macro_rules! forward_closure {
    ($act:expr) => {
        |x: T, fused: bool| $act.value_in(x, fused)
    };
}

/// `f′` of the activation from its saved value.
macro_rules! derivative_closure {
    ($act:expr) => {
        |saved: T| $act.derivative(saved)
    };
}

/// As [`dispatch!`], for the derivative.
macro_rules! dispatch_derivative {
    ($act:expr, $df:ident => $body:block) => {
        dispatch!(@arms $act, $df, derivative_closure, $body, Relu, Sigmoid, Tanh)
    };
}

/// The activation kernels on slices and matrices.
pub trait ActivationKernel: Copy {
    /// `out = f(x)` elementwise. Panics if the lengths differ.
    fn forward<T: Scalar>(self, x: &[T], out: &mut [T]);
    /// `xy = f(xy)` elementwise, in place.
    fn forward_inplace<T: Scalar>(self, xy: &mut [T]);
    /// `grad_in = grad_out ⊙ f′(saved)` (chain rule), `saved` as the table names it.
    /// Panics if the lengths differ.
    fn backward<T: Scalar>(self, saved: &[T], grad_out: &[T], grad_in: &mut [T]);
    /// `grad = grad ⊙ f′(saved)` in place: the adjoint of `x` overwrites that of `y`.
    fn backward_inplace<T: Scalar>(self, saved: &[T], grad: &mut [T]);
    /// `out = f(x)` elementwise.
    fn forward_view<T: Scalar>(self, x: ArrayView2<'_, T>, out: ArrayViewMut2<'_, T>) -> Result<()>;
    /// `xy = f(xy)` in place.
    fn forward_view_inplace<T: Scalar>(self, xy: ArrayViewMut2<'_, T>);
    /// `grad_in = grad_out ⊙ f′(saved)`.
    fn backward_view<T: Scalar>(
        self,
        saved: ArrayView2<'_, T>,
        grad_out: ArrayView2<'_, T>,
        grad_in: ArrayViewMut2<'_, T>,
    ) -> Result<()>;
    /// `grad = grad ⊙ f′(saved)` in place.
    fn backward_view_inplace<T: Scalar>(self, saved: ArrayView2<'_, T>, grad: ArrayViewMut2<'_, T>) -> Result<()>;
}

impl ActivationKernel for Activation {
    /// `out = f(x)` elementwise. Panics if the lengths differ.
    fn forward<T: Scalar>(self, x: &[T], out: &mut [T]) {
        assert_eq!(x.len(), out.len(), "{}: input and output lengths differ", self.name());
        dispatch!(self, f => { zip_with(out, [x], |_, [x], fused| f(x, fused)) });
    }

    /// `xy = f(xy)` elementwise, in place.
    fn forward_inplace<T: Scalar>(self, xy: &mut [T]) {
        dispatch!(self, f => { zip_with(xy, [], |x, [], fused| f(x, fused)) });
    }

    /// `grad_in = grad_out ⊙ f′(saved)` (chain rule), `saved` as the table names it
    /// ([`Activation::saved`]). Panics if the lengths differ.
    fn backward<T: Scalar>(self, saved: &[T], grad_out: &[T], grad_in: &mut [T]) {
        assert_eq!(
            grad_out.len(),
            grad_in.len(),
            "{}: gradient lengths differ",
            self.name()
        );
        if self.saved() == Saved::Nothing {
            grad_in.copy_from_slice(grad_out);
            return;
        }
        assert_eq!(
            saved.len(),
            grad_in.len(),
            "{}: saved value length differs",
            self.name()
        );
        dispatch_derivative!(self, df => { zip_with(grad_in, [grad_out, saved], |_, [g, s], _| g * df(s)) });
    }

    /// `grad = grad ⊙ f′(saved)` in place: the adjoint of `x` overwrites that of `y`.
    fn backward_inplace<T: Scalar>(self, saved: &[T], grad: &mut [T]) {
        if self.saved() == Saved::Nothing {
            return;
        }
        assert_eq!(saved.len(), grad.len(), "{}: saved value length differs", self.name());
        dispatch_derivative!(self, df => { zip_with(grad, [saved], |g, [s], _| g * df(s)) });
    }

    // The same kernels on matrices: contiguous data goes through the slice loops above, any
    // other layout through a strided walk.

    /// `out = f(x)` elementwise.
    fn forward_view<T: Scalar>(self, x: ArrayView2<'_, T>, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
        expect_same_shape(self.name(), "input", x.shape(), "output", out.shape())?;
        if let (Some(x), Some(out)) = (x.as_slice(), out.as_slice_mut()) {
            self.forward(x, out);
        } else {
            Zip::from(&mut out).and(&x).for_each(|o, &x| *o = self.value(x));
        }
        Ok(())
    }

    /// `xy = f(xy)` in place.
    fn forward_view_inplace<T: Scalar>(self, mut xy: ArrayViewMut2<'_, T>) {
        match xy.as_slice_mut() {
            Some(xy) => self.forward_inplace(xy),
            None => xy.map_inplace(|v| *v = self.value(*v)),
        }
    }

    /// `grad_in = grad_out ⊙ f′(saved)`.
    fn backward_view<T: Scalar>(
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
    fn backward_view_inplace<T: Scalar>(self, saved: ArrayView2<'_, T>, mut grad: ArrayViewMut2<'_, T>) -> Result<()> {
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
