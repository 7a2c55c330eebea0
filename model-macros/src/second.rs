//! Second order: the Hessian-vector product `H·v` of the loss, forward over reverse on the
//! graph. The gradient `g(θ) = ∇L(θ)` is already a graph whose every node is an op with a
//! backward rule, so with a direction `v` (leaves of the parameters' shapes)
//!
//! `H·v = ∇_θ ⟨g(θ), v⟩`, `⟨g, v⟩ = Σᵢ sum(gᵢ ⊙ vᵢ)`:
//!
//! one more scalar, differentiated as the loss was (`v` does not depend on `θ`), then fused,
//! planned and scheduled as the gradient is.

use proc_macro2::Span;

use crate::diff::{self, Derivative};
use crate::fuse;
use crate::graph::{Graph, NodeId};
use crate::ops::{Op, Shape};

/// The graph of `H·v`: the loss and its gradient, the directions, and `H·v` for every
/// parameter in `derivative.param_grads`.
pub struct HessianVector {
    pub graph: Graph,
    pub derivative: Derivative,
    /// The first derivative's adjoints in this graph, for naming buffers.
    pub first_adjoints: Vec<(NodeId, NodeId)>,
    /// Where each node of the gradient's graph is in this one.
    pub map: Vec<NodeId>,
}

/// `H·v` from a graph, its parameters' nodes and the gradient of its loss (`labels` names
/// the class-label targets). Direction `Op::Direction(i)` is `vᵢ`, of parameter `params[i]`,
/// labelled `v_{names[i]}`.
pub fn hessian_vector(
    graph: &Graph,
    params: &[NodeId],
    gradient: &Derivative,
    labels: &[String],
    names: &[String],
) -> HessianVector {
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
    let mut derivative = diff::differentiate(&mut graph, inner, params, labels);
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
