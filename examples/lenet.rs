//! A LeNet-style convolutional network: two stages of 5×5 (3×3 on the digits) convolutions
//! with ReLU and 2×2 max pooling, then two dense layers, trained with Adam. Prints the test
//! accuracy, the time and the confusion matrix.
//!
//! ```text
//! cargo run --release --example lenet               # embedded 8×8 digits, seconds
//! cargo run --release --example lenet -- --fashion  # Fashion-MNIST, minutes
//! ```

use std::time::Instant;

use symgrad::data::Source;
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig};

/// A LeNet for `$side × $side` images with `$k × $k` kernels: 1 → 16 maps → pooled by 2, → 32
/// maps → pooled by 2, 128 units, 10 classes.
macro_rules! lenet {
    ($name:ident, $side:tt, $k:tt) => {
        network! {
            pub struct $name {
                input x: [1, $side, $side];
                target y: classes[10];
                c1 = max_pool2d(relu(conv2d(x, 16, $k, padding = same, init = he)), 2);
                c2 = max_pool2d(relu(conv2d(c1, 32, $k, padding = same, init = he)), 2);
                h = dropout(relu(dense(flatten(c2), 128, he)), 0.3);
                z = dense(h, 10);
                output softmax(z);
                loss softmax_cross_entropy(z, y);
            }
        }
    };
}

lenet!(DigitsLeNet, 8, 3);
lenet!(FashionLeNet, 28, 5);

fn run<M: FromExamples<f32>>(source: &Source, epochs: usize) -> Result<()> {
    let (train_all, test) = source.load::<f32>(0)?;
    let mut rng = StdRng::seed_from_u64(0);
    let (train_set, val) = train_all.split_stratified(0.1, &mut rng)?;
    let mut model = M::init(&mut rng);
    let config = TrainConfig {
        epochs,
        batch_size: 64,
        learning_rate: 1e-3,
        ..TrainConfig::default()
    };
    let started = Instant::now();
    let history = train::fit(&mut model, &train_set, &val, &config)?;
    let seconds = started.elapsed().as_secs_f64();
    let mut ws = model.workspace(256);
    let result = train::evaluate(&model, &mut ws, &test, 256)?;
    println!(
        "{} epochs in {seconds:.1} s; best validation accuracy at epoch {}; test accuracy {:.4}, test loss {:.4}\n",
        history.epochs.len(),
        history.best_epoch,
        result.accuracy,
        result.loss
    );
    let predictions = train::predict(&model, &mut ws, &test, 256)?;
    let counts = train::confusion_matrix(&test.labels, &predictions, test.classes);
    println!("{}", train::confusion_table(&counts, source.class_names()));
    Ok(())
}

fn main() -> Result<()> {
    match symgrad::cli::example_source(
        "A LeNet-style convolutional network: two convolution and max-pooling stages, two dense layers.",
    ) {
        source @ Source::Digits => run::<DigitsLeNet>(&source, 30),
        source @ Source::FashionMnist(_) => run::<FashionLeNet>(&source, 12),
    }
}
