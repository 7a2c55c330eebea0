//! Broadcasting and its reverse (a bias row or a per-channel vector added to a batch, the sums
//! that are its gradient) and row-wise reductions to a column (`sum_rows`, `mean_rows`,
//! `max_rows`).
//!
//! A broadcast reads the large value row-major as `[outer, mid, inner]` and the small one as
//! its `mid` values: a row `[n]` over `[batch, n]` is `inner = 1`, a per-channel vector
//! `[c, 1, 1]` over `[batch, c, h, w]` is `inner = h·w`.

use ndarray::{ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip};

pub use symgrad_ops::RowReduction;

use super::softmax::row_max;
use crate::error::{Error, Result, expect_same_shape};
use crate::kernels::elementwise::zip_with;
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

/// `x[o, m, i] += b[m]`, `x` read as `[outer, mid, inner]` and `b` (of any shape) as its
/// `mid` values in row-major order: the forward of a broadcast add, in place.
pub fn add_broadcast<T: Scalar>(mut x: ArrayViewMut2<'_, T>, b: ArrayView2<'_, T>, inner: usize) -> Result<()> {
    if inner == 1 && b.shape() == [1, x.ncols()] {
        return add_row(x, b);
    }
    let outer = blocks("add_broadcast", x.shape(), b.shape(), inner)?;
    if let (Some(xs), Some(bs)) = (x.as_slice_mut(), b.as_slice()) {
        // Contiguous (as workspace buffers are): runs of `inner` equal additions.
        for (run, &v) in xs.chunks_exact_mut(inner).zip(bs.iter().cycle()) {
            run.iter_mut().for_each(|x| *x += v);
        }
        return Ok(());
    }
    let mut xs = x.iter_mut();
    for _ in 0..outer {
        for &v in &b {
            xs.by_ref().take(inner).for_each(|x| *x += v);
        }
    }
    Ok(())
}

/// `out[m] ← β·out[m] + Σ_{o, i} g[o, m, i]`: the gradient of an operand broadcast by
/// [`add_broadcast`]. It feeds every element it was repeated into, so by the chain rule its
/// adjoint is the sum of theirs, `∂L/∂b_m = Σ_{o,i} ∂L/∂Y_{o,m,i}`.
pub fn broadcast_sum<T: Scalar>(
    g: ArrayView2<'_, T>,
    inner: usize,
    beta: T,
    mut out: ArrayViewMut2<'_, T>,
) -> Result<()> {
    if inner == 1 && out.shape() == [1, g.ncols()] {
        return column_sums(g, beta, out);
    }
    let outer = blocks("broadcast_sum", g.shape(), out.shape(), inner)?;
    if beta == T::ZERO {
        out.fill(T::ZERO);
    } else if beta != T::ONE {
        out.map_inplace(|o| *o *= beta);
    }
    if let (Some(gs), Some(os)) = (g.as_slice(), out.as_slice_mut()) {
        // Contiguous: each run of `inner` summed in lanes.
        let mid = os.len();
        for (run, o) in gs.chunks_exact(inner).zip((0..outer).flat_map(|_| 0..mid)) {
            os[o] += lane_sum(run);
        }
        return Ok(());
    }
    let mut gs = g.iter();
    for _ in 0..outer {
        for o in &mut out {
            *o += gs.by_ref().take(inner).fold(T::ZERO, |sum, &g| sum + g);
        }
    }
    Ok(())
}

/// `Σ vᵢ` in eight running sums: one sum's additions would each wait for the one before (a
/// chain as long as the slice); eight independent ones fill a vector register.
fn lane_sum<T: Scalar>(values: &[T]) -> T {
    let mut lanes = [T::ZERO; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder().iter().fold(T::ZERO, |sum, &v| sum + v);
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().fold(rest, |sum, &lane| sum + lane)
}

/// How many `[mid, inner]` blocks a value of `large` elements holds, `mid` the elements of
/// `small`; an error if they do not tile it.
fn blocks(op: &'static str, large: &[usize], small: &[usize], inner: usize) -> Result<usize> {
    let block = small.iter().product::<usize>() * inner;
    let len: usize = large.iter().product();
    if block == 0 || !len.is_multiple_of(block) {
        return Err(Error::Shape {
            op,
            lhs_name: "the broadcast value",
            lhs: large.to_vec(),
            rhs_name: "the broadcast operand (times the inner factor)",
            rhs: vec![small.iter().product(), inner],
        });
    }
    Ok(len / block)
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
        match (out.as_slice_mut(), x_row.as_slice()) {
            (Some(o), Some(x)) => zip_with(o, [x], |o, [x], _| o + x),
            _ => Zip::from(&mut out).and(&x_row).for_each(|o, &x| *o += x),
        }
    }
    Ok(())
}

/// `out[b, 0] = reduce_j x[b, j]`: each row to one value.
pub fn row_reduce<T: Scalar>(kind: RowReduction, x: ArrayView2<'_, T>, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape(kind.name(), "a column of x", &[x.nrows(), 1], "out", out.shape())?;
    let n = T::from_usize(x.ncols());
    Zip::from(out.rows_mut()).and(x.rows()).for_each(|mut o, row| {
        o[0] = match kind {
            RowReduction::Sum => row.sum(),
            RowReduction::Mean => row.sum() / n,
            RowReduction::Max => row_max(row).unwrap_or(T::ZERO),
        };
    });
    Ok(())
}

/// Backward of `sum_rows` (`scale = 1`) and `mean_rows` (`scale = 1/n`):
/// `out[b, j] = scale · grad[b, 0]`.
pub fn spread_rows<T: Scalar>(grad: ArrayView2<'_, T>, scale: T, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape(
        "spread_rows",
        "grad",
        grad.shape(),
        "a column of out",
        &[out.nrows(), 1],
    )?;
    Zip::from(out.rows_mut())
        .and(grad.rows())
        .for_each(|mut o, g| o.fill(scale * g[0]));
    Ok(())
}

/// Backward of `max_rows`: `out[b, j] = grad[b, 0]` at the first `j` with `x[b, j] = y[b, 0]`,
/// 0 elsewhere.
pub fn row_max_backward<T: Scalar>(
    x: ArrayView2<'_, T>,
    y: ArrayView2<'_, T>,
    grad: ArrayView2<'_, T>,
    mut out: ArrayViewMut2<'_, T>,
) -> Result<()> {
    let op = "row_max_backward";
    expect_same_shape(op, "x", x.shape(), "out", out.shape())?;
    expect_same_shape(op, "y", y.shape(), "a column of x", &[x.nrows(), 1])?;
    expect_same_shape(op, "grad", grad.shape(), "y", y.shape())?;
    Zip::from(out.rows_mut())
        .and(x.rows())
        .and(y.rows())
        .and(grad.rows())
        .for_each(|mut o, x, y, g| {
            o.fill(T::ZERO);
            if let Some(j) = x.iter().position(|&v| v == y[0]) {
                o[j] = g[0];
            }
        });
    Ok(())
}
