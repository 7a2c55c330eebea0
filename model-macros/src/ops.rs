//! The operations of the expression graph, their shapes, and the activations and losses they
//! name in the runtime.

use std::fmt;

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

/// An elementwise activation, mirroring `symgrad::Activation`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Act {
    Relu,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
    Softplus,
    Exp,
    Log,
    Square,
    Abs,
}

/// Which saved value an activation's derivative reads (as in the runtime).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Saved {
    Input,
    Output,
}

impl Act {
    pub const NAMES: [&'static str; 9] = [
        "relu",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "softplus",
        "exp",
        "log",
        "square",
        "abs",
    ];

    /// The activation called `name`; `leaky_relu` takes its slope separately.
    pub fn from_name(name: &str, slope: f64) -> Option<Act> {
        Some(match name {
            "relu" => Act::Relu,
            "leaky_relu" => Act::LeakyRelu(slope),
            "sigmoid" => Act::Sigmoid,
            "tanh" => Act::Tanh,
            "softplus" => Act::Softplus,
            "exp" => Act::Exp,
            "log" => Act::Log,
            "square" => Act::Square,
            "abs" => Act::Abs,
            _ => return None,
        })
    }

    /// The runtime reads `f′` from the output where that is cheaper: `σ′ = y(1 − y)`,
    /// `tanh′ = 1 − y²`, `relu′ = [y > 0]`, `exp′ = y`, `softplus′ = 1 − e^{−y}`.
    pub fn saved(self) -> Saved {
        match self {
            Act::Log | Act::Square | Act::Abs => Saved::Input,
            _ => Saved::Output,
        }
    }

    /// `f′` in LaTeX, in terms of the input `x` or output `y` it reads.
    pub fn derivative_latex(self, x: &str, y: &str) -> String {
        match self {
            Act::Relu => format!("\\mathbb{{1}}[{y} > 0]"),
            Act::LeakyRelu(a) => format!("(\\mathbb{{1}}[{y} > 0] + {a}\\,\\mathbb{{1}}[{y} \\le 0])"),
            Act::Sigmoid => format!("{y} \\odot (1 - {y})"),
            Act::Tanh => format!("(1 - {y}^{{\\odot 2}})"),
            Act::Softplus => format!("(1 - e^{{-{y}}})"),
            Act::Exp => y.to_owned(),
            Act::Log => format!("{x}^{{\\odot -1}}"),
            Act::Square => format!("2{x}"),
            Act::Abs => format!("\\operatorname{{sign}}({x})"),
        }
    }
}

/// A loss, mirroring `symgrad::Loss`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LossKind {
    SoftmaxCrossEntropy,
    CrossEntropy,
    SquaredError,
    Mse,
    Mae,
    Bce,
    BceWithLogits,
}

impl LossKind {
    pub const NAMES: [&'static str; 7] = [
        "softmax_cross_entropy",
        "cross_entropy",
        "squared_error",
        "mse",
        "mae",
        "bce",
        "bce_with_logits",
    ];

    pub fn from_name(name: &str) -> Option<LossKind> {
        Some(match name {
            "softmax_cross_entropy" => LossKind::SoftmaxCrossEntropy,
            "cross_entropy" => LossKind::CrossEntropy,
            "squared_error" => LossKind::SquaredError,
            "mse" => LossKind::Mse,
            "mae" => LossKind::Mae,
            "bce" => LossKind::Bce,
            "bce_with_logits" => LossKind::BceWithLogits,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LossKind::SoftmaxCrossEntropy => "softmax_cross_entropy",
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::SquaredError => "squared_error",
            LossKind::Mse => "mse",
            LossKind::Mae => "mae",
            LossKind::Bce => "bce",
            LossKind::BceWithLogits => "bce_with_logits",
        }
    }

    /// The runtime variant's name.
    pub fn variant(self) -> &'static str {
        match self {
            LossKind::SoftmaxCrossEntropy => "SoftmaxCrossEntropy",
            LossKind::CrossEntropy => "CrossEntropy",
            LossKind::SquaredError => "SquaredError",
            LossKind::Mse => "Mse",
            LossKind::Mae => "Mae",
            LossKind::Bce => "Bce",
            LossKind::BceWithLogits => "BceWithLogits",
        }
    }

    /// `∂L/∂X` in LaTeX, for input `x`, target `t` and `B` rows of `n` columns.
    pub fn gradient_latex(self, x: &str, t: &str) -> String {
        match self {
            LossKind::SoftmaxCrossEntropy => format!("\\frac{{1}}{{B}}(\\operatorname{{softmax}}({x}) - {t})"),
            LossKind::CrossEntropy => format!("-\\frac{{1}}{{B}}\\,{t} \\oslash {x}"),
            LossKind::SquaredError => format!("\\frac{{2}}{{B}}({x} - {t})"),
            LossKind::Mse => format!("\\frac{{2}}{{Bn}}({x} - {t})"),
            LossKind::Mae => format!("\\frac{{1}}{{Bn}}\\operatorname{{sign}}({x} - {t})"),
            LossKind::Bce => format!("\\frac{{1}}{{Bn}}({x} - {t}) \\oslash ({x} \\odot (1 - {x}))"),
            LossKind::BceWithLogits => format!("\\frac{{1}}{{Bn}}(\\sigma({x}) - {t})"),
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

    /// `op(A) · op(B)`, `op` a transpose where the flag is set (a stride swap at run time).
    MatMul {
        lhs_t: bool,
        rhs_t: bool,
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
    /// Multiplication by a constant.
    Scale(f64),
    /// `Xᵀ`, materialised (a transpose feeding a matmul becomes a flag instead).
    Transpose,
    Act(Act),
    Softmax,
    /// Inverted dropout with its own mask buffer.
    Dropout {
        p: f64,
        mask: usize,
    },
    Sum,
    Mean,
    Loss {
        kind: LossKind,
        target: TargetRef,
    },

    /// `Σᵢ inputᵢ`: a node's adjoint collected from all its users.
    AddN,
    /// `[saved, grad] ↦ grad ⊙ f′(saved)`.
    ActGrad(Act),
    /// `[p, grad] ↦ p ⊙ (grad − rowsum(p ⊙ grad))`.
    SoftmaxGrad,
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
        kind: LossKind,
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
