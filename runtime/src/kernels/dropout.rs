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

/// Fills `mask` with 0 (probability `p`) or `1/(1 − p)`, one draw for each run of `block`
/// consecutive elements: 1 for dropout of single values, a map's `h·w` for dropout of whole
/// channels of `[batch, c, h, w]`. The output of dropout is `x ⊙ mask` and, by the chain rule,
/// its adjoint is `∂L/∂x = ∂L/∂y ⊙ mask`. The runs are drawn in iteration order (row-major
/// for a standard-layout matrix); a `block` of 0 is an error.
pub fn dropout_mask<'a, T, R>(
    rng: &mut R,
    p: f64,
    block: usize,
    mask: impl IntoIterator<Item = &'a mut T>,
) -> Result<()>
where
    T: Scalar,
    R: Rng + ?Sized,
{
    check_probability(p)?;
    if block == 0 {
        return Err(Error::Config {
            setting: "dropout block".into(),
            message: "a block of 0 values; it must be at least 1".into(),
        });
    }
    let keep = T::from_f64(1.0 / (1.0 - p));
    let mut value = keep;
    for (i, m) in mask.into_iter().enumerate() {
        if i % block == 0 {
            value = if rng.random::<f64>() < p { T::ZERO } else { keep };
        }
        *m = value;
    }
    Ok(())
}
