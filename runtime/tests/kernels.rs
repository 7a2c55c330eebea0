//! Every kernel against a direct scalar formula, every derivative against finite differences.

use ndarray::{Array1, Array2, ArrayD, ArrayViewMut1, Axis, IxDyn, array};
use symgrad_ops::Domain;
use symgrad_runtime::kernels::{self, Activation, ActivationKernel, Binary, Loss, LossKernel, Saved, Target};
use symgrad_runtime::{Error, rand::Rng, rand::SeedableRng, rand::rngs::StdRng};

/// The textbook formula of each activation, written independently of the kernels.
fn reference(f: Activation, x: f64) -> f64 {
    match f {
        Activation::Identity => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(a) => {
            if x > 0.0 {
                x
            } else {
                a * x
            }
        }
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Tanh => (x.exp() - (-x).exp()) / (x.exp() + (-x).exp()),
        Activation::Softplus => (1.0 + x.exp()).ln(),
        Activation::Exp => x.exp(),
        Activation::Log => x.ln(),
        Activation::Square => x * x,
        Activation::Abs => x.abs(),
        Activation::Gelu => 0.5 * x * (1.0 + symgrad_ops::erf(x / 2f64.sqrt())),
        Activation::Silu => x / (1.0 + (-x).exp()),
        Activation::Elu(a) => {
            if x > 0.0 {
                x
            } else {
                a * (x.exp() - 1.0)
            }
        }
        Activation::Softsign => x / (1.0 + x.abs()),
        Activation::Sqrt => x.sqrt(),
        Activation::Max(c) => x.max(c),
        Activation::Min(c) => x.min(c),
    }
}

/// Points away from the kinks at 0, positive where `log` and `sqrt` need it.
fn points(f: Activation) -> Vec<f64> {
    let xs: Vec<f64> = (-12..=12).map(|i| i as f64 * 0.37 + 0.05).collect();
    if f.entry().domain == Domain::Positive {
        xs.iter().map(|x| x.abs() + 0.1).collect()
    } else {
        xs
    }
}

#[test]
fn activations_match_their_formulas() {
    for f in Activation::ALL {
        let xs = points(f);
        let mut out = vec![0.0; xs.len()];
        f.forward(&xs, &mut out);
        let mut inplace = xs.clone();
        f.forward_inplace(&mut inplace);
        for ((&x, &y), &z) in xs.iter().zip(&out).zip(&inplace) {
            // 1e-12 relative: the formulas differ only in rounding (a few ulps).
            let want = reference(f, x);
            assert!(
                (y - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{} at {x}: {y} vs {want}",
                f.name()
            );
            assert_eq!(y, z, "{} in place differs", f.name());
        }
    }
}

#[test]
fn activation_derivatives_match_finite_differences() {
    let h = 1e-5;
    for f in Activation::ALL {
        let xs = points(f);
        let ys: Vec<f64> = xs.iter().map(|&x| f.value(x)).collect();
        let saved = match f.saved() {
            Saved::Output => &ys,
            Saved::Input | Saved::Nothing => &xs,
        };
        let grad_out: Vec<f64> = (0..xs.len()).map(|i| 1.0 + i as f64 * 0.1).collect();
        let mut grad_in = vec![0.0; xs.len()];
        f.backward(saved, &grad_out, &mut grad_in);
        let mut inplace = grad_out.clone();
        f.backward_inplace(saved, &mut inplace);
        for i in 0..xs.len() {
            let x = xs[i];
            let numeric = grad_out[i] * (f.value(x + h) - f.value(x - h)) / (2.0 * h);
            // Central differences with h = 1e-5: truncation h²f‴/6 and rounding ε|f|/h are both
            // ≲ 1e-9 relative for these |x| ≤ 4.5 (exp(4.5) ≈ 90 bounds f‴).
            assert!(
                (grad_in[i] - numeric).abs() <= 1e-7 * numeric.abs().max(1.0),
                "{}′ at {x}: {} vs {numeric}",
                f.name(),
                grad_in[i]
            );
            assert_eq!(grad_in[i], inplace[i]);
        }
    }
}

#[test]
fn kinks_take_the_zero_subgradient() {
    assert_eq!(Activation::Relu.derivative(0.0_f64), 0.0);
    assert_eq!(Activation::Abs.derivative(0.0_f64), 0.0);
}

#[test]
fn sigmoid_and_softplus_stay_finite_at_extremes() {
    for x in [-1e4_f32, -100.0, 100.0, 1e4] {
        assert!(Activation::Sigmoid.value(x).is_finite());
        assert!(Activation::Softplus.value(x).is_finite());
    }
    assert_eq!(Activation::Softplus.value(1e4_f64), 1e4);
    assert_eq!(Activation::Sigmoid.value(-1e4_f64), 0.0);
}

#[test]
fn softmax_is_stable_and_correct_for_huge_logits() {
    let z = array![[1e4_f64, -1e4, 0.0], [1e4, 1e4, -1e4], [0.0, 1.0, 2.0]];
    let mut p = Array2::zeros((3, 3));
    kernels::softmax(z.view(), p.view_mut()).unwrap();
    assert_eq!(p.row(0).to_vec(), vec![1.0, 0.0, 0.0]);
    assert_eq!(p.row(1).to_vec(), vec![0.5, 0.5, 0.0]);
    let e: Vec<f64> = [0.0_f64, 1.0, 2.0].iter().map(|x| x.exp()).collect();
    let s: f64 = e.iter().sum();
    for j in 0..3 {
        assert!((p[(2, j)] - e[j] / s).abs() < 1e-15);
    }
    let mut lse = Array1::zeros(3);
    kernels::log_sum_exp(z.view(), lse.view_mut()).unwrap();
    assert_eq!(lse[0], 1e4);
    assert!((lse[1] - (1e4 + 2f64.ln())).abs() < 1e-12);
    let mut ls = Array2::zeros((3, 3));
    kernels::log_softmax(z.view(), ls.view_mut()).unwrap();
    assert_eq!(ls[(0, 0)], 0.0);
    assert_eq!(ls[(0, 1)], -2e4);
    assert!(ls.iter().all(|x| x.is_finite()));
}

#[test]
fn cross_entropy_is_finite_and_correct_for_huge_logits() {
    let z = array![[1e4_f32, -1e4, 0.0], [1e4, -1e4, 0.0]];
    // Row 0: label 0 has all the mass: loss 0. Row 1: label 1, loss lse − z₁ = 1e4 − (−1e4).
    let loss = Loss::SoftmaxCrossEntropy
        .value(z.view(), Target::Labels(&[0, 1]))
        .unwrap();
    assert_eq!(loss, (0.0 + 2e4) / 2.0);
    let mut grad = Array2::zeros((2, 3));
    Loss::SoftmaxCrossEntropy
        .gradient(z.view(), Target::Labels(&[0, 1]), 1.0, grad.view_mut())
        .unwrap();
    // (p − onehot)/B
    assert_eq!(grad, array![[0.0, 0.0, 0.0], [0.5, -0.5, 0.0]]);
}

/// Inputs valid for every loss: probabilities strictly inside (0, 1), no residual at MAE's kink.
fn loss_inputs() -> (Array2<f64>, Array2<f64>, Vec<usize>) {
    let x = Array2::from_shape_fn((3, 4), |(i, j)| 0.1 + 0.2 * ((i * 4 + j) % 4) as f64 + 0.01 * i as f64);
    let t = Array2::from_shape_fn((3, 4), |(i, j)| if (i + j) % 3 == 0 { 0.65 } else { 0.15 });
    (x, t, vec![2, 0, 3])
}

#[test]
fn losses_match_their_formulas() {
    let (x, t, labels) = loss_inputs();
    let (b, n) = (3.0, 4.0);
    let sum = |f: &dyn Fn(f64, f64) -> f64| x.iter().zip(&t).map(|(&x, &t)| f(x, t)).sum::<f64>();
    let cases = [
        (Loss::CrossEntropy, sum(&|x, t| -t * x.ln()) / b),
        (Loss::SquaredError, sum(&|x, t| (x - t).powi(2)) / b),
        (Loss::Mse, sum(&|x, t| (x - t).powi(2)) / (b * n)),
        (Loss::Mae, sum(&|x, t| (x - t).abs()) / (b * n)),
        (
            Loss::Bce,
            sum(&|x, t| -(t * x.ln() + (1.0 - t) * (1.0 - x).ln())) / (b * n),
        ),
        (
            Loss::BceWithLogits,
            sum(&|z, t| -(t * (1.0 / (1.0 + (-z).exp())).ln() + (1.0 - t) * (1.0 - 1.0 / (1.0 + (-z).exp())).ln()))
                / (b * n),
        ),
    ];
    for (loss, want) in cases {
        let got = loss.value(x.view(), Target::Dense(t.view())).unwrap();
        assert!((got - want).abs() < 1e-13, "{}: {got} vs {want}", loss.name());
    }
    // Softmax cross-entropy against class labels: mean of −ln softmax(x)_label.
    let want: f64 = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            let s: f64 = x.row(i).iter().map(|v| v.exp()).sum();
            -(x[(i, l)].exp() / s).ln()
        })
        .sum::<f64>()
        / b;
    let got = Loss::SoftmaxCrossEntropy
        .value(x.view(), Target::Labels(&labels))
        .unwrap();
    assert!((got - want).abs() < 1e-13);
}

#[test]
fn loss_gradients_match_finite_differences() {
    let (x, t, labels) = loss_inputs();
    let h = 1e-6;
    for loss in Loss::ALL {
        let labels_target = Target::Labels(&labels);
        for target in [Target::Dense(t.view()), labels_target] {
            let mut grad = Array2::zeros(x.raw_dim());
            loss.gradient(x.view(), target, 0.5, grad.view_mut()).unwrap();
            for i in 0..3 {
                for j in 0..4 {
                    let mut xp = x.clone();
                    xp[(i, j)] += h;
                    let mut xm = x.clone();
                    xm[(i, j)] -= h;
                    let numeric = 0.5
                        * (loss.value(xp.view(), target).unwrap() - loss.value(xm.view(), target).unwrap())
                        / (2.0 * h);
                    // h = 1e-6: rounding ε|L|/h ≈ 1e-10 dominates; no kinks at these points.
                    assert!(
                        (grad[(i, j)] - numeric).abs() < 1e-8,
                        "{} at ({i},{j}): {} vs {numeric}",
                        loss.name(),
                        grad[(i, j)]
                    );
                }
            }
        }
    }
}

#[test]
fn softmax_backward_matches_finite_differences() {
    let z = array![[0.3_f64, -1.2, 2.0], [0.0, 0.5, -0.5]];
    let g = array![[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]];
    let mut p = Array2::zeros((2, 3));
    kernels::softmax(z.view(), p.view_mut()).unwrap();
    let mut grad = Array2::zeros((2, 3));
    kernels::softmax_backward(p.view(), g.view(), grad.view_mut()).unwrap();
    let h = 1e-6;
    let f = |z: &Array2<f64>| {
        let mut p = Array2::zeros((2, 3));
        kernels::softmax(z.view(), p.view_mut()).unwrap();
        (&p * &g).sum()
    };
    for ((i, j), &got) in grad.indexed_iter() {
        let (mut zp, mut zm) = (z.clone(), z.clone());
        zp[(i, j)] += h;
        zm[(i, j)] -= h;
        assert!((got - (f(&zp) - f(&zm)) / (2.0 * h)).abs() < 1e-9);
    }
}

#[test]
fn binary_ops_column_sums_and_bias_rows() {
    let a = array![[1.0_f64, 2.0], [3.0, 4.0]];
    let b = array![[0.5, -1.0], [2.0, 0.0]];
    let mut out = Array2::zeros((2, 2));
    Binary::Mul.apply(a.view(), b.view(), out.view_mut()).unwrap();
    assert_eq!(out, array![[0.5, -2.0], [6.0, 0.0]]);
    Binary::Sub.apply_assign(out.view_mut(), b.view()).unwrap();
    assert_eq!(out, array![[0.0, -1.0], [4.0, 0.0]]);
    let c = array![[0.5, -4.0], [2.0, 8.0]];
    Binary::Div.apply(a.view(), c.view(), out.view_mut()).unwrap();
    assert_eq!(out, array![[2.0, -0.5], [1.5, 0.5]]);
    Binary::Div.apply_assign(out.view_mut(), c.view()).unwrap();
    assert_eq!(out, array![[4.0, 0.125], [0.75, 0.0625]]);
    let mut sums = array![[10.0, 10.0]];
    kernels::column_sums(a.view(), 1.0, sums.view_mut()).unwrap();
    assert_eq!(sums, array![[14.0, 16.0]]);
    let mut x = a.clone();
    kernels::add_row(x.view_mut(), array![[1.0, -1.0]].view()).unwrap();
    assert_eq!(x, array![[2.0, 1.0], [4.0, 3.0]]);
    kernels::broadcast_rows(array![[7.0, 8.0]].view(), x.view_mut()).unwrap();
    assert_eq!(x, array![[7.0, 8.0], [7.0, 8.0]]);
}

/// Each operation, in both forms, on contiguous matrices (the loop over slices) and on
/// transposed views (the strided walk), against the operation value by value; the widths
/// leave a remainder past whole vectors.
#[test]
fn binary_ops_agree_on_any_layout() {
    let a = Array2::from_shape_fn((5, 19), |(i, j)| (i * 19 + j) as f32 * 0.25 - 3.0);
    let b = Array2::from_shape_fn((5, 19), |(i, j)| ((i + 2 * j) % 7) as f32 + 0.5);
    type Reference = fn(f32, f32) -> f32;
    let ops: [(Binary, Reference); 4] = [
        (Binary::Add, |x, y| x + y),
        (Binary::Sub, |x, y| x - y),
        (Binary::Mul, |x, y| x * y),
        (Binary::Div, |x, y| x / y),
    ];
    for (op, f) in ops {
        let expected = Array2::from_shape_fn((5, 19), |ij| f(a[ij], b[ij]));
        let mut out = Array2::zeros((5, 19));
        op.apply(a.view(), b.view(), out.view_mut()).unwrap();
        assert_eq!(out, expected, "{op:?}");
        let (at, bt) = (a.t().to_owned(), b.t().to_owned());
        let mut out_t = Array2::<f32>::zeros((19, 5));
        op.apply(at.t(), bt.t(), out_t.view_mut().reversed_axes()).unwrap();
        assert_eq!(out_t.t(), expected, "{op:?}, transposed");
        let mut acc = a.clone();
        op.apply_assign(acc.view_mut(), b.view()).unwrap();
        assert_eq!(acc, expected, "{op:?} in place");
        let mut acc_t = at.clone();
        op.apply_assign(acc_t.view_mut().reversed_axes(), bt.t()).unwrap();
        assert_eq!(acc_t.t(), expected, "{op:?} in place, transposed");
    }
}

#[test]
fn broadcasts_and_their_sums_are_ndarrays() {
    // A batch of 2 samples [3, 4] stored as [2, 12], and operands broadcast over it by
    // numpy's rule, with the `inner` factor the compiler derives: a row [4] (1), a per-channel
    // vector [3, 1] (4), a whole sample [3, 4] (1), one element [1] (1). The oracle is
    // ndarray's own broadcasting and `sum_axis`.
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| (i[0] * 12 + i[1] * 4 + i[2]) as f64 * 0.5 - 3.0);
    for (small, inner) in [(vec![4], 1), (vec![3, 1], 4), (vec![3, 4], 1), (vec![1], 1)] {
        let b = ArrayD::from_shape_fn(IxDyn(&small), |i| {
            1.0 + (0..small.len()).map(|a| (a + 1) * i[a]).sum::<usize>() as f64
        });
        let expected = &x + &b;
        let mut ours = x.clone().into_shape_with_order((2, 12)).unwrap();
        let b2 = b.view().into_shape_with_order((1, b.len())).unwrap();
        kernels::add_broadcast(ours.view_mut(), b2, inner).unwrap();
        assert_eq!(
            ours.into_dyn().into_shape_with_order(IxDyn(&[2, 3, 4])).unwrap(),
            expected,
            "{small:?}"
        );

        // The sum over the broadcast axes, on top of β = 2 times what was there.
        let mut sums = Array2::from_elem((1, b.len()), 1.0);
        let g = x.view().into_shape_with_order((2, 12)).unwrap();
        kernels::broadcast_sum(g, inner, 2.0, sums.view_mut()).unwrap();
        let axes: Vec<usize> = (0..3)
            .filter(|&a| a + small.len() < 3 || small[a + small.len() - 3] == 1)
            .collect();
        let summed = axes.iter().rev().fold(x.clone(), |s, &a| s.sum_axis(Axis(a)));
        let expected = summed.iter().map(|s| s + 2.0).collect::<Vec<f64>>();
        assert_eq!(sums.iter().copied().collect::<Vec<f64>>(), expected, "{small:?}");
    }
    // Operands that do not tile the value are errors.
    let mut x2 = Array2::<f64>::zeros((2, 12));
    assert!(kernels::add_broadcast(x2.view_mut(), Array2::zeros((1, 5)).view(), 1).is_err());
    assert!(kernels::broadcast_sum(x2.view(), 7, 0.0, Array2::zeros((1, 3)).view_mut()).is_err());
}

#[test]
fn dropout_masks_are_seeded_and_scaled() {
    let mut mask_a = vec![0.0_f64; 10_000];
    let mut mask_b = vec![0.0_f64; 10_000];
    kernels::dropout_mask(
        &mut StdRng::seed_from_u64(7),
        0.3,
        1,
        ArrayViewMut1::from(&mut mask_a[..]),
    )
    .unwrap();
    kernels::dropout_mask(
        &mut StdRng::seed_from_u64(7),
        0.3,
        1,
        ArrayViewMut1::from(&mut mask_b[..]),
    )
    .unwrap();
    assert_eq!(mask_a, mask_b);
    assert!(mask_a.iter().all(|&m| m == 0.0 || (m - 1.0 / 0.7).abs() < 1e-15));
    let dropped = mask_a.iter().filter(|&&m| m == 0.0).count() as f64 / 1e4;
    // Binomial(10⁴, 0.3): standard deviation 0.0046; ±0.03 is over six of them.
    assert!((dropped - 0.3).abs() < 0.03, "{dropped}");
    let err = kernels::dropout_mask(
        &mut StdRng::seed_from_u64(7),
        1.0,
        1,
        ArrayViewMut1::from(&mut mask_a[..]),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Domain { .. }));
    // Whole blocks: runs of 25 equal values, about a third of the runs zero.
    kernels::dropout_mask(
        &mut StdRng::seed_from_u64(7),
        0.3,
        25,
        ArrayViewMut1::from(&mut mask_a[..]),
    )
    .unwrap();
    assert!(mask_a.chunks(25).all(|run| run.iter().all(|&m| m == run[0])));
    let dropped = mask_a.chunks(25).filter(|run| run[0] == 0.0).count() as f64 / 400.0;
    // Binomial(400, 0.3): standard deviation 0.023; ±0.12 is over five of them.
    assert!((dropped - 0.3).abs() < 0.12, "{dropped}");
    assert!(
        kernels::dropout_mask(
            &mut StdRng::seed_from_u64(7),
            0.3,
            0,
            ArrayViewMut1::from(&mut mask_a[..])
        )
        .is_err()
    );
}

/// A mask is one `random::<f64>()` a run, in order, and nothing more: against the plain
/// definition, value by value, with runs that do not divide the mask, more runs than one batch
/// of draws, and the generator left where the definition leaves it (a checkpoint resumed
/// mid-training redraws the same masks).
#[test]
fn dropout_draws_one_uniform_a_run_and_no_more() {
    // More runs than the kernel draws at once (64).
    let more = 1000;
    for (len, block) in [
        (0, 1),
        (1, 1),
        (37, 1),
        (37, 5),
        (40, 8),
        (7, 16),
        (more, 1),
        (more * 3 - 1, 3),
    ] {
        let (mut ours, mut plain) = (StdRng::seed_from_u64(11), StdRng::seed_from_u64(11));
        // One 32-bit word first, so that the 64-bit draws straddle the generator's blocks.
        assert_eq!(ours.random::<u32>(), plain.random::<u32>());
        let mut mask = vec![f64::NAN; len];
        kernels::dropout_mask(&mut ours, 0.4, block, ArrayViewMut1::from(&mut mask[..])).unwrap();
        let mut value = f64::NAN;
        for (i, &m) in mask.iter().enumerate() {
            if i % block == 0 {
                value = if plain.random::<f64>() < 0.4 { 0.0 } else { 1.0 / 0.6 };
            }
            assert_eq!(m.to_bits(), value.to_bits(), "value {i} of {len} in runs of {block}");
        }
        assert_eq!(ours.random::<u64>(), plain.random::<u64>(), "{len} in runs of {block}");
    }
    // A mask stored by columns is drawn in the order of its rows all the same.
    let mut by_rows = Array2::<f32>::zeros((7, 5));
    let mut by_columns = Array2::<f32>::zeros((5, 7)).reversed_axes();
    kernels::dropout_mask(&mut StdRng::seed_from_u64(3), 0.5, 2, by_rows.view_mut()).unwrap();
    kernels::dropout_mask(&mut StdRng::seed_from_u64(3), 0.5, 2, by_columns.view_mut()).unwrap();
    assert_eq!(by_rows, by_columns);
    assert!(by_rows.iter().any(|&m| m == 0.0) && by_rows.iter().any(|&m| m == 2.0));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let x = Array2::<f32>::zeros((2, 3));
    let empty = Array2::<f32>::zeros((0, 3));
    assert!(matches!(
        Loss::Mse.value(empty.view(), Target::Dense(empty.view())),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        Loss::SoftmaxCrossEntropy.value(x.view(), Target::Labels(&[0, 3])),
        Err(Error::Label {
            row: 1,
            label: 3,
            classes: 3,
            ..
        })
    ));
    assert!(matches!(
        Loss::SoftmaxCrossEntropy.value(x.view(), Target::Labels(&[0])),
        Err(Error::Shape { .. })
    ));
    let wrong = Array2::<f32>::zeros((3, 2));
    assert!(matches!(
        Loss::Mae.value(x.view(), Target::Dense(wrong.view())),
        Err(Error::Shape { .. })
    ));
    let mut p = Array2::<f32>::zeros((3, 2));
    assert!(kernels::softmax(x.view(), p.view_mut()).is_err());
}

/// NaN is not an error at kernel level: it propagates, as documented, to the loss, where the
/// training loop's divergence guard reports it.
#[test]
fn nan_inputs_propagate() {
    let z = array![[f64::NAN, 1.0], [0.0, 1.0]];
    let mut p = Array2::zeros((2, 2));
    kernels::softmax(z.view(), p.view_mut()).unwrap();
    assert!(p.row(0).iter().all(|x| x.is_nan()));
    assert!(p.row(1).iter().all(|x| x.is_finite()));
    assert!(
        Loss::SoftmaxCrossEntropy
            .value(z.view(), Target::Labels(&[0, 1]))
            .unwrap()
            .is_nan()
    );
}
