//! The training loop, optimisers, step-size rules and stopping rules, on the embedded digits
//! at reduced size (each test runs in well under a second in release mode).

use symgrad::data::{self, Dataset};
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::optim::{BoldDriver, Optim};
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, OnDivergence, Stop, TrainConfig, Verbosity};

network! {
    struct Classifier {
        input x: [64];
        target y: classes[10];
        h = dropout(relu(dense(x, 32)), 0.1);
        z = dense(h, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// Deterministic (no dropout), for full-batch descent.
    struct Plain {
        input x: [64];
        target y: classes[10];
        z = dense(tanh(dense(x, 16)), 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// The digits as one-channel images `[1, 8, 8]`: a learned plane `[8, 8]` subtracted from
    /// every image, then flattened into a classifier.
    struct Images {
        input x: [1, 8, 8];
        target y: classes[10];
        param background: [8, 8];
        h = relu(dense(flatten(tanh(x - background)), 32));
        z = dense(h, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// A real-valued target: a regression.
    struct Regressor {
        input x: [2];
        target t: [1];
        out = dense(tanh(dense(x, 16)), 1);
        output out;
        loss mse(out, t);
    }
}

fn digits() -> (Dataset<f32>, Dataset<f32>) {
    let mut all = data::digits::<f32>().unwrap();
    all.scale_by(16.0);
    all.split_stratified(0.2, &mut StdRng::seed_from_u64(0)).unwrap()
}

fn quiet(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 50,
        verbosity: Verbosity::Quiet,
        keep_best: false,
        ..TrainConfig::default()
    }
}

#[test]
fn training_lowers_the_loss_and_learns() {
    let (train, val) = digits();
    let mut net = Classifier::<f32>::new(&mut StdRng::seed_from_u64(1));
    let mut ws = net.workspace(64);
    let before = train::evaluate(&net, &mut ws, &val, 64).unwrap();
    let history = train::fit(
        &mut net,
        &train,
        &val,
        &TrainConfig {
            learning_rate: 3e-3,
            ..quiet(5)
        },
    )
    .unwrap();
    let after = train::evaluate(&net, &mut ws, &val, 64).unwrap();
    assert_eq!(history.epochs.len(), 5);
    assert!(
        history.epochs[4].train_loss < history.epochs[0].train_loss,
        "{history:?}"
    );
    assert!(after.loss < before.loss / 2.0, "{before:?} → {after:?}");
    assert!(after.accuracy > 0.85, "{after:?}");
    assert_eq!(history.epochs[4].val_accuracy, after.accuracy);
    assert!(history.to_csv().lines().count() == 6);
}

#[test]
fn images_train_through_the_same_loop() {
    // A data set's rows are the images' values in row-major order, as the batch takes them.
    let (train, val) = digits();
    let mut net = Images::<f32>::new(&mut StdRng::seed_from_u64(1));
    let history = train::fit(
        &mut net,
        &train,
        &val,
        &TrainConfig {
            learning_rate: 3e-3,
            ..quiet(5)
        },
    )
    .unwrap();
    let after = history.epochs[4];
    assert!(after.val_accuracy > 0.85, "{history:?}");
    assert_eq!(net.background.shape(), [8, 8]);
}

#[test]
fn a_seed_fixes_the_run_bit_for_bit() {
    let (train, val) = digits();
    let run = |seed: u64| {
        let mut net = Classifier::<f32>::new(&mut StdRng::seed_from_u64(7));
        let history = train::fit(&mut net, &train, &val, &TrainConfig { seed, ..quiet(2) }).unwrap();
        (
            net,
            history
                .epochs
                .iter()
                .map(|r| (r.train_loss, r.val_loss, r.grad_norm))
                .collect::<Vec<_>>(),
        )
    };
    let (a, b, c) = (run(3), run(3), run(4));
    assert_eq!(a, b);
    assert_ne!(a.1, c.1);
}

#[test]
fn the_last_partial_batch_is_used() {
    let (train, val) = digits();
    // 1,438 samples in batches of 500: 500, 500 and 438; every sample must be seen, so a
    // network started at the same point ends differently from one trained on 1,000 of them.
    let config = TrainConfig {
        batch_size: 500,
        optimizer: Optimizer::Sgd,
        learning_rate: 0.5,
        ..quiet(1)
    };
    let mut all = Classifier::<f32>::new(&mut StdRng::seed_from_u64(2));
    let mut most = all.clone();
    train::fit(&mut all, &train, &val, &config).unwrap();
    let first: Vec<usize> = (0..1000).collect();
    train::fit(&mut most, &train.subset(&first), &val, &config).unwrap();
    assert_ne!(all, most);
}

#[test]
fn divergence_stops_with_an_error_naming_epoch_and_step() {
    let (train, val) = digits();
    let mut net = Classifier::<f32>::new(&mut StdRng::seed_from_u64(1));
    let config = TrainConfig {
        optimizer: Optimizer::Sgd,
        learning_rate: 1e30,
        ..quiet(3)
    };
    match train::fit(&mut net, &train, &val, &config) {
        Err(Error::NonFinite { location, .. }) => assert!(location.starts_with("epoch 1, step "), "{location}"),
        other => panic!("expected a divergence error, got {other:?}"),
    }
}

#[test]
fn divergence_can_roll_back_and_shrink_the_step() {
    let (train, val) = digits();
    let mut net = Classifier::<f32>::new(&mut StdRng::seed_from_u64(1));
    let config = TrainConfig {
        optimizer: Optimizer::Sgd,
        learning_rate: 1e30,
        on_divergence: OnDivergence::RollBack {
            factor: 1e-10,
            retries: 5,
        },
        ..quiet(2)
    };
    let history = train::fit(&mut net, &train, &val, &config).unwrap();
    assert!(
        history.epochs.iter().all(|r| r.rate < 1e25 && r.train_loss.is_finite()),
        "{history:?}"
    );
    assert!((0..net.count()).all(|i| net.param(i).iter().all(|v| v.is_finite())));
}

#[test]
fn stopping_rules() {
    let (train, val) = digits();
    let mut net = Classifier::<f32>::new(&mut StdRng::seed_from_u64(1));
    let history = train::fit(
        &mut net,
        &train,
        &val,
        &TrainConfig {
            target_accuracy: Some(0.5),
            ..quiet(50)
        },
    )
    .unwrap();
    assert_eq!(history.stop, Stop::Target);
    assert!(history.epochs.len() < 50);
    let history = train::fit(
        &mut net,
        &train,
        &val,
        &TrainConfig {
            patience: Some(1),
            learning_rate: 0.0,
            ..quiet(50)
        },
    )
    .unwrap();
    assert_eq!((history.stop, history.epochs.len()), (Stop::Patience, 2));
    let history = train::fit(
        &mut net,
        &train,
        &val,
        &TrainConfig {
            min_grad_norm: Some(1e9),
            ..quiet(50)
        },
    )
    .unwrap();
    assert_eq!((history.stop, history.epochs.len()), (Stop::GradientNorm, 1));
}

/// `f(w) = ½‖w − c‖²`, whose gradient is `w − c`: every optimiser must reach `c`.
#[test]
fn every_optimiser_minimises_a_quadratic() {
    let target = Array2::from_shape_vec((2, 2), vec![1.0, -2.0, 0.5, 3.0]).unwrap();
    for (kind, rate) in [
        (Optimizer::Sgd, 0.1),
        (
            Optimizer::Momentum {
                momentum: 0.9,
                nesterov: false,
            },
            0.02,
        ),
        (
            Optimizer::Momentum {
                momentum: 0.9,
                nesterov: true,
            },
            0.02,
        ),
        (Optimizer::ADAM, 0.05),
    ] {
        let mut params = ParamList::new();
        params.push("w", Array2::<f64>::zeros((2, 2)));
        let mut optim = Optim::new(kind, 0.0);
        for _ in 0..2000 {
            let mut grads = params.zeros_like();
            grads.param_mut(0).assign(&(&params.param(0) - &target));
            optim.step(&mut params, &grads, rate);
        }
        let error = (&params.param(0) - &target).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(error < 1e-6, "{kind:?}: {error}");
    }
}

#[test]
fn weight_decay_pulls_towards_zero() {
    // With gradient w − c and decay λ the fixed point is c/(1 + λ).
    let mut params = ParamList::new();
    params.push("w", Array2::<f64>::zeros((1, 1)));
    let mut optim = Optim::new(Optimizer::Sgd, 1.0);
    for _ in 0..500 {
        let mut grads = params.zeros_like();
        grads.param_mut(0).fill(params.param(0)[[0, 0]] - 4.0);
        optim.step(&mut params, &grads, 0.1);
    }
    assert!((params.param(0)[[0, 0]] - 2.0).abs() < 1e-9);
}

#[test]
fn step_size_schedules() {
    assert_eq!(Schedule::Constant.rate(0.1, 7), 0.1);
    let decay = Schedule::StepDecay { every: 10, factor: 0.5 };
    assert_eq!(
        (decay.rate(1.0, 9), decay.rate(1.0, 10), decay.rate(1.0, 25)),
        (1.0, 0.5, 0.25)
    );
    let cosine = Schedule::Cosine { epochs: 10, floor: 0.0 };
    assert_eq!(cosine.rate(1.0, 0), 1.0);
    assert!((cosine.rate(1.0, 5) - 0.5).abs() < 1e-12);
    assert!(cosine.rate(1.0, 10).abs() < 1e-12);
}

#[test]
fn gradient_descent_shrinks_on_increase_and_stops_at_a_small_gradient() {
    let (train, _) = digits();
    let batch_data = train.first(200);
    let mut net = Plain::<f32>::new(&mut StdRng::seed_from_u64(1));
    let batch = PlainBatch {
        x: batch_data.features.view(),
        y: &batch_data.labels,
    };
    // Far too large a start: the first steps raise the loss and are undone.
    let mut driver = BoldDriver {
        rate: 100.0,
        grow: 1.1,
        shrink: 0.5,
    };
    let mut seen = Vec::new();
    let steps = train::gradient_descent(&mut net, &batch, &mut driver, 0.05, 3000, |s| seen.push(*s)).unwrap();
    assert_eq!(steps, seen);
    assert!(!steps[0].accepted, "{:?}", steps[0]);
    assert!(steps.iter().any(|s| s.accepted));
    let losses: Vec<f64> = steps.iter().filter(|s| s.accepted).map(|s| s.loss).collect();
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "accepted steps only lower the loss"
    );
    let last = steps.last().unwrap();
    assert!(last.grad_norm <= 0.05, "{last:?}");
}

/// `t = sin(3a)·b` on a grid of `n × n` points in `[−1, 1]²`.
fn surface(n: usize) -> Dataset<f64> {
    let at = |k: usize| -1.0 + 2.0 * k as f64 / (n - 1) as f64;
    let x = Array2::from_shape_fn((n * n, 2), |(i, j)| at(if j == 0 { i / n } else { i % n }));
    let t = Array2::from_shape_fn((n * n, 1), |(i, _)| (3.0 * x[(i, 0)]).sin() * x[(i, 1)]);
    Dataset::regression(x, t).unwrap()
}

#[test]
fn regression_trains_through_fit_on_real_valued_targets() {
    let (train_set, val) = (surface(20), surface(7));
    let mut model = Regressor::<f64>::new(&mut StdRng::seed_from_u64(0));
    let mut ws = model.workspace(64);
    let before = train::evaluate(&model, &mut ws, &val, 64).unwrap();
    let config = TrainConfig {
        learning_rate: 1e-2,
        batch_size: 16,
        ..quiet(60)
    };
    let history = train::fit(&mut model, &train_set, &val, &config).unwrap();
    // In batches of 16, as `fit` evaluated, so that the sums are the same to the last bit.
    let after = train::evaluate(&model, &mut ws, &val, 16).unwrap();
    assert!(before.accuracy.is_nan() && after.accuracy.is_nan());
    // The target's variance on the grid is about 0.18; a fitted network explains most of it.
    assert!(
        after.loss < 0.1 * before.loss && after.loss < 0.02,
        "{before:?} → {after:?}"
    );
    assert_eq!(history.epochs.last().unwrap().val_loss, after.loss);
    let outputs = train::outputs(&model, &mut ws, &val, 64).unwrap();
    assert_eq!(outputs.dim(), (49, 1));
}

#[test]
fn a_classifier_on_a_set_without_labels_is_an_error_in_words() {
    let mut model = Classifier::<f64>::new(&mut StdRng::seed_from_u64(0));
    let data = Dataset::regression(Array2::zeros((4, 64)), Array2::zeros((4, 1))).unwrap();
    let error = train::fit(&mut model, &data, &data, &quiet(1)).unwrap_err().to_string();
    assert!(error.contains("no class labels"), "{error}");
    let mut ws = model.workspace(4);
    assert!(train::predict(&model, &mut ws, &data, 4).is_err());
}
