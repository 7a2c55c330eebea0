//! Denoising autoencoders: the input is corrupted, the target is the clean input, so the
//! network must learn the structure of the data to undo the damage. Three corruptions: Gaussian
//! noise, masking noise (a random fraction of pixels set to 0) and salt-and-pepper noise (a
//! random fraction set to 0 or 1). For each, the test error of the denoised output against the
//! clean image is printed next to the error of the noisy input itself, and
//! `denoising_autoencoder.png` shows noisy / denoised / clean rows.
//!
//! ```text
//! cargo run --release --example denoising_autoencoder               # embedded digits
//! cargo run --release --example denoising_autoencoder -- --fashion  # Fashion-MNIST
//! ```

use std::path::Path;

use symgrad::data::{Corruption, Source};
use symgrad::network;
use symgrad::plot::image_grid;
use symgrad::prelude::*;

#[path = "shared/denoising.rs"]
mod denoising;
use denoising::{denoise, mse};

/// A denoising autoencoder for `$n` pixels: `x` is the corrupted image, `clean` the original.
macro_rules! denoiser {
    ($name:ident, $n:tt, $h:tt, $c:tt) => {
        network! {
            pub struct $name {
                input x: [$n];
                target clean: [$n];
                e1 = relu(dense(x, $h));
                code = relu(dense(e1, $c));
                d1 = relu(dense(code, $h));
                recon = sigmoid(dense(d1, $n));
                output recon;
                loss mse(recon, clean);
            }
        }
    };
}

denoiser!(DigitsDenoiser, 64, 48, 24);
denoiser!(FashionDenoiser, 784, 256, 128);

fn run<M: FromExamples<f64>>(source: &Source, epochs: usize) -> Result<()> {
    let (train_set, test) = source.load::<f64>(0)?;
    let image = train_set.image.unwrap_or((1, train_set.width()));
    let corruptions = [
        ("Gaussian noise, σ = 0.3", Corruption::Gaussian { std: 0.3 }),
        ("masking noise, 40 % of pixels", Corruption::Masking { fraction: 0.4 }),
        (
            "salt and pepper, 20 % of pixels",
            Corruption::SaltAndPepper {
                fraction: 0.2,
                low: 0.0,
                high: 1.0,
            },
        ),
    ];
    println!("test mean squared error against the clean images\n");
    println!("{:<34} {:>12} {:>12}", "corruption", "noisy input", "denoised");
    let mut rows = Vec::new();
    for (name, corruption) in corruptions {
        let (noisy, denoised) = denoise::<f64, M>(&train_set, &test, corruption, epochs)?;
        println!(
            "{name:<34} {:>12.5} {:>12.5}",
            mse(&noisy, &test.features),
            mse(&denoised, &test.features)
        );
        rows.push((noisy, denoised));
    }
    let shown = 12.min(test.len());
    let mut grid = Vec::new();
    for ((noisy, denoised), (name, _)) in rows.iter().zip(&corruptions) {
        let short = name.split(',').next().unwrap_or(name);
        for (kind, images) in [("noisy", noisy), ("denoised", denoised), ("clean", &test.features)] {
            grid.push((format!("{short}: {kind}"), (0..shown).map(|i| images.row(i)).collect()));
        }
    }
    let path = Path::new("denoising_autoencoder.png");
    image_grid(
        path,
        "Denoising: noisy inputs, outputs and clean test images",
        &grid,
        image,
    )?;
    println!(
        "\nwrote {}: for each corruption in turn, rows of noisy, denoised and clean images",
        path.display()
    );
    Ok(())
}

fn main() -> Result<()> {
    match symgrad::cli::example_source(
        "Denoising autoencoders: the input is corrupted, the target is the clean input, so the network must learn the structure of the data to undo the damage.",
    ) {
        source @ Source::Digits => run::<DigitsDenoiser<f64>>(&source, 150),
        source @ Source::FashionMnist(_) => run::<FashionDenoiser<f64>>(&source, 4),
    }
}

#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(test)]
mod tests {
    use super::*;
    use symgrad::rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn gradients_match_finite_differences_and_the_tape() {
        let mut rng = StdRng::seed_from_u64(11);
        let clean = common::unit(&mut rng, 3, 64);
        let mut noisy = clean.clone();
        Corruption::Masking { fraction: 0.3 }.apply(&mut rng, noisy.view_mut());
        let mut net: DigitsDenoiser<f64> = common::network(&mut rng);
        let batch = DigitsDenoiserBatch {
            x: noisy.view(),
            clean: clean.view(),
        };
        common::check(&mut net, &batch, 0, common::Kinks::Possible).unwrap();
    }

    /// Reduced: 300 training digits, 20 epochs of masking noise.
    #[test]
    fn the_denoised_images_are_closer_to_the_clean_ones_than_the_noisy_ones() {
        let (train_set, test) = Source::Digits.load::<f64>(0).unwrap();
        let small = train_set.first(300);
        let (noisy, denoised) =
            denoise::<f64, DigitsDenoiser<f64>>(&small, &test, Corruption::Masking { fraction: 0.4 }, 20).unwrap();
        let (before, after) = (mse(&noisy, &test.features), mse(&denoised, &test.features));
        assert!(after < before, "denoised {after} vs noisy {before}");
    }
}
