//! Parameter initialisers. Every random draw comes from the RNG passed in, so a seed fixes the
//! network bit for bit.
//!
//! A weight `W: fan_in × fan_out` maps rows of `X: B × fan_in` to `X·W: B × fan_out`.
//! Glorot and Bengio (2010) keep the variance of activations and of gradients roughly equal
//! across layers by choosing `Var(W) = 2 / (fan_in + fan_out)`; He et al. (2015) use
//! `Var(W) = 2 / fan_in` to make up for ReLU zeroing half its inputs.

use ndarray::ArrayViewMut2;
use rand::Rng;

use crate::scalar::Scalar;

/// How to fill a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Glorot normal: `N(0, σ²)` with `σ = √(2/(fan_in + fan_out))`.
    XavierNormal,
    /// Glorot uniform: `U(−a, a)` with `a = √(6/(fan_in + fan_out))` (the same variance).
    XavierUniform,
    /// He normal: `N(0, σ²)` with `σ = √(2/fan_in)`.
    He,
    /// Standard normal `N(0, 1)`: the naive choice, for comparison with the scaled ones.
    StandardNormal,
    /// All zeros (biases).
    Zeros,
    /// Every element the same value.
    Constant(f64),
}

impl Init {
    /// Fills `param` (rows = `fan_in`, columns = `fan_out`).
    pub fn fill<T: Scalar, R: Rng + ?Sized>(self, rng: &mut R, mut param: ArrayViewMut2<'_, T>) {
        let (fan_in, fan_out) = param.dim();
        let fans = (fan_in + fan_out).max(1) as f64;
        match self {
            Init::XavierNormal => param.map_inplace(|w| *w = T::from_f64((2.0 / fans).sqrt() * normal(rng))),
            Init::XavierUniform => {
                let a = (6.0 / fans).sqrt();
                param.map_inplace(|w| *w = T::from_f64(rng.random_range(-a..a)));
            }
            Init::He => {
                let std = (2.0 / fan_in.max(1) as f64).sqrt();
                param.map_inplace(|w| *w = T::from_f64(std * normal(rng)));
            }
            Init::StandardNormal => param.map_inplace(|w| *w = T::from_f64(normal(rng))),
            Init::Zeros => param.fill(T::ZERO),
            Init::Constant(c) => param.fill(T::from_f64(c)),
        }
    }
}

/// One draw from `N(0, 1)` by the Box–Muller transform: for `u₁ ∈ (0, 1]`, `u₂ ∈ [0, 1)`,
/// `√(−2 ln u₁) cos(2π u₂)` is standard normal.
pub fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
