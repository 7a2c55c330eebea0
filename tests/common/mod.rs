//! The gradient check shared by the property tests: every generated gradient against central
//! finite differences in f64 and against the tape twin. Tolerances are justified at `check`.

#![allow(dead_code)]

use std::fmt::Debug;

use proptest::prelude::*;
use symgrad::gradcheck::{self, Options};
use symgrad::ndarray::Array2;
use symgrad::prelude::*;
use symgrad::rand::{Rng, SeedableRng, rngs::StdRng};

/// Values in (0, 1), like pixels: the logistic function of N(0, 1/4) draws.
pub fn unit(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<f64> {
    random(rng, rows, cols, 0.5).mapv(|v| 1.0 / (1.0 + (-v).exp()))
}

/// Entries from N(0, σ²).
pub fn random(rng: &mut StdRng, rows: usize, cols: usize, sigma: f64) -> Array2<f64> {
    let mut a = Array2::zeros((rows, cols));
    Init::StandardNormal.fill(rng, a.view_mut());
    a * sigma
}

pub fn labels(rng: &mut StdRng, rows: usize, classes: usize) -> Vec<usize> {
    (0..rows).map(|_| rng.random_range(0..classes)).collect()
}

/// Probabilities in (0, 1) (per row summing to 1 if `normalise`).
pub fn probabilities(rng: &mut StdRng, rows: usize, cols: usize, normalise: bool) -> Array2<f64> {
    let mut p = random(rng, rows, cols, 1.0).mapv(|v| 1.0 / (1.0 + (-v).exp()));
    if normalise {
        for mut row in p.rows_mut() {
            let s = row.sum();
            row /= s;
        }
    }
    p
}

/// A network from `seed`, every parameter moved off its initial value so that zero biases
/// and symmetric starts are not special.
pub fn network<N: Model<f64>>(rng: &mut StdRng) -> N {
    let mut net = N::init(rng);
    for i in 0..net.count() {
        let mut p = net.param_mut(i);
        p.mapv_inplace(|v| v + 0.3 * symgrad::init::normal(rng));
    }
    net
}

/// Whether the loss is differentiable everywhere, or has kinks (relu, leaky relu, abs, MAE).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kinks {
    None,
    Possible,
}

pub fn check<N: TapeTwin<f64> + Debug>(
    net: &mut N,
    batch: &N::Batch<'_>,
    mask_seed: u64,
    kinks: Kinks,
) -> std::result::Result<(), TestCaseError> {
    let mut ws = net.workspace(1);
    let mut grads = N::zeros();
    let loss = net
        .loss_and_grad(&mut ws, batch, &mut StdRng::seed_from_u64(mask_seed), &mut grads)
        .unwrap();
    let mut tape_grads = N::zeros();
    let tape_loss = net
        .tape_loss_and_grad(
            &mut Tape::new(),
            batch,
            &mut StdRng::seed_from_u64(mask_seed),
            &mut tape_grads,
        )
        .unwrap();
    prop_assert!(
        (loss - tape_loss).abs() <= 1e-10 * tape_loss.abs().max(1.0),
        "loss {loss} vs tape {tape_loss}"
    );
    let train_loss = net
        .loss_train(&mut ws, batch, &mut StdRng::seed_from_u64(mask_seed))
        .unwrap();
    prop_assert_eq!(train_loss, loss);
    for i in 0..net.count() {
        let (ours, tape) = (grads.param(i), tape_grads.param(i));
        let scale = tape.iter().fold(1e-300_f64, |m, v| m.max(v.abs()));
        let worst = ours
            .iter()
            .zip(tape.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        prop_assert!(
            worst <= 1e-10 * scale,
            "{}: generated and tape gradients differ by {worst:e} (scale {scale:e})",
            net.name(i)
        );
    }
    let report = gradcheck::check(
        net,
        &grads,
        |n| n.loss_train(&mut ws, batch, &mut StdRng::seed_from_u64(mask_seed)),
        Options::default(),
    )
    .unwrap();
    prop_assert!(report.passed(), "\n{report}");
    // A smooth loss has no kinks, so none may be reported: the kink test does not swallow
    // errors. With kinks, a pre-activation within 2·10⁻⁴ of 0 spoils a whole column of its
    // weight (and more with few rows), yet most elements must still be compared.
    match kinks {
        Kinks::None => prop_assert_eq!(report.kinks(), 0, "a smooth loss reported kinks:\n{}", report),
        Kinks::Possible => prop_assert!(report.kinks() <= report.checked(), "implausibly many kinks:\n{report}"),
    }
    let output = net.output(&mut ws, batch).unwrap().to_owned();
    prop_assert!(output.iter().all(|v| v.is_finite()));
    // One evaluation pass computing both gives what the two passes give.
    let eval_loss = net.loss(&mut ws, batch).unwrap();
    let (both_output, both_loss) = net.output_and_loss(&mut ws, batch).unwrap();
    prop_assert_eq!(both_output, output.view());
    prop_assert_eq!(both_loss, eval_loss);
    Ok(())
}
