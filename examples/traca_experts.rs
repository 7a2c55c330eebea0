//! The context-aware feature compression of TRACA (Choi et al., "Context-aware Deep Feature
//! Compression for High-speed Visual Tracking", CVPR 2018), in dense form and at small scale.
//!
//! - Feature maps: each image is filtered by a fixed bank of 16 oriented Gabor filters
//!   (8 orientations, even and odd), rectified and average-pooled: 4×4 positions on the 8×8
//!   digits, 7×7 on Fashion-MNIST, each position holding a 16-channel feature vector.
//! - The autoencoder acts on each vector (a 1×1 convolution, i.e. a dense layer over channels):
//!   16 → 8 → 4 → 8 → 16 with ReLU, every encoding layer halving the channels.
//! - It is trained as a denoising autoencoder with TRACA's two corruptions of the whole map:
//!   channel corrupting (10 % of the channels set to 0 everywhere) and feature-vector exchange
//!   (10 % of the positions swapped with others); the target is always the clean map.
//! - Multi-stage loss: `‖X − AE₁(X̌)‖² + ‖X − AE₂(X̌)‖²`, where `AE₁` uses only the first
//!   encoder layer and its matching decoder layer: one `network!` with shared weights.
//! - Experts: a base autoencoder trained on everything; its codes clustered by k-means into 4
//!   contexts; one expert per context fine-tuned from the base; and a context selector (a
//!   softmax classifier trained with cross-entropy on the cluster labels) that picks the
//!   expert for a new map.
//!
//! It reports the test reconstruction error of the variants in the paper's ablation.
//!
//! ```text
//! cargo run --release --example traca_experts               # embedded digits
//! cargo run --release --example traca_experts -- --fashion  # Fashion-MNIST
//! ```

use symgrad::analysis::kmeans;
use symgrad::data::{Corruption, Dataset, Source};
use symgrad::ndarray::{Array2, Axis, s};
use symgrad::network;
use symgrad::optim::Optim;
use symgrad::prelude::*;
use symgrad::rand::seq::SliceRandom;
use symgrad::rand::{Rng, SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

const CHANNELS: usize = 16;
const EXPERTS: usize = 4;

network! {
    /// The feature autoencoder 16 → 8 → 4 → 8 → 16 with its two-depth loss: the decoder layer
    /// `v1` serves both depths.
    pub struct Traca {
        input x: [16];
        target clean: [16];
        param w1: [16, 8] = he;
        param b1: [8];
        param w2: [8, 4] = he;
        param b2: [4];
        param v2: [4, 8] = he;
        param c2: [8];
        param v1: [8, 16];
        param c1: [16];
        e1 = relu(x @ w1 + b1);
        e2 = relu(e1 @ w2 + b2);
        d2 = relu(e2 @ v2 + c2);
        shallow = e1 @ v1 + c1;
        deep = d2 @ v1 + c1;
        output deep;
        loss mse(deep, clean) + mse(shallow, clean);
    }
}

network! {
    /// The encoder of `Traca` alone (same parameter names): its output is the code.
    pub struct TracaEncoder {
        input x: [16];
        target unused: [4];
        param w1: [16, 8];
        param b1: [8];
        param w2: [8, 4];
        param b2: [4];
        e1 = relu(x @ w1 + b1);
        e2 = relu(e1 @ w2 + b2);
        output e2;
        loss mse(e2, unused);
    }
}

network! {
    /// Picks the expert of a map from its mean code.
    pub struct Selector {
        input code: [4];
        target context: classes[4];
        z = dense(relu(dense(code, 16)), 4);
        output softmax(z);
        loss cross_entropy(softmax(z), context);
    }
}

/// Sixteen 5×5 Gabor filters: 8 orientations, cosine and sine phase, zero mean.
fn gabor_bank() -> Vec<[[f64; 5]; 5]> {
    let mut bank = Vec::new();
    for o in 0..8 {
        let theta = std::f64::consts::PI * o as f64 / 8.0;
        for phase in [0.0, std::f64::consts::FRAC_PI_2] {
            let mut k = [[0.0; 5]; 5];
            for (i, row) in k.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    let (y, x) = (i as f64 - 2.0, j as f64 - 2.0);
                    let u = x * theta.cos() + y * theta.sin();
                    *v = (-(x * x + y * y) / 4.5).exp() * (std::f64::consts::PI * u / 2.0 + phase).cos();
                }
            }
            let mean = k.iter().flatten().sum::<f64>() / 25.0;
            k.iter_mut().flatten().for_each(|v| *v -= mean);
            bank.push(k);
        }
    }
    bank
}

/// Filter, rectify and average-pool every image: one row per image, `positions × 16` values,
/// position-major.
fn feature_maps(images: &Dataset<f64>, pool: usize) -> (Array2<f64>, usize) {
    let (h, w) = images.image.unwrap_or((8, 8));
    let bank = gabor_bank();
    let (ph, pw) = (h / pool, w / pool);
    let mut maps = Array2::zeros((images.len(), ph * pw * CHANNELS));
    for (n, image) in images.features.rows().into_iter().enumerate() {
        for (c, kernel) in bank.iter().enumerate() {
            for y in 0..ph * pool {
                for x in 0..pw * pool {
                    let mut response = 0.0;
                    for (i, row) in kernel.iter().enumerate() {
                        for (j, &k) in row.iter().enumerate() {
                            let (yy, xx) = (y as i64 + i as i64 - 2, x as i64 + j as i64 - 2);
                            if (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx) {
                                response += k * image[yy as usize * w + xx as usize];
                            }
                        }
                    }
                    let position = (y / pool) * pw + x / pool;
                    maps[(n, position * CHANNELS + c)] += response.abs() / (pool * pool) as f64;
                }
            }
        }
    }
    (maps, ph * pw)
}

/// A map batch seen as its feature vectors: `(maps · positions) × 16`.
fn vectors(maps: &Array2<f64>) -> Array2<f64> {
    let positions = maps.ncols() / CHANNELS;
    maps.to_shape((maps.nrows() * positions, CHANNELS))
        .expect("position-major rows")
        .to_owned()
}

/// Trains `net` on `maps` for `epochs`, each batch of 16 maps corrupted by `corruptions` in
/// turn, the clean maps as targets.
fn train_on_maps(
    net: &mut Traca<f64>,
    maps: &Array2<f64>,
    corruptions: &[Corruption],
    epochs: usize,
    seed: u64,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut optim = Optim::new(Optimizer::ADAM, 0.0);
    let mut grads = Traca::zeros();
    let mut ws = net.workspace(16 * maps.ncols() / CHANNELS);
    let mut order: Vec<usize> = (0..maps.nrows()).collect();
    for _ in 0..epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(16) {
            let clean = maps.select(Axis(0), chunk);
            let mut noisy = clean.clone();
            for corruption in corruptions {
                corruption.apply(&mut rng, noisy.view_mut());
            }
            let (x, t) = (vectors(&noisy), vectors(&clean));
            net.loss_and_grad(
                &mut ws,
                &TracaBatch {
                    x: x.view(),
                    clean: t.view(),
                },
                &mut rng,
                &mut grads,
            )?;
            optim.step(net, &grads, 3e-3);
        }
    }
    Ok(())
}

/// Mean squared reconstruction error of the full-depth output against the clean maps, with the
/// inputs optionally corrupted first.
fn error(net: &Traca<f64>, maps: &Array2<f64>, corruptions: &[Corruption], seed: u64) -> Result<f64> {
    if maps.nrows() == 0 {
        return Ok(0.0);
    }
    let mut noisy = maps.clone();
    for corruption in corruptions {
        corruption.apply(&mut StdRng::seed_from_u64(seed), noisy.view_mut());
    }
    let (x, t) = (vectors(&noisy), vectors(maps));
    let mut ws = net.workspace(x.nrows());
    let output = net.forward(&mut ws, &TracaInputs { x: x.view() })?;
    Ok((&output - &t).iter().map(|d| d * d).sum::<f64>() / t.len() as f64)
}

/// The mean code of every map: its context descriptor.
fn map_codes(net: &Traca<f64>, maps: &Array2<f64>) -> Result<Array2<f64>> {
    let mut encoder = TracaEncoder::zeros();
    for j in 0..encoder.count() {
        let i = (0..net.count())
            .find(|&i| net.name(i) == encoder.name(j))
            .expect("shared name");
        encoder.param_mut(j).assign(&net.param(i));
    }
    let x = vectors(maps);
    let mut ws = encoder.workspace(x.nrows());
    let codes = encoder.forward(&mut ws, &TracaEncoderInputs { x: x.view() })?;
    let positions = maps.ncols() / CHANNELS;
    let mut means = Array2::zeros((maps.nrows(), 4));
    for (n, mut row) in means.rows_mut().into_iter().enumerate() {
        row.assign(
            &codes
                .slice(s![n * positions..(n + 1) * positions, ..])
                .mean_axis(Axis(0))
                .expect("positions"),
        );
    }
    Ok(means)
}

/// A base autoencoder, its experts, and the selector's choice of expert for each test map.
struct Experts {
    base: Traca<f64>,
    experts: Vec<Traca<f64>>,
    choice: Vec<usize>,
}

fn build(
    train_maps: &Array2<f64>,
    test_maps: &Array2<f64>,
    corruptions: &[Corruption],
    epochs: (usize, usize),
) -> Result<Experts> {
    let mut base = Traca::new(&mut StdRng::seed_from_u64(0));
    train_on_maps(&mut base, train_maps, corruptions, epochs.0, 0)?;
    let codes = map_codes(&base, train_maps)?;
    let contexts = kmeans(codes.view(), EXPERTS, 100, &mut StdRng::seed_from_u64(0)).assignment;
    let mut experts = Vec::new();
    for k in 0..EXPERTS {
        let members: Vec<usize> = (0..train_maps.nrows()).filter(|&i| contexts[i] == k).collect();
        let mut expert = base.clone();
        train_on_maps(
            &mut expert,
            &train_maps.select(Axis(0), &members),
            corruptions,
            epochs.1,
            1 + k as u64,
        )?;
        experts.push(expert);
    }
    let labelled = Dataset::new(codes, contexts, EXPERTS)?;
    let (fit_set, val) = labelled.split_stratified(0.1, &mut StdRng::seed_from_u64(0))?;
    let mut selector = Selector::new(&mut StdRng::seed_from_u64(0));
    let config = TrainConfig {
        epochs: 60,
        batch_size: 32,
        learning_rate: 3e-3,
        verbosity: Verbosity::Bar,
        ..TrainConfig::default()
    };
    train::fit(&mut selector, &fit_set, &val, &config)?;
    let test_codes = Dataset::new(map_codes(&base, test_maps)?, vec![0; test_maps.nrows()], EXPERTS)?;
    let mut ws = selector.workspace(256);
    let choice = train::predict(&selector, &mut ws, &test_codes, 256)?;
    Ok(Experts { base, experts, choice })
}

/// Error of each test map reconstructed by the expert `pick(map)`.
fn expert_error(experts: &[Traca<f64>], maps: &Array2<f64>, pick: &[usize], corruptions: &[Corruption]) -> Result<f64> {
    let mut total = 0.0;
    for (k, expert) in experts.iter().enumerate() {
        let members: Vec<usize> = (0..maps.nrows()).filter(|&i| pick[i] == k).collect();
        total += error(expert, &maps.select(Axis(0), &members), corruptions, 7)? * members.len() as f64;
    }
    Ok(total / maps.nrows() as f64)
}

/// Measures a variant's reconstruction error given the corruptions of its input.
type Measure<'a> = Box<dyn Fn(&[Corruption]) -> Result<f64> + 'a>;

fn main() -> Result<()> {
    let source = symgrad::cli::example_source(
        "The context-aware feature compression of TRACA (Choi et al., \"Context-aware Deep Feature Compression for High-speed Visual Tracking\", CVPR 2018), in dense form and at small scale.",
    );
    let (train_set, test_set) = source.load::<f64>(0)?;
    let (pool, epochs, limit) = match source {
        Source::Digits => (2, (60, 30), usize::MAX),
        Source::FashionMnist(_) => (4, (4, 2), 10_000),
    };
    let train_set = train_set.first(train_set.len().min(limit));
    let (mut train_maps, positions) = feature_maps(&train_set, pool);
    let (mut test_maps, _) = feature_maps(&test_set, pool);
    // Scale every channel to a maximum of 1 on the training maps.
    for c in 0..CHANNELS {
        let max = (0..positions)
            .map(|p| train_maps.column(p * CHANNELS + c).fold(0.0_f64, |m, &v| m.max(v)))
            .fold(1e-12, f64::max);
        for p in 0..positions {
            train_maps.column_mut(p * CHANNELS + c).mapv_inplace(|v| v / max);
            test_maps.column_mut(p * CHANNELS + c).mapv_inplace(|v| v / max);
        }
    }
    eprintln!(
        "{} training maps, {} test maps, {positions} positions × {CHANNELS} channels",
        train_maps.nrows(),
        test_maps.nrows()
    );

    let traca = [
        Corruption::Channels {
            fraction: 0.1,
            channels: CHANNELS,
        },
        Corruption::Exchange {
            fraction: 0.1,
            channels: CHANNELS,
        },
    ];
    let dropout = [
        Corruption::Masking { fraction: 0.1 },
        Corruption::Exchange {
            fraction: 0.1,
            channels: CHANNELS,
        },
    ];
    eprintln!("training: TRACA experts");
    let full = build(&train_maps, &test_maps, &traca, epochs)?;
    eprintln!("training: experts without corruption");
    let clean = build(&train_maps, &test_maps, &[], epochs)?;
    eprintln!("training: experts with dropout instead of channel corruption");
    let dropped = build(&train_maps, &test_maps, &dropout, epochs)?;
    let mut rng = StdRng::seed_from_u64(3);
    let random: Vec<usize> = (0..test_maps.nrows()).map(|_| rng.random_range(0..EXPERTS)).collect();

    println!("\ntest reconstruction error (mean squared, channels scaled to max 1)\n");
    println!("{:<48} {:>12} {:>14}", "", "clean input", "corrupted input");
    let rows: [(&str, Measure<'_>); 5] = [
        (
            "TRACA: selected expert",
            Box::new(|c| expert_error(&full.experts, &test_maps, &full.choice, c)),
        ),
        (
            "random expert",
            Box::new(|c| expert_error(&full.experts, &test_maps, &random, c)),
        ),
        (
            "single autoencoder (the base)",
            Box::new(|c| error(&full.base, &test_maps, c, 7)),
        ),
        (
            "experts trained without corruption",
            Box::new(|c| expert_error(&clean.experts, &test_maps, &clean.choice, c)),
        ),
        (
            "experts with dropout instead of channel corr.",
            Box::new(|c| expert_error(&dropped.experts, &test_maps, &dropped.choice, c)),
        ),
    ];
    for (name, measure) in rows {
        println!("{name:<48} {:>12.6} {:>14.6}", measure(&[])?, measure(&traca)?);
    }
    let chosen: Vec<usize> = (0..EXPERTS)
        .map(|k| full.choice.iter().filter(|&&c| c == k).count())
        .collect();
    println!("\nthe selector sent the test maps to the experts as {chosen:?}");
    println!(
        "for comparison, the paper's tracking precision (higher is better): TRACA 89.8 %, random expert 84.4 %,\n\
         single autoencoder 76.2 %, without denoising 75.4 %, dropout instead of channel corruption 78.5 %"
    );
    Ok(())
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
        let clean = common::random(&mut rng, 4, 16, 1.0).mapv(f64::abs);
        let mut noisy = clean.clone();
        Corruption::Channels {
            fraction: 0.25,
            channels: 16,
        }
        .apply(&mut rng, noisy.view_mut());
        let mut net: Traca<f64> = common::network(&mut rng);
        let batch = TracaBatch {
            x: noisy.view(),
            clean: clean.view(),
        };
        common::check(&mut net, &batch, 0, common::Kinks::Possible).unwrap();
        let codes = common::random(&mut rng, 4, 4, 1.0);
        let contexts = common::labels(&mut rng, 4, 4);
        let mut selector: Selector<f64> = common::network(&mut rng);
        let batch = SelectorBatch {
            code: codes.view(),
            context: &contexts,
        };
        common::check(&mut selector, &batch, 0, common::Kinks::Possible).unwrap();
    }

    /// Reduced: 200 digits' maps, 5 epochs.
    #[test]
    fn training_on_corrupted_maps_lowers_the_reconstruction_error() {
        let (train_set, _) = Source::Digits.load::<f64>(0).unwrap();
        let small = train_set.first(200);
        let (maps, positions) = feature_maps(&small, 2);
        assert_eq!((maps.ncols(), positions), (16 * CHANNELS, 16));
        let corruptions = [
            Corruption::Channels {
                fraction: 0.1,
                channels: CHANNELS,
            },
            Corruption::Exchange {
                fraction: 0.1,
                channels: CHANNELS,
            },
        ];
        let mut net = Traca::new(&mut StdRng::seed_from_u64(0));
        let before = error(&net, &maps, &corruptions, 0).unwrap();
        train_on_maps(&mut net, &maps, &corruptions, 5, 0).unwrap();
        let after = error(&net, &maps, &corruptions, 0).unwrap();
        assert!(after < before, "{after} vs {before}");
    }
}
