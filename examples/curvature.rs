//! The curvature of the loss along gradient descent: the top eigenvalue of the Hessian,
//! `λ_max`, by power iteration on the compiled Hessian-vector product, tracked while
//! full-batch descent with a fixed step `α` trains a small classifier (tanh, 32 units, squared
//! error on the logits against one-hot targets, 500 digits). Descent on a quadratic with
//! curvature `λ` diverges once `λ > 2/α`. On the digits (2026-11-30), `λ_max` starts at 59:
//! with `α = 0.05` (`2/α = 40`) it falls to 35 within 100 steps, climbs back to 40 by step
//! 1,700 and stays there (38.7 to 41.5) while the loss keeps falling, no longer at every step; with
//! `α = 0.04` it dips to 41, then rises towards `2/α = 50` (47.6 after 4,000 steps); with
//! `α = 0.03` it dips to 51.5 and rises slowly (55 after 4,000 steps), far below `2/α = 67`.
//! Held at `2/α` is the "edge of stability" of full-batch descent (Cohen et al., 2021). The
//! course's rule (undo a step that raised the loss and halve `α`, grow `α` by 5 % otherwise) is
//! run alongside, from `α = 1`: it settles `α` between 0.02 and 0.06, growing it until a step
//! overshoots, so its `2/α` swings around `λ_max`.
//!
//! Prints a table per run (every 500 steps) and writes `curvature.png`: `λ_max` against the
//! step for each run (every 100 steps), with each fixed `2/α` as a flat line.
//!
//! ```text
//! cargo run --release --example curvature               # 500 embedded digits
//! cargo run --release --example curvature -- --fashion  # 500 Fashion-MNIST images
//! ```

use std::path::Path;

use symgrad::data::Source;
use symgrad::network;
use symgrad::optim::BoldDriver;
use symgrad::params::{axpy, dot, scale};
use symgrad::plot::{self, Axes, Scale, Series};
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

/// A small tanh classifier with squared error on its logits (no dropout: the loss must be
/// one fixed function).
macro_rules! small {
    ($name:ident, $width:tt) => {
        network! {
            pub struct $name {
                input x: [$width];
                target y: classes[10];
                z = dense(tanh(dense(x, 32)), 10);
                output z;
                loss squared_error(z, y);
            }
        }
    };
}

small!(SmallDigits, 64);
small!(SmallFashion, 784);

/// The eigenvalue of largest magnitude of the Hessian at `net` (for these networks, the top
/// one, `λ_max`) by power iteration from `v`, which is left holding its eigenvector: `v ← Hv /
/// ‖Hv‖`, `λ = vᵀHv` (the Rayleigh quotient), until `λ` moves by less than 10⁻⁴ of itself or
/// after 100 products. Starting from the last eigenvector, a few products suffice.
fn top_eigenvalue<M: HessianVector<f64>>(
    net: &M,
    ws: &mut M::HvpWorkspace,
    batch: &M::Batch<'_>,
    v: &mut M,
) -> Result<(f64, usize)> {
    let mut hv = M::zeros();
    let mut lambda = f64::NAN;
    let rng = &mut StdRng::seed_from_u64(0);
    for product in 1..=100 {
        scale(v, 1.0 / dot(v, v)?.sqrt());
        net.hvp(ws, batch, rng, v, &mut hv)?;
        let next = dot(v, &hv)?;
        std::mem::swap(v, &mut hv);
        if (next - lambda).abs() <= 1e-4 * next.abs() {
            return Ok((next, product));
        }
        lambda = next;
    }
    Ok((lambda, 100))
}

/// One run's record: every `every` steps, `(step, loss, λ_max, α)`.
struct Run {
    name: String,
    rows: Vec<(usize, f64, f64, f64)>,
}

/// Full-batch descent for `steps` steps, with a fixed `α` or the course's rule, measuring
/// `λ_max` every `every` steps.
fn descend<M: HessianVector<f64> + FromExamples<f64>>(
    data: &symgrad::Dataset<f64>,
    rule: Option<BoldDriver>,
    fixed: f64,
    (steps, every): (usize, usize),
) -> Result<Run> {
    let batch = M::batch(symgrad::Examples::new(data.features.view(), &data.labels))?;
    let rng = &mut StdRng::seed_from_u64(0);
    let mut net = M::init(rng);
    let (mut ws, mut hws) = (net.workspace(data.len()), net.hvp_workspace(data.len()));
    let mut grads = M::zeros();
    let mut v = M::init(rng);
    let mut driver = rule;
    let mut rows = Vec::new();
    for step in 0..=steps {
        let alpha = driver.as_ref().map_or(fixed, |d| d.rate);
        let loss = net.loss_and_grad(&mut ws, &batch, rng, &mut grads)?;
        if !loss.is_finite() {
            return Err(Error::NonFinite {
                what: "the loss".to_owned(),
                location: format!("step {step} with α = {alpha}"),
                value: loss,
            });
        }
        if step % every == 0 {
            let (lambda, _) = top_eigenvalue(&net, &mut hws, &batch, &mut v)?;
            rows.push((step, loss, lambda, alpha));
        }
        let before = net.clone();
        axpy(&mut net, -alpha, &grads)?;
        if let Some(d) = driver.as_mut() {
            // The course's rule: undo a step that raised the loss and halve α; else grow α.
            if net.loss(&mut ws, &batch)? > loss {
                net = before;
                d.rate *= d.shrink;
            } else {
                d.rate *= d.grow;
            }
        }
    }
    let name = match rule {
        Some(_) => "the course's rule".to_owned(),
        None => format!("α = {fixed}"),
    };
    Ok(Run { name, rows })
}

fn report(runs: &[Run]) {
    for run in runs {
        println!("\n{}", run.name);
        println!(
            "{:>6}  {:>10}  {:>10}  {:>8}  {:>8}",
            "step", "loss", "λ_max", "α", "2/α"
        );
        for &(step, loss, lambda, alpha) in run.rows.iter().filter(|r| r.0 % 500 == 0) {
            println!(
                "{step:>6}  {loss:>10.5}  {lambda:>10.3}  {alpha:>8.3}  {:>8.3}",
                2.0 / alpha
            );
        }
        let range = |pick: fn(&(usize, f64, f64, f64)) -> f64| {
            let last = run.rows.iter().rev().take(10).map(pick);
            last.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)))
        };
        let ((low, high), (slow, fast)) = (range(|r| r.2), range(|r| r.3));
        println!(
            "over the last 1,000 steps: λ_max {low:.2} to {high:.2}, 2/α {:.2} to {:.2}",
            2.0 / fast,
            2.0 / slow
        );
    }
}

fn main() -> Result<()> {
    let source = symgrad::cli::example_source(
        "The curvature of the loss along gradient descent: the top eigenvalue of the Hessian, `λ_max`, by power iteration on the compiled Hessian-vector product, tracked while full-batch descent with a fixed step `α` trains a small classifier (tanh, 32 units, squared error on the logits against one-hot targets, 500 digits).",
    );
    let (train_set, _) = source.load::<f64>(0)?;
    let subset = train_set.first(500);
    let schedule = (4000, 100);
    let rates = [0.03, 0.04, 0.05];
    let course = BoldDriver {
        rate: 1.0,
        grow: 1.05,
        shrink: 0.5,
    };
    let mut runs = Vec::new();
    for &rate in &rates {
        runs.push(match source {
            Source::Digits => descend::<SmallDigits<f64>>(&subset, None, rate, schedule)?,
            Source::FashionMnist(_) => descend::<SmallFashion<f64>>(&subset, None, rate, schedule)?,
        });
    }
    runs.push(match source {
        Source::Digits => descend::<SmallDigits<f64>>(&subset, Some(course), 0.0, schedule)?,
        Source::FashionMnist(_) => descend::<SmallFashion<f64>>(&subset, Some(course), 0.0, schedule)?,
    });
    report(&runs);

    let mut series: Vec<Series> = runs
        .iter()
        .map(|run| Series {
            name: format!("λ_max, {}", run.name),
            points: run.rows.iter().map(|r| (r.0 as f64, r.2)).collect(),
        })
        .collect();
    for &rate in &rates {
        series.push(Series {
            name: format!("2/α for α = {rate}"),
            points: vec![(0.0, 2.0 / rate), (schedule.0 as f64, 2.0 / rate)],
        });
    }
    let path = Path::new("curvature.png");
    let axes = Axes {
        title: "Top Hessian eigenvalue during gradient descent, against 2/α",
        x: "step",
        y: "λ_max of the training loss",
        y_scale: Scale::Linear,
    };
    plot::line_chart(path, &axes, &series, (880, 520))?;
    println!("\nwrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Power iteration on the compiled `H·v` agrees with the Rayleigh quotient of its own
    /// eigenvector computed through the tape (forward mode): `vᵀHv` for the unit `v` it returns,
    /// and `Hv ≈ λv` (the residual is small against `λ`).
    #[test]
    fn power_iteration_finds_an_eigenpair() -> Result<()> {
        let data = symgrad::data::digits::<f64>()?.first(40);
        let batch = SmallDigits::<f64>::batch(symgrad::Examples::new(data.features.view(), &data.labels))?;
        let rng = &mut StdRng::seed_from_u64(3);
        let net = SmallDigits::<f64>::new(rng);
        let mut v = SmallDigits::<f64>::new(rng);
        let (lambda, _) = top_eigenvalue(&net, &mut net.hvp_workspace(40), &batch, &mut v)?;
        let norm = dot(&v, &v)?.sqrt();
        scale(&mut v, 1.0 / norm);
        let mut hv = SmallDigits::zeros();
        net.tape_hvp(&batch, rng, &v, &mut hv)?;
        // The quotient converged to 10⁻⁴ of itself; the eigenvector's residual ‖Hv − λv‖ is
        // of the order of the square root of that error times the spectral gap, so 10⁻¹ of λ.
        let quotient = dot(&v, &hv)?;
        assert!(
            (quotient - lambda).abs() <= 1e-3 * lambda.abs(),
            "{lambda} vs {quotient}"
        );
        axpy(&mut hv, -lambda, &v)?;
        assert!(dot(&hv, &hv)?.sqrt() <= 0.1 * lambda.abs());
        Ok(())
    }
}
