//! Inverted dropout: at training time each unit is kept with probability `1 − p` and scaled by
//! `1/(1 − p)`, so evaluation needs no rescaling. The mask is drawn from a seeded RNG.

use rand::Rng;

use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// Checks that a drop probability is in `[0, 1)`.
pub fn check_probability(p: f64) -> Result<()> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::Domain {
            what: "dropout probability",
            expected: "in [0, 1)",
            got: p,
        })
    }
}

/// Fills `mask` with 0 (probability `p`) or `1/(1 − p)`. The output of dropout is `x ⊙ mask`
/// and, by the chain rule, its adjoint is `∂L/∂x = ∂L/∂y ⊙ mask`.
/// The elements are drawn in iteration order (row-major for a standard-layout matrix).
pub fn dropout_mask<'a, T, R>(rng: &mut R, p: f64, mask: impl IntoIterator<Item = &'a mut T>) -> Result<()>
where
    T: Scalar,
    R: Rng + ?Sized,
{
    check_probability(p)?;
    let keep = T::from_f64(1.0 / (1.0 - p));
    for m in mask {
        *m = if rng.random::<f64>() < p { T::ZERO } else { keep };
    }
    Ok(())
}
