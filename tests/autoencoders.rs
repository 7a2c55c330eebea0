//! The autoencoder networks (plain, MAE, tied, denoising, stacked layer, TRACA's two-depth
//! loss with a shared decoder layer) against finite differences and their tape twins, and the
//! corruptions: fractions, determinism under a seed, clean targets, and that exchange only
//! permutes a map's vectors.

mod common;

use common::{Kinks, check, network, random};
use proptest::prelude::*;
use symgrad::data::Corruption;
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    /// ReLU hidden layers, sigmoid output, mean squared error.
    struct Plain {
        input x: [6];
        e1 = relu(dense(x, 4));
        code = relu(dense(e1, 2));
        d1 = relu(dense(code, 4));
        recon = sigmoid(dense(d1, 6));
        output recon;
        loss mse(recon, x);
    }
}

network! {
    /// The same trained with mean absolute error.
    struct Absolute {
        input x: [6];
        e1 = relu(dense(x, 4));
        code = relu(dense(e1, 2));
        d1 = relu(dense(code, 4));
        recon = sigmoid(dense(d1, 6));
        output recon;
        loss mae(recon, x);
    }
}

network! {
    /// Tied weights: the decoder uses the encoder's transposes.
    struct TiedAe {
        input x: [6];
        param w1: [6, 4];
        param w2: [4, 2];
        param b1: [4];
        param b2: [2];
        param b3: [4];
        param b4: [6];
        e1 = relu(x @ w1 + b1);
        code = relu(e1 @ w2 + b2);
        d1 = relu(code @ transpose(w2) + b3);
        recon = sigmoid(d1 @ transpose(w1) + b4);
        output recon;
        loss mse(recon, x);
    }
}

network! {
    /// A denoising layer of a stack: corrupted input, clean target, the code as output.
    struct Layer {
        input x: [6];
        target clean: [6];
        code = relu(dense(x, 3));
        recon = sigmoid(dense(code, 6));
        output code;
        loss mse(recon, clean);
    }
}

network! {
    /// TRACA's autoencoder: reconstructions at two depths share the decoder layer `v1`.
    struct TwoDepth {
        input x: [8];
        target clean: [8];
        param w1: [8, 4] = he;
        param b1: [4];
        param w2: [4, 2] = he;
        param b2: [2];
        param v2: [2, 4] = he;
        param c2: [4];
        param v1: [4, 8];
        param c1: [8];
        e1 = relu(x @ w1 + b1);
        e2 = relu(e1 @ w2 + b2);
        d2 = relu(e2 @ v2 + c2);
        shallow = e1 @ v1 + c1;
        deep = d2 @ v1 + c1;
        output deep;
        loss mse(deep, clean) + mse(shallow, clean);
    }
}

/// A case the property test below found: a bias whose `H·v` entries are all near 10⁻⁷ while the
/// product's largest are near 1 (see `agree_with_tape` for the scale it is compared on).
#[test]
fn plain_with_a_nearly_flat_bias() {
    let seed = 7_492_942_765_731_378_970;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net: Plain<f64> = network(&mut rng);
    let x = random(&mut rng, 4, 6, 1.0);
    check(&mut net, &PlainBatch { x: x.view() }, seed, Kinks::Possible).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plain(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Plain<f64> = network(&mut rng);
        let x = random(&mut rng, rows, 6, 1.0);
        let batch = PlainBatch { x: x.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn absolute(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Absolute<f64> = network(&mut rng);
        let x = random(&mut rng, rows, 6, 1.0);
        let batch = AbsoluteBatch { x: x.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn tied(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: TiedAe<f64> = network(&mut rng);
        let x = random(&mut rng, rows, 6, 1.0);
        let batch = TiedAeBatch { x: x.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn denoising_layer(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Layer<f64> = network(&mut rng);
        let clean = random(&mut rng, rows, 6, 1.0);
        let mut noisy = clean.clone();
        Corruption::Masking { fraction: 0.3 }.apply(&mut rng, noisy.view_mut());
        let batch = LayerBatch { x: noisy.view(), clean: clean.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn two_depth_shared_decoder(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: TwoDepth<f64> = network(&mut rng);
        let clean = random(&mut rng, rows, 8, 1.0);
        let mut noisy = clean.clone();
        Corruption::Channels { fraction: 0.25, channels: 8 }.apply(&mut rng, noisy.view_mut());
        let batch = TwoDepthBatch { x: noisy.view(), clean: clean.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }
}

/// A batch of `rows` maps of `positions × channels` distinct values.
fn maps(rows: usize, positions: usize, channels: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, positions * channels), |(r, i)| {
        1.0 + (r * positions * channels + i) as f64
    })
}

fn corrupted(corruption: Corruption, clean: &Array2<f64>, seed: u64) -> Array2<f64> {
    let mut out = clean.clone();
    corruption.apply(&mut StdRng::seed_from_u64(seed), out.view_mut());
    out
}

#[test]
fn every_corruption_is_determined_by_its_seed() {
    let clean = maps(20, 9, 8);
    for corruption in [
        Corruption::Gaussian { std: 0.5 },
        Corruption::Masking { fraction: 0.3 },
        Corruption::SaltAndPepper {
            fraction: 0.3,
            low: 0.0,
            high: 1.0,
        },
        Corruption::Channels {
            fraction: 0.25,
            channels: 8,
        },
        Corruption::Exchange {
            fraction: 0.5,
            channels: 8,
        },
    ] {
        assert_eq!(
            corrupted(corruption, &clean, 1),
            corrupted(corruption, &clean, 1),
            "{corruption:?}"
        );
        assert_ne!(
            corrupted(corruption, &clean, 1),
            corrupted(corruption, &clean, 2),
            "{corruption:?}"
        );
        assert_ne!(corrupted(corruption, &clean, 1), clean, "{corruption:?}");
    }
}

#[test]
fn pixel_corruptions_hit_the_requested_fraction() {
    let clean = maps(100, 100, 1);
    let n = clean.len() as f64;
    // 10⁴ Bernoulli(0.3) draws: standard deviation 0.0046; ±0.03 is over six of them.
    let masked = corrupted(Corruption::Masking { fraction: 0.3 }, &clean, 0);
    let zeroed = masked.iter().filter(|&&v| v == 0.0).count() as f64 / n;
    assert!((zeroed - 0.3).abs() < 0.03, "{zeroed}");
    let salted = corrupted(
        Corruption::SaltAndPepper {
            fraction: 0.2,
            low: -1.0,
            high: -2.0,
        },
        &clean,
        0,
    );
    let changed: Vec<f64> = salted
        .iter()
        .zip(&clean)
        .filter(|(a, b)| a != b)
        .map(|(&a, _)| a)
        .collect();
    assert!((changed.len() as f64 / n - 0.2).abs() < 0.03);
    assert!(changed.iter().all(|&v| v == -1.0 || v == -2.0));
    let both = changed.iter().filter(|&&v| v == -1.0).count() as f64 / changed.len() as f64;
    assert!((both - 0.5).abs() < 0.1, "salt and pepper equally likely: {both}");
    let noisy = corrupted(Corruption::Gaussian { std: 0.5 }, &clean, 0);
    let diffs: Vec<f64> = noisy.iter().zip(&clean).map(|(a, b)| a - b).collect();
    let mean = diffs.iter().sum::<f64>() / n;
    let std = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 0.03 && (std - 0.5).abs() < 0.03, "{mean} {std}");
}

#[test]
fn channel_corruption_zeroes_whole_channels() {
    let (positions, channels) = (9, 20);
    let clean = maps(50, positions, channels);
    let out = corrupted(
        Corruption::Channels {
            fraction: 0.1,
            channels,
        },
        &clean,
        3,
    );
    let mut chosen = Vec::new();
    for row in out.rows() {
        let zero: Vec<usize> = (0..channels)
            .filter(|&c| (0..positions).all(|p| row[p * channels + c] == 0.0))
            .collect();
        let touched = (0..channels)
            .filter(|&c| (0..positions).any(|p| row[p * channels + c] == 0.0))
            .count();
        assert_eq!(zero.len(), 2, "10 % of 20 channels, over the whole map");
        assert_eq!(touched, 2, "no partial channels");
        chosen.push(zero);
    }
    assert!(
        chosen.windows(2).any(|w| w[0] != w[1]),
        "each map draws its own channels"
    );
}

#[test]
fn exchange_only_permutes_a_maps_vectors() {
    let (positions, channels) = (20, 4);
    let clean = maps(30, positions, channels);
    let out = corrupted(
        Corruption::Exchange {
            fraction: 0.1,
            channels,
        },
        &clean,
        5,
    );
    for (before, after) in clean.rows().into_iter().zip(out.rows()) {
        let vectors = |row: symgrad::ndarray::ArrayView1<'_, f64>| {
            let mut v: Vec<Vec<u64>> = row
                .as_slice()
                .unwrap()
                .chunks(channels)
                .map(|c| c.iter().map(|x| x.to_bits()).collect())
                .collect();
            v.sort();
            v
        };
        assert_eq!(vectors(before), vectors(after), "the multiset of vectors is unchanged");
        let moved = (0..positions)
            .filter(|&p| before[p * channels] != after[p * channels])
            .count();
        assert_eq!(moved, 2, "10 % of 20 positions: one pair swapped");
    }
}
