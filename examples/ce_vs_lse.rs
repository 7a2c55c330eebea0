//! Cross-entropy against squared error on the probabilities ("LSE"), from a saturated start.
//!
//! The output layer starts with weights ten times too large, so the softmax is nearly one-hot
//! and mostly wrong. With `p = softmax(z)`, cross-entropy's gradient at the logits is `p − y`:
//! large exactly when the prediction is confidently wrong. Squared error's is
//! `J_softmax · 2(p − y)`, and the softmax Jacobian `diag(p) − ppᵀ` is nearly zero when `p` is
//! nearly one-hot, so the gradient vanishes and learning stalls. Both networks start from the
//! same weights and train with the same plain SGD; the loss curves go into one PNG and the
//! output layer's gradient norms are printed.
//!
//! ```text
//! cargo run --release --example ce_vs_lse               # embedded digits
//! cargo run --release --example ce_vs_lse -- --fashion  # Fashion-MNIST (a 10,000-image subset)
//! ```

use std::path::Path;

use symgrad::data::Source;
use symgrad::network;
use symgrad::optim::grad_norm;
use symgrad::plot::{Axes, Scale, Series, line_chart};
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

/// The two networks for `$width` inputs: identical but for the loss.
macro_rules! pair {
    ($ce:ident, $se:ident, $width:tt) => {
        network! {
            pub struct $ce {
                input x: [$width];
                target y: classes[10];
                h = tanh(dense(x, 32));
                z = dense(h, 10);
                output softmax(z);
                loss cross_entropy(softmax(z), y);
            }
        }
        network! {
            pub struct $se {
                input x: [$width];
                target y: classes[10];
                h = tanh(dense(x, 32));
                z = dense(h, 10);
                output softmax(z);
                loss squared_error(softmax(z), y);
            }
        }
    };
}

pair!(DigitsCe, DigitsSe, 64);
pair!(FashionCe, FashionSe, 784);

/// Per epoch: training loss, test accuracy and ‖∂L/∂W_out‖ on the whole training set.
fn curve<M: FromExamples<f64>>(
    start: &M,
    train_set: &symgrad::Dataset<f64>,
    test: &symgrad::Dataset<f64>,
    epochs: usize,
) -> Result<Vec<(f64, f64, f64)>> {
    let mut model = start.clone();
    let mut ws = model.workspace(train_set.len());
    let mut grads = M::zeros();
    let output_layer = (0..model.count())
        .find(|&i| model.name(i) == "z_w")
        .expect("z_w exists");
    let config = TrainConfig {
        epochs: 1,
        batch_size: 32,
        optimizer: Optimizer::Sgd,
        learning_rate: 0.1,
        keep_best: false,
        verbosity: Verbosity::Bar,
        ..TrainConfig::default()
    };
    let mut points = Vec::new();
    for epoch in 0..epochs {
        let batch = M::batch(symgrad::Examples::new(train_set.features.view(), &train_set.labels))?;
        let loss = model.loss_and_grad(&mut ws, &batch, &mut StdRng::seed_from_u64(0), &mut grads)?;
        let mut output_grads = M::zeros();
        output_grads.param_mut(output_layer).assign(&grads.param(output_layer));
        let accuracy = train::evaluate(&model, &mut ws, test, 256)?.accuracy;
        points.push((loss, accuracy, grad_norm(&output_grads)));
        train::fit(
            &mut model,
            train_set,
            test,
            &TrainConfig {
                seed: epoch as u64,
                ..config.clone()
            },
        )?;
    }
    Ok(points)
}

/// Trains both networks from the same saturated start and reports.
fn compare<C: FromExamples<f64>, S: FromExamples<f64>>(
    train_set: &symgrad::Dataset<f64>,
    test: &symgrad::Dataset<f64>,
) -> Result<()> {
    let mut ce = C::init(&mut StdRng::seed_from_u64(4));
    let output_layer = (0..ce.count()).find(|&i| ce.name(i) == "z_w").expect("z_w exists");
    ce.param_mut(output_layer).mapv_inplace(|w| 10.0 * w);
    let mut se = S::zeros();
    for i in 0..ce.count() {
        se.param_mut(i).assign(&ce.param(i));
    }
    let epochs = 30;
    let ce_curve = curve(&ce, train_set, test, epochs)?;
    let se_curve = curve(&se, train_set, test, epochs)?;
    println!(
        "{:>5} | {:>12} {:>9} {:>11} | {:>12} {:>9} {:>11}",
        "epoch", "CE loss", "accuracy", "‖∂L/∂W_out‖", "LSE loss", "accuracy", "‖∂L/∂W_out‖"
    );
    for (epoch, (c, s)) in ce_curve.iter().zip(&se_curve).enumerate() {
        println!(
            "{epoch:>5} | {:>12.5} {:>9.3} {:>11.3e} | {:>12.5} {:>9.3} {:>11.3e}",
            c.0, c.1, c.2, s.0, s.1, s.2
        );
    }
    let series = |name: &str, points: &[(f64, f64, f64)]| Series {
        name: name.to_owned(),
        points: points
            .iter()
            .enumerate()
            .map(|(e, p)| (e as f64, p.0 / points[0].0))
            .collect(),
    };
    let path = Path::new("ce_vs_lse.png");
    let axes = Axes {
        title: "Cross-entropy against squared error, same network and data",
        x: "epoch",
        y: "training loss / its value at epoch 0",
        y_scale: Scale::Log,
    };
    line_chart(
        path,
        &axes,
        &[series("cross-entropy", &ce_curve), series("squared error", &se_curve)],
        (720, 440),
    )?;
    println!("\nwrote {}", path.display());
    Ok(())
}

fn main() -> Result<()> {
    let source = symgrad::cli::example_source(
        "Cross-entropy against squared error on the probabilities (\"LSE\"), from a saturated start.",
    );
    let (train_set, test) = source.load::<f64>(0)?;
    match source {
        Source::Digits => compare::<DigitsCe<f64>, DigitsSe<f64>>(&train_set, &test),
        Source::FashionMnist(_) => {
            let subset = train_set.take_per_class(1000, &mut StdRng::seed_from_u64(0));
            compare::<FashionCe<f64>, FashionSe<f64>>(&subset, &test)
        }
    }
}
