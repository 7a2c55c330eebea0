//! Input corruptions for denoising autoencoders. Each acts in place on a batch, one sample per
//! row, drawing from the RNG it is given; the clean rows stay the target.
//!
//! The first three act on pixels. The last two act on feature maps, as in TRACA (Choi et al.,
//! CVPR 2018): a row holds `positions × channels` values, position-major (the `channels`
//! values of position 0, then of position 1, ...).

use ndarray::ArrayViewMut2;
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::init::normal;
use crate::scalar::Scalar;

/// A way to corrupt inputs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Corruption {
    /// Adds `N(0, std²)` noise to every value.
    Gaussian {
        /// The noise's standard deviation.
        std: f64,
    },
    /// Sets each value to 0 with probability `fraction` (masking noise).
    Masking {
        /// The probability of each value being zeroed.
        fraction: f64,
    },
    /// Sets each value with probability `fraction` to `low` or `high`, equally likely.
    SaltAndPepper {
        /// The probability of each value being replaced.
        fraction: f64,
        /// The "pepper" value.
        low: f64,
        /// The "salt" value.
        high: f64,
    },
    /// Zeroes `round(fraction · channels)` channels, chosen at random, over the whole map.
    Channels {
        /// The share of channels zeroed.
        fraction: f64,
        /// Channels per position: a row is `positions × channels` values, position-major.
        channels: usize,
    },
    /// Swaps `round(fraction · positions / 2)` disjoint pairs of positions' feature vectors:
    /// the map's vectors are permuted, the multiset of vectors unchanged.
    Exchange {
        /// The share of positions moved.
        fraction: f64,
        /// Channels per position: a row is `positions × channels` values, position-major.
        channels: usize,
    },
}

impl Corruption {
    /// Corrupts every row of `batch` in place.
    pub fn apply<T: Scalar, R: Rng + ?Sized>(&self, rng: &mut R, mut batch: ArrayViewMut2<'_, T>) {
        for mut row in batch.rows_mut() {
            match *self {
                Corruption::Gaussian { std } => row.map_inplace(|v| *v += T::from_f64(std * normal(rng))),
                Corruption::Masking { fraction } => row.map_inplace(|v| {
                    if rng.random::<f64>() < fraction {
                        *v = T::ZERO;
                    }
                }),
                Corruption::SaltAndPepper { fraction, low, high } => row.map_inplace(|v| {
                    if rng.random::<f64>() < fraction {
                        *v = T::from_f64(if rng.random::<bool>() { high } else { low });
                    }
                }),
                Corruption::Channels { fraction, channels } => {
                    let mut order: Vec<usize> = (0..channels).collect();
                    order.shuffle(rng);
                    let dropped = &order[..((fraction * channels as f64).round() as usize).min(channels)];
                    for (i, v) in row.iter_mut().enumerate() {
                        if dropped.contains(&(i % channels)) {
                            *v = T::ZERO;
                        }
                    }
                }
                Corruption::Exchange { fraction, channels } => {
                    let positions = row.len() / channels.max(1);
                    let mut order: Vec<usize> = (0..positions).collect();
                    order.shuffle(rng);
                    let pairs = ((fraction * positions as f64 / 2.0).round() as usize).min(positions / 2);
                    for pair in order[..2 * pairs].chunks_exact(2) {
                        for c in 0..channels {
                            row.swap(pair[0] * channels + c, pair[1] * channels + c);
                        }
                    }
                }
            }
        }
    }
}
