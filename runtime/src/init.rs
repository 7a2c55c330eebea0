//! Parameter initialisers: the op table's [`Init`] sampled. Every random draw comes from the
//! RNG passed in, so a seed fixes the network bit for bit.

use ndarray::{ArrayViewMut, Dimension};
use rand::Rng;
use rand_distr::Distribution as _;

use crate::scalar::Scalar;

use symgrad_ops::Distribution;
pub use symgrad_ops::Init;

/// Sampling an initialiser of the op table.
pub trait Fill {
    /// Fills `param`, of any rank, with its fans from its shape ([`Init::fans`]).
    fn fill<T: Scalar, R: Rng + ?Sized, D: Dimension>(self, rng: &mut R, param: ArrayViewMut<'_, T, D>);
}

impl Fill for Init {
    fn fill<T: Scalar, R: Rng + ?Sized, D: Dimension>(self, rng: &mut R, mut param: ArrayViewMut<'_, T, D>) {
        let (fan_in, fan_out) = Init::fans(param.shape());
        match self.distribution(fan_in, fan_out) {
            Distribution::Normal { std } => param.map_inplace(|w| *w = T::from_f64(std * normal(rng))),
            Distribution::Uniform { bound } => param.map_inplace(|w| *w = T::from_f64(rng.random_range(-bound..bound))),
            Distribution::Constant(c) => param.fill(T::from_f64(c)),
        }
    }
}

/// One draw from `N(0, 1)`: rand_distr's `StandardNormal` (the Ziggurat method).
pub fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    rand_distr::StandardNormal.sample(rng)
}
