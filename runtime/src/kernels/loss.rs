//! The loss kernels: the op table's losses ([`Loss`]) and their gradients on matrices.
//!
//! Classification losses ([`Loss::SoftmaxCrossEntropy`], [`Loss::CrossEntropy`],
//! [`Loss::SquaredError`]) sum over the classes of a row and average over the `B` rows of the
//! batch; regression losses ([`Loss::Mse`], [`Loss::Mae`], [`Loss::Bce`],
//! [`Loss::BceWithLogits`]) average over all `B·n` elements. A target is either a class label
//! per row (a one-hot row `t`) or a dense matrix of the input's shape.

use ndarray::{ArrayView2, ArrayViewMut2};
pub use symgrad_ops::Loss;
use symgrad_ops::{Normaliser, sigmoid, sign, softplus};

use super::softmax::{log_sum_exp_row, softmax_row};
use crate::error::{Error, Result, expect_same_shape};
use crate::scalar::Scalar;

/// What a loss compares its input against.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a, T> {
    /// One class index per row: the one-hot row `tⱼ = [j = label]`.
    Labels(&'a [usize]),
    /// A matrix of the input's shape (probabilities, or real values to reconstruct).
    Dense(ArrayView2<'a, T>),
}

/// The loss kernels on matrices.
pub trait LossKernel: Copy {
    /// The loss of `input` against `target`.
    fn value<T: Scalar>(self, input: ArrayView2<'_, T>, target: Target<'_, T>) -> Result<T>;
    /// `grad = scale · ∂L/∂input`.
    fn gradient<T: Scalar>(
        self,
        input: ArrayView2<'_, T>,
        target: Target<'_, T>,
        scale: T,
        grad: ArrayViewMut2<'_, T>,
    ) -> Result<()>;
}

impl LossKernel for Loss {
    /// The loss of `input` against `target`.
    fn value<T: Scalar>(self, input: ArrayView2<'_, T>, target: Target<'_, T>) -> Result<T> {
        let norm = normaliser(self, input, target)?;
        let sum = match self {
            Loss::SoftmaxCrossEntropy => {
                let mut sum = T::ZERO;
                for_each_row(&input, &target, |z, t| {
                    let lse = log_sum_exp_row(z);
                    sum += z
                        .iter()
                        .zip(t)
                        .map(|(&z, t)| if t == T::ZERO { T::ZERO } else { t * (lse - z) })
                        .sum();
                });
                sum
            }
            _ => match (input.as_slice(), dense_slice(&target)) {
                // Contiguous dense targets: one loop per loss, vectorised.
                (Some(x), Some(t)) => match self {
                    Loss::SquaredError | Loss::Mse => sum_pairs(x, t, |x, t| (x - t) * (x - t)),
                    Loss::Mae => sum_pairs(x, t, |x, t| (x - t).abs()),
                    other => sum_pairs(x, t, |x, t| element(other, x, t)),
                },
                _ => {
                    let mut sum = T::ZERO;
                    for_each_row(&input, &target, |x, t| {
                        sum += x.iter().zip(t).map(|(&x, t)| element(self, x, t)).sum();
                    });
                    sum
                }
            },
        };
        Ok(sum * norm)
    }

    fn gradient<T: Scalar>(
        self,
        input: ArrayView2<'_, T>,
        target: Target<'_, T>,
        scale: T,
        mut grad: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        let factor = scale * normaliser(self, input, target)?;
        expect_same_shape(self.name(), "input", input.shape(), "gradient", grad.shape())?;
        if self != Loss::SoftmaxCrossEntropy
            && let (Some(x), Some(t), Some(g)) = (input.as_slice(), dense_slice(&target), grad.as_slice_mut())
        {
            // Contiguous dense targets: one loop per loss, vectorised.
            let two = factor + factor;
            match self {
                Loss::SquaredError | Loss::Mse => map_pairs(x, t, g, |x, t| two * (x - t)),
                Loss::Mae => map_pairs(x, t, g, |x, t| factor * sign(x - t)),
                other => map_pairs(x, t, g, |x, t| factor * element_derivative(other, x, t)),
            }
            return Ok(());
        }
        let mut rows = grad.rows_mut().into_iter();
        for_each_row(&input, &target, |x, t| {
            let mut g = rows.next().expect("gradient has one row per input row");
            if self == Loss::SoftmaxCrossEntropy {
                softmax_row(x, g.view_mut());
                let mass: T = t.clone().sum();
                g.map_inplace(|g| *g *= mass);
                for (g, t) in g.iter_mut().zip(t) {
                    *g = (*g - t) * factor;
                }
            } else {
                for ((g, &x), t) in g.iter_mut().zip(&x).zip(t) {
                    *g = element_derivative(self, x, t) * factor;
                }
            }
        });
        Ok(())
    }
}

/// `ℓ(x, t)` of an elementwise loss, before normalising.
#[inline(always)]
fn element<T: Scalar>(loss: Loss, x: T, t: T) -> T {
    match loss {
        Loss::CrossEntropy => -xlogy(t, x),
        Loss::SquaredError | Loss::Mse => (x - t) * (x - t),
        Loss::Mae => (x - t).abs(),
        Loss::Bce => -(xlogy(t, x) + xlogy(T::ONE - t, T::ONE - x)),
        Loss::BceWithLogits => softplus(x) - t * x,
        Loss::SoftmaxCrossEntropy => unreachable!("row-wise loss"),
    }
}

/// `∂ℓ/∂x` of an elementwise loss, before normalising.
#[inline(always)]
fn element_derivative<T: Scalar>(loss: Loss, x: T, t: T) -> T {
    match loss {
        Loss::CrossEntropy => {
            if t == T::ZERO {
                T::ZERO
            } else {
                -t / x
            }
        }
        Loss::SquaredError | Loss::Mse => (x - t) + (x - t),
        Loss::Mae => sign(x - t),
        Loss::Bce => (x - t) / (x * (T::ONE - x)),
        Loss::BceWithLogits => sigmoid(x) - t,
        Loss::SoftmaxCrossEntropy => unreachable!("row-wise loss"),
    }
}

/// `1/B` for classification losses, `1/(Bn)` for regression losses; checks the target.
fn normaliser<T: Scalar>(loss: Loss, input: ArrayView2<'_, T>, target: Target<'_, T>) -> Result<T> {
    let (rows, cols) = input.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::Empty {
            op: loss.name(),
            what: "input",
        });
    }
    match target {
        Target::Labels(labels) => {
            expect_same_shape(loss.name(), "rows of input", &[rows], "labels", &[labels.len()])?;
            if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= cols) {
                return Err(Error::Label {
                    op: loss.name(),
                    row,
                    label,
                    classes: cols,
                });
            }
        }
        Target::Dense(t) => expect_same_shape(loss.name(), "input", input.shape(), "target", t.shape())?,
    }
    let count = match loss.entry().normaliser {
        Normaliser::Rows => rows,
        Normaliser::Elements => rows * cols,
    };
    Ok(T::ONE / T::from_usize(count))
}

/// A dense target's elements as one slice, if they are contiguous.
fn dense_slice<'a, T>(target: &Target<'a, T>) -> Option<&'a [T]> {
    match target {
        Target::Dense(t) => t.to_slice(),
        Target::Labels(_) => None,
    }
}

/// `Σᵢ f(xᵢ, tᵢ)` in eight interleaved partial sums, which the compiler keeps in one vector
/// register (a single running sum would serialise on its additions).
#[inline(always)]
fn sum_pairs<T: Scalar>(x: &[T], t: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::ZERO; 8];
    let (xs, ts) = (x.chunks_exact(8), t.chunks_exact(8));
    let tail: T = xs.remainder().iter().zip(ts.remainder()).map(|(&x, &t)| f(x, t)).sum();
    for (xs, ts) in xs.zip(ts) {
        for ((acc, &x), &t) in acc.iter_mut().zip(xs).zip(ts) {
            *acc += f(x, t);
        }
    }
    acc.iter().copied().sum::<T>() + tail
}

/// `gᵢ = f(xᵢ, tᵢ)`.
#[inline(always)]
fn map_pairs<T: Scalar>(x: &[T], t: &[T], g: &mut [T], f: impl Fn(T, T) -> T) {
    for ((g, &x), &t) in g.iter_mut().zip(x).zip(t) {
        *g = f(x, t);
    }
}

/// `x ln y`, taken as 0 when `x = 0` (so a zero target ignores a zero probability).
#[inline(always)]
fn xlogy<T: Scalar>(x: T, y: T) -> T {
    if x == T::ZERO { T::ZERO } else { x * y.ln() }
}

/// Calls `f(input row, target row)` for every row, the target row as an iterator of values.
/// The target must already be checked against the input.
fn for_each_row<'v, T: Scalar>(
    input: &'v ArrayView2<'_, T>,
    target: &'v Target<'_, T>,
    mut f: impl FnMut(ndarray::ArrayView1<'v, T>, TargetRow<'v, T>),
) {
    for (b, x) in input.rows().into_iter().enumerate() {
        let t = match target {
            Target::Labels(labels) => TargetRow::OneHot {
                label: labels[b],
                col: 0,
                cols: x.len(),
            },
            Target::Dense(t) => TargetRow::Dense(t.row(b).into_iter()),
        };
        f(x, t);
    }
}

/// The values of one target row: a one-hot row generated on the fly, or a dense row.
#[derive(Clone)]
enum TargetRow<'a, T> {
    OneHot { label: usize, col: usize, cols: usize },
    Dense(ndarray::iter::Iter<'a, T, ndarray::Ix1>),
}

impl<T: Scalar> Iterator for TargetRow<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        match self {
            TargetRow::OneHot { label, col, cols } => {
                if *col == *cols {
                    return None;
                }
                let t = if *col == *label { T::ONE } else { T::ZERO };
                *col += 1;
                Some(t)
            }
            TargetRow::Dense(iter) => iter.next().copied(),
        }
    }
}
