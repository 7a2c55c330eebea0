//! Finite-difference gradient checking in f64.
//!
//! Each parameter element `θᵢ` is perturbed by `±h, ±2h` and the derivative estimated by the
//! fourth-order central difference
//! `∂f/∂θᵢ ≈ [−f(θ + 2h) + 8 f(θ + h) − 8 f(θ − h) + f(θ − 2h)] / 12h`,
//! whose truncation error is `h⁴|f⁽⁵⁾|/30`. Evaluating `f` through a network rounds it by some
//! `k·ε·|f|`, which the stencil amplifies by `18/(12h)`. The default step `h = 10⁻⁴` keeps the
//! truncation negligible (`3·10⁻¹⁸·|f⁽⁵⁾|`) and the rounding at `k·3.3·10⁻¹²·max(1, |f|)`, so
//! up to `k ≈ 30` roundings it stays under `10⁻¹⁰·max(1, |f|)`; a larger step, nearer the
//! optimum `ε^{1/5} ≈ 7·10⁻⁴`, would shrink the rounding but widen the stencil, and with it
//! the share of elements whose stencil straddles a kink.
//!
//! **Relative error** of an element is `|a − n| / max(|a|, |n|, floor)` for the analytic `a`
//! and numeric `n`, with `floor = 10⁻⁴·max(1, |f|)`: below the floor a gradient element is too
//! small for the differences to resolve it relatively (it is then held to an absolute error of
//! `10⁻⁴·tolerance·max(1, |f|)`), and the floor keeps rounding noise alone at `≤ 10⁻⁶`
//! relative, the usual bar, with the step above.
//!
//! **Kinks.** Where `f` is not differentiable inside the stencil (relu at 0, `|x|`, MAE at a
//! zero residual) the central difference averages two slopes. Write `f±k = f(θ ± kh)` and
//! `K = max(|f₊₂ − 2f₊₁ + 2f₋₁ − f₋₂|, |f₊₂ − 4f₊₁ + 6f₀ − 4f₋₁ + f₋₂|) / h`, the odd and even
//! higher differences. Both annihilate polynomials of low degree, so for smooth `f`
//! `K ≈ max(2h²|f‴|, h³|f⁗|)`, about `2·10⁻⁸·|f‴|` here. A slope jump `J` at distance `s < 2h` gives
//! `K ≥ J/2` while the error of the central difference is at most `J/2`, and for `s ≥ h`,
//! `K = 12|e|`. So an element whose error `e = n − a` exceeds the tolerance and for which
//! `K ≥ |e|` has a kink in its stencil: it is counted as a kink and skipped, never passed.
//! A wrong gradient is flagged as long as its error exceeds `K`, i.e. `≈ 2h²|f‴|`.

use ndarray::{ArrayD, Dimension, IxDyn};
use rand::Rng;

use crate::error::{Error, Result};
use crate::init::normal;
use crate::params::Parameters;

/// Settings of a check.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The step `h`.
    pub step: f64,
    /// The relative error above which an element fails.
    pub tolerance: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            step: 1e-4,
            tolerance: 1e-6,
        }
    }
}

/// The worst disagreement found in one parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamReport {
    /// The parameter's name.
    pub name: String,
    /// Elements compared (kinks excluded).
    pub checked: usize,
    /// Elements skipped because a kink lies inside the stencil.
    pub kinks: usize,
    /// Elements whose relative error exceeds the tolerance.
    pub failures: usize,
    /// The largest relative error and the index where it occurs (`[row, column]` for a matrix).
    pub worst_relative: (f64, Vec<usize>),
    /// The largest absolute error.
    pub worst_absolute: f64,
}

/// The result of [`check`]: one entry per parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Per-parameter results, in the parameters' order.
    pub params: Vec<ParamReport>,
    /// The tolerance used.
    pub tolerance: f64,
}

impl Report {
    /// Whether no element of any parameter failed.
    pub fn passed(&self) -> bool {
        self.params.iter().all(|p| p.failures == 0)
    }

    /// The largest relative error over all parameters.
    pub fn worst_relative(&self) -> f64 {
        self.params.iter().map(|p| p.worst_relative.0).fold(0.0, f64::max)
    }

    /// Elements skipped as kinks, over all parameters.
    pub fn kinks(&self) -> usize {
        self.params.iter().map(|p| p.kinks).sum()
    }

    /// Elements compared, over all parameters.
    pub fn checked(&self) -> usize {
        self.params.iter().map(|p| p.checked).sum()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<16} {:>8} {:>6} {:>8} {:>12} {:>12}  where",
            "parameter", "checked", "kinks", "failures", "worst rel", "worst abs"
        )?;
        for p in &self.params {
            let (rel, index) = &p.worst_relative;
            writeln!(
                f,
                "{:<16} {:>8} {:>6} {:>8} {:>12.3e} {:>12.3e}  {index:?}",
                p.name, p.checked, p.kinks, p.failures, rel, p.worst_absolute
            )?;
        }
        write!(
            f,
            "tolerance {:.1e}: {}",
            self.tolerance,
            if self.passed() { "passed" } else { "FAILED" }
        )
    }
}

/// Compares `grads` (the analytic gradient of `loss` at `params`) with finite differences over
/// every element of every parameter. `params` is restored exactly afterwards.
///
/// ```
/// use symgrad_runtime::gradcheck::{self, Options};
/// use symgrad_runtime::ndarray::array;
/// use symgrad_runtime::{Activation, ParamList, Parameters, Result, Tape};
///
/// // L(w) = Σ softplus(x·w), its gradient from the tape, checked by central differences.
/// let x = array![[0.3, -1.2], [2.0, 0.5]];
/// let loss_and_grad = |params: &ParamList<f64>| -> Result<(f64, ParamList<f64>)> {
///     let mut tape = Tape::new();
///     let w = tape.param(params.values()[0].clone());
///     let input = tape.input(x.clone());
///     let z = tape.matmul(input, w)?;
///     let s = tape.activation(Activation::Softplus, z);
///     let loss = tape.sum(s);
///     let mut grads = params.zeros_like();
///     tape.backward(loss)?.write_into(&[w], &mut grads)?;
///     Ok((tape.scalar(loss), grads))
/// };
/// let mut params = ParamList::new();
/// params.push("w", array![[0.1, -0.4], [0.7, 0.2]]);
/// let (_, grads) = loss_and_grad(&params)?;
/// let report = gradcheck::check(&mut params, &grads, |p| Ok(loss_and_grad(p)?.0), Options::default())?;
/// assert!(report.passed(), "{report}");
/// assert_eq!(report.checked(), 4);
/// # Ok::<(), symgrad_runtime::Error>(())
/// ```
pub fn check<P, F>(params: &mut P, grads: &P, mut loss: F, options: Options) -> Result<Report>
where
    P: Parameters<f64>,
    F: FnMut(&P) -> Result<f64>,
{
    check_shapes(params, grads)?;
    let h = options.step;
    let f0 = finite(loss(params)?, "loss at the unperturbed point")?;
    let floor = 1e-4 * f0.abs().max(1.0);
    let mut reports = Vec::with_capacity(params.count());
    for index in 0..params.count() {
        let name = params.name(index).to_owned();
        let indices: Vec<IxDyn> = params.param(index).indexed_iter().map(|(at, _)| at).collect();
        let mut report = ParamReport {
            name: name.clone(),
            checked: 0,
            kinks: 0,
            failures: 0,
            worst_relative: (0.0, vec![0; indices.first().map_or(0, |at| at.ndim())]),
            worst_absolute: 0.0,
        };
        for element in indices {
            let at = |offset: f64, params: &mut P, loss: &mut F| -> Result<f64> {
                let original = params.param(index)[&element];
                params.param_mut(index)[&element] = original + offset;
                let value = loss(params);
                params.param_mut(index)[&element] = original;
                finite(
                    value?,
                    &format!("loss with {name}{:?} moved by {offset:e}", element.slice()),
                )
            };
            let plus2 = at(2.0 * h, params, &mut loss)?;
            let plus1 = at(h, params, &mut loss)?;
            let minus1 = at(-h, params, &mut loss)?;
            let minus2 = at(-2.0 * h, params, &mut loss)?;
            let numeric = (-plus2 + 8.0 * plus1 - 8.0 * minus1 + minus2) / (12.0 * h);
            let analytic = grads.param(index)[&element];
            let error = numeric - analytic;
            let relative = error.abs() / analytic.abs().max(numeric.abs()).max(floor);
            if relative > options.tolerance {
                let odd = plus2 - 2.0 * plus1 + 2.0 * minus1 - minus2;
                let even = plus2 - 4.0 * plus1 + 6.0 * f0 - 4.0 * minus1 + minus2;
                if odd.abs().max(even.abs()) / h >= error.abs() {
                    report.kinks += 1;
                    continue;
                }
                report.failures += 1;
            }
            report.checked += 1;
            if relative > report.worst_relative.0 {
                report.worst_relative = (relative, element.slice().to_vec());
            }
            report.worst_absolute = report.worst_absolute.max(error.abs());
        }
        reports.push(report);
    }
    Ok(Report {
        params: reports,
        tolerance: options.tolerance,
    })
}

/// The result of [`check_direction`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirectionReport {
    /// `vᵀ∇f` from the analytic gradient.
    pub analytic: f64,
    /// The fourth-order central difference of `f` along `v`.
    pub numeric: f64,
    /// `|analytic − numeric| / max(|analytic|, |numeric|, floor)`, as in [`check`].
    pub relative: f64,
}

/// The cheap check for large models: along one random unit direction `v` over all parameters,
/// compares the directional derivative `vᵀ∇f` with finite differences of `t ↦ f(θ + t v)`.
/// Five evaluations of `f`, whatever the model's size.
pub fn check_direction<P, F, R>(
    params: &mut P,
    grads: &P,
    mut loss: F,
    rng: &mut R,
    step: f64,
) -> Result<DirectionReport>
where
    P: Parameters<f64>,
    F: FnMut(&P) -> Result<f64>,
    R: Rng + ?Sized,
{
    check_shapes(params, grads)?;
    let mut direction: Vec<ArrayD<f64>> = (0..params.count())
        .map(|i| params.param(i).mapv(|_| normal(rng)))
        .collect();
    let norm = direction
        .iter()
        .map(|d| d.iter().map(|x| x * x).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return Err(Error::Empty {
            op: "check_direction",
            what: "parameter set",
        });
    }
    direction.iter_mut().for_each(|d| d.mapv_inplace(|x| x / norm));
    let analytic: f64 = direction
        .iter()
        .enumerate()
        .map(|(i, d)| (d * &grads.param(i)).sum())
        .sum();
    let f0 = finite(loss(params)?, "loss at the unperturbed point")?;
    let mut along = |t: f64| -> Result<f64> {
        let originals: Vec<ArrayD<f64>> = (0..params.count()).map(|i| params.param(i).to_owned()).collect();
        for (i, d) in direction.iter().enumerate() {
            params.param_mut(i).scaled_add(t, d);
        }
        let value = loss(params);
        for (i, original) in originals.iter().enumerate() {
            params.param_mut(i).assign(original);
        }
        finite(value?, &format!("loss moved by {t:e} along the direction"))
    };
    let h = step;
    let numeric = (-along(2.0 * h)? + 8.0 * along(h)? - 8.0 * along(-h)? + along(-2.0 * h)?) / (12.0 * h);
    let floor = 1e-4 * f0.abs().max(1.0);
    let relative = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(floor);
    Ok(DirectionReport {
        analytic,
        numeric,
        relative,
    })
}

fn check_shapes<P: Parameters<f64>>(params: &P, grads: &P) -> Result<()> {
    if params.count() != grads.count() {
        return Err(Error::Shape {
            op: "gradcheck",
            lhs_name: "parameter count",
            lhs: vec![params.count()],
            rhs_name: "gradient count",
            rhs: vec![grads.count()],
        });
    }
    for i in 0..params.count() {
        crate::error::expect_same_shape(
            "gradcheck",
            "parameter",
            params.param(i).shape(),
            "its gradient",
            grads.param(i).shape(),
        )?;
    }
    Ok(())
}

fn finite(value: f64, location: &str) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFinite {
            what: "loss".into(),
            location: location.into(),
            value,
        })
    }
}
