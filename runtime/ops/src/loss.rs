//! Losses: the table. The kernels (`value`, `gradient` on matrices) are the runtime's.
//!
//! Classification losses sum over the classes of a row and average over the `B` rows of the
//! batch; regression losses average over all `B·n` elements. A target is either a class label
//! per row (a one-hot row `t`) or a dense matrix of the input's shape.

/// A scalar loss of an input matrix and a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// On logits `z`: `(1/B) Σ_b [Σⱼ tⱼ · lse(z_b) − Σⱼ tⱼ z_bⱼ]`, computed stably;
    /// gradient `(p Σⱼ tⱼ − t)/B` with `p = softmax(z)`, i.e. `(p − t)/B` for one-hot `t`.
    SoftmaxCrossEntropy,
    /// On probabilities `p`: `−(1/B) Σ tⱼ ln pⱼ`; gradient `−t/(p B)`.
    CrossEntropy,
    /// On probabilities `p` (the "LSE" loss): `(1/B) Σ (pⱼ − tⱼ)²`; gradient `2(p − t)/B`.
    SquaredError,
    /// Mean squared error `(1/Bn) Σ (x − t)²`; gradient `2(x − t)/(Bn)`.
    Mse,
    /// Mean absolute error `(1/Bn) Σ |x − t|`; gradient `sign(x − t)/(Bn)` (0 at the kink).
    Mae,
    /// Binary cross-entropy on probabilities `p`: `−(1/Bn) Σ [t ln p + (1 − t) ln(1 − p)]`;
    /// gradient `(p − t)/(p(1 − p) Bn)`.
    Bce,
    /// Binary cross-entropy on logits `z` with `p = σ(z)`: `(1/Bn) Σ [softplus(z) − t z]`,
    /// finite for any finite `z`; gradient `(σ(z) − t)/(Bn)`.
    BceWithLogits,
}

/// What a loss is averaged over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normaliser {
    /// The `B` rows: classification losses.
    Rows,
    /// All `B·n` elements: regression losses.
    Elements,
}

/// What the table says of one loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossEntry {
    /// The name in a network definition.
    pub name: &'static str,
    /// What the summed loss is divided by.
    pub normaliser: Normaliser,
    /// Whether the gradient jumps where `x = t` (gradient checks treat those points as kinks).
    pub kink: bool,
    /// `∂L/∂x` in LaTeX; `#x` stands for the input and `#t` for the target.
    pub gradient_latex: &'static str,
}

impl Loss {
    /// Every loss, for name lists and exhaustive tests.
    pub const ALL: [Loss; 7] = [
        Loss::SoftmaxCrossEntropy,
        Loss::CrossEntropy,
        Loss::SquaredError,
        Loss::Mse,
        Loss::Mae,
        Loss::Bce,
        Loss::BceWithLogits,
    ];

    /// The table entry.
    pub fn entry(self) -> LossEntry {
        let entry = |name, normaliser, gradient_latex| LossEntry {
            name,
            normaliser,
            kink: false,
            gradient_latex,
        };
        match self {
            Loss::SoftmaxCrossEntropy => entry(
                "softmax_cross_entropy",
                Normaliser::Rows,
                "\\frac{1}{B}(\\operatorname{softmax}(#x) - #t)",
            ),
            Loss::CrossEntropy => entry("cross_entropy", Normaliser::Rows, "-\\frac{1}{B}\\,#t \\oslash #x"),
            Loss::SquaredError => entry("squared_error", Normaliser::Rows, "\\frac{2}{B}(#x - #t)"),
            Loss::Mse => entry("mse", Normaliser::Elements, "\\frac{2}{Bn}(#x - #t)"),
            Loss::Mae => LossEntry {
                kink: true,
                ..entry(
                    "mae",
                    Normaliser::Elements,
                    "\\frac{1}{Bn}\\operatorname{sign}(#x - #t)",
                )
            },
            Loss::Bce => entry(
                "bce",
                Normaliser::Elements,
                "\\frac{1}{Bn}(#x - #t) \\oslash (#x \\odot (1 - #x))",
            ),
            Loss::BceWithLogits => entry(
                "bce_with_logits",
                Normaliser::Elements,
                "\\frac{1}{Bn}(\\sigma(#x) - #t)",
            ),
        }
    }

    /// The name in a network definition.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// The loss called `name`.
    pub fn from_name(name: &str) -> Option<Loss> {
        Loss::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The names of every loss.
    pub fn names() -> Vec<&'static str> {
        Loss::ALL.iter().map(|l| l.name()).collect()
    }

    /// `∂L/∂x` in LaTeX, for input `x` and target `t`.
    pub fn gradient_latex(self, x: &str, t: &str) -> String {
        self.entry().gradient_latex.replace("#x", x).replace("#t", t)
    }
}
