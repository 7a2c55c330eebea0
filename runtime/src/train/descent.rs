//! Full-batch gradient descent with the bold-driver step-size rule and a gradient-norm stop.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::model::Model;
use crate::optim::{BoldDriver, Optim, Optimizer, grad_norm};
use crate::params::Parameters;
use crate::scalar::Scalar;

/// One step of [`gradient_descent`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DescentStep {
    /// The step, from 1.
    pub step: usize,
    /// The loss after the step (or before it, if it was undone).
    pub loss: f64,
    /// The step size the step used.
    pub rate: f64,
    /// `‖∇f‖` at the point reached.
    pub grad_norm: f64,
    /// Whether the step lowered the loss and was kept.
    pub accepted: bool,
}

/// Full-batch gradient descent `w ← w − α∇f(w)` with the bold-driver rule: a step that raises
/// the loss is undone and `α` shrunk, a step that lowers it is kept and `α` grown; it stops
/// when `‖∇f‖ ≤ tolerance` or after `max_steps` steps. `on_step` sees every step.
pub fn gradient_descent<T: Scalar, M: Model<T>>(
    model: &mut M,
    batch: &M::Batch<'_>,
    driver: &mut BoldDriver,
    tolerance: f64,
    max_steps: usize,
    mut on_step: impl FnMut(&DescentStep),
) -> Result<Vec<DescentStep>> {
    let mut ws = model.workspace(1);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut grads = M::zeros();
    let mut loss = model.loss_and_grad(&mut ws, batch, &mut rng, &mut grads)?.to_f64();
    let mut norm = grad_norm(&grads);
    let (mut previous, mut previous_grads) = (model.clone(), grads.clone());
    let mut steps = Vec::new();
    let mut sgd = Optim::new(Optimizer::Sgd, 0.0);
    for step in 1..=max_steps {
        if norm <= tolerance {
            break;
        }
        copy_params(&mut previous, model);
        copy_params(&mut previous_grads, &grads);
        sgd.step(model, &grads, driver.rate);
        let rate = driver.rate;
        let new_loss = model.loss_and_grad(&mut ws, batch, &mut rng, &mut grads)?.to_f64();
        let accepted = new_loss.is_finite() && new_loss < loss;
        if accepted {
            loss = new_loss;
            norm = grad_norm(&grads);
        } else {
            copy_params(model, &previous);
            copy_params(&mut grads, &previous_grads);
        }
        driver.after(accepted);
        let record = DescentStep {
            step,
            loss,
            rate,
            grad_norm: norm,
            accepted,
        };
        on_step(&record);
        steps.push(record);
    }
    Ok(steps)
}

fn copy_params<T: Scalar, P: Parameters<T>>(to: &mut P, from: &P) {
    for i in 0..from.count() {
        to.param_mut(i).assign(&from.param(i));
    }
}
