//! Greedy layer-wise pretraining (Bengio et al., 2007; Vincent et al., 2010): a stack of
//! denoising autoencoders, each trained on the codes of the one below it, without labels; their
//! encoders then initialise a classifier that is fine-tuned with labels. Compared with the same
//! classifier started from Xavier initialisation, with all labels and with few, over three
//! seeds.
//!
//! ```text
//! cargo run --release --example stacked_autoencoder               # digits: all labels or 200
//! cargo run --release --example stacked_autoencoder -- --fashion  # Fashion-MNIST: all or 1,000
//! ```

use symgrad::data::{Corruption, Dataset, Source};
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

/// One denoising autoencoder layer `$n → $c → $n` whose output is its code.
macro_rules! layer {
    ($name:ident, $n:tt, $c:tt, $decoder:ident) => {
        network! {
            pub struct $name {
                input x: [$n];
                target clean: [$n];
                code = relu(dense(x, $c));
                recon = $decoder(dense(code, $n));
                output code;
                loss mse(recon, clean);
            }
        }
    };
}

/// The classifier whose hidden layers the encoders initialise.
macro_rules! classifier {
    ($name:ident, $n:tt, $h1:tt, $h2:tt) => {
        network! {
            pub struct $name {
                input x: [$n];
                target y: classes[10];
                h1 = relu(dense(x, $h1));
                h2 = relu(dense(h1, $h2));
                z = dense(h2, 10);
                output softmax(z);
                loss cross_entropy(softmax(z), y);
            }
        }
    };
}

layer!(DigitsLayer1, 64, 48, sigmoid);
layer!(DigitsLayer2, 48, 24, relu);
classifier!(DigitsClassifier, 64, 48, 24);
layer!(FashionLayer1, 784, 256, sigmoid);
layer!(FashionLayer2, 256, 128, relu);
classifier!(FashionClassifier, 784, 256, 128);

/// Trains one denoising layer on `data` (labels unused) and returns it with the codes.
fn pretrain<L: FromExamples<f64>>(data: &Dataset<f64>, epochs: usize, seed: u64) -> Result<(L, Dataset<f64>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (fit_set, val) = data.split_stratified(0.1, &mut rng)?;
    let mut layer = L::init(&mut rng);
    let config = TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 2e-3,
        corruption: Some(Corruption::Masking { fraction: 0.25 }),
        verbosity: Verbosity::Bar,
        seed,
        ..TrainConfig::default()
    };
    train::fit(&mut layer, &fit_set, &val, &config)?;
    let mut ws = layer.workspace(256);
    let codes = train::outputs(&layer, &mut ws, data, 256)?;
    Ok((
        layer,
        Dataset {
            features: codes,
            image: None,
            ..data.clone()
        },
    ))
}

/// Copies parameter `from` of `source` into parameter `to` of `target`.
fn copy<S: Parameters<f64>, T: Parameters<f64>>(source: &S, from: &str, target: &mut T, to: &str) {
    let i = (0..source.count())
        .find(|&i| source.name(i) == from)
        .expect("source parameter");
    let j = (0..target.count())
        .find(|&j| target.name(j) == to)
        .expect("target parameter");
    target.param_mut(j).assign(&source.param(i));
}

/// Test accuracy of the classifier fine-tuned on `labelled`, from the pretrained encoders or
/// (if `stack` is `None`) from its own initialisation.
fn fine_tune<C: FromExamples<f64>, L1: FromExamples<f64>, L2: FromExamples<f64>>(
    labelled: &Dataset<f64>,
    test: &Dataset<f64>,
    stack: Option<&(L1, L2)>,
    epochs: usize,
    seed: u64,
) -> Result<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = C::init(&mut rng);
    if let Some((first, second)) = stack {
        copy(first, "code_w", &mut model, "h1_w");
        copy(first, "code_b", &mut model, "h1_b");
        copy(second, "code_w", &mut model, "h2_w");
        copy(second, "code_b", &mut model, "h2_b");
    }
    let config = TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 1e-3,
        keep_best: false,
        verbosity: Verbosity::Bar,
        seed,
        ..TrainConfig::default()
    };
    // No validation-based choice: the test set only watches.
    train::fit(&mut model, labelled, test, &config)?;
    let mut ws = model.workspace(256);
    Ok(train::evaluate(&model, &mut ws, test, 256)?.accuracy)
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (
        mean,
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt(),
    )
}

fn run<L1: FromExamples<f64>, L2: FromExamples<f64>, C: FromExamples<f64>>(
    source: &Source,
    few: usize,
    pretrain_epochs: usize,
    epochs: (usize, usize),
) -> Result<()> {
    let (train_set, test) = source.load::<f64>(0)?;
    let mut table: Vec<(String, Vec<f64>)> = Vec::new();
    for seed in 0..3 {
        eprintln!("seed {seed}: pretraining two denoising layers without labels");
        let (first, codes) = pretrain::<L1>(&train_set, pretrain_epochs, seed)?;
        let (second, _) = pretrain::<L2>(&codes, pretrain_epochs, seed)?;
        let stack = (first, second);
        let some = train_set.take_per_class(few / 10, &mut StdRng::seed_from_u64(seed));
        for (name, labelled, epochs) in [
            ("all labels", &train_set, epochs.0),
            (&format!("{few} labels")[..], &some, epochs.1),
        ] {
            for (init, pretrained) in [("Xavier init", None), ("pretrained", Some(&stack))] {
                let accuracy = fine_tune::<C, L1, L2>(labelled, &test, pretrained, epochs, seed)?;
                let key = format!("{name}, {init}");
                match table.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, values)) => values.push(accuracy),
                    None => table.push((key, vec![accuracy])),
                }
            }
        }
    }
    println!("\ntest accuracy over 3 seeds (mean ± standard deviation)\n");
    for (key, values) in &table {
        let (mean, std) = mean_std(values);
        println!(
            "{key:<32} {mean:.4} ± {std:.4}   ({})",
            values.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    match symgrad::cli::example_source(
        "Greedy layer-wise pretraining (Bengio et al., 2007; Vincent et al., 2010): a stack of denoising autoencoders, each trained on the codes of the one below it, without labels; their encoders then initialise a classifier that is fine-tuned with labels.",
    ) {
        source @ Source::Digits => {
            run::<DigitsLayer1<f64>, DigitsLayer2<f64>, DigitsClassifier<f64>>(&source, 200, 200, (40, 100))
        }
        source @ Source::FashionMnist(_) => {
            run::<FashionLayer1<f64>, FashionLayer2<f64>, FashionClassifier<f64>>(&source, 1000, 3, (5, 60))
        }
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
        let clean = common::unit(&mut rng, 3, 64);
        let mut first: DigitsLayer1<f64> = common::network(&mut rng);
        let batch = DigitsLayer1Batch {
            x: clean.view(),
            clean: clean.view(),
        };
        common::check(&mut first, &batch, 0, common::Kinks::Possible).unwrap();
        let codes = common::random(&mut rng, 3, 48, 1.0);
        let mut second: DigitsLayer2<f64> = common::network(&mut rng);
        let batch = DigitsLayer2Batch {
            x: codes.view(),
            clean: codes.view(),
        };
        common::check(&mut second, &batch, 0, common::Kinks::Possible).unwrap();
        let labels = common::labels(&mut rng, 3, 10);
        let mut classifier: DigitsClassifier<f64> = common::network(&mut rng);
        let batch = DigitsClassifierBatch {
            x: clean.view(),
            y: &labels,
        };
        common::check(&mut classifier, &batch, 0, common::Kinks::Possible).unwrap();
    }

    /// Reduced: 300 digits, 10 pretraining epochs per layer, 20 of fine-tuning.
    #[test]
    fn pretraining_lowers_each_layers_loss_and_the_stack_fine_tunes() {
        let (train_set, test) = Source::Digits.load::<f64>(0).unwrap();
        let small = train_set.first(300);
        let loss = |layer: &DigitsLayer1<f64>| {
            let mut ws = layer.workspace(300);
            train::evaluate(layer, &mut ws, &small, 300).unwrap().loss
        };
        let untrained: DigitsLayer1<f64> = DigitsLayer1::init(&mut StdRng::seed_from_u64(0));
        let (first, codes) = pretrain::<DigitsLayer1<f64>>(&small, 10, 0).unwrap();
        assert!(
            loss(&first) < loss(&untrained),
            "{} vs {}",
            loss(&first),
            loss(&untrained)
        );
        let (second, _) = pretrain::<DigitsLayer2<f64>>(&codes, 10, 0).unwrap();
        let accuracy = fine_tune::<DigitsClassifier<f64>, _, _>(&small, &test, Some(&(first, second)), 20, 0).unwrap();
        assert!(accuracy > 0.5, "{accuracy}");
    }
}
