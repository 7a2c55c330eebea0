//! The tape's gradients against finite differences (f64), for random shapes and values,
//! including fan-out, a weight used twice, every activation and every loss.

use ndarray::Array2;
use proptest::prelude::*;
use symgrad_ops::Domain;
use symgrad_runtime::gradcheck::{self, Options};
use symgrad_runtime::rand::{Rng, SeedableRng, rngs::StdRng};
use symgrad_runtime::{Activation, Fill, Init, Loss, ParamList, Parameters, Result, Tape, Var};

/// Records a loss on a tape, given the parameters' variables.
type Build = dyn Fn(&mut Tape<f64>, &[Var]) -> Result<Var>;

/// Evaluates `build` on a fresh tape and returns the loss and the gradient of every parameter.
fn loss_and_grad(params: &ParamList<f64>, build: &Build) -> Result<(f64, ParamList<f64>)> {
    let mut tape = Tape::new();
    let vars: Vec<Var> = params.values().iter().map(|v| tape.param(v.clone())).collect();
    let loss = build(&mut tape, &vars)?;
    let grads = tape.backward(loss)?;
    let mut out = params.zeros_like();
    grads.write_into(&vars, &mut out)?;
    Ok((tape.scalar(loss), out))
}

fn check(params: &mut ParamList<f64>, build: &Build) -> gradcheck::Report {
    let (_, grads) = loss_and_grad(params, build).unwrap();
    let loss = |p: &ParamList<f64>| loss_and_grad(p, build).map(|(l, _)| l);
    gradcheck::check(params, &grads, loss, Options::default()).unwrap()
}

/// Entries from N(0, 1/4): moderate enough that exp and softmax stay far from overflow.
fn random(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<f64> {
    let mut a = Array2::zeros((rows, cols));
    Init::StandardNormal.fill(rng, a.view_mut());
    a * 0.5
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// `h = f(x W₁ + b₁)`, then `z = h W₂ + (h ⊙ h) W₂` (fan-out of `h`, `W₂` used twice),
    /// and a loss on `z` (through softmax, sigmoid or directly, as the loss expects).
    #[test]
    fn tape_gradients_match_finite_differences(
        seed in any::<u64>(),
        batch in 1usize..5, inputs in 1usize..5, hidden in 1usize..6, outputs in 2usize..5,
        act in 0..Activation::ALL.len(), loss in 0..Loss::ALL.len(), labels_target in any::<bool>(),
    ) {
        let (act, loss) = (Activation::ALL[act], Loss::ALL[loss]);
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(&mut rng, batch, inputs);
        let t = random(&mut rng, batch, outputs).mapv(|v| 1.0 / (1.0 + (-v).exp()));
        let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..outputs)).collect();
        let mut params = ParamList::new();
        params.push("w1", random(&mut rng, inputs, hidden));
        params.push("b1", random(&mut rng, 1, hidden));
        params.push("w2", random(&mut rng, hidden, outputs));
        let build = move |tape: &mut Tape<f64>, p: &[Var]| -> Result<Var> {
            let x = tape.input(x.clone());
            let z1 = tape.matmul(x, p[0])?;
            let a1 = tape.add_row(z1, p[1])?;
            // log and sqrt need positive inputs: feed them softplus(a1).
            let a1 = if act.entry().domain == Domain::Positive {
                tape.activation(Activation::Softplus, a1)
            } else {
                a1
            };
            let h = tape.activation(act, a1);
            let hh = tape.mul(h, h)?;
            let z_h = tape.matmul(h, p[2])?;
            let z_hh = tape.matmul(hh, p[2])?;
            let z = tape.add(z_h, z_hh)?;
            // Probabilities from tanh(z) ∈ (−1, 1): squared exponentials can make z large enough
            // to round a probability to 1 or 0, where the losses on probabilities (unlike the
            // fused ones on logits) lose all precision or become infinite.
            let input = match loss {
                Loss::CrossEntropy | Loss::SquaredError => {
                    let z = tape.activation(Activation::Tanh, z);
                    tape.softmax(z)
                }
                Loss::Bce => {
                    let z = tape.activation(Activation::Tanh, z);
                    tape.activation(Activation::Sigmoid, z)
                }
                _ => z,
            };
            if labels_target {
                tape.loss_labels(loss, input, &labels)
            } else {
                let t = tape.input(t.clone());
                tape.loss_dense(loss, input, t)
            }
        };
        let report = check(&mut params, &build);
        prop_assert!(report.passed(), "{} / {}:\n{report}", act.name(), loss.name());
        // A smooth loss has no kinks, so none may be reported: the kink test swallows no error.
        // With a kink (an activation's, or MAE's), one pre-activation within 2·10⁻⁴ of it spoils
        // a whole column of `w1` and an element of `b1`, yet most elements are still compared.
        if act.entry().kink.is_none() && loss != Loss::Mae {
            prop_assert_eq!(report.kinks(), 0, "a smooth loss reported kinks:\n{}", report);
        } else {
            prop_assert!(report.kinks() <= report.checked(), "implausibly many kinks:\n{report}");
        }
    }

    /// Transpose, subtraction, scaling, sum, mean and dropout with a seeded mask.
    #[test]
    fn structural_ops_match_finite_differences(seed in any::<u64>(), rows in 1usize..5, cols in 1usize..5) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut params = ParamList::new();
        params.push("a", random(&mut rng, rows, cols));
        params.push("b", random(&mut rng, cols, rows));
        let build = move |tape: &mut Tape<f64>, p: &[Var]| -> Result<Var> {
            let mut mask_rng = StdRng::seed_from_u64(seed);
            let bt = tape.transpose(p[1]);
            let d = tape.sub(p[0], bt)?;
            let d = tape.dropout(d, 0.25, 1, &mut mask_rng)?;
            let s = tape.scale(-1.5, d);
            let sq = tape.activation(Activation::Tanh, s);
            let total = tape.sum(sq);
            let mean = tape.mean(p[0])?;
            let both = tape.mul(total, mean)?;
            tape.add(both, total)
        };
        let report = check(&mut params, &build);
        prop_assert!(report.passed(), "{report}");
    }
}

#[test]
fn a_wrong_gradient_is_caught() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut params = ParamList::new();
    params.push("w", random(&mut rng, 3, 2));
    let x = random(&mut rng, 4, 3);
    let build = move |tape: &mut Tape<f64>, p: &[Var]| -> Result<Var> {
        let x = tape.input(x.clone());
        let z = tape.matmul(x, p[0])?;
        let y = tape.activation(Activation::Tanh, z);
        Ok(tape.sum(y))
    };
    let (_, mut grads) = loss_and_grad(&params, &build).unwrap();
    grads.param_mut(0)[[1, 1]] *= 1.0 + 1e-5;
    let loss = |p: &ParamList<f64>| loss_and_grad(p, &build).map(|(l, _)| l);
    let report = gradcheck::check(&mut params, &grads, loss, Options::default()).unwrap();
    assert!(!report.passed(), "{report}");
    assert_eq!(report.params[0].failures, 1);
    assert_eq!(report.params[0].worst_relative.1, vec![1, 1]);
    let direction = gradcheck::check_direction(&mut params, &grads, loss, &mut rng, 1e-3).unwrap();
    assert!(
        direction.relative < 1e-4,
        "a 1e-5 error in one element barely moves a direction"
    );
}

#[test]
fn a_relu_kink_is_skipped_not_failed() {
    // f(w) = relu(x·w) with x·w = 1·(−0.5) + 0.5·1 = 0: both elements sit on the kink.
    let mut params = ParamList::new();
    params.push("w", Array2::from_shape_vec((2, 1), vec![-0.5, 1.0]).unwrap());
    let x = Array2::from_shape_vec((1, 2), vec![1.0, 0.5]).unwrap();
    let build = move |tape: &mut Tape<f64>, p: &[Var]| -> Result<Var> {
        let x = tape.input(x.clone());
        let z = tape.matmul(x, p[0])?;
        let y = tape.activation(Activation::Relu, z);
        Ok(tape.sum(y))
    };
    let report = check(&mut params, &build);
    assert!(report.passed(), "{report}");
    assert_eq!(report.kinks(), 2, "{report}");
    assert_eq!(report.checked(), 0);
}

#[test]
fn directional_check_agrees_on_a_correct_gradient() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut params = ParamList::new();
    params.push("w1", random(&mut rng, 8, 16));
    params.push("w2", random(&mut rng, 16, 4));
    let x = random(&mut rng, 5, 8);
    let build = move |tape: &mut Tape<f64>, p: &[Var]| -> Result<Var> {
        let x = tape.input(x.clone());
        let h = tape.matmul(x, p[0])?;
        let h = tape.activation(Activation::Sigmoid, h);
        let z = tape.matmul(h, p[1])?;
        tape.loss_labels(Loss::SoftmaxCrossEntropy, z, &[0, 1, 2, 3, 0])
    };
    let (_, grads) = loss_and_grad(&params, &build).unwrap();
    let loss = |p: &ParamList<f64>| loss_and_grad(p, &build).map(|(l, _)| l);
    let report = gradcheck::check_direction(&mut params, &grads, loss, &mut rng, 1e-3).unwrap();
    assert!(report.relative < 1e-6, "{report:?}");
}

#[test]
fn backward_of_a_non_scalar_is_an_error() {
    let mut tape = Tape::<f32>::new();
    let w = tape.param(Array2::ones((2, 2)));
    assert!(tape.backward(w).is_err());
}
