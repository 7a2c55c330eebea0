//! The operations of the expression graph and their shapes. Activations, losses and
//! initialisers are the op table's (`symgrad_ops`), shared with the runtime.

use std::fmt;

pub use symgrad_ops::{Activation, Init, Loss, RowReduction, Saved};

/// How many rows a matrix has: the batch size (known at run time) or a fixed number.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Rows {
    Batch,
    Fixed(usize),
}

/// The shape of a value: a matrix, or a scalar (a loss).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Shape {
    Matrix(Rows, usize),
    Scalar,
}

impl Shape {
    pub fn batch(cols: usize) -> Shape {
        Shape::Matrix(Rows::Batch, cols)
    }

    pub fn fixed(rows: usize, cols: usize) -> Shape {
        Shape::Matrix(Rows::Fixed(rows), cols)
    }

    /// The shape of the transpose; `None` for batch matrices, whose rows must stay samples.
    pub fn transposed(self) -> Option<Shape> {
        match self {
            Shape::Matrix(Rows::Fixed(r), c) => Some(Shape::fixed(c, r)),
            Shape::Scalar => Some(Shape::Scalar),
            Shape::Matrix(Rows::Batch, _) => None,
        }
    }

    pub fn cols(self) -> Option<usize> {
        match self {
            Shape::Matrix(_, c) => Some(c),
            Shape::Scalar => None,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Matrix(Rows::Batch, c) => write!(f, "[batch, {c}]"),
            Shape::Matrix(Rows::Fixed(r), c) => write!(f, "[{r}, {c}]"),
            Shape::Scalar => write!(f, "a scalar"),
        }
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
    /// `X + 1b`: a row broadcast over the batch.
    AddRow,
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
    Act(Activation),
    Softmax,
    /// Row-wise `log_softmax`.
    LogSoftmax,
    /// Each row reduced to one value: `[r, n] → [r, 1]`.
    RowReduce(RowReduction),
    /// Inverted dropout with its own mask buffer.
    Dropout {
        p: f64,
        mask: usize,
    },
    Sum,
    Mean,
    Loss {
        kind: Loss,
        target: TargetRef,
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
    /// `[grad] ↦ 1ᵀ grad`: the column sums, a bias gradient.
    ColSum,
    /// `[s] ↦ s · 1` (or `s/N · 1` for a mean) in the node's shape.
    Fill {
        mean: bool,
    },
    /// `[x, s (, target)] ↦ s · ∂loss/∂x`.
    LossGrad {
        kind: Loss,
        target: TargetRef,
    },
}

impl Op {
    /// Leaves hold values given from outside: no kernel computes them.
    pub fn is_leaf(self) -> bool {
        matches!(self, Op::Input(_) | Op::Target(_) | Op::Param(_) | Op::Constant(_))
    }

    /// The input whose buffer the result may overwrite (elementwise ops of one shape).
    pub fn in_place_input(self) -> Option<usize> {
        match self {
            Op::AddRow
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Scale(_)
            | Op::Act(_)
            | Op::Dropout { .. }
            | Op::MaskMul { .. }
            | Op::AddN => Some(0),
            Op::ActGrad(_) => Some(1),
            _ => None,
        }
    }
}
