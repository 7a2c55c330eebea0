//! Matrix multiplication on strided views: `C ← α A B + β C`.
//!
//! A transpose is a stride swap (`a.t()`), never a copy: every combination of transposed and
//! plain operands, and any row or column strides ndarray can express, go straight to
//! matrixmultiply's packed kernels.

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// `C ← α A B + β C` for `A: m×k`, `B: k×n`, `C: m×n`.
///
/// If `β = 0`, `C` is not read, so it may hold anything (even NaN). An inner dimension of 0
/// gives `C ← β C`. Shapes that do not fit are an [`Error::Shape`]; nothing is written then.
pub fn gemm<T: Scalar>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) -> Result<()> {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 {
        return Err(shape_error("A (m×k)", a.shape(), "B (k×n)", b.shape()));
    }
    if c.dim() != (m, n) {
        return Err(shape_error("A·B (m×n)", &[m, n], "C", c.shape()));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if beta == T::ZERO {
            c.fill(T::ZERO);
        } else {
            c.map_inplace(|x| *x *= beta);
        }
        return Ok(());
    }
    let [rsa, csa] = strides(&a);
    let [rsb, csb] = strides(&b);
    let [rsc, csc] = [c.strides()[0], c.strides()[1]];
    // SAFETY: the shapes were checked above, the strides are the views' own, and `c` is a
    // unique borrow, so it cannot alias `a` or `b`.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        );
    }
    Ok(())
}

fn strides<T>(view: &ArrayView2<'_, T>) -> [isize; 2] {
    [view.strides()[0], view.strides()[1]]
}

fn shape_error(lhs_name: &'static str, lhs: &[usize], rhs_name: &'static str, rhs: &[usize]) -> Error {
    Error::Shape {
        op: "gemm",
        lhs_name,
        lhs: lhs.to_vec(),
        rhs_name,
        rhs: rhs.to_vec(),
    }
}
