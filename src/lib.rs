//! # symgrad
//!
//! Neural networks whose backward pass is derived by the compiler. A network is written once,
//! declaratively; the [`network!`] macro checks its shapes at compile time, applies the chain
//! rule symbolically, fuses the result and emits plain Rust forward and backward code.
//!
//! The runtime ([`symgrad_runtime`], re-exported here) holds the kernels that code calls, a
//! tape-based reverse-mode engine used as baseline and oracle, the finite-difference gradient
//! checker, initialisers, optimisers, the training loop, data sets and checkpoints.
//!
//! Training a network on the embedded digits:
//!
//! ```
//! use symgrad::network;
//! use symgrad::prelude::*;
//! use symgrad::rand::{SeedableRng, rngs::StdRng};
//! use symgrad::train::{self, TrainConfig, Verbosity};
//!
//! network! {
//!     /// A small classifier of 8×8 digits.
//!     pub struct Digits {
//!         input x: [64];
//!         target y: classes[10];
//!         h = relu(dense(x, 32));
//!         z = dense(h, 10);
//!         output softmax(z);
//!         loss cross_entropy(softmax(z), y);
//!     }
//! }
//!
//! let (train_set, test) = symgrad::data::Source::Digits.load::<f32>(0)?;
//! let mut model = Digits::<f32>::new(&mut StdRng::seed_from_u64(0));
//! let config = TrainConfig {
//!     epochs: 5,
//!     learning_rate: 3e-3,
//!     verbosity: Verbosity::Quiet,
//!     ..TrainConfig::default()
//! };
//! // Validating on the test set to keep the example short; split off a validation set in
//! // real work (`Dataset::split_stratified`).
//! let history = train::fit(&mut model, &train_set, &test, &config)?;
//! assert_eq!(history.epochs.len(), 5);
//! let mut ws = model.workspace(256);
//! let accuracy = train::evaluate(&model, &mut ws, &test, 256)?.accuracy;
//! assert!(accuracy > 0.85, "{accuracy}");
//! # Ok::<(), symgrad::Error>(())
//! ```

#![warn(missing_docs)]

pub use symgrad_runtime::*;

/// Defines a network; its backward pass is derived symbolically at compile time.
///
/// ```
/// use symgrad::network;
///
/// network! {
///     /// A two-layer classifier of 8×8 digits.
///     pub struct Mlp {
///         input x: [64];
///         target y: classes[10];
///         h = relu(dense(x, 32));
///         z = dense(h, 10);
///         output softmax(z);
///         loss cross_entropy(softmax(z), y);
///     }
/// }
///
/// let net = Mlp::<f32>::new(&mut symgrad::rand::rngs::StdRng::seed_from_u64(0));
/// assert_eq!(Mlp::<f32>::PARAMETERS[0], ("h_w", &[64, 32][..]));
/// # use symgrad::rand::SeedableRng;
/// ```
///
/// # The language
///
/// A definition reads like the math, one statement per line:
///
/// | statement | meaning |
/// |---|---|
/// | `input x: [n];`, `input x: [c, h, w];` | a batch input `[batch, n]`, `[batch, c, h, w]` (1 to 6 sizes) |
/// | `target y: classes[k];` | one class label in `0..k` per row (a one-hot row to the losses) |
/// | `target t: [n];` | a real-valued target `[batch, n]` (or of any shape, as inputs) |
/// | `param w: [r, c] = init;` | a parameter of 1 to 6 sizes: a weight `[r, c]`, a bias `[n]`, a per-channel vector `[c, 1, 1]`, a kernel `[o, i, kh, kw]`; `= init` is optional |
/// | `name = expr;` (or `let name = expr;`) | a named value |
/// | `output expr;` | what `forward` returns (evaluation mode: dropout off) |
/// | `loss expr;` | the scalar loss that `loss_and_grad` differentiates |
///
/// A value is `[batch, d1, …, dk]` (one slice per sample; the batch size is known at run
/// time), `[d1, …, dk]` (a parameter, and what is computed from parameters alone) or a scalar.
/// A batch is passed and returned as an `ArrayView2` of `[batch, d1⋯dk]`, each sample's values
/// in row-major order. Sizes are positive integers; one sample of a value, and a parameter,
/// has fewer than 2³² elements (a larger one is a compile error at its token).
///
/// Initialisers, for a weight `[fan_in, fan_out]` (a vector `[n]` has `fan_in = 1`, a kernel
/// `[out, in, k₁, …]` has `fan_in = in·k₁⋯` and `fan_out = out·k₁⋯`):
///
/// | name | each element drawn from |
/// |---|---|
/// | `xavier_normal` (or `glorot_normal`; the default but for biases) | `N(0, 2/(fan_in + fan_out))` |
/// | `xavier_uniform` (or `glorot_uniform`) | `U(−a, a)`, `a = √(6/(fan_in + fan_out))` |
/// | `he` | `N(0, 2/fan_in)` |
/// | `normal` | `N(0, 1)` |
/// | `zeros` (the default for biases: `[n]`, `[c, 1, 1]`, any shape with one size above 1) | 0 |
/// | `constant(c)` or a bare number `c` | `c` |
///
/// Expressions, from the loosest binding to the tightest: `+` and `-` (left to right), then
/// `*`, `/` and `@` (left to right, all three at one level, so `a * b @ w` is `(a * b) @ w`),
/// then unary `-`, then calls, names, numbers and parentheses.
///
/// - `a @ b` or `matmul(a, b)`: matrix product of a batch of vectors `[batch, k]` (or a matrix)
///   by a weight-like matrix `[k, n]`;
/// - `a + b`, `a - b`, `a * b`, `a / b`: elementwise on equal shapes, at any rank. The one
///   broadcasting rule, numpy's, for `+` and `-` with a fixed operand on either side: its sizes
///   align with the other's last ones (the batch counting as the first axis) and each is equal
///   or 1; it repeats along the axes where it is 1 or missing, which must not lie between two
///   it spans. A bias `[n]` over `[batch, n]` (`x @ w + b`, `b + x @ w`, `x @ w - b`,
///   `b - x @ w`), a per-channel vector `[c, 1, 1]`, a plane `[h, w]` or an element `[1]` over
///   `[batch, c, h, w]`. `c * x`, `x * c` and `x / c` scale by a number; `-x`;
/// - `flatten(x)`: `[batch, d1, …, dk] → [batch, d1⋯dk]`; `reshape(x, d1, …)`: any shape of as
///   many values per sample. Both reuse their input's buffer where they can (a copy otherwise);
/// - `dense(x, n)` or `dense(x, n, init)`: `x · W + b` with `W: [k, n]` and `b: [n]` declared
///   for you, named after the line (`h_w`, `h_b` for `h = dense(...)`; `h_w2`, `h_b2` for a
///   second one on the same line; `output_w`, `loss_w` on those lines);
/// - `conv2d(x, k)` with a declared kernel `k: [o, c, kh, kw]` (OIHW), or `conv2d(x, o, size)`
///   declaring a kernel `[o, c, size, size]` and a per-channel bias `[o, 1, 1]` (added) for
///   you, named `h_k`, `h_b` after the line as `dense` names its own: the convolution
///   (cross-correlation) of a batch of maps `[batch, c, h, w]` to `[batch, o, oh, ow]`. Named
///   options after the positional arguments: `stride = s` (1), `padding = valid` (the
///   default), `same` (`(kh − 1)/2` on every side: as many pixels out as in at stride 1, for
///   odd square kernels) or a number of zeros, `dilation = d` (1), and for the declaring form
///   `init = he` (`xavier_normal`). `oh = ⌊(h + 2p − d(kh − 1) − 1)/s⌋ + 1`, likewise `ow`; a
///   kernel that does not fit the padded maps is a compile error;
/// - `max_pool2d(x, size)` and `avg_pool2d(x, size)`, option `stride = s` (`size`): the largest
///   value or the mean of each `size × size` window of each map; the windows must tile the
///   maps (`(h − size)` a multiple of the stride, likewise `w`), or it is a compile error
///   (pixels left out would get no gradient). `global_avg_pool(x)`: each map's mean,
///   `[batch, c, h, w] → [batch, c]`. `upsample2d(x, f)`: nearest-neighbour upsampling,
///   each pixel an `f × f` block, `[batch, c, f·h, f·w]`;
/// - `transpose(w)`: `wᵀ` of a weight (tied weights: `dense`-free decoders `h @ transpose(w)`);
///   a transpose is a stride, never a copy;
/// - activations, elementwise: `identity`, `relu`, `leaky_relu(x, slope)` (slope ≥ 0),
///   `sigmoid`, `tanh`, `softplus`, `exp`, `log`, `square`, `abs`, `gelu` (exact,
///   `x Φ(x)` with the normal CDF through `erf`), `silu` (`x σ(x)`), `elu(x, alpha)` (alpha ≥ 0),
///   `softsign` (`x/(1 + |x|)`), `sqrt`, `max(x, c)` and `min(x, c)` with a number;
/// - `softmax(x)` and `log_softmax(x)` row-wise on a batch of vectors; `dropout(x, p)`
///   (inverted; off in evaluation) on a batch of any rank, `dropout2d(x, p)` of whole
///   channels of a batch of maps (each map zeroed or scaled as one);
/// - reductions `sum(x)`, `mean(x)` to a scalar, and `sum_rows(x)`, `mean_rows(x)`,
///   `max_rows(x)` of each row of a batch of vectors or a matrix, `[r, n] → [r, 1]`;
/// - losses `(prediction, target)`: `cross_entropy` (on probabilities: write
///   `cross_entropy(softmax(z), y)`, compiled to the stable fused form with gradient
///   `(p − onehot(y))/B`), `softmax_cross_entropy` (on logits), `squared_error` (on
///   probabilities, summed over classes), `mse`, `mae`, `bce` (on probabilities;
///   `bce(sigmoid(z), t)` is fused to the logits form), `bce_with_logits`. Classification losses
///   take a batch of vectors and average over the batch; regression losses take any rank and
///   average over all elements. A target is a `target`, or
///   any value that does not depend on parameters (an autoencoder's input).
///   Scalars combine with `+`, `-`, `*`, `/` and numbers: `loss mse(a, x) + 0.5 * mse(b, x);`.
///
/// Any DAG is allowed: a value used many times, residual connections
/// (`h2 = h1 + relu(dense(h1, 64));`), one weight in several places.
///
/// # What it generates
///
/// For `pub struct Net { ... }`:
///
/// - `Net<T = f32>`: the parameters as public array fields of their declared rank (`Array1<T>`
///   for `[n]`, `Array2<T>` for `[r, c]`, …), `Net::new(rng)` (seeded initialisation),
///   `Net::zeros()` (a gradient buffer), `Net::PARAMETERS` (each name and shape);
/// - `NetBatch<'a, T>` (inputs and targets), `NetInputs<'a, T>` (inputs), `NetWorkspace<T>`;
/// - `forward(ws, inputs)`, `loss(ws, batch)` (evaluation mode), `loss_train(ws, batch, rng)`
///   and `loss_and_grad(ws, batch, rng, grads)` (training mode, dropout masks from `rng`);
/// - the tape twin `record(tape, batch, rng)` and `tape_loss_and_grad(tape, batch, rng, grads)`;
/// - `Net::derivation()`: the chain-rule equations the compiler derived, in Markdown/LaTeX;
/// - `Net::graph_dot()`: the training step's forward and derived backward graph in Graphviz
///   DOT, fused kernels and parameter gradients marked (`dot -Tsvg` draws it);
/// - `NetHvpWorkspace<T>`, `hvp_workspace(capacity)` and `hvp(ws, batch, rng, v, out)`: the
///   Hessian-vector product `H·v` of the training loss, derived by differentiating the
///   gradient's own graph (reverse over reverse) and planned like it, and
///   `Net::hvp_derivation()`, its equations; `tape_hvp(batch, rng, v, out)`, the same product
///   from the tape twin run on dual numbers (an oracle); `NetGnvpWorkspace<T>`,
///   `gnvp_workspace`, `gnvp` and `Net::gnvp_derivation()`: the Gauss-Newton product
///   `Jᵀ H_ℓ J v`, positive semi-definite for losses combined with nonnegative factors;
/// - implementations of [`Parameters`], [`Model`], [`HessianVector`], [`FromExamples`] (a
///   data set's rows feed the one input, its labels a class-label target, its real-valued
///   targets, or else its own features, a real-valued target) and [`TapeTwin`].
///
/// # Errors
///
/// A mistake in a definition is a compile error at the token that caused it, saying what was
/// expected; several mistakes are reported together.
pub use symgrad_macros::network;

/// The one path through which code generated by [`network!`] reaches the runtime, so that the
/// runtime's public API is free to change without breaking generated code. Not part of the
/// public API.
#[doc(hidden)]
pub mod __private {
    pub use symgrad_runtime::dual::Dual;
    pub use symgrad_runtime::model::{check_batch_labels, check_batch_matrix};
    pub use symgrad_runtime::{
        Activation, ActivationKernel, Binary, Error, Examples, Fill, FromExamples, HessianVector, Init, Loss,
        LossKernel, Model, Parameters, Result, Scalar, Tape, TapeTwin, Target, Var, as_matrix, gemm, kernels, ndarray,
        rand, sgd_update,
    };
}

/// The names most programs need.
pub mod prelude {
    pub use symgrad_macros::network;
    pub use symgrad_runtime::gradcheck;
    pub use symgrad_runtime::{
        Activation, ActivationKernel, Error, Fill, FromExamples, HessianVector, Init, Loss, LossKernel, Model,
        Optimizer, ParamList, Parameters, Real, Result, Scalar, Schedule, Tape, TapeTwin, Target, Var, gemm,
    };
}
