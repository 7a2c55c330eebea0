//! The context-aware feature compression of TRACA (Choi et al., "Context-aware Deep Feature
//! Compression for High-speed Visual Tracking", CVPR 2018), at small scale, in two forms.
//!
//! - Feature maps: each image is filtered by a fixed bank of 16 oriented Gabor filters
//!   (8 orientations, even and odd), rectified and average-pooled: 4×4 positions on the 8×8
//!   digits, 7×7 on Fashion-MNIST, each position holding a 16-channel feature vector.
//! - The autoencoder 16 → 8 → 4 → 8 → 16 channels with ReLU, every encoding layer halving the
//!   channels at an unchanged spatial size, in two forms: the paper's, 3×3 convolutions over
//!   the maps (`same` padding), and a dense form acting on each feature vector alone (a 1×1
//!   convolution).
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
//! It reports the test reconstruction error of the variants in the paper's ablation, for each
//! form.
//!
//! ```text
//! cargo run --release --example traca_experts               # embedded digits
//! cargo run --release --example traca_experts -- --fashion  # Fashion-MNIST
//! ```

use symgrad::analysis::kmeans;
use symgrad::data::{Corruption, Dataset, Examples, Source};
use symgrad::ndarray::{Array2, Axis, s};
use symgrad::network;
use symgrad::optim::Optim;
use symgrad::prelude::*;
use symgrad::rand::seq::SliceRandom;
use symgrad::rand::{Rng, SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

const CHANNELS: usize = 16;
const CODE: usize = 4;
const EXPERTS: usize = 4;

network! {
    /// The feature autoencoder 16 → 8 → 4 → 8 → 16 on each feature vector, with its two-depth
    /// loss: the decoder layer `v1` serves both depths.
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

/// The convolutional autoencoder over maps of `$side × $side` positions (`$name`), and its
/// encoder (`$encoder`, same parameter names).
macro_rules! conv_traca {
    ($name:ident, $encoder:ident, $side:tt) => {
        network! {
            /// The feature autoencoder 16 → 8 → 4 → 8 → 16 channels of 3×3 convolutions over
            /// the maps, with its two-depth loss: the decoder kernel `v1` serves both depths.
            pub struct $name {
                input x: [16, $side, $side];
                target clean: [16, $side, $side];
                param w1: [8, 16, 3, 3] = he;
                param b1: [8, 1, 1];
                param w2: [4, 8, 3, 3] = he;
                param b2: [4, 1, 1];
                param v2: [8, 4, 3, 3] = he;
                param c2: [8, 1, 1];
                param v1: [16, 8, 3, 3];
                param c1: [16, 1, 1];
                e1 = relu(conv2d(x, w1, padding = same) + b1);
                e2 = relu(conv2d(e1, w2, padding = same) + b2);
                d2 = relu(conv2d(e2, v2, padding = same) + c2);
                shallow = conv2d(e1, v1, padding = same) + c1;
                deep = conv2d(d2, v1, padding = same) + c1;
                output deep;
                loss mse(deep, clean) + mse(shallow, clean);
            }
        }

        network! {
            /// The encoder alone: its output is the code, 4 maps.
            pub struct $encoder {
                input x: [16, $side, $side];
                target unused: [4, $side, $side];
                param w1: [8, 16, 3, 3];
                param b1: [8, 1, 1];
                param w2: [4, 8, 3, 3];
                param b2: [4, 1, 1];
                e1 = relu(conv2d(x, w1, padding = same) + b1);
                e2 = relu(conv2d(e1, w2, padding = same) + b2);
                output e2;
                loss mse(e2, unused);
            }
        }

        impl Compressor for $name<f64> {
            type Encoder = $encoder<f64>;

            /// Channel-major: each map's 16 planes of positions.
            fn layout(maps: &Array2<f64>) -> Array2<f64> {
                let positions = maps.ncols() / CHANNELS;
                Array2::from_shape_fn(maps.dim(), |(n, k)| {
                    maps[(n, (k % positions) * CHANNELS + k / positions)]
                })
            }

            fn mean_codes(codes: &Array2<f64>, maps: usize) -> Array2<f64> {
                let positions = codes.ncols() / CODE;
                Array2::from_shape_fn((maps, CODE), |(n, c)| {
                    codes
                        .slice(s![n, c * positions..(c + 1) * positions])
                        .mean()
                        .unwrap_or(0.0)
                })
            }
        }
    };
}

conv_traca!(DigitsTracaConv, DigitsTracaConvEncoder, 4);
conv_traca!(FashionTracaConv, FashionTracaConvEncoder, 7);

/// A feature autoencoder of either form: how it reads the maps (kept position-major, each
/// position's 16 channels together, which is what the corruptions act on) and how its
/// encoder's output becomes one code of 4 values per map.
trait Compressor: FromExamples<f64> + Clone {
    /// The encoder alone, with the same parameter names.
    type Encoder: FromExamples<f64>;

    /// The maps as the network's rows.
    fn layout(maps: &Array2<f64>) -> Array2<f64>;

    /// The mean code of each of `maps` maps from the encoder's output.
    fn mean_codes(codes: &Array2<f64>, maps: usize) -> Array2<f64>;
}

impl Compressor for Traca<f64> {
    type Encoder = TracaEncoder<f64>;

    /// One feature vector per row.
    fn layout(maps: &Array2<f64>) -> Array2<f64> {
        let positions = maps.ncols() / CHANNELS;
        maps.to_shape((maps.nrows() * positions, CHANNELS))
            .expect("position-major rows")
            .to_owned()
    }

    fn mean_codes(codes: &Array2<f64>, maps: usize) -> Array2<f64> {
        let positions = codes.nrows() / maps.max(1);
        Array2::from_shape_fn((maps, CODE), |(n, c)| {
            codes
                .slice(s![n * positions..(n + 1) * positions, c])
                .mean()
                .unwrap_or(0.0)
        })
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

/// A batch of `C` from maps (corrupted or not) and their clean versions, position-major.
fn batch<'a, C: Compressor>(x: &'a Array2<f64>, clean: &'a Array2<f64>) -> Result<C::Batch<'a>> {
    C::batch(Examples {
        features: x.view(),
        labels: &[],
        clean: clean.view(),
        targets: None,
    })
}

/// Trains `net` on `maps` for `epochs`, each batch of 16 maps corrupted by `corruptions` in
/// turn, the clean maps as targets.
fn train_on_maps<C: Compressor>(
    net: &mut C,
    maps: &Array2<f64>,
    corruptions: &[Corruption],
    epochs: usize,
    seed: u64,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut optim = Optim::new(Optimizer::ADAM, 0.0);
    let mut grads = C::zeros();
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
            let (x, t) = (C::layout(&noisy), C::layout(&clean));
            net.loss_and_grad(&mut ws, &batch::<C>(&x, &t)?, &mut rng, &mut grads)?;
            optim.step(net, &grads, 3e-3);
        }
    }
    Ok(())
}

/// Mean squared reconstruction error of the full-depth output against the clean maps, with the
/// inputs optionally corrupted first.
fn error<C: Compressor>(net: &C, maps: &Array2<f64>, corruptions: &[Corruption], seed: u64) -> Result<f64> {
    if maps.nrows() == 0 {
        return Ok(0.0);
    }
    let mut noisy = maps.clone();
    for corruption in corruptions {
        corruption.apply(&mut StdRng::seed_from_u64(seed), noisy.view_mut());
    }
    let (x, t) = (C::layout(&noisy), C::layout(maps));
    let mut ws = net.workspace(x.nrows());
    let output = net.output(&mut ws, &batch::<C>(&x, &t)?)?;
    Ok((&output - &t).iter().map(|d| d * d).sum::<f64>() / t.len() as f64)
}

/// The mean code of every map: its context descriptor.
fn map_codes<C: Compressor>(net: &C, maps: &Array2<f64>) -> Result<Array2<f64>> {
    let mut encoder = C::Encoder::zeros();
    for j in 0..encoder.count() {
        let i = (0..net.count())
            .find(|&i| net.name(i) == encoder.name(j))
            .expect("shared name");
        encoder.param_mut(j).assign(&net.param(i));
    }
    let x = C::layout(maps);
    let mut ws = encoder.workspace(x.nrows());
    // The encoder's target is not read by its output.
    let examples = Examples::new(x.view(), &[]);
    let codes = encoder.output(&mut ws, &C::Encoder::batch(examples)?)?.to_owned();
    Ok(C::mean_codes(&codes, maps.nrows()))
}

/// A base autoencoder, its experts, and the selector's choice of expert for each test map.
struct Experts<C> {
    base: C,
    experts: Vec<C>,
    choice: Vec<usize>,
}

fn build<C: Compressor>(
    train_maps: &Array2<f64>,
    test_maps: &Array2<f64>,
    corruptions: &[Corruption],
    epochs: (usize, usize),
) -> Result<Experts<C>> {
    let mut base = C::init(&mut StdRng::seed_from_u64(0));
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
fn expert_error<C: Compressor>(
    experts: &[C],
    maps: &Array2<f64>,
    pick: &[usize],
    corruptions: &[Corruption],
) -> Result<f64> {
    let mut total = 0.0;
    for (k, expert) in experts.iter().enumerate() {
        let members: Vec<usize> = (0..maps.nrows()).filter(|&i| pick[i] == k).collect();
        total += error(expert, &maps.select(Axis(0), &members), corruptions, 7)? * members.len() as f64;
    }
    Ok(total / maps.nrows() as f64)
}

/// Measures a variant's reconstruction error given the corruptions of its input.
type Measure<'a> = Box<dyn Fn(&[Corruption]) -> Result<f64> + 'a>;

/// TRACA's two corruptions of the whole map: 10 % of the channels zeroed everywhere, 10 % of
/// the positions' feature vectors swapped with others.
const TRACA: [Corruption; 2] = [
    Corruption::Channels {
        fraction: 0.1,
        channels: CHANNELS,
    },
    Corruption::Exchange {
        fraction: 0.1,
        channels: CHANNELS,
    },
];

/// The ablation for autoencoders of form `C`: TRACA's experts, a random expert, the single base
/// autoencoder, experts trained without corruption and with dropout instead of channel
/// corruption; the test reconstruction error of each, on clean and on corrupted maps.
fn ablation<C: Compressor>(
    form: &str,
    train_maps: &Array2<f64>,
    test_maps: &Array2<f64>,
    epochs: (usize, usize),
) -> Result<()> {
    let dropout = [
        Corruption::Masking { fraction: 0.1 },
        Corruption::Exchange {
            fraction: 0.1,
            channels: CHANNELS,
        },
    ];
    eprintln!("{form}: training TRACA experts");
    let full = build::<C>(train_maps, test_maps, &TRACA, epochs)?;
    eprintln!("{form}: training experts without corruption");
    let clean = build::<C>(train_maps, test_maps, &[], epochs)?;
    eprintln!("{form}: training experts with dropout instead of channel corruption");
    let dropped = build::<C>(train_maps, test_maps, &dropout, epochs)?;
    let mut rng = StdRng::seed_from_u64(3);
    let random: Vec<usize> = (0..test_maps.nrows()).map(|_| rng.random_range(0..EXPERTS)).collect();

    println!(
        "
{form}: test reconstruction error (mean squared, channels scaled to max 1)\n"
    );
    println!("{:<48} {:>12} {:>14}", "", "clean input", "corrupted input");
    let rows: [(&str, Measure<'_>); 5] = [
        (
            "TRACA: selected expert",
            Box::new(|c| expert_error(&full.experts, test_maps, &full.choice, c)),
        ),
        (
            "random expert",
            Box::new(|c| expert_error(&full.experts, test_maps, &random, c)),
        ),
        (
            "single autoencoder (the base)",
            Box::new(|c| error(&full.base, test_maps, c, 7)),
        ),
        (
            "experts trained without corruption",
            Box::new(|c| expert_error(&clean.experts, test_maps, &clean.choice, c)),
        ),
        (
            "experts with dropout instead of channel corr.",
            Box::new(|c| expert_error(&dropped.experts, test_maps, &dropped.choice, c)),
        ),
    ];
    for (name, measure) in rows {
        println!("{name:<48} {:>12.6} {:>14.6}", measure(&[])?, measure(&TRACA)?);
    }
    let chosen: Vec<usize> = (0..EXPERTS)
        .map(|k| full.choice.iter().filter(|&&c| c == k).count())
        .collect();
    println!("\nthe selector sent the test maps to the experts as {chosen:?}");
    Ok(())
}

fn main() -> Result<()> {
    let source = symgrad::cli::example_source(
        "The context-aware feature compression of TRACA (Choi et al., \"Context-aware Deep Feature Compression for High-speed Visual Tracking\", CVPR 2018), at small scale: 3×3 convolutional and per-vector (dense) autoencoders.",
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
    let conv = "3×3 convolutions (the paper's form)";
    match source {
        Source::Digits => ablation::<DigitsTracaConv<f64>>(conv, &train_maps, &test_maps, epochs)?,
        Source::FashionMnist(_) => ablation::<FashionTracaConv<f64>>(conv, &train_maps, &test_maps, epochs)?,
    }
    ablation::<Traca<f64>>("per feature vector (dense, 1×1)", &train_maps, &test_maps, epochs)?;
    println!(
        "\nfor comparison, the paper's tracking precision (higher is better): TRACA 89.8 %, random expert 84.4 %,\n\
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
        // The convolutional form on 2 maps of 4×4 positions, laid out channel-major.
        let maps = common::random(&mut rng, 2, 16 * CHANNELS, 1.0).mapv(f64::abs);
        let mut noisy = maps.clone();
        Corruption::Exchange {
            fraction: 0.25,
            channels: CHANNELS,
        }
        .apply(&mut rng, noisy.view_mut());
        let (x, t) = (DigitsTracaConv::layout(&noisy), DigitsTracaConv::layout(&maps));
        let mut net: DigitsTracaConv<f64> = common::network(&mut rng);
        let batch = DigitsTracaConvBatch {
            x: x.view(),
            clean: t.view(),
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

    /// The convolutional form reads each channel's plane of positions: channel-major.
    #[test]
    fn maps_are_laid_out_by_channel_for_the_convolutions() {
        // Two positions × 16 channels, position-major: value = 100·position + channel.
        let maps = Array2::from_shape_fn((1, 2 * CHANNELS), |(_, k)| (100 * (k / CHANNELS) + k % CHANNELS) as f64);
        let planes = DigitsTracaConv::layout(&maps);
        assert_eq!(planes.row(0).to_vec()[..4], [0.0, 100.0, 1.0, 101.0]);
        let codes = Array2::from_shape_fn((2, CODE * 3), |(n, k)| (10 * n + k / 3) as f64);
        assert_eq!(
            DigitsTracaConv::mean_codes(&codes, 2).row(1).to_vec(),
            [10.0, 11.0, 12.0, 13.0]
        );
    }

    /// Reduced: 200 digits' maps, 5 epochs, in both forms.
    #[test]
    fn training_on_corrupted_maps_lowers_the_reconstruction_error() {
        let (train_set, _) = Source::Digits.load::<f64>(0).unwrap();
        let small = train_set.first(200);
        let (maps, positions) = feature_maps(&small, 2);
        assert_eq!((maps.ncols(), positions), (16 * CHANNELS, 16));
        lowers::<Traca<f64>>(&maps, &TRACA);
        lowers::<DigitsTracaConv<f64>>(&maps, &TRACA);
    }

    fn lowers<C: Compressor>(maps: &Array2<f64>, corruptions: &[Corruption]) {
        let mut net = C::init(&mut StdRng::seed_from_u64(0));
        let before = error(&net, maps, corruptions, 0).unwrap();
        train_on_maps(&mut net, maps, corruptions, 5, 0).unwrap();
        let after = error(&net, maps, corruptions, 0).unwrap();
        assert!(after < before, "{after} vs {before}");
    }
}
