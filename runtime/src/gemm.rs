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
    use ndarray::{ArrayView2, ArrayViewMut2};

    use crate::scalar::Scalar;

    /// Columns of C kept in registers while the inner dimension runs.
    const BLOCK: usize = 16;

    /// `C ← α A B + β C`, shapes already checked.
    pub(super) fn gemm<T: Scalar>(
        alpha: T,
        a: ArrayView2<'_, T>,
        b: ArrayView2<'_, T>,
        beta: T,
        mut c: ArrayViewMut2<'_, T>,
    ) {
        let (m, k) = a.dim();
        let n = b.ncols();
        if beta == T::ZERO {
            c.fill(T::ZERO);
        } else if beta != T::ONE {
            c.map_inplace(|x| *x *= beta);
        }
        let [rsa, csa] = [a.strides()[0], a.strides()[1]];
        let [rsb, csb] = [b.strides()[0], b.strides()[1]];
        let [rsc, csc] = [c.strides()[0], c.strides()[1]];
        let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        let at = |row: usize, col: usize, rs: isize, cs: isize| row as isize * rs + col as isize * cs;
        // SAFETY: every offset is `row·row_stride + col·col_stride` for an in-bounds (row, col)
        // of the view it addresses; `c` is a unique borrow, distinct from `a` and `b`.
        unsafe {
            if csb == 1 || n == 1 {
                // C[i, j..j+16] += Σₚ α A[i, p] · B[p, j..j+16], the 16 sums held in registers
                // while p runs (B's rows are contiguous); the last columns one at a time.
                let blocks = n / BLOCK;
                for i in 0..m {
                    for block in 0..blocks {
                        let j = block * BLOCK;
                        let mut acc = [T::ZERO; BLOCK];
                        for p in 0..k {
                            let a_ip = *pa.offset(at(i, p, rsa, csa));
                            let b_row = &*(pb.offset(at(p, j, rsb, 1)) as *const [T; BLOCK]);
                            for l in 0..BLOCK {
                                acc[l] += a_ip * b_row[l];
                            }
                        }
                        for (l, &sum) in acc.iter().enumerate() {
                            *pc.offset(at(i, j + l, rsc, csc)) += alpha * sum;
                        }
                    }
                    for j in blocks * BLOCK..n {
                        let mut sum = T::ZERO;
                        for p in 0..k {
                            sum += *pa.offset(at(i, p, rsa, csa)) * *pb.offset(at(p, j, rsb, 1));
                        }
                        *pc.offset(at(i, j, rsc, csc)) += alpha * sum;
                    }
                }
            } else {
                // B used transposed (its columns contiguous, or any other layout):
                // C[i, j] += α Σₚ A[i, p] B[p, j], in eight interleaved partial sums.
                for i in 0..m {
                    for j in 0..n {
                        let mut acc = [T::ZERO; 8];
                        let whole = k / 8 * 8;
                        for p0 in (0..whole).step_by(8) {
                            for (l, acc) in acc.iter_mut().enumerate() {
                                *acc += *pa.offset(at(i, p0 + l, rsa, csa)) * *pb.offset(at(p0 + l, j, rsb, csb));
                            }
                        }
                        let mut sum: T = acc.iter().copied().sum();
                        for p in whole..k {
                            sum += *pa.offset(at(i, p, rsa, csa)) * *pb.offset(at(p, j, rsb, csb));
                        }
                        *pc.offset(at(i, j, rsc, csc)) += alpha * sum;
                    }
                }
            }
        }
    }
}
