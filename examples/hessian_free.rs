//! Hessian-free optimisation (truncated Newton, Martens 2010) of a deep autoencoder, against
//! SGD with momentum and Adam.
//!
//! Each Hessian-free iteration takes the gradient `g` of the loss on the whole training set and
//! solves `(G + λI) d = −g` by conjugate gradients, `G` the generalised Gauss-Newton matrix,
//! touched only through the compiled product `G·v` (`gnvp`), on a fixed random fifth of the
//! data; CG starts from the previous direction (times 0.95) and stops after 50 products or
//! when the quadratic model `q(d) = gᵀd + ½ dᵀ(G + λI)d` improves by less than 5·10⁻⁴ of itself
//! per step over the last tenth of its steps. The step `d` is taken if it lowers the loss; the
//! damping `λ` follows the Levenberg-Marquardt rule on the ratio `ρ` of the actual to the
//! predicted reduction (`λ ← 1.5λ` when `ρ < 1/4`, `λ ← 2λ/3` when `ρ > 3/4`).
//!
//! The network: `d-32-16-8-16-32-d` (`d` = 64 for the digits, 784 for Fashion-MNIST), logistic
//! hidden units, a linear code, binary cross-entropy on a sigmoid output (fused to logits), the
//! classic setting of the method. All three optimisers run in f64 from the same initialisation
//! for the same wall time; the loss on the training set is recorded against seconds and against
//! passes over the data (a gradient is one pass, a product on the fifth is a fifth of one).
//! Prints a table and writes `hessian_free.png` (training loss against passes, log scale).
//!
//! On the digits (2026-11-30, this 2-core machine, 20 s each; the loss cannot go below the
//! pixels' own entropy, 0.2128): all three leave the start at 0.70 for a plateau near 0.42,
//! where SGD with momentum stays longest (0.339 after 1,000 passes); Adam leaves it first
//! (0.366 at 100 passes, Hessian-free 0.423), Hessian-free draws level by 1,000 passes (0.2647
//! against Adam's 0.2653), and after 20 s Adam is slightly lower (0.2488 against 0.2512; SGD
//! 0.2568).
//!
//! ```text
//! cargo run --release --example hessian_free               # 1,437 embedded digits, 20 s per run
//! cargo run --release --example hessian_free -- --fashion  # 10,000 Fashion-MNIST images
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use symgrad::data::{Dataset, Source};
use symgrad::network;
use symgrad::optim::Optim;
use symgrad::params::{axpy, dot, scale};
use symgrad::plot::{self, Axes, Scale, Series};
use symgrad::prelude::*;
use symgrad::rand::seq::SliceRandom;
use symgrad::rand::{SeedableRng, rngs::StdRng};

/// The deep autoencoder for inputs of `$n` values in [0, 1].
macro_rules! deep_autoencoder {
    ($name:ident, $n:tt) => {
        network! {
            pub struct $name {
                input x: [$n];
                e1 = sigmoid(dense(x, 32));
                e2 = sigmoid(dense(e1, 16));
                code = dense(e2, 8);
                d1 = sigmoid(dense(code, 16));
                d2 = sigmoid(dense(d1, 32));
                recon = sigmoid(dense(d2, $n));
                output recon;
                loss bce(recon, x);
            }
        }
    };
}

deep_autoencoder!(DigitsAutoencoder, 64);
deep_autoencoder!(FashionAutoencoder, 784);

/// One optimiser's record: `(seconds, passes over the data, training loss)`.
struct Run {
    name: &'static str,
    points: Vec<(f64, f64, f64)>,
}

/// The batch of all of `data`'s rows.
fn batch_of<M: FromExamples<f64>>(data: &Dataset<f64>) -> Result<M::Batch<'_>> {
    M::batch(symgrad::Examples::new(data.features.view(), &data.labels))
}

/// Conjugate gradients on `(G + λI) d = −g` from `d`, with Martens' stopping rule on the
/// quadratic model; returns the model's value `q(d)` and the products used.
fn conjugate_gradients<M: HessianVector<f64>>(
    net: &M,
    (ws, curvature): (&mut M::GnvpWorkspace, &M::Batch<'_>),
    g: &M,
    lambda: f64,
    d: &mut M,
) -> Result<(f64, usize)> {
    let rng = &mut StdRng::seed_from_u64(0);
    // `A·x = G·x + λx` on the curvature batch.
    let mut apply = |x: &M, out: &mut M| -> Result<()> {
        net.gnvp(ws, curvature, rng, x, out)?;
        axpy(out, lambda, x)
    };
    let mut ad = M::zeros();
    apply(d, &mut ad)?;
    // r = −g − A d, p = r.
    let mut r = M::zeros();
    axpy(&mut r, -1.0, g)?;
    axpy(&mut r, -1.0, &ad)?;
    let mut p = r.clone();
    let mut rr = dot(&r, &r)?;
    let mut model = Vec::new();
    let mut ap = M::zeros();
    for product in 1..=50 {
        apply(&p, &mut ap)?;
        let curvature_along_p = dot(&p, &ap)?;
        if curvature_along_p <= 0.0 {
            return Ok((quadratic(g, d, &ad)?, product));
        }
        let step = rr / curvature_along_p;
        axpy(d, step, &p)?;
        axpy(&mut ad, step, &ap)?;
        axpy(&mut r, -step, &ap)?;
        let next = dot(&r, &r)?;
        scale(&mut p, next / rr);
        axpy(&mut p, 1.0, &r)?;
        rr = next;
        // Martens' rule: stop when the model improved by less than 5·10⁻⁴ of itself per
        // step over the last tenth of the steps (at least 10).
        let q = quadratic(g, d, &ad)?;
        model.push(q);
        let k = (product / 10).max(10);
        if product > k && q < 0.0 && (q - model[product - 1 - k]) / q < 5e-4 * k as f64 {
            return Ok((q, product));
        }
    }
    Ok((quadratic(g, d, &ad)?, 50))
}

/// `q(d) = gᵀd + ½ dᵀ(A d)`.
fn quadratic<M: Parameters<f64>>(g: &M, d: &M, ad: &M) -> Result<f64> {
    Ok(dot(g, d)? + 0.5 * dot(d, ad)?)
}

/// Hessian-free: one record per iteration, until the time or the iterations run out.
fn hessian_free<M: HessianVector<f64> + FromExamples<f64>>(
    data: &Dataset<f64>,
    (budget, iterations): (Duration, usize),
) -> Result<Run> {
    let batch = batch_of::<M>(data)?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(1));
    let fifth = data.subset(&order[..data.len() / 5]);
    let curvature = batch_of::<M>(&fifth)?;
    let rng = &mut StdRng::seed_from_u64(0);
    let mut net = M::init(&mut StdRng::seed_from_u64(7));
    let (mut ws, mut gws) = (net.workspace(data.len()), net.gnvp_workspace(fifth.len()));
    let (mut g, mut d) = (M::zeros(), M::zeros());
    let mut lambda = 1.0;
    let (start, mut passes) = (Instant::now(), 0.0);
    let mut points = Vec::new();
    while start.elapsed() < budget && points.len() < iterations {
        let loss = net.loss_and_grad(&mut ws, &batch, rng, &mut g)?;
        passes += 1.0;
        points.push((start.elapsed().as_secs_f64(), passes, loss));
        scale(&mut d, 0.95);
        let (predicted, products) = conjugate_gradients(&net, (&mut gws, &curvature), &g, lambda, &mut d)?;
        passes += products as f64 / 5.0 + 0.2;
        let mut trial = net.clone();
        axpy(&mut trial, 1.0, &d)?;
        let after = trial.loss(&mut ws, &batch)?;
        passes += 1.0;
        let rho = (after - loss) / predicted;
        if rho < 0.25 {
            lambda *= 1.5;
        } else if rho > 0.75 {
            lambda *= 2.0 / 3.0;
        }
        if after < loss {
            net = trial;
        } else {
            scale(&mut d, 0.0);
        }
    }
    Ok(Run {
        name: "Hessian-free",
        points,
    })
}

/// A first-order optimiser on shuffled mini-batches of 50, one record per epoch.
fn first_order<M: HessianVector<f64> + FromExamples<f64>>(
    data: &Dataset<f64>,
    (name, kind, rate): (&'static str, Optimizer, f64),
    budget: Duration,
) -> Result<Run> {
    let full = batch_of::<M>(data)?;
    let rng = &mut StdRng::seed_from_u64(0);
    let mut net = M::init(&mut StdRng::seed_from_u64(7));
    let (mut ws, mut g) = (net.workspace(data.len()), M::zeros());
    let mut optimiser = Optim::new(kind, 0.0);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let (mut training, mut passes) = (Duration::ZERO, 0.0);
    let mut points = vec![(0.0, 0.0, net.loss(&mut ws, &full)?)];
    while training < budget {
        let epoch = Instant::now();
        order.shuffle(rng);
        for chunk in order.chunks(50) {
            let part = data.subset(chunk);
            net.loss_and_grad(&mut ws, &batch_of::<M>(&part)?, rng, &mut g)?;
            optimiser.step(&mut net, &g, rate);
        }
        training += epoch.elapsed();
        passes += 1.0;
        // The record's evaluation is not counted in the training time.
        points.push((training.as_secs_f64(), passes, net.loss(&mut ws, &full)?));
    }
    Ok(Run { name, points })
}

fn compare<M: HessianVector<f64> + FromExamples<f64>>(data: &Dataset<f64>, budget: Duration) -> Result<Vec<Run>> {
    let momentum = Optimizer::Momentum {
        momentum: 0.9,
        nesterov: false,
    };
    Ok(vec![
        hessian_free::<M>(data, (budget, usize::MAX))?,
        first_order::<M>(data, ("SGD with momentum 0.9, α = 0.1", momentum, 0.1), budget)?,
        first_order::<M>(data, ("Adam, α = 10⁻³", Optimizer::ADAM, 1e-3), budget)?,
    ])
}

fn main() -> Result<()> {
    let source = symgrad::cli::example_source(
        "Hessian-free optimisation (truncated Newton, Martens 2010) of a deep autoencoder, against SGD with momentum and Adam.",
    );
    let (train_set, _) = source.load::<f64>(0)?;
    let seconds = 20;
    let budget = Duration::from_secs(seconds);
    let runs = match source {
        Source::Digits => compare::<DigitsAutoencoder<f64>>(&train_set, budget)?,
        Source::FashionMnist(_) => compare::<FashionAutoencoder<f64>>(&train_set.first(10_000), budget)?,
    };
    // Binary cross-entropy against targets in [0, 1] is at least their own binary entropy.
    let data = match source {
        Source::Digits => &train_set,
        Source::FashionMnist(_) => &train_set.first(10_000),
    };
    let entropy = data
        .features
        .iter()
        .map(|&x| {
            if x <= 0.0 || x >= 1.0 {
                0.0
            } else {
                -(x * x.ln() + (1.0 - x) * (1.0 - x).ln())
            }
        })
        .sum::<f64>()
        / data.features.len() as f64;
    println!(
        "training loss (binary cross-entropy per pixel; the pixels' own entropy, its floor, is {entropy:.4}) \
         after {seconds} s each, f64, one thread"
    );
    println!(
        "{:<32} {:>10} {:>10} {:>10}  loss at 10, 100, 1000 passes",
        "optimiser", "passes", "seconds", "loss"
    );
    for run in &runs {
        let &(time, passes, loss) = run.points.last().expect("one point at least");
        let at = |p: f64| {
            run.points
                .iter()
                .find(|point| point.1 >= p)
                .map_or("—".to_owned(), |point| format!("{:.4}", point.2))
        };
        println!(
            "{:<32} {passes:>10.1} {time:>10.1} {loss:>10.4}  {} {} {}",
            run.name,
            at(10.0),
            at(100.0),
            at(1000.0)
        );
    }
    let series: Vec<Series> = runs
        .iter()
        .map(|run| Series {
            name: run.name.to_owned(),
            points: run.points.iter().map(|&(_, passes, loss)| (passes, loss)).collect(),
        })
        .collect();
    let path = Path::new("hessian_free.png");
    let axes = Axes {
        title: "Hessian-free optimisation against first-order methods",
        x: "passes over the data",
        y: "training loss",
        y_scale: Scale::Log,
    };
    plot::line_chart(path, &axes, &series, (880, 520))?;
    println!("\nwrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: usize) -> Result<Dataset<f64>> {
        let (train, _) = Source::Digits.load::<f64>(0)?;
        Ok(train.first(n))
    }

    /// With damping far above the curvature, `(G + λI) d = −g` is `d ≈ −g/λ`: CG's answer
    /// within 10⁻³ (the neglected `G d` is below 10⁻³ of `λ d` for these small products).
    #[test]
    fn heavy_damping_gives_a_scaled_gradient_step() -> Result<()> {
        let data = digits(30)?;
        let batch = batch_of::<DigitsAutoencoder<f64>>(&data)?;
        let net = DigitsAutoencoder::<f64>::new(&mut StdRng::seed_from_u64(7));
        let mut g = DigitsAutoencoder::zeros();
        net.loss_and_grad(&mut net.workspace(30), &batch, &mut StdRng::seed_from_u64(0), &mut g)?;
        let lambda = 1e4;
        let mut d = DigitsAutoencoder::zeros();
        conjugate_gradients(&net, (&mut net.gnvp_workspace(30), &batch), &g, lambda, &mut d)?;
        let mut expected = DigitsAutoencoder::zeros();
        axpy(&mut expected, -1.0 / lambda, &g)?;
        let mut difference = d.clone();
        axpy(&mut difference, -1.0, &expected)?;
        assert!(dot(&difference, &difference)?.sqrt() <= 1e-3 * dot(&expected, &expected)?.sqrt());
        Ok(())
    }

    /// Five Hessian-free iterations on 100 digits lower the loss, and every recorded loss is
    /// no higher than the one before (a step is only taken if it lowers the loss).
    #[test]
    fn hessian_free_descends() -> Result<()> {
        let run = hessian_free::<DigitsAutoencoder<f64>>(&digits(100)?, (Duration::MAX, 5))?;
        assert_eq!(run.points.len(), 5);
        assert!(run.points.windows(2).all(|w| w[1].2 <= w[0].2), "{:?}", run.points);
        assert!(run.points.last().map(|p| p.2) < run.points.first().map(|p| p.2));
        Ok(())
    }
}
