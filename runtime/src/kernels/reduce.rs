//! Broadcasting and reductions between a batch matrix and a row: bias add and column sums.

use ndarray::{ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip};

use crate::error::{Result, expect_same_shape};
use crate::scalar::Scalar;

/// `out[b, j] = row[j]` for every row `b`: the bias written before a `β = 1` gemm adds `X·W`.
pub fn broadcast_rows<T: Scalar>(row: ArrayView2<'_, T>, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape(
        "broadcast_rows",
        "row",
        row.shape(),
        "one row of out",
        &[1, out.ncols()],
    )?;
    let row = row.row(0);
    for mut out_row in out.rows_mut() {
        out_row.assign(&row);
    }
    Ok(())
}

/// `x[b, j] += row[j]`: the forward of a bias add, in place.
pub fn add_row<T: Scalar>(mut x: ArrayViewMut2<'_, T>, row: ArrayView2<'_, T>) -> Result<()> {
    expect_same_shape("add_row", "one row of x", &[1, x.ncols()], "row", row.shape())?;
    let row = row.row(0);
    for mut x_row in x.rows_mut() {
        Zip::from(&mut x_row).and(&row).for_each(|x, &r| *x += r);
    }
    Ok(())
}

/// `out ← β·out + Σ_b x[b, :]`: the bias gradient. A bias broadcast over the rows of a batch
/// feeds every row, so by the chain rule its adjoint is the sum of the row adjoints,
/// `∂L/∂bⱼ = Σ_b ∂L/∂Y_bⱼ`.
pub fn column_sums<T: Scalar>(x: ArrayView2<'_, T>, beta: T, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape("column_sums", "one row of x", &[1, x.ncols()], "out", out.shape())?;
    let mut out: ArrayViewMut1<'_, T> = out.row_mut(0);
    if beta == T::ZERO {
        out.fill(T::ZERO);
    } else if beta != T::ONE {
        out.map_inplace(|o| *o *= beta);
    }
    for x_row in x.rows() {
        Zip::from(&mut out).and(&x_row).for_each(|o, &x| *o += x);
    }
    Ok(())
}
