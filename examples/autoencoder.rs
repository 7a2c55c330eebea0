//! Autoencoders: networks trained to output their input through a narrow code.
//!
//! A 64-32-8-32-64 network on the 8×8 digits (784-256-64-256-784 on Fashion-MNIST), ReLU
//! hidden layers and a sigmoid output, trained once with mean squared error and once with mean
//! absolute error, and once more with tied weights (the decoder uses the transposes of the
//! encoder's weights). Their test reconstruction errors are compared with PCA at the same code
//! size: the best any linear autoencoder can do. `autoencoder.png` shows originals and
//! reconstructions.
//!
//! ```text
//! cargo run --release --example autoencoder               # embedded digits, seconds
//! cargo run --release --example autoencoder -- --fashion  # Fashion-MNIST
//! ```

use std::path::Path;

use symgrad::analysis::Pca;
use symgrad::data::{Dataset, Source};
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::plot::image_grid;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

/// The three autoencoders for inputs of `$n`, hidden `$h`, code `$c`.
macro_rules! autoencoders {
    ($mse:ident, $mae:ident, $tied:ident, $n:tt, $h:tt, $c:tt) => {
        network! {
            pub struct $mse {
                input x: [$n];
                e1 = relu(dense(x, $h));
                code = relu(dense(e1, $c));
                d1 = relu(dense(code, $h));
                recon = sigmoid(dense(d1, $n));
                output recon;
                loss mse(recon, x);
            }
        }
        network! {
            pub struct $mae {
                input x: [$n];
                e1 = relu(dense(x, $h));
                code = relu(dense(e1, $c));
                d1 = relu(dense(code, $h));
                recon = sigmoid(dense(d1, $n));
                output recon;
                loss mae(recon, x);
            }
        }
        network! {
            pub struct $tied {
                input x: [$n];
                param w1: [$n, $h];
                param w2: [$h, $c];
                param b1: [$h];
                param b2: [$c];
                param b3: [$h];
                param b4: [$n];
                e1 = relu(x @ w1 + b1);
                code = relu(e1 @ w2 + b2);
                d1 = relu(code @ transpose(w2) + b3);
                recon = sigmoid(d1 @ transpose(w1) + b4);
                output recon;
                loss mse(recon, x);
            }
        }
    };
}

autoencoders!(DigitsMse, DigitsMae, DigitsTied, 64, 32, 8);
autoencoders!(FashionMse, FashionMae, FashionTied, 784, 256, 64);

/// Per-pixel mean squared and mean absolute error of `reconstruction` against `data`.
fn errors(reconstruction: &Array2<f64>, data: &Dataset<f64>) -> (f64, f64) {
    let n = data.features.len() as f64;
    let diff = reconstruction - &data.features;
    (
        diff.iter().map(|d| d * d).sum::<f64>() / n,
        diff.iter().map(|d| d.abs()).sum::<f64>() / n,
    )
}

/// Trains an autoencoder and returns its test reconstructions.
fn reconstructions<M: FromExamples<f64>>(
    train_set: &Dataset<f64>,
    test: &Dataset<f64>,
    epochs: usize,
) -> Result<Array2<f64>> {
    let mut rng = StdRng::seed_from_u64(0);
    let (fit_set, val) = train_set.split_stratified(0.1, &mut rng)?;
    let mut model = M::init(&mut rng);
    let config = TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 2e-3,
        verbosity: Verbosity::Bar,
        ..TrainConfig::default()
    };
    let history = train::fit(&mut model, &fit_set, &val, &config)?;
    if let Some(best) = history.best_epoch.checked_sub(1).and_then(|b| history.epochs.get(b)) {
        eprintln!(
            "  trained {epochs} epochs, best validation loss {:.5} at epoch {}",
            best.val_loss, history.best_epoch
        );
    }
    let mut ws = model.workspace(256);
    train::outputs(&model, &mut ws, test, 256)
}

fn run<Mse: FromExamples<f64>, Mae: FromExamples<f64>, Tied: FromExamples<f64>>(
    source: &Source,
    code: usize,
    epochs: usize,
) -> Result<()> {
    let (train_set, test) = source.load::<f64>(0)?;
    let image = train_set.image.unwrap_or((1, train_set.width()));
    eprintln!("MSE autoencoder");
    let mse = reconstructions::<Mse>(&train_set, &test, epochs)?;
    eprintln!("MAE autoencoder");
    let mae = reconstructions::<Mae>(&train_set, &test, epochs)?;
    eprintln!("tied-weight autoencoder");
    let tied = reconstructions::<Tied>(&train_set, &test, epochs)?;
    let pca = Pca::fit(train_set.features.view(), code, &mut StdRng::seed_from_u64(0));
    let linear = pca.reconstruct(test.features.view());
    println!("\ntest reconstruction error per pixel (code size {code}, pixels in 0..1)\n");
    println!("{:<34} {:>10} {:>10}", "", "MSE", "MAE");
    for (name, reconstruction) in [
        ("autoencoder trained with MSE", &mse),
        ("autoencoder trained with MAE", &mae),
        ("autoencoder, tied weights, MSE", &tied),
        ("PCA (the best linear code)", &linear),
    ] {
        let (squared, absolute) = errors(reconstruction, &test);
        println!("{name:<34} {squared:>10.5} {absolute:>10.5}");
    }
    let path = Path::new("autoencoder.png");
    let shown = 12.min(test.len());
    let rows: Vec<(String, Vec<_>)> = [
        ("originals", &test.features),
        ("MSE", &mse),
        ("MAE", &mae),
        ("tied weights", &tied),
        ("PCA", &linear),
    ]
    .iter()
    .map(|(name, images)| (name.to_string(), (0..shown).map(|i| images.row(i)).collect()))
    .collect();
    let title = format!("Test images and their reconstructions (code size {code})");
    image_grid(path, &title, &rows, image)?;
    println!(
        "\nwrote {}: rows are originals, MSE, MAE, tied and PCA reconstructions",
        path.display()
    );
    Ok(())
}

fn main() -> Result<()> {
    match symgrad::cli::example_source("Autoencoders: networks trained to output their input through a narrow code.") {
        source @ Source::Digits => run::<DigitsMse<f64>, DigitsMae<f64>, DigitsTied<f64>>(&source, 8, 200),
        source @ Source::FashionMnist(_) => run::<FashionMse<f64>, FashionMae<f64>, FashionTied<f64>>(&source, 64, 5),
    }
}

#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_finite_differences_and_the_tape() {
        let mut rng = StdRng::seed_from_u64(11);
        let x = common::unit(&mut rng, 3, 64);
        let mut mse: DigitsMse<f64> = common::network(&mut rng);
        let batch = DigitsMseBatch { x: x.view() };
        common::check(&mut mse, &batch, 0, common::Kinks::Possible).unwrap();
        let mut mae: DigitsMae<f64> = common::network(&mut rng);
        let batch = DigitsMaeBatch { x: x.view() };
        common::check(&mut mae, &batch, 0, common::Kinks::Possible).unwrap();
        let mut tied: DigitsTied<f64> = common::network(&mut rng);
        let batch = DigitsTiedBatch { x: x.view() };
        common::check(&mut tied, &batch, 0, common::Kinks::Possible).unwrap();
    }

    /// Reduced: 300 training digits, 15 epochs.
    #[test]
    fn training_lowers_the_reconstruction_error() {
        let (train_set, test) = Source::Digits.load::<f64>(0).unwrap();
        let small = train_set.first(300);
        let before = errors(&reconstructions::<DigitsMse<f64>>(&small, &test, 0).unwrap(), &test).0;
        for after in [
            reconstructions::<DigitsMse<f64>>(&small, &test, 15).unwrap(),
            reconstructions::<DigitsMae<f64>>(&small, &test, 15).unwrap(),
            reconstructions::<DigitsTied<f64>>(&small, &test, 15).unwrap(),
        ] {
            let error = errors(&after, &test).0;
            assert!(error < before / 2.0, "{error} vs {before} untrained");
        }
    }
}
