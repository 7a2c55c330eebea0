//! Regression: a network with a real-valued target trained by `train::fit` on Friedman's first
//! synthetic function, against a least-squares linear fit.
//!
//! Friedman (1991, "Multivariate adaptive regression splines", *Annals of Statistics* 19(1))
//! draws ten features `x ∈ U[0, 1]¹⁰` and sets
//! `y = 10 sin(π x₁x₂) + 20 (x₃ − ½)² + 10 x₄ + 5 x₅ + ε`, `ε ~ N(0, 1)`: five features matter,
//! one of them through a product and one through a square, and five are noise. No model can
//! beat the noise, so the best test RMSE is about 1; a linear fit cannot bend, so it cannot
//! follow the sine or the square. Targets are standardised on the training set for training
//! and errors are reported in the target's own units.
//!
//! ```text
//! cargo run --release --example regression
//! ```

use symgrad::Dataset;
use symgrad::init::normal;
use symgrad::ndarray::{Array1, Array2, s};
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{Rng, SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

network! {
    /// Ten features to one real number: two tanh layers, squared error.
    pub struct Regressor {
        input x: [10];
        target y: [1];
        h1 = tanh(dense(x, 64));
        h2 = tanh(dense(h1, 64));
        out = dense(h2, 1);
        output out;
        loss mse(out, y);
    }
}

/// The standard deviation of Friedman's noise term.
const NOISE: f64 = 1.0;

/// `n` samples of Friedman's first function: the features and the noisy targets.
fn friedman1(n: usize, rng: &mut StdRng) -> (Array2<f64>, Array2<f64>) {
    let x = Array2::from_shape_simple_fn((n, 10), || rng.random::<f64>());
    let y = Array2::from_shape_fn((n, 1), |(i, _)| {
        let r = x.row(i);
        10.0 * (std::f64::consts::PI * r[0] * r[1]).sin()
            + 20.0 * (r[2] - 0.5).powi(2)
            + 10.0 * r[3]
            + 5.0 * r[4]
            + NOISE * normal(rng)
    });
    (x, y)
}

/// The least-squares affine fit `y ≈ [x, 1]·β`: the normal equations `(AᵀA)β = Aᵀy` solved by
/// Gaussian elimination with partial pivoting (eleven unknowns, so no library is needed).
fn least_squares(x: &Array2<f64>, y: &Array2<f64>) -> Array1<f64> {
    let (n, d) = x.dim();
    let mut a = Array2::<f64>::ones((n, d + 1));
    a.slice_mut(s![.., ..d]).assign(x);
    let mut m = a.t().dot(&a);
    let mut beta = a.t().dot(&y.column(0));
    let k = d + 1;
    for col in 0..k {
        let pivot = (col..k)
            .max_by(|&i, &j| m[[i, col]].abs().total_cmp(&m[[j, col]].abs()))
            .unwrap_or(col);
        for j in 0..k {
            m.swap([col, j], [pivot, j]);
        }
        beta.swap(col, pivot);
        for row in col + 1..k {
            let factor = m[[row, col]] / m[[col, col]];
            for j in col..k {
                m[[row, j]] -= factor * m[[col, j]];
            }
            beta[row] -= factor * beta[col];
        }
    }
    for col in (0..k).rev() {
        let known: f64 = (col + 1..k).map(|j| m[[col, j]] * beta[j]).sum();
        beta[col] = (beta[col] - known) / m[[col, col]];
    }
    beta
}

/// The root-mean-square difference of two columns.
fn rmse<'a>(predicted: impl IntoIterator<Item = &'a f64>, actual: &Array2<f64>) -> f64 {
    let squares: f64 = predicted.into_iter().zip(actual).map(|(p, a)| (p - a).powi(2)).sum();
    (squares / actual.len() as f64).sqrt()
}

/// Trains the network on standardised targets; returns its test predictions in target units.
fn train_network(
    train_x: Array2<f64>,
    train_y: &Array2<f64>,
    val: (Array2<f64>, &Array2<f64>),
    test_x: Array2<f64>,
    epochs: usize,
) -> Result<Array1<f64>> {
    let (mean, std) = (train_y.mean().unwrap_or(0.0), train_y.std(0.0).max(1e-12));
    let standardise = |y: &Array2<f64>| y.mapv(|v| (v - mean) / std);
    let train_set = Dataset::regression(train_x, standardise(train_y))?;
    let val_set = Dataset::regression(val.0, standardise(val.1))?;
    let mut model = Regressor::<f64>::new(&mut StdRng::seed_from_u64(1));
    let config = TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 3e-3,
        patience: Some(30),
        verbosity: Verbosity::Bar,
        ..TrainConfig::default()
    };
    let history = train::fit(&mut model, &train_set, &val_set, &config)?;
    println!(
        "network: {} epochs of Adam, kept epoch {} (validation MSE {:.4} in standard units)",
        history.epochs.len(),
        history.best_epoch,
        history.epochs[history.best_epoch - 1].val_loss
    );
    // `outputs` feeds the target too but does not read it: zeros stand in.
    let rows = test_x.nrows();
    let test_set = Dataset::regression(test_x, Array2::zeros((rows, 1)))?;
    let mut ws = model.workspace(256);
    let outputs = train::outputs(&model, &mut ws, &test_set, 256)?;
    Ok(outputs.column(0).mapv(|v| v * std + mean))
}

/// Test RMSE of the mean, the linear fit and the network, `n` training samples.
fn compare(n: usize, epochs: usize) -> Result<[f64; 3]> {
    let rng = &mut StdRng::seed_from_u64(0);
    let (train_x, train_y) = friedman1(n, rng);
    let (val_x, val_y) = friedman1(n / 4, rng);
    let (test_x, test_y) = friedman1(2_000, rng);

    let mean = train_y.mean().unwrap_or(0.0);
    let beta = least_squares(&train_x, &train_y);
    let linear = test_x.dot(&beta.slice(s![..10])) + beta[10];
    let network = train_network(train_x, &train_y, (val_x, &val_y), test_x, epochs)?;
    Ok([
        rmse(std::iter::repeat_n(&mean, test_y.len()), &test_y),
        rmse(&linear, &test_y),
        rmse(&network, &test_y),
    ])
}

fn main() -> Result<()> {
    symgrad::cli::example_without_options(
        "Regression: a network with a real-valued target trained on Friedman's first synthetic function (ten uniform features, five used, noise N(0, 1)), against a least-squares linear fit.",
    );
    let [mean, linear, network] = compare(2_000, 300)?;
    println!("\ntest RMSE on 2,000 fresh samples (target units; the noise alone gives {NOISE:.2}):");
    println!("  predict the training mean   {mean:.3}");
    println!("  least-squares linear fit    {linear:.3}");
    println!("  network 10-64-64-1 tanh     {network:.3}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use symgrad::ndarray::Axis;

    /// The normal equations recover an exact affine function.
    #[test]
    fn least_squares_recovers_an_affine_function() {
        let x = Array2::from_shape_fn((30, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 11.0 + (i * j) as f64);
        let y = x
            .map_axis(Axis(1), |r| 2.0 * r[0] - 3.0 * r[1] + 0.5 * r[2] + 4.0)
            .insert_axis(Axis(1));
        let beta = least_squares(&x, &y);
        for (got, want) in beta.iter().zip([2.0, -3.0, 0.5, 4.0]) {
            // Eleven-digit agreement: the system is well conditioned and solved in f64.
            assert!((got - want).abs() < 1e-9, "{beta}");
        }
    }

    /// On a small run the network already beats the linear fit, which beats the mean.
    #[test]
    fn the_network_beats_the_linear_fit() -> Result<()> {
        let [mean, linear, network] = compare(1_000, 60)?;
        assert!(linear < mean && network < linear, "{mean} {linear} {network}");
        Ok(())
    }
}
