//! Second order: the Hessian-vector product `H·v` of the loss, reverse over reverse on the
//! graph. The gradient `g(θ) = ∇L(θ)` is already a graph whose every node is an op with a
//! backward rule, so with a direction `v` (leaves of the parameters' shapes)
//!
//! `H·v = ∇_θ ⟨g(θ), v⟩`, `⟨g, v⟩ = Σᵢ sum(gᵢ ⊙ vᵢ)`:
//!
//! one more scalar, differentiated as the loss was (`v` does not depend on `θ`), then fused,
//! planned and scheduled as the gradient is. The reverse pass starts at the gradients, with
//! the scalar's adjoints in them, `∂⟨g, v⟩/∂gᵢ = vᵢ`: differentiating the scalar itself would
//! broadcast its adjoint 1 to a matrix of ones of each parameter's shape and multiply it by
//! `vᵢ`, two passes over every parameter's worth of values (7 % of the time of 784-256-128-10's
//! product at batch 64: `perf record` of `benches/step.rs`'s `hvp`, 2026-12-02, a Zen 4).
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
use crate::ops::Op;

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
    let seeds: Vec<(NodeId, NodeId, String)> = params
        .iter()
        .zip(&gradient.param_grads)
        .enumerate()
        .map(|(i, (&param, &grad))| {
            let shape = graph.shape(param);
            let v = graph.add(Op::Direction(i), vec![], shape, span);
            graph.nodes[v].label = Some(format!("v_{}", names[i]));
            (grad, v, diff::latex_name(&graph, v))
        })
        .collect();
    let is_forward = |id: NodeId| forward.get(id).copied().unwrap_or(false);
    let keep = |graph: &Graph, node: NodeId, input: NodeId| match curvature {
        Curvature::Hessian => true,
        Curvature::GaussNewton => {
            let loss_input = matches!(graph.op(node), Op::LossGrad { .. }) && graph.nodes[node].inputs[0] == input;
            is_forward(node) || !is_forward(input) || loss_input
        }
    };
    let mut derivative = diff::differentiate_through(&mut graph, &seeds, params, labels, keep);
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    use super::{Curvature, hessian_vector};
    use crate::graph::{Graph, NodeId};
    use crate::ops::Op;
    use crate::{ast, diff, fuse, lower};

    /// The graph of `H·v` (or `G·v`) for the network `body` defines (inside `struct N { ... }`).
    fn product_graph(body: &str, curvature: Curvature) -> Graph {
        let source = format!("struct N {{ {body} }}");
        let network: ast::Network = syn::parse2(TokenStream::from_str(&source).unwrap()).unwrap();
        let lowered = lower::lower(network).unwrap();
        let (mut graph, map) = fuse::fuse(&lowered.graph);
        let params: Vec<NodeId> = lowered.params.iter().map(|p| map[p.node]).collect();
        let labels: Vec<String> = lowered.targets.iter().map(|t| t.name.to_string()).collect();
        let mut derivative = diff::differentiate(&mut graph, map[lowered.loss], &params, &labels);
        let (graph, remap) = fuse::fuse(&graph);
        derivative.remap(&remap);
        let params: Vec<NodeId> = params.iter().map(|&p| remap[p]).collect();
        let names: Vec<String> = lowered.params.iter().map(|p| p.name.to_string()).collect();
        let loss = remap[map[lowered.loss]];
        hessian_vector(&graph, loss, &params, &derivative, &labels, &names, curvature).graph
    }

    /// The elementwise products in `graph` with a factor of more than one value computed from
    /// constants alone: a pass over a matrix of constants where a scaling at most was needed.
    fn products_with_constant_matrices(graph: &Graph) -> Vec<NodeId> {
        let mut constant = vec![false; graph.nodes.len()];
        for (id, node) in graph.nodes.iter().enumerate() {
            constant[id] = match graph.op(id) {
                Op::Constant(_) => true,
                _ => !node.inputs.is_empty() && node.inputs.iter().all(|&input| constant[input]),
            };
        }
        (0..graph.nodes.len())
            .filter(|&id| matches!(graph.op(id), Op::Mul))
            .filter(|&id| {
                let inputs = &graph.nodes[id].inputs;
                inputs
                    .iter()
                    .any(|&input| constant[input] && graph.shape(input).size() > 1)
            })
            .collect()
    }

    /// Differentiating `⟨∇L, v⟩` from the scalar itself broadcast its adjoint 1 to a matrix of
    /// ones of every parameter's shape and multiplied `v` by it; starting at the gradients
    /// with `v` as their adjoints forms no such matrix, in either curvature.
    #[test]
    fn the_directions_are_the_gradients_adjoints() {
        let networks = [
            "input x: [12]; target y: classes[3]; h1 = relu(dense(x, 8)); h2 = tanh(dense(h1, 6)); \
             z = dense(h2, 3); output softmax(z); loss cross_entropy(softmax(z), y);",
            "input x: [12]; h = relu(dense(x, 4)); r = sigmoid(dense(h, 12)); output r; loss mse(r, x);",
            // One weight in two layers.
            "input x: [4]; target y: classes[4]; param w: [4, 4]; param b: [4]; \
             h = tanh(x @ w + b); z = h @ w + b; output z; loss softmax_cross_entropy(z, y);",
        ];
        for body in networks {
            for curvature in [Curvature::Hessian, Curvature::GaussNewton] {
                let graph = product_graph(body, curvature);
                let found = products_with_constant_matrices(&graph);
                let ops: Vec<Op> = found.iter().map(|&id| graph.op(id)).collect();
                assert!(
                    found.is_empty(),
                    "{body}: products with matrices of constants at {found:?} ({ops:?})"
                );
            }
        }
    }
}
