//! Second order: the Hessian-vector product `H·v` of the loss, forward over reverse on the
//! graph. The gradient `g(θ) = ∇L(θ)` is already a graph whose every node is an op with a
//! backward rule, so with a direction `v` (leaves of the parameters' shapes)
//!
//! `H·v = ∇_θ ⟨g(θ), v⟩`, `⟨g, v⟩ = Σᵢ sum(gᵢ ⊙ vᵢ)`:
//!
//! one more scalar, differentiated as the loss was (`v` does not depend on `θ`), then fused,
//! planned and scheduled as the gradient is.
//!
//! The Gauss-Newton product `G·v = Jᵀ H_ℓ J v` (`J` the Jacobian of the losses' inputs `z`,
//! `H_ℓ` the losses' own Hessians in `z`) is the same derivative with the network's curvature
//! held constant: the gradient is `Jᵀ ∇ℓ(z)`, and of its dependencies on `θ` only the one
//! through `∇ℓ(z(θ))` is followed. So a node of the gradient's pass passes its adjoint on to
//! the other nodes of that pass (they compute `J v`, backwards) and to a loss's input (through
//! `H_ℓ`), but not to the forward values and weights it reads; from the loss's input on, the
//! forward pass carries it to the parameters (`Jᵀ`). For losses combined with nonnegative
//! factors, `G` is positive semi-definite.

use proc_macro2::Span;

use crate::diff::{self, Derivative};
use crate::fuse;
use crate::graph::{Graph, NodeId};
use crate::ops::{Op, Shape};

/// Which curvature a product multiplies by.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Curvature {
    /// The Hessian `H`.
    Hessian,
    /// The (generalised) Gauss-Newton matrix `G = Jᵀ H_ℓ J`.
    GaussNewton,
}

/// The graph of `H·v` (or `G·v`): the loss and its gradient, the directions, and the product
/// for every parameter in `derivative.param_grads`.
pub struct HessianVector {
    pub graph: Graph,
    pub derivative: Derivative,
    /// The first derivative's adjoints in this graph, for naming buffers.
    pub first_adjoints: Vec<(NodeId, NodeId)>,
    /// Where each node of the gradient's graph is in this one.
    pub map: Vec<NodeId>,
}

/// `H·v` (or `G·v`) from a graph, its loss, its parameters' nodes and the gradient of its
/// loss (`labels` names the class-label targets). Direction `Op::Direction(i)` is `vᵢ`, of
/// parameter `params[i]`, labelled `v_{names[i]}`.
pub fn hessian_vector(
    graph: &Graph,
    loss: NodeId,
    params: &[NodeId],
    gradient: &Derivative,
    labels: &[String],
    names: &[String],
    curvature: Curvature,
) -> HessianVector {
    // The forward pass: the loss and what it is computed from.
    let forward = graph.reaches(&[loss]);
    let mut graph = graph.clone();
    let span = Span::call_site();
    let mut terms = Vec::with_capacity(params.len());
    for (i, (&param, &grad)) in params.iter().zip(&gradient.param_grads).enumerate() {
        let shape = graph.shape(param);
        let v = graph.add(Op::Direction(i), vec![], shape, span);
        graph.nodes[v].label = Some(format!("v_{}", names[i]));
        let product = graph.add(Op::Mul, vec![grad, v], shape, span);
        terms.push(graph.add(Op::Sum, vec![product], Shape::SCALAR, span));
    }
    let inner = graph.sum_of(terms);
    let is_forward = |id: NodeId| forward.get(id).copied().unwrap_or(false);
    let keep = |graph: &Graph, node: NodeId, input: NodeId| match curvature {
        Curvature::Hessian => true,
        Curvature::GaussNewton => {
            let loss_input = matches!(graph.op(node), Op::LossGrad { .. }) && graph.nodes[node].inputs[0] == input;
            is_forward(node) || !is_forward(input) || loss_input
        }
    };
    let mut derivative = diff::differentiate_through(&mut graph, inner, params, labels, keep);
    let (graph, map) = fuse::fuse(&graph);
    derivative.remap(&map);
    let first_adjoints = gradient
        .adjoints
        .iter()
        .map(|&(value, adjoint)| (map[value], map[adjoint]))
        .collect();
    HessianVector {
        graph,
        derivative,
        first_adjoints,
        map,
    }
}
