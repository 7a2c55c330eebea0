//! Matrix multiplication on strided views: `C ← α A B + β C`.
//!
//! A transpose is a stride swap (`a.t()`), never a copy: every combination of transposed and
//! plain operands, and any row or column strides ndarray can express, is multiplied in place.
//!
//! Large products go to matrixmultiply's packed, blocked kernels. Products of at most
//! [`SMALL_GEMM`] multiply-adds, the norm for the small networks people study, run through
//! direct loops instead: packing would cost more than it saves there, and matrixmultiply
//! allocates its packing buffer on every call, while the direct loops allocate nothing.

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
    if m * k * n <= SMALL_GEMM {
        small::gemm(alpha, a, b, beta, c);
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

/// The largest product, in multiply-adds `m·k·n`, computed by the direct loops.
pub const SMALL_GEMM: usize = 32 * 1024;

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

/// Direct loops for small products: no packing, no allocation.
mod small {
    use ndarray::{ArrayView2, ArrayViewMut2, Axis};

    use crate::scalar::Scalar;

    /// `C ← α A B + β C`, shapes already checked.
    pub(super) fn gemm<T: Scalar>(
        alpha: T,
        a: ArrayView2<'_, T>,
        b: ArrayView2<'_, T>,
        beta: T,
        mut c: ArrayViewMut2<'_, T>,
    ) {
        if beta == T::ZERO {
            c.fill(T::ZERO);
        } else if beta != T::ONE {
            c.map_inplace(|x| *x *= beta);
        }
        let rows_of_b_contiguous = b.ncols() == 1 || b.strides()[1] == 1;
        let rows_of_c_contiguous = c.ncols() == 1 || c.strides()[1] == 1;
        if rows_of_b_contiguous && rows_of_c_contiguous {
            // C[i, :] += (α A[i, p]) · B[p, :]: a vectorised axpy over contiguous rows.
            for (a_row, mut c_row) in a.outer_iter().zip(c.outer_iter_mut()) {
                let c_row = c_row.as_slice_mut().expect("contiguous row");
                for (&a_ip, b_row) in a_row.iter().zip(b.outer_iter()) {
                    let a_ip = alpha * a_ip;
                    let b_row = b_row.to_slice().expect("contiguous row");
                    for (c, &b) in c_row.iter_mut().zip(b_row) {
                        *c += a_ip * b;
                    }
                }
            }
        } else if (a.ncols() == 1 || a.strides()[1] == 1) && (b.nrows() == 1 || b.strides()[0] == 1) {
            // C[i, j] += α ⟨A[i, :], B[:, j]⟩ over two contiguous vectors (B used transposed).
            for (a_row, mut c_row) in a.outer_iter().zip(c.outer_iter_mut()) {
                let a_row = a_row.to_slice().expect("contiguous row");
                for (c, b_col) in c_row.iter_mut().zip(b.axis_iter(Axis(1))) {
                    *c += alpha * dot(a_row, b_col.to_slice().expect("contiguous column"));
                }
            }
        } else {
            for (a_row, mut c_row) in a.outer_iter().zip(c.outer_iter_mut()) {
                for (&a_ip, b_row) in a_row.iter().zip(b.outer_iter()) {
                    let a_ip = alpha * a_ip;
                    c_row.zip_mut_with(&b_row, |c, &b| *c += a_ip * b);
                }
            }
        }
    }

    /// `Σ xᵢ yᵢ` in eight interleaved partial sums, which the compiler keeps in one vector
    /// register (a single running sum would serialise on its additions).
    fn dot<T: Scalar>(x: &[T], y: &[T]) -> T {
        let mut acc = [T::ZERO; 8];
        let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
        let tail: T = xc.remainder().iter().zip(yc.remainder()).map(|(&a, &b)| a * b).sum();
        for (xs, ys) in xc.zip(yc) {
            for l in 0..8 {
                acc[l] += xs[l] * ys[l];
            }
        }
        acc.iter().copied().sum::<T>() + tail
    }
}
