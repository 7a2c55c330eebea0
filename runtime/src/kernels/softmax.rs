//! Row-wise softmax, log-softmax and log-sum-exp, stable for logits of any finite size.
//!
//! Every row is shifted by its maximum first: `lse(z) = m + ln Σⱼ e^{zⱼ − m}` with
//! `m = maxⱼ zⱼ`, so no exponent exceeds 0 and the sum lies in `[1, n]`.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip};

use crate::error::{Result, expect_same_shape};
use crate::scalar::Scalar;

/// `ln Σⱼ e^{zⱼ}` of one row, shifted by the row maximum. An empty row gives −∞.
pub fn log_sum_exp_row<T: Scalar>(row: ArrayView1<'_, T>) -> T {
    let Some(max) = row_max(row) else {
        return -T::ONE / T::ZERO;
    };
    if !max.is_finite() {
        return max;
    }
    let sum: T = row.iter().map(|&z| (z - max).exp()).sum();
    max + sum.ln()
}

/// `out[b] = ln Σⱼ e^{z[b, j]}` for every row `b`.
pub fn log_sum_exp<T: Scalar>(logits: ArrayView2<'_, T>, mut out: ArrayViewMut1<'_, T>) -> Result<()> {
    expect_same_shape("log_sum_exp", "rows of logits", &[logits.nrows()], "out", out.shape())?;
    Zip::from(&mut out)
        .and(logits.rows())
        .for_each(|o, row| *o = log_sum_exp_row(row));
    Ok(())
}

/// `p[b, j] = e^{z[b, j]} / Σₖ e^{z[b, k]}`, row by row.
pub fn softmax<T: Scalar>(logits: ArrayView2<'_, T>, mut probs: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape("softmax", "logits", logits.shape(), "probs", probs.shape())?;
    Zip::from(probs.rows_mut())
        .and(logits.rows())
        .for_each(|p, z| softmax_row(z, p));
    Ok(())
}

/// Softmax of one row into `p`.
pub(crate) fn softmax_row<T: Scalar>(z: ArrayView1<'_, T>, mut p: ArrayViewMut1<'_, T>) {
    let Some(max) = row_max(z) else { return };
    let mut sum = T::ZERO;
    Zip::from(&mut p).and(&z).for_each(|p, &z| {
        *p = (z - max).exp();
        sum += *p;
    });
    let inv = T::ONE / sum;
    p.map_inplace(|p| *p *= inv);
}

/// `out[b, j] = z[b, j] − lse(z[b, :])`, row by row.
pub fn log_softmax<T: Scalar>(logits: ArrayView2<'_, T>, mut out: ArrayViewMut2<'_, T>) -> Result<()> {
    expect_same_shape("log_softmax", "logits", logits.shape(), "out", out.shape())?;
    Zip::from(out.rows_mut()).and(logits.rows()).for_each(|mut o, z| {
        let lse = log_sum_exp_row(z);
        Zip::from(&mut o).and(&z).for_each(|o, &z| *o = z - lse);
    });
    Ok(())
}

/// Backward of softmax, row by row: with `p = softmax(z)` and `g = ∂L/∂p`,
/// `∂L/∂zⱼ = Σᵢ gᵢ ∂pᵢ/∂zⱼ = Σᵢ gᵢ pᵢ(δᵢⱼ − pⱼ) = pⱼ (gⱼ − Σᵢ gᵢ pᵢ)`.
pub fn softmax_backward<T: Scalar>(
    probs: ArrayView2<'_, T>,
    grad_out: ArrayView2<'_, T>,
    mut grad_in: ArrayViewMut2<'_, T>,
) -> Result<()> {
    expect_same_shape("softmax_backward", "probs", probs.shape(), "grad_out", grad_out.shape())?;
    expect_same_shape("softmax_backward", "probs", probs.shape(), "grad_in", grad_in.shape())?;
    Zip::from(grad_in.rows_mut())
        .and(probs.rows())
        .and(grad_out.rows())
        .for_each(|mut gi, p, g| {
            let dot: T = p.iter().zip(g).map(|(&p, &g)| p * g).sum();
            Zip::from(&mut gi)
                .and(&p)
                .and(&g)
                .for_each(|gi, &p, &g| *gi = p * (g - dot));
        });
    Ok(())
}

/// Backward of log-softmax, row by row: with `y = log_softmax(z)` and `g = ∂L/∂y`,
/// `∂L/∂zⱼ = Σᵢ gᵢ (δᵢⱼ − softmax(z)ⱼ) = gⱼ − e^{yⱼ} Σᵢ gᵢ`.
pub fn log_softmax_backward<T: Scalar>(
    log_probs: ArrayView2<'_, T>,
    grad_out: ArrayView2<'_, T>,
    mut grad_in: ArrayViewMut2<'_, T>,
) -> Result<()> {
    let op = "log_softmax_backward";
    expect_same_shape(op, "log_probs", log_probs.shape(), "grad_out", grad_out.shape())?;
    expect_same_shape(op, "log_probs", log_probs.shape(), "grad_in", grad_in.shape())?;
    Zip::from(grad_in.rows_mut())
        .and(log_probs.rows())
        .and(grad_out.rows())
        .for_each(|mut gi, y, g| {
            let total: T = g.iter().copied().sum();
            Zip::from(&mut gi)
                .and(&y)
                .and(&g)
                .for_each(|gi, &y, &g| *gi = g - y.exp() * total);
        });
    Ok(())
}

pub(crate) fn row_max<T: Scalar>(row: ArrayView1<'_, T>) -> Option<T> {
    row.iter().copied().reduce(|a, b| if b > a { b } else { a })
}
