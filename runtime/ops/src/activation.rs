//! Elementwise activations `y = f(x)`: the table.
//!
//! Backward applies the chain rule elementwise, `x̄ = ȳ ⊙ f′(x)`, and reads `f′` from whichever
//! of `x` or `y` is cheaper ([`Entry::saved`]): sigmoid's derivative is `y(1 − y)` and tanh's
//! `1 − y²`, so backward needs only the saved output, and a forward that overwrites its input
//! in place loses nothing.
//!
//! Adding an activation: a variant, its [`Entry`] in [`Activation::entry`], its value in
//! [`Activation::value`] and its derivative in [`Activation::derivative`], and the variant in
//! [`Activation::ALL`]. The compiler, the runtime's kernels, the tape and the tests read these.

use crate::expr::Expr;
use crate::real::Real;

/// An elementwise function with its derivative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `y = x`, `f′ = 1`.
    Identity,
    /// `y = max(x, 0)`, `f′ = [y > 0]` (0 at the kink).
    Relu,
    /// `y = x` for `x > 0`, else `αx`; `f′ = 1` or `α`, read from the sign of `y` (`α ≥ 0`).
    LeakyRelu(f64),
    /// `y = 1 / (1 + e⁻ˣ)`, `f′ = y(1 − y)`.
    Sigmoid,
    /// `y = tanh x`, `f′ = 1 − y²`.
    Tanh,
    /// `y = ln(1 + eˣ)`, `f′ = σ(x) = 1 − e⁻ʸ`.
    Softplus,
    /// `y = eˣ`, `f′ = y`.
    Exp,
    /// `y = ln x`, `f′ = 1/x`.
    Log,
    /// `y = x²`, `f′ = 2x`.
    Square,
    /// `y = |x|`, `f′ = sign x` (0 at the kink).
    Abs,
    /// The exact GELU, `y = x Φ(x)` with `Φ(x) = ½(1 + erf(x/√2))` the standard normal CDF;
    /// `f′ = Φ(x) + x φ(x)`, `φ(x) = e^{−x²/2}/√(2π)`.
    Gelu,
    /// SiLU (swish), `y = x σ(x)`; `f′ = σ(x)(1 + x(1 − σ(x)))`.
    Silu,
    /// ELU, `y = x` for `x > 0`, else `α(eˣ − 1)`; `f′ = 1` or `y + α`, read from `y` (`α ≥ 0`).
    Elu(f64),
    /// `y = x / (1 + |x|)`; `f′ = 1/(1 + |x|)² = (1 − |y|)²`.
    Softsign,
    /// `y = √x`; `f′ = 1/(2y)`.
    Sqrt,
    /// `y = max(x, c)`; `f′ = [y > c]` (0 at the kink).
    Max(f64),
    /// `y = min(x, c)`; `f′ = [y < c]` (0 at the kink).
    Min(f64),
}

/// Which value backward keeps to evaluate `f′`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// `f′` is constant: nothing needs saving.
    Nothing,
    /// `f′` is read from the input `x`.
    Input,
    /// `f′` is read from the output `y`.
    Output,
}

/// Where the function is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Every real number.
    All,
    /// Positive numbers only (`log`, `sqrt`).
    Positive,
}

/// The numeric argument an activation takes after `x`, as in `leaky_relu(x, 0.1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arg {
    /// Its name in error messages and usage lines.
    pub name: &'static str,
    /// The smallest value allowed, if any.
    pub at_least: Option<f64>,
}

/// What the table says of one activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry {
    /// The name in a network definition.
    pub name: &'static str,
    /// The argument after `x`, if it takes one.
    pub arg: Option<Arg>,
    /// The value [`Activation::derivative`] reads.
    pub saved: Saved,
    /// The inputs `f` is defined for.
    pub domain: Domain,
    /// Where `f` is not smooth, if anywhere: where `f′` jumps (a kink), or a higher derivative
    /// does (softsign's `f″` at 0). Gradient checks treat points near it as kinks, since
    /// their difference formulas assume a smooth function around the point.
    pub kink: Option<f64>,
    /// `f′` in LaTeX, in terms of the saved value: `#x` for the input or `#y` for the output,
    /// and `#a` for the argument.
    pub derivative_latex: &'static str,
}

impl Activation {
    /// Every activation, with its default argument where it takes one: the list error
    /// messages and exhaustive tests use.
    pub const ALL: [Activation; 17] = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(0.01),
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Exp,
        Activation::Log,
        Activation::Square,
        Activation::Abs,
        Activation::Gelu,
        Activation::Silu,
        Activation::Elu(1.0),
        Activation::Softsign,
        Activation::Sqrt,
        Activation::Max(0.0),
        Activation::Min(0.0),
    ];

    /// The table entry.
    pub fn entry(self) -> Entry {
        let plain = |name, saved, derivative_latex| Entry {
            name,
            arg: None,
            saved,
            domain: Domain::All,
            kink: None,
            derivative_latex,
        };
        let kinked = |name, arg, saved, kink, derivative_latex| Entry {
            name,
            arg,
            saved,
            domain: Domain::All,
            kink: Some(kink),
            derivative_latex,
        };
        let nonnegative = |name| {
            Some(Arg {
                name,
                at_least: Some(0.0),
            })
        };
        let any = |name| Some(Arg { name, at_least: None });
        match self {
            Activation::Identity => plain("identity", Saved::Nothing, "1"),
            Activation::Relu => kinked("relu", None, Saved::Output, 0.0, "\\mathbb{1}[#y > 0]"),
            Activation::LeakyRelu(_) => kinked(
                "leaky_relu",
                nonnegative("slope"),
                Saved::Output,
                0.0,
                "(\\mathbb{1}[#y > 0] + #a\\,\\mathbb{1}[#y \\le 0])",
            ),
            Activation::Sigmoid => plain("sigmoid", Saved::Output, "#y \\odot (1 - #y)"),
            Activation::Tanh => plain("tanh", Saved::Output, "(1 - #y^{\\odot 2})"),
            Activation::Softplus => plain("softplus", Saved::Output, "(1 - e^{-#y})"),
            Activation::Exp => plain("exp", Saved::Output, "#y"),
            Activation::Log => Entry {
                domain: Domain::Positive,
                ..plain("log", Saved::Input, "#x^{\\odot -1}")
            },
            Activation::Square => plain("square", Saved::Input, "2#x"),
            Activation::Abs => kinked("abs", None, Saved::Input, 0.0, "\\operatorname{sign}(#x)"),
            Activation::Gelu => plain("gelu", Saved::Input, "(\\Phi(#x) + #x \\odot \\varphi(#x))"),
            Activation::Silu => plain(
                "silu",
                Saved::Input,
                "\\sigma(#x) \\odot (1 + #x \\odot (1 - \\sigma(#x)))",
            ),
            Activation::Elu(_) => kinked(
                "elu",
                nonnegative("alpha"),
                Saved::Output,
                0.0,
                "(\\mathbb{1}[#y > 0] + (#y + #a) \\odot \\mathbb{1}[#y \\le 0])",
            ),
            // `f″ = −2 sign(x)/(1 + |x|)³` jumps at 0.
            Activation::Softsign => kinked("softsign", None, Saved::Output, 0.0, "(1 - |#y|)^{\\odot 2}"),
            Activation::Sqrt => Entry {
                domain: Domain::Positive,
                ..plain("sqrt", Saved::Output, "(2#y)^{\\odot -1}")
            },
            Activation::Max(c) => kinked("max", any("bound"), Saved::Output, c, "\\mathbb{1}[#y > #a]"),
            Activation::Min(c) => kinked("min", any("bound"), Saved::Output, c, "\\mathbb{1}[#y < #a]"),
        }
    }

    /// `f(x)` for one value.
    #[inline(always)]
    pub fn value<T: Real>(self, x: T) -> T {
        self.value_in(x, false)
    }

    /// `f(x)` for one value, with the multiply-adds of `eˣ` and `tanh` fused where `fused`
    /// ([`Real::exp_fused`]): for loops compiled for a processor with FMA, `fused` a constant
    /// there so that the choice compiles away.
    #[inline(always)]
    pub fn value_in<T: Real>(self, x: T, fused: bool) -> T {
        match self {
            Activation::Identity => x,
            Activation::Relu => relu(x),
            Activation::LeakyRelu(alpha) => positive_or(x, T::from_f64(alpha) * x),
            Activation::Sigmoid => sigmoid_in(x, fused),
            Activation::Tanh if fused => x.tanh_fused(),
            Activation::Tanh => x.tanh(),
            Activation::Softplus => softplus(x),
            Activation::Exp => x.exp_in(fused),
            Activation::Log => x.ln(),
            Activation::Square => x * x,
            Activation::Abs => x.abs(),
            Activation::Gelu => x * normal_cdf(x),
            Activation::Silu => x * sigmoid_in(x, fused),
            Activation::Elu(alpha) => positive_or(x, T::from_f64(alpha) * x.exp_m1()),
            Activation::Softsign => x / (T::ONE + x.abs()),
            Activation::Sqrt => x.sqrt(),
            Activation::Max(c) => x.max(T::from_f64(c)),
            Activation::Min(c) => x.min(T::from_f64(c)),
        }
    }

    /// `f′` from the saved value named by the entry's [`Entry::saved`] (ignored for
    /// [`Saved::Nothing`]).
    #[inline(always)]
    pub fn derivative<T: Real>(self, saved: T) -> T {
        match self {
            Activation::Identity => T::ONE,
            Activation::Relu => step(saved, T::ZERO, T::ONE, T::ZERO),
            Activation::LeakyRelu(alpha) => step(saved, T::ZERO, T::ONE, T::from_f64(alpha)),
            Activation::Sigmoid => saved * (T::ONE - saved),
            Activation::Tanh => T::ONE - saved * saved,
            // σ(x) = 1 − e^{−y}, with expm1 for accuracy when y is tiny.
            Activation::Softplus => -(-saved).exp_m1(),
            Activation::Exp => saved,
            Activation::Log => T::ONE / saved,
            Activation::Square => saved + saved,
            Activation::Abs => sign(saved),
            Activation::Gelu => {
                let density =
                    (-(saved * saved) / T::from_f64(2.0)).exp() / T::from_f64((2.0 * std::f64::consts::PI).sqrt());
                normal_cdf(saved) + saved * density
            }
            Activation::Silu => {
                let s = sigmoid(saved);
                s * (T::ONE + saved * (T::ONE - s))
            }
            Activation::Elu(alpha) => step(saved, T::ZERO, T::ONE, saved + T::from_f64(alpha)),
            Activation::Softsign => {
                let d = T::ONE - saved.abs();
                d * d
            }
            Activation::Sqrt => T::ONE / (saved + saved),
            Activation::Max(c) => step(saved, T::from_f64(c), T::ONE, T::ZERO),
            Activation::Min(c) => step(-saved, -T::from_f64(c), T::ONE, T::ZERO),
        }
    }

    /// `m ⊙ ∂f′(s)/∂s`, written in graph ops: how the adjoint reaches the saved value `s`
    /// through the backward op `g ⊙ f′(s)`, where `m = ḡ ⊙ g` is the product of that op's
    /// adjoint and its gradient input. `None` where `f′` is piecewise constant (its derivative
    /// is 0 almost everywhere) or nothing is saved.
    pub fn second_derivative(self) -> Option<Expr> {
        use Expr::{M, S};
        Some(match self {
            Activation::Identity
            | Activation::Relu
            | Activation::LeakyRelu(_)
            | Activation::Abs
            | Activation::Max(_)
            | Activation::Min(_) => return None,
            // f′ = y(1 − y): ∂f′/∂y = 1 − 2y.
            Activation::Sigmoid => M - 2.0 * (M * S),
            // f′ = 1 − y²: ∂f′/∂y = −2y.
            Activation::Tanh => -2.0 * (M * S),
            // f′ = 1 − e^{−y}: ∂f′/∂y = e^{−y}.
            Activation::Softplus => M * (-S).apply(Activation::Exp),
            // f′ = y: ∂f′/∂y = 1.
            Activation::Exp => M,
            // f′ = 1/x: ∂f′/∂x = −1/x².
            Activation::Log => -M / S.apply(Activation::Square),
            // f′ = 2x: ∂f′/∂x = 2.
            Activation::Square => 2.0 * M,
            // f′ = Φ(x) + xφ(x): ∂f′/∂x = φ(x)(2 − x²), φ(x) = e^{−x²/2}/√(2π).
            Activation::Gelu => {
                let phi = |scale: f64| scale * (-0.5 * S.apply(Activation::Square)).apply(Activation::Exp);
                let c = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
                2.0 * (M * phi(c)) - M * phi(c) * S.apply(Activation::Square)
            }
            // f′ = σ(1 + x(1 − σ)): ∂f′/∂x = σ(1 − σ)(2 + x(1 − 2σ)), σ = σ(x).
            Activation::Silu => {
                let sigma = || S.apply(Activation::Sigmoid);
                let k = || M * (sigma() - sigma() * sigma());
                2.0 * k() + k() * S - 2.0 * (k() * S * sigma())
            }
            // f′ = 1 for y > 0, else y + α: ∂f′/∂y = [y ≤ 0] = 1 − [y > 0].
            Activation::Elu(_) => M - S.derivative(Activation::Relu, M),
            // f′ = (1 − |y|)²: ∂f′/∂y = −2(1 − |y|) sign y = 2y − 2 sign y.
            Activation::Softsign => 2.0 * (M * S) - 2.0 * S.derivative(Activation::Abs, M),
            // f′ = 1/(2y): ∂f′/∂y = −1/(2y²).
            Activation::Sqrt => -0.5 * M / S.apply(Activation::Square),
        })
    }

    /// The name in a network definition.
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// Which value backward keeps.
    pub fn saved(self) -> Saved {
        self.entry().saved
    }

    /// The argument it was given, if it takes one.
    pub fn arg(self) -> Option<f64> {
        match self {
            Activation::LeakyRelu(a) | Activation::Elu(a) | Activation::Max(a) | Activation::Min(a) => Some(a),
            _ => None,
        }
    }

    /// The same activation with argument `a` (unchanged if it takes none).
    pub fn with_arg(self, a: f64) -> Activation {
        match self {
            Activation::LeakyRelu(_) => Activation::LeakyRelu(a),
            Activation::Elu(_) => Activation::Elu(a),
            Activation::Max(_) => Activation::Max(a),
            Activation::Min(_) => Activation::Min(a),
            other => other,
        }
    }

    /// The activation called `name`, with its default argument.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The names of every activation.
    pub fn names() -> Vec<&'static str> {
        Activation::ALL.iter().map(|a| a.name()).collect()
    }

    /// How it is called: `relu(x)`, `leaky_relu(x, slope)`.
    pub fn usage(self) -> String {
        let entry = self.entry();
        match entry.arg {
            Some(arg) => format!("`{}(x, {})`", entry.name, arg.name),
            None => format!("`{}(x)`", entry.name),
        }
    }

    /// Whether `a` is an allowed argument; the error words if not.
    pub fn check_arg(self, a: f64) -> Result<(), String> {
        let entry = self.entry();
        if !a.is_finite() {
            return Err(format!("the argument of {} must be finite, got {a}", entry.name));
        }
        match entry.arg {
            Some(Arg {
                name,
                at_least: Some(min),
            }) if a < min => Err(format!("the {name} of {} must be at least {min}, got {a}", entry.name)),
            _ => Ok(()),
        }
    }

    /// `f′` in LaTeX, in terms of input `x` or output `y` (whichever the derivative reads).
    pub fn derivative_latex(self, x: &str, y: &str) -> String {
        let a = self.arg().map(|a| format!("{a}")).unwrap_or_default();
        self.entry()
            .derivative_latex
            .replace("#x", x)
            .replace("#y", y)
            .replace("#a", &a)
    }
}

#[inline(always)]
fn relu<T: Real>(x: T) -> T {
    if x > T::ZERO { x } else { T::ZERO }
}

/// `x` where positive, else `otherwise`.
#[inline(always)]
fn positive_or<T: Real>(x: T, otherwise: T) -> T {
    if x > T::ZERO { x } else { otherwise }
}

/// `1 / (1 + e⁻ˣ)`, branch-free so that it vectorises. For very negative `x`, `e⁻ˣ`
/// overflows to ∞ and the quotient is exactly 0, the correctly rounded result.
#[inline(always)]
pub fn sigmoid<T: Real>(x: T) -> T {
    sigmoid_in(x, false)
}

/// [`sigmoid`], its `e⁻ˣ` fused where `fused` ([`Activation::value_in`]).
#[inline(always)]
fn sigmoid_in<T: Real>(x: T, fused: bool) -> T {
    T::ONE / (T::ONE + (-x).exp_in(fused))
}

/// `ln(1 + eˣ) = max(x, 0) + ln(1 + e^{−|x|})`, finite for every finite `x`.
#[inline(always)]
pub fn softplus<T: Real>(x: T) -> T {
    relu(x) + (-x.abs()).exp().ln_1p()
}

/// `Φ(x) = ½(1 + erf(x/√2))`, the standard normal distribution function.
#[inline(always)]
fn normal_cdf<T: Real>(x: T) -> T {
    let half = T::from_f64(0.5);
    half * (T::ONE + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf())
}

/// `above` where `s > at`, else `below`.
#[inline(always)]
fn step<T: Real>(s: T, at: T, above: T, below: T) -> T {
    if s > at { above } else { below }
}

/// `sign x`, with 0 at 0 (the zero subgradient of `|x|`).
#[inline(always)]
pub fn sign<T: Real>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::{Activation, Domain, Saved};

    /// Every activation with arguments 0, 0.3, 1 and 2, at points `x` in [−4, 4] inside its
    /// domain and away from its kink (seen from `x` and from the saved value, since a saved
    /// ReLU output of 0 sits on it), with the saved value `s`.
    fn smooth_points() -> Vec<(Activation, f64, f64)> {
        let mut points = Vec::new();
        for base in Activation::ALL {
            for a in [0.0, 0.3, 1.0, 2.0] {
                let act = base.with_arg(a);
                let entry = act.entry();
                let saved = |x: f64| match entry.saved {
                    Saved::Input | Saved::Nothing => x,
                    Saved::Output => act.value(x),
                };
                for i in -40..=40 {
                    let x = f64::from(i) * 0.1 + 0.013;
                    let near_kink = entry
                        .kink
                        .is_some_and(|k| (x - k).abs() < 1e-3 || (saved(x) - saved(k)).abs() < 1e-3);
                    if !near_kink && (entry.domain == Domain::All || x > 0.05) {
                        points.push((act, x, saved(x)));
                    }
                }
            }
        }
        points
    }

    /// `f′` read from the saved value agrees with central differences of `f` in f64, for every
    /// entry: the table's saved value, value and derivative agree.
    #[test]
    fn every_derivative_matches_differences_of_its_value() {
        let h = 1e-5;
        for (act, x, s) in smooth_points() {
            let numeric = (act.value(x + h) - act.value(x - h)) / (2.0 * h);
            let derived = act.derivative(s);
            // Central differences with h = 10⁻⁵ err by h²f‴/6 ≈ 10⁻¹⁰ f‴ plus rounding
            // ε|f|/h ≈ 10⁻¹¹ |f|; 10⁻⁷ relative leaves three orders of margin.
            assert!(
                (numeric - derived).abs() <= 1e-7 * derived.abs().max(1.0),
                "{act:?} at {x}: f′ = {derived}, differences {numeric}"
            );
        }
    }

    /// `m ⊙ ∂f′(s)/∂s` from the table's expression agrees with central differences of the
    /// table's `f′` in the saved value.
    #[test]
    fn every_second_derivative_matches_differences_of_the_derivative() {
        let (h, m) = (1e-5, 1.7);
        for (act, _, s) in smooth_points() {
            let numeric = m * (act.derivative(s + h) - act.derivative(s - h)) / (2.0 * h);
            let derived = act.second_derivative().map_or(0.0, |e| e.eval(m, s));
            // As for the first derivative: 10⁻⁷ relative leaves three orders of margin.
            assert!(
                (numeric - derived).abs() <= 1e-7 * derived.abs().max(1.0),
                "{act:?} at s = {s}: m·∂f′/∂s = {derived}, differences {numeric}"
            );
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        for act in Activation::ALL {
            assert_eq!(Activation::from_name(act.name()), Some(act));
        }
        assert_eq!(Activation::from_name("swish"), None);
    }

    #[test]
    fn arguments_are_checked_in_words() {
        assert!(Activation::LeakyRelu(0.0).check_arg(0.1).is_ok());
        assert_eq!(
            Activation::LeakyRelu(0.0).check_arg(-1.0),
            Err("the slope of leaky_relu must be at least 0, got -1".to_owned())
        );
        assert!(Activation::Max(0.0).check_arg(-3.0).is_ok());
        assert!(Activation::Max(0.0).check_arg(f64::NAN).is_err());
    }

    #[test]
    fn gelu_is_x_times_the_normal_cdf() {
        // Φ(1) = 0.8413447460685429, so gelu(1) = Φ(1) and gelu(−1) = −(1 − Φ(1)).
        let phi1 = 0.841_344_746_068_542_9;
        assert!((Activation::Gelu.value(1.0_f64) - phi1).abs() < 1e-15);
        assert!((Activation::Gelu.value(-1.0_f64) + (1.0 - phi1)).abs() < 1e-15);
    }
}
