//! Elementwise loops over contiguous slices, compiled for the widest vectors the processor has
//! ([`with_wide_vectors`]: AVX-512, else AVX2 with FMA, else the build's own) and chosen at
//! run time: `out[i] ← f(out[i], [a[i], b[i], …])`. The batch-wide kernels (activations and
//! their derivatives, elementwise arithmetic, bias sums, the SGD update) run through here;
//! built for the baseline alone (SSE2 on x86-64), their loops handle a quarter of an AVX-512
//! register's values an instruction.

use crate::kernels::rows::{Blocks, Isa, with_wide_vectors};
use crate::scalar::Scalar;

/// `out[i] = f(out[i], [x[i] for x in inputs], fused)` for every `i`, `fused` telling `f`
/// whether the loop's vector unit fuses multiply-adds (so that `exp` and `tanh` fuse theirs
/// there, [`Activation::value_in`](crate::kernels::Activation::value_in)). `f` is inlined into
/// the loop.
///
/// # Panics
/// If an input's length differs from `out`'s.
#[inline(always)]
pub fn zip_with<T: Scalar, const N: usize>(out: &mut [T], inputs: [&[T]; N], f: impl Fn(T, [T; N], bool) -> T) {
    for x in &inputs {
        assert_eq!(x.len(), out.len(), "elementwise operands of different lengths");
    }
    with_wide_vectors(Zipped { out, inputs, f });
}

/// [`zip_with`]'s loop, as a [`Blocks`].
struct Zipped<'a, T, F, const N: usize> {
    out: &'a mut [T],
    inputs: [&'a [T]; N],
    f: F,
}

impl<T: Scalar, F: Fn(T, [T; N], bool) -> T, const N: usize> Blocks for Zipped<'_, T, F, N> {
    type Output = ();

    #[inline(always)]
    fn run<I: Isa>(self, _isa: I) {
        let Zipped { out, inputs, f } = self;
        // Each input cut to `out`'s length, so that its reads need no bounds checks.
        let inputs = inputs.map(|x| &x[..out.len()]);
        for (i, o) in out.iter_mut().enumerate() {
            *o = f(*o, inputs.map(|x| x[i]), I::FMA);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::zip_with;

    /// Every element, with inputs in their order, and `out` read where `f` reads it; lengths
    /// that leave a remainder past whole vectors of every unit.
    #[test]
    fn every_element_sees_its_operands() {
        for len in [0, 1, 15, 16, 17, 67] {
            let a: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let b: Vec<f32> = (0..len).map(|i| (i * i) as f32 * 0.5).collect();
            let mut out = vec![1.0f32; len];
            zip_with(&mut out, [&a, &b], |o, [a, b], _| o + 2.0 * a - b);
            let expected: Vec<f32> = (0..len).map(|i| 1.0 + 2.0 * a[i] - b[i]).collect();
            assert_eq!(out, expected);
            zip_with(&mut out, [], |o, [], _| -o);
            assert!(out.iter().zip(&expected).all(|(o, e)| *o == -e));
        }
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn operands_of_different_lengths_panic() {
        zip_with(&mut [0.0f64; 3], [&[1.0; 2]], |_, [x], _| x);
    }
}
