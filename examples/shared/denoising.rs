//! What the denoising autoencoder examples share: training a denoiser against a corruption,
//! and the error of images against the clean ones.

use symgrad::data::{Corruption, Dataset};
use symgrad::ndarray::Array2;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

/// The mean squared difference of two sets of images.
pub fn mse<T: Scalar>(a: &Array2<T>, b: &Array2<T>) -> f64 {
    let total: f64 = a.iter().zip(b).map(|(&x, &y)| (x - y).to_f64().powi(2)).sum();
    total / a.len() as f64
}

/// Trains a denoiser against `corruption` (batches of 32, Adam at 2·10⁻³, a tenth held out)
/// and returns the corrupted test images and their denoised versions.
pub fn denoise<T: Scalar, M: FromExamples<T>>(
    train_set: &Dataset<T>,
    test: &Dataset<T>,
    corruption: Corruption,
    epochs: usize,
) -> Result<(Array2<T>, Array2<T>)> {
    let mut rng = StdRng::seed_from_u64(0);
    let (fit_set, val) = train_set.split_stratified(0.1, &mut rng)?;
    let mut model = M::init(&mut rng);
    let config = TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 2e-3,
        corruption: Some(corruption),
        verbosity: Verbosity::Bar,
        ..TrainConfig::default()
    };
    train::fit(&mut model, &fit_set, &val, &config)?;
    let mut noisy = test.features.clone();
    corruption.apply(&mut StdRng::seed_from_u64(1), noisy.view_mut());
    let noisy_set = Dataset {
        features: noisy.clone(),
        ..test.clone()
    };
    let mut ws = model.workspace(256);
    // The network's `clean` target is fed the features it is given: here the noisy ones,
    // which only affects the loss it would report, not its output.
    let denoised = train::outputs(&model, &mut ws, &noisy_set, 256)?;
    Ok((noisy, denoised))
}
