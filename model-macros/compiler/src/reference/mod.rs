//! An f64 reference interpreter for the graph, for tests. Every op is evaluated from its
//! mathematical definition, written here independently of the runtime's kernels and of the
//! backward rules in `diff.rs`, and every value is checked against the shape its node
//! declares, so a node that computes the wrong thing or claims the wrong shape is caught.
//! Activations are the op table's own `value` and `derivative` on the value the table says
//! is saved: differences of the loss then test the table's entries too.

mod spatial;

use std::collections::BTreeMap;

use crate::graph::{Graph, NodeId};
use crate::ops::{Loss, Op, RowReduction, Rows, Shape, TargetRef};

/// A dense row-major matrix; a scalar is 1 × 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Mat {
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Mat {
        let data = (0..rows * cols).map(|k| f(k / cols, k % cols)).collect();
        Mat { rows, cols, data }
    }

    fn scalar(v: f64) -> Mat {
        Mat::from_fn(1, 1, |_, _| v)
    }

    fn at(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    fn map(&self, f: impl Fn(f64) -> f64) -> Mat {
        Mat::from_fn(self.rows, self.cols, |r, c| f(self.at(r, c)))
    }

    fn zip(&self, other: &Mat, f: impl Fn(f64, f64) -> f64) -> Result<Mat, String> {
        if (self.rows, self.cols) != (other.rows, other.cols) {
            return Err(format!(
                "elementwise operands of {}×{} and {}×{}",
                self.rows, self.cols, other.rows, other.cols
            ));
        }
        Ok(Mat::from_fn(self.rows, self.cols, |r, c| {
            f(self.at(r, c), other.at(r, c))
        }))
    }

    fn transposed(&self) -> Mat {
        Mat::from_fn(self.cols, self.rows, |r, c| self.at(c, r))
    }

    fn sum(&self) -> f64 {
        self.data.iter().sum()
    }

    /// `self + 1·row`: a row broadcast over every row.
    fn plus_row(&self, row: &Mat) -> Result<Mat, String> {
        if row.rows != 1 || row.cols != self.cols {
            return Err(format!(
                "a {}×{} row added to {} columns",
                row.rows, row.cols, self.cols
            ));
        }
        Ok(Mat::from_fn(self.rows, self.cols, |r, c| self.at(r, c) + row.at(0, c)))
    }
}

fn product(a: &Mat, lhs_t: bool, b: &Mat, rhs_t: bool) -> Result<Mat, String> {
    let a = if lhs_t { a.transposed() } else { a.clone() };
    let b = if rhs_t { b.transposed() } else { b.clone() };
    if a.cols != b.rows {
        return Err(format!("product of {}×{} and {}×{}", a.rows, a.cols, b.rows, b.cols));
    }
    Ok(Mat::from_fn(a.rows, b.cols, |r, c| {
        (0..a.cols).map(|k| a.at(r, k) * b.at(k, c)).sum()
    }))
}

/// Values given from outside the graph.
pub struct Bindings {
    pub batch: usize,
    pub inputs: Vec<Mat>,
    pub targets: Vec<Mat>,
    pub params: Vec<Mat>,
    pub labels: Vec<Vec<usize>>,
    /// Dropout masks: 0 or 1/(1 − p) per element.
    pub masks: Vec<Mat>,
    /// The direction of a Hessian-vector product, one part per parameter in its order.
    pub directions: Vec<Mat>,
}

impl Bindings {
    /// The rows and columns of a value of `shape` as it is stored (a scalar is 1 × 1).
    pub fn dims(&self, shape: Shape) -> (usize, usize) {
        match shape.matrix() {
            (Rows::Batch, c) => (self.batch, c),
            (Rows::Fixed(r), c) => (r, c),
        }
    }

    /// The sizes of every axis of `shape`, the batch's included.
    fn axes(&self, shape: Shape) -> Vec<usize> {
        shape
            .is_batch()
            .then_some(self.batch)
            .into_iter()
            .chain(shape.dims().iter().copied())
            .collect()
    }
}

/// The element of `small` that element `k` (row-major) of `big` reads when `small` broadcasts
/// over it by numpy's rule, from the multi-indices themselves: `small`'s axes aligned with the
/// last of `big`'s, index 0 along its axes of size 1. Independent of the `[outer, mid, inner]`
/// reading [`Shape::broadcast`] derives for the kernels.
pub fn broadcast_source(big: &[usize], small: &[usize], k: usize) -> usize {
    let mut index = vec![0; big.len()];
    let mut rest = k;
    for (i, &n) in big.iter().enumerate().rev() {
        index[i] = rest % n;
        rest /= n;
    }
    small.iter().enumerate().fold(0, |flat, (j, &n)| {
        let aligned = big.len().checked_sub(small.len() - j);
        let coordinate = match aligned {
            Some(i) if n != 1 => index[i],
            _ => 0,
        };
        flat * n + coordinate
    })
}

/// The values of nodes `0..=last`, and on which side of its kink every element of every
/// kinked op lies (`relu`, `leaky_relu`, `abs`: `x > 0`; `mae`: `x > t`). Two evaluations
/// with equal sides are on one smooth piece of the function.
pub struct Evaluation {
    pub values: Vec<Mat>,
    pub sides: Vec<bool>,
    /// Each max pooling's arg-maxes, by arg-max buffer: per sample, per output, the pixel.
    pub argmaxes: BTreeMap<usize, Vec<Vec<usize>>>,
}

pub fn evaluate(graph: &Graph, bindings: &Bindings, last: NodeId) -> Result<Evaluation, String> {
    let mut eval = Evaluation {
        values: Vec::with_capacity(last + 1),
        sides: Vec::new(),
        argmaxes: BTreeMap::new(),
    };
    for id in 0..=last {
        let value = node(graph, bindings, &mut eval, id).map_err(|e| format!("node {id} ({:?}): {e}", graph.op(id)))?;
        let (rows, cols) = bindings.dims(graph.shape(id));
        if (value.rows, value.cols) != (rows, cols) {
            return Err(format!(
                "node {id} ({:?}) declares {} but computes {}×{}",
                graph.op(id),
                graph.shape(id),
                value.rows,
                value.cols
            ));
        }
        eval.values.push(value);
    }
    Ok(eval)
}

fn node(graph: &Graph, b: &Bindings, eval: &mut Evaluation, id: NodeId) -> Result<Mat, String> {
    let n = &graph.nodes[id];
    let v = |i: usize| &eval.values[n.inputs[i]];
    Ok(match n.op {
        Op::Input(i) => b.inputs[i].clone(),
        Op::Target(i) => b.targets[i].clone(),
        Op::Param(i) => b.params[i].clone(),
        Op::Direction(i) => b.directions[i].clone(),
        Op::Constant(c) => Mat::scalar(c),
        Op::MatMul { lhs_t, rhs_t, alpha } => product(v(0), lhs_t, v(1), rhs_t)?.map(|x| alpha * x),
        Op::Affine { lhs_t, rhs_t } => product(v(0), lhs_t, v(1), rhs_t)?.plus_row(v(2))?,
        Op::AddBroadcast { .. } => {
            let (x, s) = (v(0), v(1));
            let (big, small) = (b.axes(n.shape), b.axes(graph.shape(n.inputs[1])));
            Mat::from_fn(x.rows, x.cols, |r, c| {
                x.at(r, c) + s.data[broadcast_source(&big, &small, r * x.cols + c)]
            })
        }
        Op::Add => v(0).zip(v(1), |a, b| a + b)?,
        Op::Sub => v(0).zip(v(1), |a, b| a - b)?,
        Op::Mul => v(0).zip(v(1), |a, b| a * b)?,
        Op::Div => v(0).zip(v(1), |a, b| a / b)?,
        Op::Scale(c) => v(0).map(|x| c * x),
        Op::Transpose => v(0).transposed(),
        Op::Reshape => v(0).clone(),
        Op::Act(act) => {
            if let Some(kink) = act.entry().kink {
                eval.sides.extend(v(0).data.iter().map(|&x| x > kink));
            }
            v(0).map(|x| act.value(x))
        }
        Op::Softmax => softmax(v(0)),
        Op::LogSoftmax => softmax(v(0)).map(f64::ln),
        Op::RowReduce(kind) => {
            let x = v(0);
            let rows: Vec<&[f64]> = x.data.chunks(x.cols).collect();
            if kind == RowReduction::Max {
                // The arg-max of each row is the side of its kink.
                for row in &rows {
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    eval.sides.extend(row.iter().map(|&v| v == max));
                }
            }
            Mat::from_fn(x.rows, 1, |r, _| match kind {
                RowReduction::Sum => rows[r].iter().sum(),
                RowReduction::Mean => rows[r].iter().sum::<f64>() / x.cols as f64,
                RowReduction::Max => rows[r].iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        }
        Op::Dropout { mask, .. } => v(0).zip(&b.masks[mask], |x, m| x * m)?,
        Op::Sum => Mat::scalar(v(0).sum()),
        Op::Mean => Mat::scalar(v(0).sum() / v(0).data.len() as f64),
        Op::Loss { kind, target } => {
            let t = target_of(b, target, v(0), n.inputs.get(1).map(|&t| &eval.values[t]))?;
            if kind.entry().kink {
                eval.sides.extend(v(0).data.iter().zip(&t.data).map(|(x, t)| x > t));
            }
            Mat::scalar(loss(kind, v(0), &t)?)
        }
        Op::AddN => {
            let mut sum = v(0).clone();
            for i in 1..n.inputs.len() {
                sum = sum.zip(v(i), |a, b| a + b)?;
            }
            sum
        }
        Op::ActGrad(act) => {
            // f′ from the saved value: which value that is (the table's `saved`) is tested by
            // differences, since f′ of the wrong value is a wrong number.
            v(0).zip(v(1), |s, g| g * act.derivative(s))?
        }
        Op::SoftmaxGrad => {
            let (p, g) = (v(0), v(1));
            let dot: Vec<f64> = (0..p.rows)
                .map(|r| (0..p.cols).map(|c| p.at(r, c) * g.at(r, c)).sum())
                .collect();
            Mat::from_fn(p.rows, p.cols, |r, c| p.at(r, c) * (g.at(r, c) - dot[r]))
        }
        Op::LogSoftmaxGrad => {
            let (y, g) = (v(0), v(1));
            let total: Vec<f64> = (0..g.rows).map(|r| (0..g.cols).map(|c| g.at(r, c)).sum()).collect();
            Mat::from_fn(y.rows, y.cols, |r, c| g.at(r, c) - y.at(r, c).exp() * total[r])
        }
        Op::RowReduceGrad(kind) => {
            let (rows, cols) = b.dims(n.shape);
            match kind {
                RowReduction::Sum => Mat::from_fn(rows, cols, |r, _| v(0).at(r, 0)),
                RowReduction::Mean => Mat::from_fn(rows, cols, |r, _| v(0).at(r, 0) / cols as f64),
                RowReduction::Max => {
                    let (x, y, g) = (v(0), v(1), v(2));
                    let first: Vec<usize> = (0..rows)
                        .map(|r| (0..cols).position(|c| x.at(r, c) == y.at(r, 0)).unwrap_or(cols))
                        .collect();
                    Mat::from_fn(rows, cols, |r, c| if c == first[r] { g.at(r, 0) } else { 0.0 })
                }
            }
        }
        Op::MaskMul { mask } => v(0).zip(&b.masks[mask], |g, m| g * m)?,
        Op::BroadcastSum { .. } => {
            let g = v(0);
            let (big, small) = (b.axes(graph.shape(n.inputs[0])), b.axes(n.shape));
            let (rows, cols) = b.dims(n.shape);
            let mut sums = vec![0.0; rows * cols];
            for (k, &x) in g.data.iter().enumerate() {
                sums[broadcast_source(&big, &small, k)] += x;
            }
            Mat::from_fn(rows, cols, |r, c| sums[r * cols + c])
        }
        Op::Fill { mean } => {
            let (rows, cols) = b.dims(n.shape);
            let s = v(0).at(0, 0);
            let s = if mean { s / (rows * cols) as f64 } else { s };
            Mat::from_fn(rows, cols, |_, _| s)
        }
        Op::LossGrad { kind, target } => {
            let t = target_of(b, target, v(0), n.inputs.get(2).map(|&t| &eval.values[t]))?;
            let s = v(1).at(0, 0);
            loss_gradient(kind, v(0), &t)?.map(|g| s * g)
        }
        Op::Conv(_)
        | Op::ConvInput(_)
        | Op::ConvKernel(_)
        | Op::MaxPool { .. }
        | Op::PoolScatter { .. }
        | Op::PoolGather { .. }
        | Op::WindowSum { .. }
        | Op::WindowSpread { .. } => spatial::node(graph, b, eval, id)?,
    })
}

fn target_of(b: &Bindings, target: TargetRef, x: &Mat, dense: Option<&Mat>) -> Result<Mat, String> {
    match target {
        TargetRef::Labels(i) => Ok(Mat::from_fn(x.rows, x.cols, |r, c| {
            f64::from(u8::from(b.labels[i][r] == c))
        })),
        TargetRef::Dense => dense
            .cloned()
            .ok_or_else(|| "a dense loss without its target".to_owned()),
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln(1 + eˣ)`, without overflow for large `x`.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Row-wise `softmax`, shifted by the row maximum.
fn softmax(z: &Mat) -> Mat {
    let mut p = z.clone();
    for r in 0..z.rows {
        let row = &mut p.data[r * z.cols..(r + 1) * z.cols];
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row.iter_mut().for_each(|v| *v = (*v - max).exp());
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
    p
}

/// The losses as `symgrad::Loss` defines them: classification losses average over the `B`
/// rows, regression losses over all `Bn` elements.
fn loss(kind: Loss, x: &Mat, t: &Mat) -> Result<f64, String> {
    let (b, bn) = (x.rows as f64, x.data.len() as f64);
    Ok(match kind {
        Loss::SoftmaxCrossEntropy => {
            let log_p = softmax(x).map(f64::ln);
            -t.zip(&log_p, |t, l| t * l)?.sum() / b
        }
        Loss::CrossEntropy => -t.zip(x, |t, p| t * p.ln())?.sum() / b,
        Loss::SquaredError => x.zip(t, |x, t| (x - t).powi(2))?.sum() / b,
        Loss::Mse => x.zip(t, |x, t| (x - t).powi(2))?.sum() / bn,
        Loss::Mae => x.zip(t, |x, t| (x - t).abs())?.sum() / bn,
        Loss::Bce => -x.zip(t, |p, t| t * p.ln() + (1.0 - t) * (1.0 - p).ln())?.sum() / bn,
        Loss::BceWithLogits => x.zip(t, |z, t| softplus(z) - t * z)?.sum() / bn,
    })
}

/// `∂loss/∂x`, each from differentiating the definition in `loss` by hand.
fn loss_gradient(kind: Loss, x: &Mat, t: &Mat) -> Result<Mat, String> {
    let (b, bn) = (x.rows as f64, x.data.len() as f64);
    match kind {
        Loss::SoftmaxCrossEntropy => {
            let p = softmax(x);
            let mass: Vec<f64> = (0..t.rows).map(|r| (0..t.cols).map(|c| t.at(r, c)).sum()).collect();
            Ok(Mat::from_fn(x.rows, x.cols, |r, c| {
                (p.at(r, c) * mass[r] - t.at(r, c)) / b
            }))
        }
        Loss::CrossEntropy => x.zip(t, |p, t| -t / (p * b)),
        Loss::SquaredError => x.zip(t, |x, t| 2.0 * (x - t) / b),
        Loss::Mse => x.zip(t, |x, t| 2.0 * (x - t) / bn),
        Loss::Mae => x.zip(t, |x, t| (x - t).signum() * f64::from(u8::from(x != t)) / bn),
        Loss::Bce => x.zip(t, |p, t| (p - t) / (p * (1.0 - p) * bn)),
        Loss::BceWithLogits => x.zip(t, |z, t| (sigmoid(z) - t) / bn),
    }
}

#[cfg(test)]
mod tests {
    use super::broadcast_source;
    use crate::ops::Shape;

    /// Every shape of up to `rank` axes of sizes in `sizes`.
    fn shapes(rank: usize, sizes: &[usize]) -> Vec<Vec<usize>> {
        let mut all = vec![vec![]];
        for _ in 0..rank {
            let longer: Vec<Vec<usize>> = all
                .iter()
                .filter(|s| s.len() < rank)
                .flat_map(|s| sizes.iter().map(move |&d| [s.clone(), vec![d]].concat()))
                .collect();
            all.extend(longer);
            all.sort();
            all.dedup();
        }
        all
    }

    /// Whether `small` broadcasts over `big` by numpy's rule (aligned from the right, equal or
    /// 1), with no axis of `small` beyond `big`'s but leading 1s.
    fn numpy_accepts(big: &[usize], small: &[usize]) -> bool {
        let skip = small.iter().take_while(|&&d| d == 1).count();
        let small = &small[skip..];
        small.len() <= big.len()
            && small
                .iter()
                .rev()
                .zip(big.iter().rev())
                .all(|(&s, &b)| s == 1 || s == b)
    }

    #[test]
    fn the_kernels_reading_of_a_broadcast_is_numpys() {
        // A batch of 5 (a size no fixed axis has, as the batch is unknown at compile time).
        let batch = 5;
        let mut accepted = 0;
        for big in shapes(3, &[1, 2, 3]).into_iter().filter(|b| !b.is_empty()) {
            for batched in [true, false] {
                let big_shape = if batched {
                    Shape::of_batch(&big)
                } else {
                    Shape::of(&big)
                }
                .unwrap();
                let axes: Vec<usize> = batched
                    .then_some(batch)
                    .into_iter()
                    .chain(big.iter().copied())
                    .collect();
                let len: usize = axes.iter().product();
                for small in shapes(4, &[1, 2, 3]).into_iter().filter(|s| !s.is_empty()) {
                    let mid: usize = small.iter().product();
                    // Numpy's answer, element by element; whether an `inner` reproduces it.
                    let numpy = numpy_accepts(&axes, &small);
                    let expressible =
                        |inner: usize| (0..len).all(|k| broadcast_source(&axes, &small, k) == (k / inner) % mid);
                    match Shape::of(&small).and_then(|s| big_shape.broadcast(s)) {
                        Some(inner) => {
                            assert!(numpy, "{small:?} over {axes:?} is no numpy broadcast");
                            assert!(expressible(inner), "{small:?} over {axes:?}: inner {inner} is wrong");
                            accepted += 1;
                        }
                        None => assert!(
                            !numpy || !(1..=len).any(expressible),
                            "{small:?} over {axes:?} is a broadcast the kernels could read, but is refused"
                        ),
                    }
                }
            }
        }
        assert!(accepted > 100, "only {accepted} broadcasts accepted");
    }
}
