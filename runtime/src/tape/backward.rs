//! Backward rules of every tape op, in one `match`.
//!
//! For a node `out = op(args)` with adjoint `grad_out = ∂L/∂out`, each rule adds the chain-rule
//! term `grad_out · ∂out/∂arg` to the adjoint of every tracked argument. Adjoints are
//! accumulated, never assigned.

use ndarray::{Array2, ArrayView2};

use super::{Op, Tape, TargetRef, Var};
use crate::error::{Error, Result, expect_same_shape};
use crate::gemm::gemm;
use crate::kernels::{self, Binary, LossKernel, RowReduction, Saved, Target};
use crate::params::{Parameters, as_matrix};
use crate::scalar::Scalar;

/// The adjoints of the tracked leaves after [`Tape::backward`].
#[derive(Clone, Debug)]
pub struct Gradients<T> {
    grads: Vec<Option<Array2<T>>>,
}

impl<T: Scalar> Gradients<T> {
    /// `∂L/∂var`, or `None` if `var` is not a tracked leaf or `L` does not depend on it.
    pub fn get(&self, var: Var) -> Option<ArrayView2<'_, T>> {
        self.grads.get(var.0)?.as_ref().map(|g| g.view())
    }

    /// Writes `∂L/∂vars[i]` into parameter `i` of `out`, zeros where `L` does not depend on it.
    /// The tape computes on matrices: a parameter of any other rank receives the gradient of
    /// the matrix it is read as ([`as_matrix`]).
    pub fn write_into<P: Parameters<T>>(&self, vars: &[Var], out: &mut P) -> Result<()> {
        for (i, &var) in vars.iter().enumerate() {
            let mut slot = as_matrix(out.param_mut(i), "a parameter")?;
            match self.get(var) {
                Some(grad) => {
                    expect_same_shape(
                        "write_into",
                        "the gradient",
                        grad.shape(),
                        "the parameter",
                        slot.shape(),
                    )?;
                    slot.assign(&grad);
                }
                None => slot.fill(T::ZERO),
            }
        }
        Ok(())
    }
}

impl<T: Scalar> Tape<T> {
    /// Reverse-mode differentiation of the `1×1` node `loss` with respect to every tracked leaf.
    pub fn backward(&self, loss: Var) -> Result<Gradients<T>> {
        let shape = self.nodes[loss.0].value.shape();
        if shape != [1, 1] {
            return Err(Error::Shape {
                op: "backward",
                lhs_name: "loss",
                lhs: shape.to_vec(),
                rhs_name: "a scalar",
                rhs: vec![1, 1],
            });
        }
        let mut grads: Vec<Option<Array2<T>>> = vec![None; loss.0 + 1];
        grads[loss.0] = Some(Array2::from_elem((1, 1), T::ONE));
        for index in (0..=loss.0).rev() {
            let node = &self.nodes[index];
            if !node.tracked || matches!(node.op, Op::Leaf) {
                continue;
            }
            let Some(grad_out) = grads[index].take() else { continue };
            self.propagate(&node.op, &node.value, grad_out.view(), &mut grads)?;
        }
        Ok(Gradients { grads })
    }

    /// Adds `grad_out · ∂out/∂arg` to each tracked argument's adjoint.
    fn propagate(
        &self,
        op: &Op,
        out: &Array2<T>,
        grad_out: ArrayView2<'_, T>,
        grads: &mut [Option<Array2<T>>],
    ) -> Result<()> {
        match *op {
            Op::Leaf => {}
            // C = A·B: ∂L/∂A = ∂L/∂C · Bᵀ, ∂L/∂B = Aᵀ · ∂L/∂C (transposes as strides).
            Op::MatMul(lhs, rhs) => {
                if self.tracked(lhs) {
                    let (slot, beta) = slot(grads, lhs, self.value(lhs).dim());
                    gemm(T::ONE, grad_out, self.value(rhs).t(), beta, slot.view_mut())?;
                }
                if self.tracked(rhs) {
                    let (slot, beta) = slot(grads, rhs, self.value(rhs).dim());
                    gemm(T::ONE, self.value(lhs).t(), grad_out, beta, slot.view_mut())?;
                }
            }
            // Y = X + b, b repeated along the broadcast axes: ∂L/∂X = ∂L/∂Y, ∂L/∂b = ∂L/∂Y
            // summed over those axes (Σ_rows ∂L/∂Y for a row).
            Op::AddBroadcast(x, b, inner) => {
                self.accumulate(grads, x, grad_out.to_owned());
                if self.tracked(b) {
                    let (slot, beta) = slot(grads, b, self.value(b).dim());
                    kernels::broadcast_sum(grad_out, inner, beta, slot.view_mut())?;
                }
            }
            // lhs ± rhs: ∂/∂lhs = 1, ∂/∂rhs = ±1; lhs ⊙ rhs: ∂/∂lhs = rhs, ∂/∂rhs = lhs;
            // lhs ⊘ rhs: ∂/∂lhs = 1/rhs, ∂/∂rhs = −lhs/rhs² = −out/rhs.
            Op::Binary(op, lhs, rhs) => {
                let (lhs_grad, rhs_grad) = match op {
                    Binary::Add => (grad_out.to_owned(), grad_out.to_owned()),
                    Binary::Sub => (grad_out.to_owned(), grad_out.mapv(|g| -g)),
                    Binary::Mul => (&grad_out * &self.value(rhs), &grad_out * &self.value(lhs)),
                    Binary::Div => {
                        let lhs_grad = &grad_out / &self.value(rhs);
                        let rhs_grad = ndarray::Zip::from(&lhs_grad).and(out).map_collect(|&g, &y| -(g * y));
                        (lhs_grad, rhs_grad)
                    }
                };
                self.accumulate(grads, lhs, lhs_grad);
                self.accumulate(grads, rhs, rhs_grad);
            }
            // Y = αX: ∂L/∂X = α ∂L/∂Y.
            Op::Scale(alpha, x) => {
                let alpha = T::from_f64(alpha);
                self.accumulate(grads, x, grad_out.mapv(|g| alpha * g));
            }
            // Y = Xᵀ: ∂L/∂X = (∂L/∂Y)ᵀ.
            Op::Transpose(x) => self.accumulate(grads, x, grad_out.t().to_owned()),
            // Y = f(X): ∂L/∂X = ∂L/∂Y ⊙ f′(X), f′ read from X or Y.
            Op::Activation(f, x) => {
                let saved = match f.saved() {
                    Saved::Output => out.view(),
                    Saved::Input | Saved::Nothing => self.value(x),
                };
                let grad = ndarray::Zip::from(&grad_out)
                    .and(&saved)
                    .map_collect(|&g, &s| g * f.derivative(s));
                self.accumulate(grads, x, grad);
            }
            // P = softmax(Z): ∂L/∂Zⱼ = Pⱼ (∂L/∂Pⱼ − Σᵢ Pᵢ ∂L/∂Pᵢ), row by row.
            Op::Softmax(x) => {
                let mut grad = Array2::zeros(out.raw_dim());
                kernels::softmax_backward(out.view(), grad_out, grad.view_mut())?;
                self.accumulate(grads, x, grad);
            }
            // Y = log_softmax(Z): ∂L/∂Zⱼ = ∂L/∂Yⱼ − e^{Yⱼ} Σᵢ ∂L/∂Yᵢ, row by row.
            Op::LogSoftmax(x) => {
                let mut grad = Array2::zeros(out.raw_dim());
                kernels::log_softmax_backward(out.view(), grad_out, grad.view_mut())?;
                self.accumulate(grads, x, grad);
            }
            // y_b = Σⱼ x_bj (or the mean, or the max): ∂L/∂x_bj = ∂L/∂y_b (/ n, or at the arg-max).
            Op::RowReduce(kind, x) => {
                let mut grad = Array2::zeros(self.value(x).raw_dim());
                let n = T::from_usize(grad.ncols());
                match kind {
                    RowReduction::Sum => kernels::spread_rows(grad_out, T::ONE, grad.view_mut())?,
                    RowReduction::Mean => kernels::spread_rows(grad_out, T::ONE / n, grad.view_mut())?,
                    RowReduction::Max => {
                        kernels::row_max_backward(self.value(x), out.view(), grad_out, grad.view_mut())?
                    }
                }
                self.accumulate(grads, x, grad);
            }
            // L = loss(X, t): ∂L/∂X = ∂L/∂L_out · ∇ₓloss.
            Op::Loss(loss, x, ref target) => {
                let target = match target {
                    TargetRef::Labels(labels) => Target::Labels(labels),
                    TargetRef::Dense(t) => Target::Dense(self.value(*t)),
                };
                let mut grad = Array2::zeros(self.value(x).raw_dim());
                loss.gradient(self.value(x), target, grad_out[(0, 0)], grad.view_mut())?;
                self.accumulate(grads, x, grad);
            }
            // s = Σ X: ∂L/∂X = ∂L/∂s · 1.
            Op::Sum(x) => {
                let grad = Array2::from_elem(self.value(x).raw_dim(), grad_out[(0, 0)]);
                self.accumulate(grads, x, grad);
            }
            // m = (1/N) Σ X: ∂L/∂X = ∂L/∂m / N.
            Op::Mean(x) => {
                let n = T::from_usize(self.value(x).len());
                let grad = Array2::from_elem(self.value(x).raw_dim(), grad_out[(0, 0)] / n);
                self.accumulate(grads, x, grad);
            }
            // Y = K ⋆ X: ∂L/∂X = Kᵀ ⋆ ∂L/∂Y, ∂L/∂K = Σ_samples ∂L/∂Y ⋆ X.
            Op::Conv2d(geometry, x, k) => {
                let mut cols = vec![T::ZERO; geometry.columns_len()];
                if self.tracked(x) {
                    let mut grad = Array2::zeros(self.value(x).raw_dim());
                    geometry.backward_input(grad_out, self.value(k), grad.view_mut(), &mut cols)?;
                    self.accumulate(grads, x, grad);
                }
                if self.tracked(k) {
                    let (slot, beta) = slot(grads, k, self.value(k).dim());
                    geometry.backward_kernel(self.value(x), grad_out, beta, slot.view_mut(), &mut cols)?;
                }
            }
            // Y = X at each window's arg-max: ∂L/∂X = ∂L/∂Y scattered to those pixels.
            Op::MaxPool(geometry, x, ref argmax) => {
                let mut grad = Array2::zeros(self.value(x).raw_dim());
                geometry.max_backward(grad_out, argmax, grad.view_mut())?;
                self.accumulate(grads, x, grad);
            }
            // Y = c·Σ_window X: ∂L/∂X = c·∂L/∂Y spread over each window's pixels; and back.
            Op::WindowSum(geometry, scale, x) => {
                let mut grad = Array2::zeros(self.value(x).raw_dim());
                geometry.window_spread(T::from_f64(scale), grad_out, grad.view_mut())?;
                self.accumulate(grads, x, grad);
            }
            Op::WindowSpread(geometry, scale, x) => {
                let mut grad = Array2::zeros(self.value(x).raw_dim());
                geometry.window_sum(T::from_f64(scale), grad_out, grad.view_mut())?;
                self.accumulate(grads, x, grad);
            }
        }
        Ok(())
    }

    fn tracked(&self, var: Var) -> bool {
        self.nodes[var.0].tracked
    }

    /// `∂L/∂var += contribution`, if `var` is tracked.
    fn accumulate(&self, grads: &mut [Option<Array2<T>>], var: Var, contribution: Array2<T>) {
        if !self.tracked(var) {
            return;
        }
        match &mut grads[var.0] {
            Some(grad) => *grad += &contribution,
            empty => *empty = Some(contribution),
        }
    }
}

/// The adjoint buffer of `var` and the `β` to accumulate into it with: 1 if it already holds
/// contributions, 0 if it was just created (and need not be initialised).
fn slot<T: Scalar>(grads: &mut [Option<Array2<T>>], var: Var, dim: (usize, usize)) -> (&mut Array2<T>, T) {
    let beta = if grads[var.0].is_some() { T::ONE } else { T::ZERO };
    (grads[var.0].get_or_insert_with(|| Array2::zeros(dim)), beta)
}
