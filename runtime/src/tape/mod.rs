//! A tape-based reverse-mode engine: the baseline generated code is measured against, and an
//! oracle independent of the `network!` macro.
//!
//! Every operation appends a node (its op, its value, whether it depends on a tracked leaf) to
//! an arena. Nodes are appended after their inputs, so the arena is already in topological
//! order and [`Tape::backward`] is a single reverse loop. Adjoints are accumulated with `+=`,
//! so a value used several times (fan-out) or a weight used in several places just works.

mod backward;

use ndarray::{Array2, ArrayView2};
use rand::Rng;

use crate::error::{Error, Result};
use crate::gemm::gemm;
use crate::kernels::{self, Activation, Binary, Conv2d, Loss, LossKernel, Pool2d, RowReduction, Target};
use crate::model::Model;
use crate::scalar::Scalar;

/// A model with a tape twin: the same definition recorded on the runtime's tape.
pub trait TapeTwin<T: Scalar>: Model<T> {
    /// The same loss and gradient computed by recording the network on the runtime's tape: an
    /// oracle independent of the compiled backward pass, and the baseline it is measured against.
    fn tape_loss_and_grad<R: Rng + ?Sized>(
        &self,
        tape: &mut Tape<T>,
        batch: &Self::Batch<'_>,
        rng: &mut R,
        grads: &mut Self,
    ) -> Result<T>;
}

pub use backward::Gradients;

/// A value recorded on a [`Tape`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(usize);

impl Var {
    /// The node's position on the tape.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What a loss node compares against: labels are kept on the op, dense targets are leaves.
#[derive(Clone, Debug)]
enum TargetRef {
    Labels(Vec<usize>),
    Dense(Var),
}

/// The operation that produced a node. Backward rules for every op are in `backward.rs`.
#[derive(Clone, Debug)]
enum Op {
    Leaf,
    MatMul(Var, Var),
    /// `x + b`, `b` broadcast with this `inner` factor (see [`kernels::add_broadcast`]).
    AddBroadcast(Var, Var, usize),
    Binary(Binary, Var, Var),
    Scale(f64, Var),
    Transpose(Var),
    Activation(Activation, Var),
    Softmax(Var),
    LogSoftmax(Var),
    RowReduce(RowReduction, Var),
    Loss(Loss, Var, TargetRef),
    Sum(Var),
    Mean(Var),
    /// `k ⋆ x`, the kernel `k` read as `[o, c·kh·kw]`.
    Conv2d(Conv2d, Var, Var),
    /// Max pooling, with the arg-max of each window.
    MaxPool(Pool2d, Var, Vec<usize>),
    /// `scale ·` each window's sum.
    WindowSum(Pool2d, f64, Var),
    /// `scale ·` the sum of the windows each pixel is in (the adjoint of a window sum).
    WindowSpread(Pool2d, f64, Var),
}

#[derive(Clone, Debug)]
struct Node<T> {
    op: Op,
    value: Array2<T>,
    tracked: bool,
}

/// The arena of recorded nodes.
///
/// Record a computation, then [`Tape::backward`] from its scalar result:
///
/// ```
/// use symgrad_runtime::ndarray::array;
/// use symgrad_runtime::{Activation, Loss, Tape};
///
/// // L = mse(tanh(x·w), t) for one sample of two features.
/// let mut tape = Tape::<f64>::new();
/// let x = tape.input(array![[1.0, 2.0]]);
/// let w = tape.param(array![[0.5], [-0.25]]);
/// let t = tape.input(array![[0.5]]);
/// let z = tape.matmul(x, w)?; // 1·0.5 + 2·(−0.25) = 0
/// let y = tape.activation(Activation::Tanh, z); // tanh 0 = 0
/// let loss = tape.loss_dense(Loss::Mse, y, t)?; // (0 − 0.5)² = 0.25
/// assert_eq!(tape.scalar(loss), 0.25);
///
/// // ∂L/∂w = xᵀ · (2(y − t) ⊙ tanh′(z)) = xᵀ · (−1 · 1) = −xᵀ.
/// let grads = tape.backward(loss)?;
/// assert_eq!(grads.get(w).unwrap(), array![[-1.0], [-2.0]]);
/// assert!(grads.get(x).is_none()); // an input is not tracked
/// # Ok::<(), symgrad_runtime::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tape<T> {
    nodes: Vec<Node<T>>,
}

impl<T: Scalar> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape { nodes: Vec::new() }
    }

    /// Forgets every node, keeping the arena's capacity for the next step.
    pub fn clear(&mut self) {
        self.nodes.clear();
    }

    /// How many nodes are recorded.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The value of a node (a loss or sum is `1×1`).
    pub fn value(&self, var: Var) -> ArrayView2<'_, T> {
        self.nodes[var.0].value.view()
    }

    /// The value of a `1×1` node.
    pub fn scalar(&self, var: Var) -> T {
        self.nodes[var.0].value[(0, 0)]
    }

    /// A parameter: a leaf whose gradient backward computes.
    pub fn param(&mut self, value: Array2<T>) -> Var {
        self.push(Op::Leaf, value, true)
    }

    /// An input or target: a leaf that receives no gradient.
    pub fn input(&mut self, value: Array2<T>) -> Var {
        self.push(Op::Leaf, value, false)
    }

    /// `lhs · rhs`.
    pub fn matmul(&mut self, lhs: Var, rhs: Var) -> Result<Var> {
        let (a, b) = (self.value(lhs), self.value(rhs));
        let mut out = Array2::zeros((a.nrows(), b.ncols()));
        gemm(T::ONE, a, b, T::ZERO, out.view_mut())?;
        Ok(self.push_from(Op::MatMul(lhs, rhs), out, &[lhs, rhs]))
    }

    /// `x + b`, the `1×n` row `b` broadcast over the rows of `x`.
    pub fn add_row(&mut self, x: Var, row: Var) -> Result<Var> {
        self.add_broadcast(x, row, 1)
    }

    /// `x + b`, `b` broadcast over `x` read as `[outer, mid, inner]` (see
    /// [`kernels::add_broadcast`]): a per-channel vector over a batch of images, say.
    pub fn add_broadcast(&mut self, x: Var, b: Var, inner: usize) -> Result<Var> {
        let mut out = self.nodes[x.0].value.clone();
        kernels::add_broadcast(out.view_mut(), self.value(b), inner)?;
        Ok(self.push_from(Op::AddBroadcast(x, b, inner), out, &[x, b]))
    }

    /// `lhs ∘ rhs` elementwise.
    pub fn binary(&mut self, op: Binary, lhs: Var, rhs: Var) -> Result<Var> {
        let mut out = Array2::zeros(self.nodes[lhs.0].value.raw_dim());
        op.apply(self.value(lhs), self.value(rhs), out.view_mut())?;
        Ok(self.push_from(Op::Binary(op, lhs, rhs), out, &[lhs, rhs]))
    }

    /// `lhs + rhs`.
    pub fn add(&mut self, lhs: Var, rhs: Var) -> Result<Var> {
        self.binary(Binary::Add, lhs, rhs)
    }

    /// `lhs − rhs`.
    pub fn sub(&mut self, lhs: Var, rhs: Var) -> Result<Var> {
        self.binary(Binary::Sub, lhs, rhs)
    }

    /// `lhs ⊙ rhs`.
    pub fn mul(&mut self, lhs: Var, rhs: Var) -> Result<Var> {
        self.binary(Binary::Mul, lhs, rhs)
    }

    /// `lhs ⊘ rhs`.
    pub fn div(&mut self, lhs: Var, rhs: Var) -> Result<Var> {
        self.binary(Binary::Div, lhs, rhs)
    }

    /// `α · x`.
    pub fn scale(&mut self, alpha: f64, x: Var) -> Var {
        let alpha_t = T::from_f64(alpha);
        let out = self.nodes[x.0].value.mapv(|v| alpha_t * v);
        self.push_from(Op::Scale(alpha, x), out, &[x])
    }

    /// `xᵀ` (the node owns its data, laid out as the transposed strides of a copy).
    pub fn transpose(&mut self, x: Var) -> Var {
        let out = self.nodes[x.0].value.clone().reversed_axes();
        self.push_from(Op::Transpose(x), out, &[x])
    }

    /// `f(x)` elementwise.
    pub fn activation(&mut self, f: Activation, x: Var) -> Var {
        let out = self.nodes[x.0].value.mapv(|v| f.value(v));
        self.push_from(Op::Activation(f, x), out, &[x])
    }

    /// Row-wise softmax.
    pub fn softmax(&mut self, x: Var) -> Var {
        let mut out = Array2::zeros(self.nodes[x.0].value.raw_dim());
        kernels::softmax(self.value(x), out.view_mut()).expect("output has the input's shape");
        self.push_from(Op::Softmax(x), out, &[x])
    }

    /// Row-wise log-softmax.
    pub fn log_softmax(&mut self, x: Var) -> Var {
        let mut out = Array2::zeros(self.nodes[x.0].value.raw_dim());
        kernels::log_softmax(self.value(x), out.view_mut()).expect("output has the input's shape");
        self.push_from(Op::LogSoftmax(x), out, &[x])
    }

    /// Each row reduced to one value: a `rows × 1` node.
    pub fn row_reduce(&mut self, kind: RowReduction, x: Var) -> Var {
        let mut out = Array2::zeros((self.nodes[x.0].value.nrows(), 1));
        kernels::row_reduce(kind, self.value(x), out.view_mut()).expect("output has one value per row");
        self.push_from(Op::RowReduce(kind, x), out, &[x])
    }

    /// A loss against class labels, as a `1×1` node.
    pub fn loss_labels(&mut self, loss: Loss, input: Var, labels: &[usize]) -> Result<Var> {
        let value = loss.value(self.value(input), Target::Labels(labels))?;
        let target = TargetRef::Labels(labels.to_vec());
        Ok(self.push_from(
            Op::Loss(loss, input, target),
            Array2::from_elem((1, 1), value),
            &[input],
        ))
    }

    /// A loss against a dense target (which receives no gradient).
    pub fn loss_dense(&mut self, loss: Loss, input: Var, target: Var) -> Result<Var> {
        let value = loss.value(self.value(input), Target::Dense(self.value(target)))?;
        let target = TargetRef::Dense(target);
        Ok(self.push_from(
            Op::Loss(loss, input, target),
            Array2::from_elem((1, 1), value),
            &[input],
        ))
    }

    /// `Σ x` as a `1×1` node.
    pub fn sum(&mut self, x: Var) -> Var {
        let total = self.nodes[x.0].value.sum();
        self.push_from(Op::Sum(x), Array2::from_elem((1, 1), total), &[x])
    }

    /// `(1/N) Σ x` as a `1×1` node.
    pub fn mean(&mut self, x: Var) -> Result<Var> {
        let value = &self.nodes[x.0].value;
        if value.is_empty() {
            return Err(Error::Empty {
                op: "mean",
                what: "input",
            });
        }
        let mean = value.sum() / T::from_usize(value.len());
        Ok(self.push_from(Op::Mean(x), Array2::from_elem((1, 1), mean), &[x]))
    }

    /// Inverted dropout with drop probability `p`: `x ⊙ m`, the mask `m` (0 or `1/(1 − p)`,
    /// one draw for each run of `block` consecutive values: 1, or a map's `h·w` to drop whole
    /// channels) drawn from `rng` and recorded as an untracked leaf.
    pub fn dropout<R: Rng + ?Sized>(&mut self, x: Var, p: f64, block: usize, rng: &mut R) -> Result<Var> {
        let mut mask = Array2::zeros(self.nodes[x.0].value.raw_dim());
        kernels::dropout_mask(rng, p, block, mask.view_mut())?;
        let mask = self.input(mask);
        self.mul(x, mask)
    }

    /// The convolution `k ⋆ x` of a batch of maps `x: [batch, c·h·w]` with the kernel
    /// `k: [o, c·kh·kw]` (see [`Conv2d`]).
    pub fn conv2d(&mut self, geometry: Conv2d, x: Var, k: Var) -> Result<Var> {
        let mut out = Array2::zeros((self.value(x).nrows(), geometry.output_features()));
        let mut cols = vec![T::ZERO; geometry.columns_len()];
        geometry.forward(self.value(x), self.value(k), out.view_mut(), &mut cols)?;
        Ok(self.push_from(Op::Conv2d(geometry, x, k), out, &[x, k]))
    }

    /// Each window's largest value (see [`Pool2d::max_forward`]).
    pub fn max_pool2d(&mut self, geometry: Pool2d, x: Var) -> Result<Var> {
        let mut out = Array2::zeros((self.value(x).nrows(), geometry.output_features()));
        let mut argmax = vec![0; out.len()];
        geometry.max_forward(self.value(x), out.view_mut(), &mut argmax)?;
        Ok(self.push_from(Op::MaxPool(geometry, x, argmax), out, &[x]))
    }

    /// `scale ·` each window's sum: average pooling with `scale = 1/(kh·kw)`.
    pub fn window_sum(&mut self, geometry: Pool2d, scale: f64, x: Var) -> Result<Var> {
        let mut out = Array2::zeros((self.value(x).nrows(), geometry.output_features()));
        geometry.window_sum(T::from_f64(scale), self.value(x), out.view_mut())?;
        Ok(self.push_from(Op::WindowSum(geometry, scale, x), out, &[x]))
    }

    /// `scale ·` the sum of the windows each pixel is in: nearest-neighbour upsampling with
    /// windows `s × s` at stride `s` and `scale = 1`.
    pub fn window_spread(&mut self, geometry: Pool2d, scale: f64, x: Var) -> Result<Var> {
        let mut out = Array2::zeros((self.value(x).nrows(), geometry.input_features()));
        geometry.window_spread(T::from_f64(scale), self.value(x), out.view_mut())?;
        Ok(self.push_from(Op::WindowSpread(geometry, scale, x), out, &[x]))
    }

    fn push_from(&mut self, op: Op, value: Array2<T>, inputs: &[Var]) -> Var {
        let tracked = inputs.iter().any(|v| self.nodes[v.0].tracked);
        self.push(op, value, tracked)
    }

    fn push(&mut self, op: Op, value: Array2<T>, tracked: bool) -> Var {
        self.nodes.push(Node { op, value, tracked });
        Var(self.nodes.len() - 1)
    }
}
