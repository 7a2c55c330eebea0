//! What autoencoders are for, on their codes:
//!
//! - clustering: k-means on the codes against k-means on the raw pixels, judged by purity and
//!   normalised mutual information with the (unused) classes;
//! - data analysis: an autoencoder with a 2-D code, its codes plotted coloured by class
//!   (`autoencoder_codes.png`);
//! - generation: codes interpolated between two test images and decoded
//!   (`autoencoder_interpolation.png`).
//!
//! ```text
//! cargo run --release --example autoencoder_uses               # embedded digits
//! cargo run --release --example autoencoder_uses -- --fashion  # Fashion-MNIST
//! ```

use std::path::Path;

use symgrad::analysis::{kmeans, nmi, purity};
use symgrad::data::{Dataset, Source};
use symgrad::ndarray::{Array1, Array2};
use symgrad::network;
use symgrad::plot::{Axes, Scale, image_grid, scatter};
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

/// An autoencoder `$n → $h → $c → $h → $n` with a linear code, its encoder (output: the code)
/// and its decoder (input: a code), which share parameter names so weights copy across.
macro_rules! family {
    ($ae:ident, $encoder:ident, $decoder:ident, $n:tt, $h:tt, $c:tt) => {
        network! {
            pub struct $ae {
                input x: [$n];
                e1 = relu(dense(x, $h));
                code = dense(e1, $c);
                d1 = relu(dense(code, $h));
                recon = sigmoid(dense(d1, $n));
                output recon;
                loss mse(recon, x);
            }
        }
        network! {
            pub struct $encoder {
                input x: [$n];
                target unused: [$c];
                e1 = relu(dense(x, $h));
                code = dense(e1, $c);
                output code;
                loss mse(code, unused);
            }
        }
        network! {
            pub struct $decoder {
                input code: [$c];
                target unused: [$n];
                d1 = relu(dense(code, $h));
                recon = sigmoid(dense(d1, $n));
                output recon;
                loss mse(recon, unused);
            }
        }
    };
}

family!(DigitsAe, DigitsEncoder, DigitsDecoder, 64, 32, 8);
family!(DigitsAe2, DigitsEncoder2, DigitsDecoder2, 64, 32, 2);
family!(FashionAe, FashionEncoder, FashionDecoder, 784, 256, 32);
family!(FashionAe2, FashionEncoder2, FashionDecoder2, 784, 256, 2);

/// Copies every parameter of `to` from the parameter of the same name in `from`.
fn copy_matching<F: Parameters<f64>, T: Parameters<f64>>(from: &F, to: &mut T) {
    for j in 0..to.count() {
        let i = (0..from.count())
            .find(|&i| from.name(i) == to.name(j))
            .expect("a parameter of the same name");
        to.param_mut(j).assign(&from.param(i));
    }
}

fn train_autoencoder<A: FromExamples<f64>>(data: &Dataset<f64>, epochs: usize) -> Result<A> {
    let mut rng = StdRng::seed_from_u64(0);
    let (fit_set, val) = data.split_stratified(0.1, &mut rng)?;
    let mut ae = A::init(&mut rng);
    let config = TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 2e-3,
        verbosity: Verbosity::Bar,
        ..TrainConfig::default()
    };
    train::fit(&mut ae, &fit_set, &val, &config)?;
    Ok(ae)
}

fn codes<A: FromExamples<f64>, E: FromExamples<f64>>(ae: &A, data: &Dataset<f64>) -> Result<Array2<f64>> {
    let mut encoder = E::zeros();
    copy_matching(ae, &mut encoder);
    let mut ws = encoder.workspace(256);
    train::outputs(&encoder, &mut ws, data, 256)
}

fn run<
    A: FromExamples<f64>,
    E: FromExamples<f64>,
    D: FromExamples<f64>,
    A2: FromExamples<f64>,
    E2: FromExamples<f64>,
>(
    source: &Source,
    epochs: usize,
) -> Result<()> {
    let (train_set, test) = source.load::<f64>(0)?;
    let image = train_set.image.unwrap_or((1, train_set.width()));
    let ae = train_autoencoder::<A>(&train_set, epochs)?;
    let test_codes = codes::<A, E>(&ae, &test)?;

    println!("clustering the test set with k-means (k = 10), judged against the classes\n");
    println!("{:<28} {:>8} {:>8}", "", "purity", "NMI");
    for (name, features) in [("raw pixels", &test.features), ("autoencoder codes", &test_codes)] {
        let clusters = kmeans(features.view(), 10, 100, &mut StdRng::seed_from_u64(0));
        let (p, m) = (
            purity(&test.labels, &clusters.assignment),
            nmi(&test.labels, &clusters.assignment),
        );
        println!(
            "{:<28} {p:>8.4} {m:>8.4}",
            format!("{name} ({} dims)", features.ncols())
        );
    }

    let ae2 = train_autoencoder::<A2>(&train_set, epochs)?;
    let plane = codes::<A2, E2>(&ae2, &test)?;
    let points: Vec<(f64, f64)> = plane.rows().into_iter().map(|r| (r[0], r[1])).collect();
    let path = Path::new("autoencoder_codes.png");
    let axes = Axes {
        title: "Two-dimensional codes of the test set",
        x: "code 1",
        y: "code 2",
        y_scale: Scale::Linear,
    };
    let names: Vec<String> = source.class_names().iter().map(|c| c.to_string()).collect();
    scatter(path, &axes, &points, &test.labels, &names, (740, 600))?;
    println!(
        "\nwrote {}: the 2-D codes of the test set, one colour per class",
        path.display()
    );

    // Interpolate between the first test images of two classes.
    let first = |class: usize| test.labels.iter().position(|&l| l == class).unwrap_or(0);
    let (a, b) = (test_codes.row(first(0)).to_owned(), test_codes.row(first(1)).to_owned());
    let steps = 10;
    let path_codes = Array2::from_shape_fn((steps, a.len()), |(s, j)| {
        let t = s as f64 / (steps - 1) as f64;
        (1.0 - t) * a[j] + t * b[j]
    });
    let mut decoder = D::zeros();
    copy_matching(&ae, &mut decoder);
    let mut ws = decoder.workspace(steps);
    let walk = Dataset {
        features: path_codes,
        labels: vec![0; steps],
        classes: 1,
        targets: None,
        image: None,
    };
    let decoded = train::outputs(&decoder, &mut ws, &walk, steps)?;
    let ends: Vec<Array1<f64>> = vec![
        test.features.row(first(0)).to_owned(),
        test.features.row(first(1)).to_owned(),
    ];
    let rows = vec![
        (
            "decoded".to_owned(),
            (0..steps).map(|s| decoded.row(s)).collect::<Vec<_>>(),
        ),
        ("originals".to_owned(), vec![ends[0].view(), ends[1].view()]),
    ];
    let path = Path::new("autoencoder_interpolation.png");
    image_grid(
        path,
        "From a class-0 to a class-1 test image, through the code",
        &rows,
        image,
    )?;
    println!(
        "wrote {}: decoded codes on the segment between a class-0 and a class-1 test image (second row: the two originals)",
        path.display()
    );
    Ok(())
}

fn main() -> Result<()> {
    match symgrad::cli::example_source("What autoencoders are for, on their codes.") {
        source @ Source::Digits => {
            run::<DigitsAe<f64>, DigitsEncoder<f64>, DigitsDecoder<f64>, DigitsAe2<f64>, DigitsEncoder2<f64>>(
                &source, 200,
            )
        }
        source @ Source::FashionMnist(_) => {
            run::<FashionAe<f64>, FashionEncoder<f64>, FashionDecoder<f64>, FashionAe2<f64>, FashionEncoder2<f64>>(
                &source, 4,
            )
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
        let x = common::unit(&mut rng, 3, 64);
        let mut ae: DigitsAe<f64> = common::network(&mut rng);
        let batch = DigitsAeBatch { x: x.view() };
        common::check(&mut ae, &batch, 0, common::Kinks::Possible).unwrap();
        let mut flat: DigitsAe2<f64> = common::network(&mut rng);
        let batch = DigitsAe2Batch { x: x.view() };
        common::check(&mut flat, &batch, 0, common::Kinks::Possible).unwrap();
    }

    /// Reduced: 300 digits, 15 epochs.
    #[test]
    fn training_lowers_the_loss_and_codes_cluster() {
        let (train_set, test) = Source::Digits.load::<f64>(0).unwrap();
        let small = train_set.first(300);
        let loss = |ae: &DigitsAe<f64>| {
            let mut ws = ae.workspace(300);
            train::evaluate(ae, &mut ws, &small, 300).unwrap().loss
        };
        let untrained: DigitsAe<f64> = DigitsAe::init(&mut StdRng::seed_from_u64(0));
        let ae = train_autoencoder::<DigitsAe<f64>>(&small, 15).unwrap();
        assert!(loss(&ae) < loss(&untrained), "{} vs {}", loss(&ae), loss(&untrained));
        let codes = codes::<DigitsAe<f64>, DigitsEncoder<f64>>(&ae, &test).unwrap();
        let clusters = kmeans(codes.view(), 10, 50, &mut StdRng::seed_from_u64(0));
        // Ten classes at chance would give a purity near 0.1.
        assert!(purity(&test.labels, &clusters.assignment) > 0.3);
    }
}
