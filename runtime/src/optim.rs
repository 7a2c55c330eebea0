//! Optimisers, step-size rules and the gradient norm.
//!
//! Every optimiser follows `−∇f`: plain gradient descent `w ← w − α g`, momentum
//! `v ← μ v + g, w ← w − α v` (Nesterov: `w ← w − α (g + μ v)`), and Adam (Kingma and Ba,
//! 2015) `m ← β₁ m + (1 − β₁) g, s ← β₂ s + (1 − β₂) g², w ← w − α m̂ / (√ŝ + ε)` with the
//! bias corrections `m̂ = m/(1 − β₁ᵗ)`, `ŝ = s/(1 − β₂ᵗ)`. Weight decay adds `λ w` to `g`
//! (an L2 penalty `λ‖w‖²/2` on the loss).

use ndarray::{ArrayD, ArrayView, ArrayViewD, ArrayViewMut, ArrayViewMutD, Dimension, Zip};
use serde::{Deserialize, Serialize};

use crate::kernels::elementwise::zip_with;
use crate::kernels::rows::{Blocks, Isa, with_wide_vectors};
use crate::params::Parameters;
use crate::scalar::Scalar;

/// How parameters move against their gradient.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// `w ← w − α g`.
    Sgd,
    /// Heavy-ball momentum `μ`, or Nesterov's look-ahead form.
    Momentum {
        /// `μ`.
        momentum: f64,
        /// Nesterov's form: the gradient taken at the look-ahead point.
        nesterov: bool,
    },
    /// Adam with decay rates `β₁`, `β₂` and `ε` in the denominator.
    Adam {
        /// `β₁`, the first moment's decay rate.
        beta1: f64,
        /// `β₂`, the second moment's decay rate.
        beta2: f64,
        /// `ε`, added to the denominator.
        epsilon: f64,
    },
}

impl Optimizer {
    /// Adam with the usual `β₁ = 0.9`, `β₂ = 0.999`, `ε = 10⁻⁸`.
    pub const ADAM: Optimizer = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
    };
}

/// An optimiser with its state: one or two moment buffers per parameter and a step count.
#[derive(Clone, Debug)]
pub struct Optim<T> {
    /// The update rule.
    pub kind: Optimizer,
    /// `λ`, added to the gradient as `λ w`.
    pub weight_decay: f64,
    /// First moments (momentum's velocity, Adam's `m`), created at the first step.
    pub first: Vec<ArrayD<T>>,
    /// Adam's second moments `s`.
    pub second: Vec<ArrayD<T>>,
    /// Steps taken.
    pub steps: u64,
}

impl<T: Scalar> Optim<T> {
    /// A fresh optimiser.
    pub fn new(kind: Optimizer, weight_decay: f64) -> Self {
        Optim {
            kind,
            weight_decay,
            first: Vec::new(),
            second: Vec::new(),
            steps: 0,
        }
    }

    /// One update of `params` against `grads` with step size `rate`. Momentum and Adam
    /// allocate their moment buffers at the first step only; plain SGD has none.
    pub fn step<P: Parameters<T>>(&mut self, params: &mut P, grads: &P, rate: f64) {
        let has_moments = !matches!(self.kind, Optimizer::Sgd);
        if has_moments && self.first.len() != params.count() {
            self.first = (0..params.count())
                .map(|i| ArrayD::zeros(params.param(i).raw_dim()))
                .collect();
            self.second = if matches!(self.kind, Optimizer::Adam { .. }) {
                self.first.clone()
            } else {
                Vec::new()
            };
        }
        self.steps += 1;
        let (alpha, decay) = (T::from_f64(rate), T::from_f64(self.weight_decay));
        for i in 0..params.count() {
            let (w, g) = (params.param_mut(i), grads.param(i));
            match self.kind {
                Optimizer::Sgd => sgd_update(w, g, alpha, decay),
                Optimizer::Momentum { momentum, nesterov } => {
                    let mu = T::from_f64(momentum);
                    update_with_moments(w, g, &mut self.first[i], None, |w, g, v, _| {
                        let g = g + decay * *w;
                        *v = flushed(mu * *v + g);
                        *w -= alpha * if nesterov { g + mu * *v } else { *v };
                    });
                }
                Optimizer::Adam { beta1, beta2, epsilon } => {
                    let t = self.steps as i32;
                    let (b1, b2, eps) = (T::from_f64(beta1), T::from_f64(beta2), T::from_f64(epsilon));
                    let (c1, c2) = (T::from_f64(1.0 - beta1.powi(t)), T::from_f64(1.0 - beta2.powi(t)));
                    let second = Some(&mut self.second[i]);
                    update_with_moments(w, g, &mut self.first[i], second, |w, g, m, s| {
                        let g = g + decay * *w;
                        *m = flushed(b1 * *m + (T::ONE - b1) * g);
                        *s = flushed(b2 * *s + (T::ONE - b2) * g * g);
                        *w -= alpha * (*m / c1) / ((*s / c2).sqrt() + eps);
                    });
                }
            }
        }
    }
}

/// `rule(w, g, first, second)` at every element of a parameter, its gradient and the rule's
/// moments (`second` a value thrown away where the rule keeps one moment). On contiguous
/// arrays of one shape, as parameters and their moments are, a plain loop over the slices
/// compiled for the widest vectors the processor has: through `Zip`, built for SSE2, Adam's
/// update (three divisions and a square root a value) took a fifth of the main job's time.
/// Each element sees the same operations either way, so the results are the same bits.
fn update_with_moments<T: Scalar>(
    mut w: ArrayViewMutD<'_, T>,
    g: ArrayViewD<'_, T>,
    first: &mut ArrayD<T>,
    mut second: Option<&mut ArrayD<T>>,
    rule: impl Fn(&mut T, T, &mut T, &mut T),
) {
    let shape = w.shape();
    let same = g.shape() == shape && first.shape() == shape && second.as_ref().is_none_or(|s| s.shape() == shape);
    // `Some(None)`: a second moment not stored row by row.
    let second_slice = second.as_deref_mut().map(ArrayD::as_slice_mut);
    if same
        && !matches!(second_slice, Some(None))
        && let (Some(w), Some(g), Some(first)) = (w.as_slice_mut(), g.as_slice(), first.as_slice_mut())
    {
        let second = second_slice.flatten();
        return with_wide_vectors(Moments {
            w,
            g,
            first,
            second,
            rule,
        });
    }
    let mut unused = T::ZERO;
    match second {
        Some(second) => Zip::from(&mut w)
            .and(&g)
            .and(first)
            .and(second)
            .for_each(|w, &g, v, s| rule(w, g, v, s)),
        None => Zip::from(&mut w)
            .and(&g)
            .and(first)
            .for_each(|w, &g, v| rule(w, g, v, &mut unused)),
    }
}

/// [`update_with_moments`]'s loop over slices, as a [`Blocks`] so that it is compiled for wide
/// vectors.
struct Moments<'a, T, F> {
    w: &'a mut [T],
    g: &'a [T],
    first: &'a mut [T],
    second: Option<&'a mut [T]>,
    rule: F,
}

impl<T: Scalar, F: Fn(&mut T, T, &mut T, &mut T)> Blocks for Moments<'_, T, F> {
    type Output = ();

    #[inline(always)]
    fn run<I: Isa>(self, _isa: I) {
        let Moments {
            w,
            g,
            first,
            second,
            rule,
        } = self;
        let pairs = w.iter_mut().zip(g).zip(first);
        match second {
            Some(second) => pairs.zip(second).for_each(|(((w, &g), v), s)| rule(w, g, v, s)),
            None => {
                let mut unused = T::ZERO;
                pairs.for_each(|((w, &g), v)| rule(w, g, v, &mut unused));
            }
        }
    }
}

/// One step of plain gradient descent with an L2 penalty on one parameter:
/// `w ← w − α(g + λw)`. On contiguous arrays a plain loop over the slices, compiled for the
/// widest vectors the processor has ([`zip_with`]): the small networks' steps spent a tenth of
/// their time in `Zip`'s layout checks, and then 7 % of 64-32-10's in this loop built for SSE2.
pub fn sgd_update<T: Scalar, D: Dimension>(mut w: ArrayViewMut<'_, T, D>, g: ArrayView<'_, T, D>, rate: T, decay: T) {
    let same = w.shape() == g.shape();
    if let (true, Some(w), Some(g)) = (same, w.as_slice_mut(), g.as_slice()) {
        zip_with(w, [g], |w, [g], _| w - rate * (g + decay * w));
        return;
    }
    Zip::from(&mut w)
        .and(&g)
        .for_each(|w, &g| *w -= rate * (g + decay * *w));
}

/// `v`, or zero where `v` is subnormal. A unit that stopped receiving gradient (a dead ReLU)
/// has moments that decay geometrically into the subnormal range, where each operation costs
/// x86 cores many times a normal one (the main job trained at 0.69× the speed on a seed where
/// units died). Such a moment moves its weight by less than 10⁻²⁹ of the step size (a subnormal
/// f32 is below 1.2·10⁻³⁸; Adam divides by at least its ε, 10⁻⁸ by default), so zero changes
/// nothing measurable.
fn flushed<T: Scalar>(v: T) -> T {
    if v.abs() < T::MIN_POSITIVE { T::ZERO } else { v }
}

/// How the step size changes over the epochs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// `α` throughout.
    Constant,
    /// `α · factor^⌊epoch/every⌋`.
    StepDecay {
        /// Epochs between decays.
        every: usize,
        /// What each decay multiplies `α` by.
        factor: f64,
    },
    /// `α_min + (α − α_min)(1 + cos(π·epoch/epochs))/2`: from `α` down to `α_min`.
    Cosine {
        /// The epochs over which `α` falls to `α_min`.
        epochs: usize,
        /// `α_min`.
        floor: f64,
    },
}

impl Schedule {
    /// The step size in epoch `epoch` (from 0) for a base step size `base`.
    pub fn rate(self, base: f64, epoch: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::StepDecay { every, factor } => base * factor.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine { epochs, floor } => {
                let progress = (epoch as f64 / epochs.max(1) as f64).min(1.0);
                floor + (base - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// The "bold driver" rule of full-batch gradient descent: while the loss falls, grow the step
/// size gently; when a step makes the loss rise, undo it and shrink the step size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoldDriver {
    /// The current step size.
    pub rate: f64,
    /// Multiplies the step size after a step that lowered the loss (e.g. 1.05).
    pub grow: f64,
    /// Multiplies the step size after a rejected step (e.g. 0.5).
    pub shrink: f64,
}

impl BoldDriver {
    /// Adjusts the step size after a step that did (`true`) or did not lower the loss.
    pub fn after(&mut self, improved: bool) {
        self.rate *= if improved { self.grow } else { self.shrink };
    }
}

/// `‖g‖₂` over all parameters of a gradient, summed in f64.
pub fn grad_norm<T: Scalar, P: Parameters<T>>(grads: &P) -> f64 {
    (0..grads.count())
        .map(|i| {
            let g = grads.param(i);
            match g.as_slice_memory_order() {
                Some(values) => sum_of_squares(values),
                None => g.iter().map(|&v| v.to_f64() * v.to_f64()).sum::<f64>(),
            }
        })
        .sum::<f64>()
        .sqrt()
}

/// `Σ vᵢ²` in f64, in [`LANES`] running sums, compiled for the widest vectors the processor
/// has: one sum's additions would each wait for the one before (a chain as long as the
/// slice); independent ones fill four AVX-512 registers. Built for SSE2 in eight sums, the
/// norm the training loop takes of every step's gradient was 3 % of the main job's time.
fn sum_of_squares<T: Scalar>(values: &[T]) -> f64 {
    with_wide_vectors(SumOfSquares(values))
}

/// How many running sums [`sum_of_squares`] keeps.
const LANES: usize = 32;

/// [`sum_of_squares`]'s loop, as a [`Blocks`].
struct SumOfSquares<'a, T>(&'a [T]);

impl<T: Scalar> Blocks for SumOfSquares<'_, T> {
    type Output = f64;

    #[inline(always)]
    fn run<I: Isa>(self, _isa: I) -> f64 {
        let mut lanes = [0.0_f64; LANES];
        let chunks = self.0.chunks_exact(LANES);
        let rest: f64 = chunks.remainder().iter().map(|&v| v.to_f64() * v.to_f64()).sum();
        for chunk in chunks {
            for (lane, &v) in lanes.iter_mut().zip(chunk) {
                *lane += v.to_f64() * v.to_f64();
            }
        }
        lanes.iter().sum::<f64>() + rest
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::{Optim, Optimizer};
    use crate::params::{ParamList, Parameters};

    /// The norm in running sums is the norm: against a sum in order, on lengths around
    /// multiples of the sums' count, and on a transposed parameter (contiguous in memory, not in
    /// logical order).
    #[test]
    fn gradient_norm_is_the_euclidean_norm() {
        for len in [0, 1, 7, 8, 9, 16, 17, 31, 32, 33, 65, 1000] {
            let mut grads = ParamList::<f32>::new();
            let values: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let expected = values.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            grads.push("g", Array2::from_shape_vec((1, len), values).unwrap());
            let norm = super::grad_norm(&grads);
            assert!(
                (norm - expected).abs() <= 1e-14 * expected.max(1.0),
                "{len}: {norm} vs {expected}"
            );
        }
        let mut grads = ParamList::<f64>::new();
        grads.push(
            "t",
            Array2::from_shape_fn((3, 5), |(i, j)| (i * 5 + j) as f64).reversed_axes(),
        );
        assert_eq!(
            super::grad_norm(&grads),
            (0..15).map(|v| (v * v) as f64).sum::<f64>().sqrt()
        );
    }

    /// The loop over slices (a parameter stored row by row) and the strided walk (the same
    /// values stored by columns) move every weight and moment to the same bits, for each rule
    /// that keeps moments.
    #[test]
    fn moments_are_the_same_bits_on_any_layout() {
        let values =
            |seed: usize| Array2::from_shape_fn((3, 37), move |(i, j)| ((i * 37 + j) * seed % 23) as f32 * 0.1 - 1.1);
        let by_columns = |a: Array2<f32>| a.t().as_standard_layout().into_owned().reversed_axes();
        for kind in [
            Optimizer::ADAM,
            Optimizer::Momentum {
                momentum: 0.9,
                nesterov: false,
            },
            Optimizer::Momentum {
                momentum: 0.9,
                nesterov: true,
            },
        ] {
            let (mut rows, mut columns) = (ParamList::new(), ParamList::new());
            rows.push("w", values(5));
            columns.push("w", by_columns(values(5)));
            assert!(columns.param(0).as_slice().is_none());
            let (mut optim_rows, mut optim_columns) = (Optim::new(kind, 0.01), Optim::new(kind, 0.01));
            for step in 1..4 {
                let (mut g_rows, mut g_columns) = (ParamList::new(), ParamList::new());
                g_rows.push("w", values(7 + step));
                g_columns.push("w", by_columns(values(7 + step)));
                optim_rows.step(&mut rows, &g_rows, 1e-2);
                optim_columns.step(&mut columns, &g_columns, 1e-2);
            }
            let bits = |a: ndarray::ArrayViewD<'_, f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(rows.param(0)), bits(columns.param(0)), "{kind:?}: weights");
            for (r, c) in optim_rows
                .first
                .iter()
                .chain(&optim_rows.second)
                .zip(optim_columns.first.iter().chain(&optim_columns.second))
            {
                assert_eq!(bits(r.view()), bits(c.view()), "{kind:?}: moments");
            }
        }
    }

    /// A weight whose gradient stops: its moments decay to zero, never through subnormal values.
    #[test]
    fn moments_of_a_weight_without_gradient_reach_zero_not_subnormals() {
        for kind in [
            Optimizer::ADAM,
            Optimizer::Momentum {
                momentum: 0.9,
                nesterov: false,
            },
        ] {
            let mut params = ParamList::new();
            params.push("w", Array2::from_elem((1, 1), 1.0f32));
            let mut grads = params.zeros_like();
            grads.param_mut(0).fill(1e-3);
            let mut optim = Optim::new(kind, 0.0);
            optim.step(&mut params, &grads, 1e-3);
            grads.param_mut(0).fill(0.0);
            for _ in 0..5_000 {
                optim.step(&mut params, &grads, 1e-3);
                for moment in optim.first.iter().chain(&optim.second).flatten() {
                    assert!(*moment == 0.0 || moment.is_normal(), "{kind:?}: {moment:e}");
                }
            }
            assert_eq!(optim.first[0].iter().copied().sum::<f32>(), 0.0, "{kind:?}");
        }
    }
}
