//! A convolutional denoising autoencoder: 3×3 convolutions with max pooling down to a code of
//! 8 maps at a quarter of the image's size, nearest-neighbour upsampling and convolutions back
//! up, trained to undo masking noise (40 % of pixels set to 0). Prints the test error of the
//! noisy and the denoised images against the clean ones, and writes
//! `conv_denoising_autoencoder.png` with rows of noisy, denoised and clean test images.
//!
//! ```text
//! cargo run --release --example conv_denoising_autoencoder               # embedded digits
//! cargo run --release --example conv_denoising_autoencoder -- --fashion  # Fashion-MNIST
//! ```

use std::path::Path;
use std::time::Instant;

use symgrad::data::{Corruption, Source};
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::plot::image_grid;
use symgrad::prelude::*;

#[path = "shared/denoising.rs"]
mod denoising;
use denoising::{denoise, mse};

/// A convolutional denoiser for `$side × $side` images: `x` is the corrupted image, `clean`
/// the original; the code is 8 maps of `$side/4 × $side/4`.
macro_rules! denoiser {
    ($name:ident, $side:tt) => {
        network! {
            pub struct $name {
                input x: [1, $side, $side];
                target clean: [1, $side, $side];
                e1 = max_pool2d(relu(conv2d(x, 16, 3, padding = same, init = he)), 2);
                code = max_pool2d(relu(conv2d(e1, 8, 3, padding = same, init = he)), 2);
                d1 = relu(conv2d(upsample2d(code, 2), 16, 3, padding = same, init = he));
                recon = sigmoid(conv2d(upsample2d(d1, 2), 1, 3, padding = same));
                output recon;
                loss mse(recon, clean);
            }
        }
    };
}

denoiser!(DigitsDenoiser, 8);
denoiser!(FashionDenoiser, 28);

fn run<M: FromExamples<f32>>(source: &Source, epochs: usize) -> Result<()> {
    let (train_set, test) = source.load::<f32>(0)?;
    let image = train_set.image.unwrap_or((1, train_set.width()));
    let corruption = Corruption::Masking { fraction: 0.4 };
    let started = Instant::now();
    let (noisy, denoised) = denoise::<f32, M>(&train_set, &test, corruption, epochs)?;
    println!(
        "masking noise, 40 % of pixels; {epochs} epochs in {:.1} s\ntest mean squared error against the clean images: \
         noisy {:.5}, denoised {:.5}",
        started.elapsed().as_secs_f64(),
        mse(&noisy, &test.features),
        mse(&denoised, &test.features)
    );
    let shown = 12.min(test.len());
    let rows: Vec<(&str, Array2<f64>)> = [("noisy", &noisy), ("denoised", &denoised), ("clean", &test.features)]
        .into_iter()
        .map(|(kind, images)| (kind, images.slice(symgrad::ndarray::s![..shown, ..]).mapv(f64::from)))
        .collect();
    let grid: Vec<(String, Vec<_>)> = rows
        .iter()
        .map(|(kind, images)| (kind.to_string(), images.rows().into_iter().collect()))
        .collect();
    let path = Path::new("conv_denoising_autoencoder.png");
    image_grid(
        path,
        "Convolutional denoising autoencoder: noisy inputs, outputs and clean test images",
        &grid,
        image,
    )?;
    println!("wrote {}: rows of noisy, denoised and clean images", path.display());
    Ok(())
}

fn main() -> Result<()> {
    match symgrad::cli::example_source(
        "A convolutional denoising autoencoder: convolutions and max pooling down, upsampling and convolutions back up, trained to undo masking noise.",
    ) {
        source @ Source::Digits => run::<DigitsDenoiser<f32>>(&source, 100),
        source @ Source::FashionMnist(_) => run::<FashionDenoiser<f32>>(&source, 5),
    }
}
