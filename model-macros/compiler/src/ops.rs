//! The operations of the expression graph and their shapes. Activations, losses and
//! initialisers are the op table's (`symgrad_ops`), shared with the runtime.

use std::fmt;

pub use symgrad_ops::{Activation, Init, Loss, Normaliser, RowReduction, Saved};

pub use crate::spatial::{Conv, Pool};

/// How many rows a value's matrix has: the batch size (known at run time) or a fixed number.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Rows {
    Batch,
    Fixed(usize),
}

/// The most axes a value has besides the batch.
pub const MAX_RANK: usize = 6;

/// The shape of a value: `[batch, d1, …, dk]` for a batch of samples (the batch size is
/// known at run time), `[d1, …, dk]` for a value fixed at compile time (a parameter and what
/// is computed from parameters alone), or `[]`, a scalar (a loss). `k ≤` [`MAX_RANK`].
///
/// Every value is stored row-major as the matrix [`Shape::matrix`] names: one row per sample
/// for a batch; the first axis as rows and the others as columns for a fixed value (a row for
/// `[n]`). Elementwise kernels see only that matrix, so they work at any rank.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Shape {
    batch: bool,
    rank: u8,
    dims: [usize; MAX_RANK],
}

impl Shape {
    /// A scalar, `[]`.
    pub const SCALAR: Shape = Shape {
        batch: false,
        rank: 0,
        dims: [0; MAX_RANK],
    };

    /// `[batch, d1, …, dk]`; `None` past [`MAX_RANK`] axes.
    pub fn of_batch(dims: &[usize]) -> Option<Shape> {
        Shape::new(true, dims)
    }

    /// `[d1, …, dk]`; `None` past [`MAX_RANK`] axes.
    pub fn of(dims: &[usize]) -> Option<Shape> {
        Shape::new(false, dims)
    }

    fn new(batch: bool, dims: &[usize]) -> Option<Shape> {
        let mut shape = Shape {
            batch,
            rank: u8::try_from(dims.len()).ok()?,
            dims: [0; MAX_RANK],
        };
        shape.dims.get_mut(..dims.len())?.copy_from_slice(dims);
        Some(shape)
    }

    /// `[batch, n]`: a batch of vectors.
    pub fn batch(n: usize) -> Shape {
        Shape::new(true, &[n]).expect("one axis")
    }

    /// `[rows, cols]`.
    pub fn fixed(rows: usize, cols: usize) -> Shape {
        Shape::new(false, &[rows, cols]).expect("two axes")
    }

    /// The axes after the batch.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..usize::from(self.rank)]
    }

    /// Whether the value holds one slice per sample of the batch.
    pub fn is_batch(self) -> bool {
        self.batch
    }

    /// Whether the value is a batch of vectors, `[batch, n]`: what row-wise ops, products
    /// and class losses take.
    pub fn is_batch_of_vectors(self) -> bool {
        self.batch && self.rank == 1
    }

    /// Whether the value is a matrix fixed at compile time (or a row `[n]`): what the right
    /// side of a product takes.
    pub fn is_fixed_matrix(self) -> bool {
        !self.batch && (1..=2).contains(&self.rank)
    }

    /// How many elements one sample (or the whole value, if fixed) has; `usize::MAX` if that
    /// overflows (lowering refuses values that large).
    pub fn size(self) -> usize {
        product(self.dims())
    }

    /// The matrix the value is stored as: `[batch, d1⋯dk]`, `[d1, d2⋯dk]`, `[1, n]` for a row
    /// `[n]`, `[1, 1]` for a scalar.
    pub fn matrix(self) -> (Rows, usize) {
        match (self.batch, self.dims()) {
            (true, dims) => (Rows::Batch, product(dims)),
            (false, []) => (Rows::Fixed(1), 1),
            (false, [n]) => (Rows::Fixed(1), *n),
            (false, [rows, rest @ ..]) => (Rows::Fixed(*rows), product(rest)),
        }
    }

    /// The shape with its last axis replaced by `n` (a product's or a row reduction's result).
    pub fn with_last(self, n: usize) -> Shape {
        let mut shape = self;
        if let Some(last) = shape.dims.get_mut(usize::from(self.rank).wrapping_sub(1)) {
            *last = n;
        }
        shape
    }

    /// The shape of the transpose of a fixed matrix, `None` for anything else (a batch's rows
    /// must stay samples).
    pub fn transposed(self) -> Option<Shape> {
        match (self.batch, self.dims()) {
            (false, []) => Some(self),
            (false, [r, c]) => Some(Shape::fixed(*c, *r)),
            (false, [n]) => Some(Shape::fixed(*n, 1)),
            _ => None,
        }
    }

    /// The last axis, `None` for a scalar.
    pub fn last(self) -> Option<usize> {
        self.dims().last().copied()
    }

    /// How `small` broadcasts over `self` by numpy's rule, as the factor `inner` of the
    /// layout it implies; `None` if it does not.
    ///
    /// The rule: align `small`'s axes with the last axes of `self` (the batch axis counted
    /// first); each of `small`'s sizes is either the aligned size or 1, and `small` repeats
    /// along the axes where it is 1 or missing. A row `[n]` over `[batch, n]`, a per-channel
    /// vector `[c, 1, 1]` over `[batch, c, h, w]`, a plane `[h, w]` over it. `small` is fixed
    /// (no batch axis), and the axes it is repeated along must not fall between two it is
    /// not (axes of size 1 count as either), so that `self` reads as `[outer, mid, inner]`
    /// (row-major) with `small` the `mid`, repeated over `outer` and `inner`.
    pub fn broadcast(self, small: Shape) -> Option<usize> {
        if small.batch {
            return None;
        }
        // Axes of `self`, the batch axis as size 0 (no fixed size equals it).
        let axes: Vec<usize> = self
            .batch
            .then_some(0)
            .into_iter()
            .chain(self.dims().iter().copied())
            .collect();
        let theirs = small.dims();
        let skip = theirs.iter().take_while(|&&d| d == 1).count();
        let theirs = &theirs[skip..];
        let offset = axes.len().checked_sub(theirs.len())?;
        // Each axis of `self`: whether `small` is repeated along it, or `None` for size 1.
        let mut repeated = Vec::with_capacity(axes.len());
        for (axis, &n) in axes.iter().enumerate() {
            let d = axis.checked_sub(offset).map_or(1, |i| theirs[i]);
            repeated.push(match (n, d) {
                (1, 1) => None,
                _ if d == n => Some(false),
                (_, 1) => Some(true),
                _ => return None,
            });
        }
        let first = repeated.iter().position(|&r| r == Some(false));
        let last = repeated.iter().rposition(|&r| r == Some(false));
        let Some((first, last)) = first.zip(last) else {
            return Some(1);
        };
        if repeated[first..=last].contains(&Some(true)) {
            return None;
        }
        Some(product(&axes[last + 1..]))
    }
}

/// The product of `sizes`, saturating at `usize::MAX`: sizes come from definitions, and a
/// definition must never make the compiler overflow.
pub fn product(sizes: &[usize]) -> usize {
    sizes.iter().fold(1, |p, &d| p.saturating_mul(d))
}

/// The most elements one sample of a value, or a parameter, may have: fewer than 2³², 16 GiB
/// in `f32`. Larger sizes are refused at their token rather than failing to allocate at run
/// time.
pub const MAX_ELEMENTS: usize = u32::MAX as usize;

/// [`MAX_ELEMENTS`] in words, for error messages.
pub const MAX_ELEMENTS_WORDS: &str = "fewer than 2³² (4,294,967,296) elements";

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.batch && self.rank == 0 {
            return write!(f, "a scalar");
        }
        let dims = self.dims().iter().map(usize::to_string);
        let axes: Vec<String> = self.batch.then(|| "batch".to_owned()).into_iter().chain(dims).collect();
        write!(f, "[{}]", axes.join(", "))
    }
}

/// What a loss compares against.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TargetRef {
    /// The class-label target with this index among the definition's targets.
    Labels(usize),
    /// A dense value: the loss node's second input.
    Dense,
}

/// A node's operation. Leaves first, then forward operations, then the operations only the
/// backward pass creates.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Op {
    /// Input matrix number `i` (no gradient).
    Input(usize),
    /// Dense target number `i` (no gradient).
    Target(usize),
    /// Parameter number `i`.
    Param(usize),
    /// A scalar constant.
    Constant(f64),
    /// Parameter `i`'s part of the direction `v` of a Hessian-vector product (no gradient).
    Direction(usize),

    /// `α · op(A) · op(B)`, `op` a transpose where the flag is set (a stride swap at run time),
    /// `α` the gemm's own factor (a scaled operand folded in).
    MatMul {
        lhs_t: bool,
        rhs_t: bool,
        alpha: f64,
    },
    /// `op(X) · op(W) + 1b`: a matmul with its bias add fused (the bias is written first and
    /// the gemm accumulates onto it).
    Affine {
        lhs_t: bool,
        rhs_t: bool,
    },
    /// `[x, b] ↦ x + b`, `b` broadcast over `x` (see [`Shape::broadcast`]): `x` read as
    /// `[outer, mid, inner]` and `b` as `[mid]`; a row over a batch is `inner = 1`.
    AddBroadcast {
        inner: usize,
    },
    Add,
    Sub,
    /// Elementwise product.
    Mul,
    /// Elementwise quotient.
    Div,
    /// Multiplication by a constant.
    Scale(f64),
    /// `Xᵀ`, materialised (a transpose feeding a matmul becomes a flag instead).
    Transpose,
    /// The same values of each sample under another shape of as many elements (`flatten`,
    /// `reshape`): stored alike, so nothing to compute in place, a copy otherwise.
    Reshape,
    Act(Activation),
    Softmax,
    /// Row-wise `log_softmax`.
    LogSoftmax,
    /// Each row reduced to one value: `[r, n] → [r, 1]`.
    RowReduce(RowReduction),
    /// Inverted dropout with its own mask buffer, one draw per run of `block` consecutive
    /// values of a sample (1; a map's `h·w` to drop whole channels).
    Dropout {
        p: f64,
        mask: usize,
        block: usize,
    },
    Sum,
    Mean,
    Loss {
        kind: Loss,
        target: TargetRef,
    },
    /// `[x, k] ↦ k ⋆ x`: the convolution of a batch of maps with the kernel `k: [o, c, kh, kw]`.
    Conv(Conv),
    /// Each window's largest value; where it was goes into arg-max buffer `argmax`.
    MaxPool {
        pool: Pool,
        argmax: usize,
    },
    /// `[x] ↦ scale · Σ_window x`: average pooling with `scale = 1/(kh·kw)`.
    WindowSum {
        pool: Pool,
        scale: f64,
    },
    /// `[x] ↦ scale · Σ_{windows ∋ pixel} x`, from the pooled maps back to the maps: the
    /// adjoint of [`Op::WindowSum`], and nearest-neighbour upsampling with windows `s × s`
    /// at stride `s` and `scale = 1`.
    WindowSpread {
        pool: Pool,
        scale: f64,
    },

    /// `Σᵢ inputᵢ`: a node's adjoint collected from all its users.
    AddN,
    /// `[saved, grad] ↦ grad ⊙ f′(saved)`.
    ActGrad(Activation),
    /// `[p, grad] ↦ p ⊙ (grad − rowsum(p ⊙ grad))`.
    SoftmaxGrad,
    /// `[y, grad] ↦ grad − e^y ⊙ rowsum(grad)`: log-softmax backward, `y` its output.
    LogSoftmaxGrad,
    /// `[grad] ↦ grad 1ᵀ` (sum; `/n` for the mean), or for the max `[x, y, grad] ↦` `grad` at
    /// each row's first arg-max.
    RowReduceGrad(RowReduction),
    /// `[grad] ↦ grad ⊙ mask`.
    MaskMul {
        mask: usize,
    },
    /// `[grad] ↦ Σ_{outer, inner} grad`: `grad` read as `[outer, mid, inner]` and summed to
    /// `[mid]`, the gradient of a broadcast operand (column sums for a bias row).
    BroadcastSum {
        inner: usize,
    },
    /// `[s] ↦ s · 1` (or `s/N · 1` for a mean) in the node's shape.
    Fill {
        mean: bool,
    },
    /// `[x, s (, target)] ↦ s · ∂loss/∂x`.
    LossGrad {
        kind: Loss,
        target: TargetRef,
    },
    /// `[ȳ, k] ↦ kᵀ ⋆ ȳ`: a convolution's input adjoint (the transposed convolution), each
    /// pixel gathering every output that read it times the tap that read it.
    ConvInput(Conv),
    /// `[x, ȳ] ↦ Σ_samples ȳ ⋆ x`: a convolution's kernel adjoint, `[o, c, kh, kw]`.
    ConvKernel(Conv),
    /// `[ȳ] ↦ x̄`, each output's adjoint added at the pixel its window took (arg-max buffer
    /// `argmax`), zero elsewhere.
    PoolScatter {
        pool: Pool,
        argmax: usize,
    },
    /// `[x̄] ↦ ȳ`, each window's value read at the pixel it took: the adjoint of
    /// [`Op::PoolScatter`].
    PoolGather {
        pool: Pool,
        argmax: usize,
    },
}

impl Op {
    /// Leaves hold values given from outside: no kernel computes them.
    pub fn is_leaf(self) -> bool {
        matches!(
            self,
            Op::Input(_) | Op::Target(_) | Op::Param(_) | Op::Constant(_) | Op::Direction(_)
        )
    }

    /// The input whose buffer the result may overwrite (elementwise ops of one shape).
    pub fn in_place_input(self) -> Option<usize> {
        match self {
            Op::AddBroadcast { .. }
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Scale(_)
            | Op::Reshape
            | Op::Act(_)
            | Op::Dropout { .. }
            | Op::MaskMul { .. }
            | Op::AddN => Some(0),
            Op::ActGrad(_) => Some(1),
            _ => None,
        }
    }
}
