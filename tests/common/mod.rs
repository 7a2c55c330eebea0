//! The derivative checks shared by the property tests: every generated gradient against
//! central finite differences in f64 and against the tape twin, and every generated
//! Hessian-vector product against differences of the generated gradient and for symmetry.
//! Tolerances are justified at `check` and `check_hvp`.

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

pub fn check<N: TapeTwin<f64> + HessianVector<f64> + Debug>(
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
    // A small dense chain's gradient comes from its blocked step (`kernels::rows`), whose sums
    // run in another order than the batch-wide forward pass of `loss_train`: a few ulps per
    // operation apart, as the tape is. Elsewhere both come from one forward pass, bit for bit.
    prop_assert!(
        (train_loss - loss).abs() <= 1e-10 * loss.abs().max(1.0),
        "training loss {train_loss} vs {loss}"
    );
    agree_with_tape(&grads, &tape_grads, "gradients")?;
    hook_sees_final_gradients(net, batch, mask_seed, &grads)?;
    sgd_step_is_a_gradient_step(net, batch, mask_seed, &grads, loss)?;
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
    check_hvp(net, batch, mask_seed, kinks)
}

/// `loss_and_grad_with_hook` calls its hook once for every parameter, with the gradient the
/// whole pass returns (bit for bit): no later step of the backward pass changes a gradient
/// after it was announced final.
fn hook_sees_final_gradients<N: Model<f64>>(
    net: &N,
    batch: &N::Batch<'_>,
    mask_seed: u64,
    grads: &N,
) -> std::result::Result<(), TestCaseError> {
    let mut announced: Vec<Option<symgrad::ndarray::ArrayD<f64>>> = vec![None; net.count()];
    let mut hooked = N::zeros();
    let mut rng = StdRng::seed_from_u64(mask_seed);
    net.loss_and_grad_with_hook(&mut net.workspace(1), batch, &mut rng, &mut hooked, |i, gradient| {
        assert!(announced[i].is_none(), "{} announced twice", net.name(i));
        announced[i] = Some(gradient.to_owned());
    })
    .unwrap();
    for (i, seen) in announced.iter().enumerate() {
        let seen = seen.as_ref();
        prop_assert!(seen.is_some(), "{} never announced", net.name(i));
        prop_assert_eq!(
            seen.unwrap(),
            &grads.param(i),
            "{} changed after it was announced",
            net.name(i)
        );
        prop_assert_eq!(hooked.param(i), grads.param(i));
    }
    Ok(())
}

/// `sgd_step`, whose weight updates are folded into the products computing their gradients,
/// moves every parameter to `θ − α(g + λθ)` with `g` the generated gradient, and returns the
/// loss `loss_and_grad` returned (`loss`, bit for bit: both run the same forward pass). The
/// folded gemm computes `βw + α'·Σ` where the separate update rounds `Σ` to `g` first: a few
/// roundings of `|w| + α|g|` apart (10⁻¹⁵ of it), so 10⁻¹³ leaves a margin of a hundred.
fn sgd_step_is_a_gradient_step<N: Model<f64>>(
    net: &N,
    batch: &N::Batch<'_>,
    mask_seed: u64,
    grads: &N,
    expected: f64,
) -> std::result::Result<(), TestCaseError> {
    let (rate, decay) = (0.1, 0.01);
    let mut stepped = net.clone();
    let mut rng = StdRng::seed_from_u64(mask_seed);
    let loss = stepped
        .sgd_step(&mut net.workspace(1), batch, &mut rng, &mut N::zeros(), rate, decay)
        .unwrap();
    prop_assert_eq!(loss, expected);
    for i in 0..net.count() {
        let (w, g, moved) = (net.param(i), grads.param(i), stepped.param(i));
        let largest = |a: &symgrad::ndarray::ArrayViewD<f64>| a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let scale = largest(&w) + rate * largest(&g);
        for ((&w, &g), &moved) in w.iter().zip(g.iter()).zip(moved.iter()) {
            let step = w - rate * (g + decay * w);
            prop_assert!(
                (moved - step).abs() <= 1e-13 * scale,
                "{}: sgd_step gives {moved}, a gradient step {step}",
                net.name(i)
            );
        }
    }
    Ok(())
}

/// Generated and tape values of the parameters' shapes agree to 10⁻¹⁰ of each parameter's
/// largest element (see `check`), or of a thousandth of the largest element of them all if that
/// is larger: a parameter whose entries are all tiny (a dead unit's bias under `H·v`, about
/// 10⁻⁷ where others are near 1) is a sum of terms as large as the others' that cancel, and its
/// rounding error follows those terms (10⁻¹⁷ of them is 4·10⁻¹⁰ of such a bias), not its size.
fn agree_with_tape<N: Parameters<f64>>(ours: &N, tape: &N, what: &str) -> std::result::Result<(), TestCaseError> {
    let largest = |i: usize| tape.param(i).iter().fold(1e-300_f64, |m, v| m.max(v.abs()));
    let floor = 1e-3 * (0..tape.count()).map(largest).fold(0.0, f64::max);
    for i in 0..ours.count() {
        let (a, b) = (ours.param(i), tape.param(i));
        let scale = largest(i).max(floor);
        let worst = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        prop_assert!(
            worst <= 1e-10 * scale,
            "{}: generated and tape {what} differ by {worst:e} (scale {scale:e})",
            ours.name(i)
        );
    }
    Ok(())
}

/// A direction of the parameters' shapes, entries from N(0, 1).
pub fn direction<N: Model<f64>>(rng: &mut StdRng) -> N {
    let mut v = N::zeros();
    for i in 0..v.count() {
        v.param_mut(i).mapv_inplace(|_| symgrad::init::normal(rng));
    }
    v
}

/// `Σ aᵢ bᵢ` over every parameter, and `Σ |aᵢ bᵢ|`, its scale.
pub fn dot<N: Parameters<f64>>(a: &N, b: &N) -> (f64, f64) {
    (0..a.count())
        .flat_map(|i| {
            a.param(i)
                .iter()
                .zip(b.param(i).iter())
                .map(|(x, y)| x * y)
                .collect::<Vec<_>>()
        })
        .fold((0.0, 0.0), |(sum, scale), p| (sum + p, scale + p.abs()))
}

/// The generated `H·v` against fourth-order central differences of the generated gradient
/// along `v`, `(−g(θ+2hv) + 8g(θ+hv) − 8g(θ−hv) + g(θ−2hv))/12h` with `h = 10⁻⁵`, element by
/// element, and the symmetry `uᵀHv = vᵀHu`. Every gradient uses the same dropout masks.
///
/// Tolerances: the stencil errs by `h⁴ g⁽⁵⁾/30`, nothing here, plus rounding
/// `18 ε |g| / 12h ≈ 3·10⁻¹¹ |g|`, so a derived element must agree to 10⁻⁶ of its size (or of
/// 1, for elements near zero) plus 10⁻⁹ of the gradient's largest element: four orders of
/// margin or more.
///
/// Where the gradient has a kink between the shifted points (ReLU's and MAE's gradients jump
/// at 0), differences mean nothing, and since every parameter moves at once, one kink spoils
/// many elements. It shows as estimates with `h` and `h/2` that disagree by more than 10⁻⁷ of
/// their size (plus the rounding term); a smooth loss may have none, and with kinks a new
/// random direction is drawn, up to four, until one crosses none. A point within about 10⁻⁵
/// of a kink is crossed in every direction; such a case (about one in 10⁴ here) has nothing
/// to compare, as the gradient check compares no element at a kink. The detection reads only
/// the gradient, which `check` verifies, so it cannot hide a wrong `H·v`.
///
/// The two products of the symmetry check differ only by rounding in their different orders
/// of summation, about `10⁻¹³` of the sum of the magnitudes; 10⁻⁹ of it is allowed.
pub fn check_hvp<N: HessianVector<f64> + Debug>(
    net: &N,
    batch: &N::Batch<'_>,
    mask_seed: u64,
    kinks: Kinks,
) -> std::result::Result<(), TestCaseError> {
    let masks = || StdRng::seed_from_u64(mask_seed);
    let mut rng = StdRng::seed_from_u64(mask_seed ^ 0xD1EC);
    let mut hws = net.hvp_workspace(1);
    let mut ws = net.workspace(1);
    let mut gradient = N::zeros();
    net.loss_and_grad(&mut ws, batch, &mut masks(), &mut gradient).unwrap();
    // The batch-wide forward pass, which `hvp` runs too (the gradient may be a small dense
    // chain's blocked step, whose loss is a few ulps apart).
    let train_loss = net.loss_train(&mut ws, batch, &mut masks()).unwrap();
    let size = (0..net.count())
        .flat_map(|i| gradient.param(i).iter().copied().collect::<Vec<f64>>())
        .fold(0.0_f64, |m, g| m.max(g.abs()));
    for _ in 0..4 {
        let v: N = direction(&mut rng);
        let mut hv = N::zeros();
        let loss = net.hvp(&mut hws, batch, &mut masks(), &v, &mut hv).unwrap();
        prop_assert_eq!(loss, train_loss, "hvp's loss is the training loss");
        let mut grad_at = |t: f64| -> N {
            let mut moved = net.clone();
            for i in 0..moved.count() {
                moved.param_mut(i).zip_mut_with(&v.param(i), |p, &d| *p += t * d);
            }
            let mut g = N::zeros();
            moved.loss_and_grad(&mut ws, batch, &mut masks(), &mut g).unwrap();
            g
        };
        let mut differences = |h: f64| -> Vec<Vec<f64>> {
            let g = [grad_at(2.0 * h), grad_at(h), grad_at(-h), grad_at(-2.0 * h)];
            (0..net.count())
                .map(|i| {
                    let [a, b, c, d] = [0, 1, 2, 3].map(|k| g[k].param(i).iter().copied().collect::<Vec<f64>>());
                    (0..a.len())
                        .map(|e| (-a[e] + 8.0 * b[e] - 8.0 * c[e] + d[e]) / (12.0 * h))
                        .collect()
                })
                .collect()
        };
        let h = 1e-5;
        let (full, half) = (differences(h), differences(h / 2.0));
        let kinked = full
            .iter()
            .flatten()
            .zip(half.iter().flatten())
            .filter(|&(n, f)| (n - f).abs() > 1e-7 * n.abs().max(1.0) + 1e-9 * size)
            .count();
        if kinked > 0 {
            prop_assert!(
                kinks == Kinks::Possible,
                "a smooth loss's gradient has {kinked} kinked elements"
            );
            continue;
        }
        for (i, numerics) in full.iter().enumerate() {
            for (e, (&derived, &numeric)) in hv.param(i).iter().zip(numerics).enumerate() {
                prop_assert!(
                    derived.is_finite() && (derived - numeric).abs() <= 1e-6 * derived.abs().max(1.0) + 1e-9 * size,
                    "(Hv) of {}[{e}]: derived {derived:e}, differences of the gradient {numeric:e}",
                    net.name(i)
                );
            }
        }
        // The tape twin in forward mode computes the same product from the definition as
        // written: in f64 both differ by rounding in a different order of operations, as the
        // gradients do (see `check`), so 10⁻¹⁰ of each parameter's largest element.
        let mut tape_hv = N::zeros();
        let tape_loss = net.tape_hvp(batch, &mut masks(), &v, &mut tape_hv).unwrap();
        prop_assert!((tape_loss - loss).abs() <= 1e-10 * loss.abs().max(1.0));
        agree_with_tape(&hv, &tape_hv, "H·v")?;
        let u: N = direction(&mut rng);
        let mut hu = N::zeros();
        net.hvp(&mut hws, batch, &mut masks(), &u, &mut hu).unwrap();
        let ((u_hv, a), (v_hu, b)) = (dot(&u, &hv), dot(&v, &hu));
        prop_assert!(
            (u_hv - v_hu).abs() <= 1e-9 * (a + b).max(1e-300),
            "uᵀHv = {u_hv:e} but vᵀHu = {v_hu:e}"
        );
        // The Gauss-Newton matrix is symmetric too (its other properties: tests/second_order.rs).
        let (mut gu, mut gv) = (N::zeros(), N::zeros());
        let mut gws = net.gnvp_workspace(1);
        net.gnvp(&mut gws, batch, &mut masks(), &u, &mut gu).unwrap();
        net.gnvp(&mut gws, batch, &mut masks(), &v, &mut gv).unwrap();
        let ((u_gv, a), (v_gu, b)) = (dot(&u, &gv), dot(&v, &gu));
        prop_assert!(
            (u_gv - v_gu).abs() <= 1e-9 * (a + b).max(1e-300),
            "uᵀGv = {u_gv:e} but vᵀGu = {v_gu:e}"
        );
        return Ok(());
    }
    // At a kink: every direction crossed it.
    Ok(())
}
