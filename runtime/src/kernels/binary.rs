//! Elementwise arithmetic of two matrices of one shape, and scaling by a constant.

use ndarray::{ArrayView2, ArrayViewMut2, Zip};

use crate::error::{Result, expect_same_shape};
use crate::scalar::Scalar;

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

    /// `out = lhs ∘ rhs`.
    pub fn apply<T: Scalar>(
        self,
        lhs: ArrayView2<'_, T>,
        rhs: ArrayView2<'_, T>,
        mut out: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        expect_same_shape(self.symbol(), "lhs", lhs.shape(), "rhs", rhs.shape())?;
        expect_same_shape(self.symbol(), "lhs", lhs.shape(), "out", out.shape())?;
        let zip = Zip::from(&mut out).and(&lhs).and(&rhs);
        match self {
            Binary::Add => zip.for_each(|o, &a, &b| *o = a + b),
            Binary::Sub => zip.for_each(|o, &a, &b| *o = a - b),
            Binary::Mul => zip.for_each(|o, &a, &b| *o = a * b),
            Binary::Div => zip.for_each(|o, &a, &b| *o = a / b),
        }
        Ok(())
    }

    /// `acc = acc ∘ rhs`, in place.
    pub fn apply_assign<T: Scalar>(self, mut acc: ArrayViewMut2<'_, T>, rhs: ArrayView2<'_, T>) -> Result<()> {
        expect_same_shape(self.symbol(), "lhs", acc.shape(), "rhs", rhs.shape())?;
        let zip = Zip::from(&mut acc).and(&rhs);
        match self {
            Binary::Add => zip.for_each(|a, &b| *a += b),
            Binary::Sub => zip.for_each(|a, &b| *a -= b),
            Binary::Mul => zip.for_each(|a, &b| *a *= b),
            Binary::Div => zip.for_each(|a, &b| *a /= b),
        }
        Ok(())
    }
}

/// `out = α · x`.
pub fn scale<T: Scalar>(alpha: T, x: ArrayView2<'_, T>, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape("scale", "x", x.shape(), "out", out.shape())?;
    Zip::from(&mut out).and(&x).for_each(|o, &x| *o = alpha * x);
    Ok(())
}
