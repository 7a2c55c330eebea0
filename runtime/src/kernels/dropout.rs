//! Inverted dropout: at training time each unit is kept with probability `1 − p` and scaled by
//! `1/(1 − p)`, so evaluation needs no rescaling. The mask is drawn from a seeded RNG.

use ndarray::{ArrayViewMut, Dimension};
use rand::Rng;

use crate::error::{Error, Result};
use crate::kernels::rows::{Blocks, Isa, with_wide_vectors};
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
/// for a standard-layout matrix), each run dropped where its draw `u ∈ [0, 1)` is below `p`,
/// so that a mask depends on the seed alone; a `block` of 0 is an error. The draws are the
/// 64-bit words of `rng.fill`, `u = 2⁻⁵³ ⌊word / 2¹¹⌋`, exactly as many as there are runs: for
/// `rand`'s generators, whose `fill` gives the words `next_u64` would, each run's `u` is the
/// `rng.random::<f64>()` of a draw a run (`tests/kernels.rs` holds `StdRng` to it).
pub fn dropout_mask<T, R, D>(rng: &mut R, p: f64, block: usize, mut mask: ArrayViewMut<'_, T, D>) -> Result<()>
where
    T: Scalar,
    R: Rng + ?Sized,
    D: Dimension,
{
    check_probability(p)?;
    if block == 0 {
        return Err(Error::Config {
            setting: "dropout block".into(),
            message: "a block of 0 values; it must be at least 1".into(),
        });
    }
    let keep = T::from_f64(1.0 / (1.0 - p));
    match mask.as_slice_mut() {
        Some(mask) => with_wide_vectors(Runs {
            rng,
            p,
            block,
            keep,
            mask,
        }),
        None => {
            // Not in row-major order: drawn into a copy that is, then written back in that order.
            let mut values = vec![T::ZERO; mask.len()];
            with_wide_vectors(Runs {
                rng,
                p,
                block,
                keep,
                mask: &mut values,
            });
            mask.iter_mut().zip(values).for_each(|(m, v)| *m = v);
        }
    }
    Ok(())
}

/// How many runs' draws [`dropout_mask`] takes from the generator at once.
const DRAWS: usize = 64;

/// [`dropout_mask`]'s loop, as a [`Blocks`] so that it is compiled for the widest vectors the
/// processor has. The draws are taken [`DRAWS`] runs at a time; the runs' values are chosen
/// from them in one loop, by an integer comparison and a select that the vector units make
/// without a branch, and written in another. One `random` a value,
/// with a branch on it that goes either way, written through an element iterator, took a fifth
/// of the main job's time.
struct Runs<'a, T, R: ?Sized> {
    rng: &'a mut R,
    p: f64,
    block: usize,
    keep: T,
    mask: &'a mut [T],
}

impl<T: Scalar, R: Rng + ?Sized> Blocks for Runs<'_, T, R> {
    type Output = ();

    #[inline(always)]
    fn run<I: Isa>(self, _isa: I) {
        let Runs {
            rng,
            p,
            block,
            keep,
            mask,
        } = self;
        // `u < p` ⇔ `⌊word / 2¹¹⌋ < p·2⁵³` ⇔ `⌊word / 2¹¹⌋ < ⌈p·2⁵³⌉` (`p·2⁵³` exact in f64).
        let threshold = (p * (1u64 << 53) as f64).ceil() as u64;
        let (mut words, mut values) = ([0u64; DRAWS], [keep; DRAWS]);
        for runs in mask.chunks_mut(block.saturating_mul(DRAWS)) {
            let words = &mut words[..runs.len().div_ceil(block)];
            rng.fill(words);
            for (value, &word) in values.iter_mut().zip(&*words) {
                *value = if word >> 11 < threshold { T::ZERO } else { keep };
            }
            if block == 1 {
                runs.copy_from_slice(&values[..runs.len()]);
            } else {
                for (run, &value) in runs.chunks_mut(block).zip(&values) {
                    run.fill(value);
                }
            }
        }
    }
}
