//! The Gauss-Newton-vector product `G·v = Jᵀ H_ℓ J v` of generated networks, in f64: equal to
//! the Hessian's product where the network is linear in its parameters up to the loss; equal
//! to an independent construction from the network's output where the loss is the mean
//! squared error; symmetric and positive semi-definite everywhere. (`H·v` itself is checked
//! on every network of the gradient tests, by `common::check_hvp`.)

mod common;

use common::{direction, dot, labels, network, random};
use proptest::prelude::*;
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    /// Softmax regression: the logits are linear in the parameters, so `G = H`.
    struct SoftmaxRegression {
        input x: [5];
        target y: classes[3];
        z = dense(x, 3);
        output softmax(z);
        loss softmax_cross_entropy(z, y);
    }
}

network! {
    /// Linear regression with logistic and squared losses on the same linear outputs: `G = H`.
    struct LinearRegression {
        input x: [4];
        target t: [2];
        target p: [2];
        param w: [4, 2];
        param b: [2];
        z = x @ w + b;
        output z;
        loss mse(z, t) + 0.5 * bce_with_logits(z, p);
    }
}

network! {
    /// A tanh network with squared error on its output.
    struct Regression {
        input x: [4];
        target t: [3];
        h = tanh(dense(x, 5));
        z = dense(sigmoid(dense(h, 4)), 3) + dense(h * h, 3);
        output z;
        loss mse(z, t);
    }
}

network! {
    /// Images with a per-channel bias, flattened into a dense layer, squared error.
    struct Images {
        input x: [2, 2, 3];
        target t: [4];
        param bias: [2, 1, 1];
        h = softplus(x - bias);
        z = dense(tanh(dense(flatten(h), 6)), 4);
        output z;
        loss mse(z, t);
    }
}

network! {
    /// A classifier with ReLU, dropout and a penalty: positive semi-definite, not `H`.
    struct Classifier {
        input x: [5];
        target y: classes[4];
        h = dropout(relu(dense(x, 6)), 0.2);
        z = dense(h, 4);
        output softmax(z);
        loss cross_entropy(softmax(z), y) + 0.01 * sum(square(z_w));
    }
}

/// The largest difference between `a` and `b` over the largest element of `b`.
fn relative_difference<N: Parameters<f64>>(a: &N, b: &N) -> f64 {
    let (mut worst, mut scale) = (0.0_f64, 1e-300_f64);
    for i in 0..a.count() {
        for (x, y) in a.param(i).iter().zip(b.param(i).iter()) {
            worst = worst.max((x - y).abs());
            scale = scale.max(y.abs());
        }
    }
    worst / scale
}

/// `G·v` for random `v` and `u`: symmetric (`uᵀGv = vᵀGu`, to rounding) and positive
/// semi-definite (`vᵀGv ≥ 0`, to rounding: 10⁻¹² of `Σ |vᵢ (Gv)ᵢ|`).
fn symmetric_and_semidefinite<N: HessianVector<f64>>(
    net: &N,
    batch: &N::Batch<'_>,
    seed: u64,
) -> Result<N, TestCaseError> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6A55);
    let (u, v): (N, N) = (direction(&mut rng), direction(&mut rng));
    let mut ws = net.gnvp_workspace(1);
    let (mut gu, mut gv) = (N::zeros(), N::zeros());
    net.gnvp(&mut ws, batch, &mut StdRng::seed_from_u64(seed), &u, &mut gu)
        .unwrap();
    net.gnvp(&mut ws, batch, &mut StdRng::seed_from_u64(seed), &v, &mut gv)
        .unwrap();
    let ((u_gv, _), (v_gu, _), (v_gv, magnitude)) = (dot(&u, &gv), dot(&v, &gu), dot(&v, &gv));
    prop_assert!(
        (u_gv - v_gu).abs() <= 1e-9 * (u_gv.abs() + v_gu.abs()).max(1e-300),
        "uᵀGv = {u_gv:e}, vᵀGu = {v_gu:e}"
    );
    prop_assert!(v_gv >= -1e-12 * magnitude, "vᵀGv = {v_gv:e} < 0");
    Ok(gv)
}

/// Where the network is linear in its parameters up to the loss, `G·v` is `H·v` (to rounding).
fn equals_the_hessian<N: HessianVector<f64>>(net: &N, batch: &N::Batch<'_>, seed: u64) -> Result<(), TestCaseError> {
    let v: N = direction(&mut StdRng::seed_from_u64(seed ^ 0x11));
    let (mut gv, mut hv) = (N::zeros(), N::zeros());
    net.gnvp(
        &mut net.gnvp_workspace(1),
        batch,
        &mut StdRng::seed_from_u64(seed),
        &v,
        &mut gv,
    )
    .unwrap();
    net.hvp(
        &mut net.hvp_workspace(1),
        batch,
        &mut StdRng::seed_from_u64(seed),
        &v,
        &mut hv,
    )
    .unwrap();
    let difference = relative_difference(&gv, &hv);
    prop_assert!(difference <= 1e-10, "G·v and H·v differ by {difference:e} of H·v");
    Ok(())
}

/// For `loss mse(z, t)` with `output z` (`n` values per sample, `B` samples), `H_ℓ = 2/(Bn)`, so
/// `G·v = Jᵀ (2/(Bn)) J v` is the gradient of `mse(z, z − Jv)` with the target held fixed: an
/// independent construction from `Jv`, the directional derivative of the output, taken by
/// fourth-order differences of `forward` (`h = 10⁻⁴`: truncation `h⁴ z⁽⁵⁾/30`, rounding
/// `18 ε |z| / 12h ≈ 3·10⁻¹²`; 10⁻⁷ of the largest element leaves four orders of margin).
/// `output(θ)` is the network's output, `gradient(θ, t)` its gradient with target `t`; `gv` is
/// the generated `G·v` for the `v` of `seed` (as `symmetric_and_semidefinite` draws it).
fn equals_the_construction<N: HessianVector<f64>>(
    net: &N,
    gv: &N,
    seed: u64,
    output: impl Fn(&N) -> Array2<f64>,
    gradient: impl Fn(&N, &Array2<f64>) -> N,
) -> Result<(), TestCaseError> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6A55);
    let _u: N = direction(&mut rng);
    let v: N = direction(&mut rng);
    let h = 1e-4;
    let at = |t: f64| {
        let mut moved = net.clone();
        for i in 0..moved.count() {
            moved.param_mut(i).zip_mut_with(&v.param(i), |p, &d| *p += t * d);
        }
        output(&moved)
    };
    let jv = (-at(2.0 * h) + 8.0 * at(h) - 8.0 * at(-h) + at(-2.0 * h)) / (12.0 * h);
    let constructed = gradient(net, &(output(net) - jv));
    let difference = relative_difference(gv, &constructed);
    prop_assert!(difference <= 1e-7, "G·v and Jᵀ(2/Bn)Jv differ by {difference:e}");
    Ok(())
}

/// A network with `input x`, `target t`, `output z` and `loss mse(z, t)`, `(inputs, outputs)`
/// values per sample: `G·v` symmetric, semi-definite and equal to the construction from `Jv`.
macro_rules! mse_case {
    ($net:ident, $batch:ident, $inputs:ident, ($n_in:expr, $n_out:expr), $seed:expr, $rows:expr) => {{
        let (seed, rows) = ($seed, $rows);
        let mut rng = StdRng::seed_from_u64(seed);
        let net: $net<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, $n_in, 1.0), random(&mut rng, rows, $n_out, 1.0));
        let gv = symmetric_and_semidefinite(
            &net,
            &$batch {
                x: x.view(),
                t: t.view(),
            },
            seed,
        )?;
        let output = |n: &$net<f64>| {
            n.forward(&mut n.workspace(rows), &$inputs { x: x.view() })
                .unwrap()
                .to_owned()
        };
        let gradient = |n: &$net<f64>, t: &Array2<f64>| {
            let mut g = $net::zeros();
            let batch = $batch {
                x: x.view(),
                t: t.view(),
            };
            n.loss_and_grad(&mut n.workspace(rows), &batch, &mut rng.clone(), &mut g)
                .unwrap();
            g
        };
        equals_the_construction(&net, &gv, seed, output, gradient)?;
    }};
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn softmax_regression(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let net: SoftmaxRegression<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 5, 1.0), labels(&mut rng, rows, 3));
        let batch = SoftmaxRegressionBatch { x: x.view(), y: &y };
        equals_the_hessian(&net, &batch, seed)?;
        symmetric_and_semidefinite(&net, &batch, seed)?;
    }

    #[test]
    fn linear_regression(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let net: LinearRegression<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 4, 1.0), random(&mut rng, rows, 2, 1.0));
        let p = common::probabilities(&mut rng, rows, 2, false);
        let batch = LinearRegressionBatch { x: x.view(), t: t.view(), p: p.view() };
        equals_the_hessian(&net, &batch, seed)?;
        symmetric_and_semidefinite(&net, &batch, seed)?;
    }

    #[test]
    fn regression(seed in any::<u64>(), rows in 1usize..6) {
        mse_case!(Regression, RegressionBatch, RegressionInputs, (4, 3), seed, rows);
    }

    #[test]
    fn images(seed in any::<u64>(), rows in 1usize..6) {
        mse_case!(Images, ImagesBatch, ImagesInputs, (12, 4), seed, rows);
    }

    #[test]
    fn classifier(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let net: Classifier<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 5, 1.0), labels(&mut rng, rows, 4));
        let batch = ClassifierBatch { x: x.view(), y: &y };
        symmetric_and_semidefinite(&net, &batch, seed)?;
    }
}
