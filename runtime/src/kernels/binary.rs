//! Elementwise arithmetic of two matrices of one shape, and scaling by a constant.

use ndarray::{ArrayView2, ArrayViewMut2, Zip};

use crate::error::{Result, expect_same_shape};
use crate::kernels::elementwise::zip_with;
use crate::scalar::Scalar;

/// Evaluates `$body` with `$op` a `const` of the operation, one arm an operation, so that the
/// loop in it is compiled once for each and [`Binary::of`]'s `match` folds away. (A closure
/// captures a variable as a field that the loop reads at run time: with the operation in a
/// variable, the `match` stayed in the loop, a jump on every element.)
macro_rules! with_constant {
    ($binary:expr, $op:ident => $body:expr) => {
        match $binary {
            Binary::Add => {
                const $op: Binary = Binary::Add;
                $body
            }
            Binary::Sub => {
                const $op: Binary = Binary::Sub;
                $body
            }
            Binary::Mul => {
                const $op: Binary = Binary::Mul;
                $body
            }
            Binary::Div => {
                const $op: Binary = Binary::Div;
                $body
            }
        }
    };
}

/// An elementwise binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `lhs + rhs`; both adjoints are `grad_out`.
    Add,
    /// `lhs − rhs`; adjoints `grad_out` and `−grad_out`.
    Sub,
    /// `lhs ⊙ rhs`; adjoints `grad_out ⊙ rhs` and `grad_out ⊙ lhs`.
    Mul,
    /// `lhs ⊘ rhs`; adjoints `grad_out ⊘ rhs` and `−grad_out ⊙ lhs ⊘ rhs²`.
    Div,
}

impl Binary {
    /// The operation's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Binary::Add => "+",
            Binary::Sub => "-",
            Binary::Mul => "*",
            Binary::Div => "/",
        }
    }

    /// `lhs ∘ rhs` of two values.
    #[inline(always)]
    fn of<T: Scalar>(self, lhs: T, rhs: T) -> T {
        match self {
            Binary::Add => lhs + rhs,
            Binary::Sub => lhs - rhs,
            Binary::Mul => lhs * rhs,
            Binary::Div => lhs / rhs,
        }
    }

    /// `out = lhs ∘ rhs`.
    pub fn apply<T: Scalar>(
        self,
        lhs: ArrayView2<'_, T>,
        rhs: ArrayView2<'_, T>,
        mut out: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        expect_same_shape(self.symbol(), "lhs", lhs.shape(), "rhs", rhs.shape())?;
        expect_same_shape(self.symbol(), "lhs", lhs.shape(), "out", out.shape())?;
        if let (Some(a), Some(b), Some(o)) = (lhs.as_slice(), rhs.as_slice(), out.as_slice_mut()) {
            with_constant!(self, OP => zip_with(o, [a, b], |_, [a, b], _| OP.of(a, b)));
        } else {
            Zip::from(&mut out)
                .and(&lhs)
                .and(&rhs)
                .for_each(|o, &a, &b| *o = self.of(a, b));
        }
        Ok(())
    }

    /// `acc = acc ∘ rhs`, in place.
    pub fn apply_assign<T: Scalar>(self, mut acc: ArrayViewMut2<'_, T>, rhs: ArrayView2<'_, T>) -> Result<()> {
        expect_same_shape(self.symbol(), "lhs", acc.shape(), "rhs", rhs.shape())?;
        if let (Some(a), Some(b)) = (acc.as_slice_mut(), rhs.as_slice()) {
            with_constant!(self, OP => zip_with(a, [b], |a, [b], _| OP.of(a, b)));
        } else {
            Zip::from(&mut acc).and(&rhs).for_each(|a, &b| *a = self.of(*a, b));
        }
        Ok(())
    }
}

/// `out = α · x`.
pub fn scale<T: Scalar>(alpha: T, x: ArrayView2<'_, T>, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape("scale", "x", x.shape(), "out", out.shape())?;
    match (x.as_slice(), out.as_slice_mut()) {
        (Some(x), Some(o)) => zip_with(o, [x], |_, [x], _| alpha * x),
        _ => Zip::from(&mut out).and(&x).for_each(|o, &x| *o = alpha * x),
    }
    Ok(())
}
