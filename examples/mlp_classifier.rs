//! The supervised network of the course: dense layers with ReLU, softmax with cross-entropy,
//! Xavier initialisation, mini-batches and dropout. Prints the test accuracy and the confusion
//! matrix.
//!
//! ```text
//! cargo run --release --example mlp_classifier               # embedded digits, seconds
//! cargo run --release --example mlp_classifier -- --fashion  # Fashion-MNIST
//! ```

use symgrad::data::Source;
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig};

network! {
    /// 64 inputs (8×8 pixels), two hidden layers, 10 classes.
    pub struct DigitsMlp {
        input x: [64];
        target y: classes[10];
        h1 = dropout(relu(dense(x, 128, xavier_normal)), 0.2);
        h2 = dropout(relu(dense(h1, 64, xavier_normal)), 0.2);
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// 784 inputs (28×28 pixels), two hidden layers, 10 classes.
    pub struct FashionMlp {
        input x: [784];
        target y: classes[10];
        h1 = dropout(relu(dense(x, 256, xavier_normal)), 0.2);
        h2 = dropout(relu(dense(h1, 128, xavier_normal)), 0.2);
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

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
    let history = train::fit(&mut model, &train_set, &val, &config)?;
    let mut ws = model.workspace(256);
    let result = train::evaluate(&model, &mut ws, &test, 256)?;
    println!(
        "best validation accuracy at epoch {}; test accuracy {:.4}, test loss {:.4}\n",
        history.best_epoch, result.accuracy, result.loss
    );
    let predictions = train::predict(&model, &mut ws, &test, 256)?;
    let counts = train::confusion_matrix(&test.labels, &predictions, test.classes);
    println!("{}", train::confusion_table(&counts, source.class_names()));
    Ok(())
}

fn main() -> Result<()> {
    match symgrad::cli::example_source(
        "The supervised network of the course: dense layers with ReLU, softmax with cross-entropy, Xavier initialisation, mini-batches and dropout.",
    ) {
        source @ Source::Digits => run::<DigitsMlp>(&source, 40),
        source @ Source::FashionMnist(_) => run::<FashionMlp>(&source, 15),
    }
}
