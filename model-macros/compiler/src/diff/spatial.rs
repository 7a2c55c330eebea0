//! The backward rules of convolution and pooling, forward ops and the ops their backward
//! passes create alike: each family is closed under differentiation, so a derivative of any
//! order stays within it.
//!
//! A convolution, its input adjoint and its kernel adjoint are the three partial derivatives
//! of one trilinear form, `T(x, k, ȳ) = ⟨k ⋆ x, ȳ⟩ = ⟨x, kᵀ ⋆ ȳ⟩ = ⟨k, Σ ȳ ⋆ x⟩`, so the adjoint
//! of any of them with respect to any argument is another of them. Max pooling reads each
//! window at its arg-max: a gather, linear once the arg-max is fixed, whose adjoint is the
//! scatter to the same pixels (and the scatter's is the gather). Average pooling sums windows
//! and its adjoint spreads each window's adjoint over its pixels (nearest-neighbour upsampling
//! is such a spread), each the other's adjoint.

use super::{Term, bar, latex_name};
use crate::graph::{Graph, NodeId};
use crate::ops::Op;

/// The chain-rule terms of the spatial op `id`, given its adjoint `grad`; an empty list for
/// any other op.
pub(super) fn terms(graph: &mut Graph, id: NodeId, grad: NodeId) -> Vec<Term> {
    let node = graph.nodes[id].clone();
    let inputs = &node.inputs;
    let g = bar(graph, id);
    let name = |graph: &Graph, i: usize| latex_name(graph, inputs[i]);
    // The adjoint of input `i`, computed by `op` from `args`: in the input's shape.
    let term = |graph: &mut Graph, i: usize, op: Op, args: Vec<NodeId>, latex: String| {
        let shape = graph.shape(inputs[i]);
        let node = graph.add(op, args, shape, node.span);
        Term {
            input: inputs[i],
            node,
            latex,
        }
    };
    match node.op {
        // Y = K ⋆ X: X̄ = Kᵀ ⋆ Ȳ, K̄ = Σ_samples Ȳ ⋆ X.
        Op::Conv(conv) => {
            let (x, k) = (name(graph, 0), name(graph, 1));
            vec![
                term(
                    graph,
                    0,
                    Op::ConvInput(conv),
                    vec![grad, inputs[1]],
                    format!("{k}^\\top \\star {g}"),
                ),
                term(
                    graph,
                    1,
                    Op::ConvKernel(conv),
                    vec![inputs[0], grad],
                    format!("\\textstyle\\sum_n {g} \\star {x}"),
                ),
            ]
        }
        // Z = Kᵀ ⋆ G: Ḡ = K ⋆ Z̄, K̄ = Σ_samples G ⋆ Z̄.
        Op::ConvInput(conv) => {
            let (gin, k) = (name(graph, 0), name(graph, 1));
            vec![
                term(
                    graph,
                    0,
                    Op::Conv(conv),
                    vec![grad, inputs[1]],
                    format!("{k} \\star {g}"),
                ),
                term(
                    graph,
                    1,
                    Op::ConvKernel(conv),
                    vec![grad, inputs[0]],
                    format!("\\textstyle\\sum_n {gin} \\star {g}"),
                ),
            ]
        }
        // Z = Σ_samples G ⋆ X: X̄ = Z̄ᵀ ⋆ G, Ḡ = Z̄ ⋆ X.
        Op::ConvKernel(conv) => {
            let (x, gin) = (name(graph, 0), name(graph, 1));
            vec![
                term(
                    graph,
                    0,
                    Op::ConvInput(conv),
                    vec![inputs[1], grad],
                    format!("{g}^\\top \\star {gin}"),
                ),
                term(
                    graph,
                    1,
                    Op::Conv(conv),
                    vec![inputs[0], grad],
                    format!("{g} \\star {x}"),
                ),
            ]
        }
        // Y = X at each window's arg-max: X̄ = Ȳ scattered to those pixels.
        Op::MaxPool { pool, argmax } | Op::PoolGather { pool, argmax } => {
            vec![term(
                graph,
                0,
                Op::PoolScatter { pool, argmax },
                vec![grad],
                format!("\\operatorname{{scatter}}_{{\\arg\\max}}({g})"),
            )]
        }
        // Z = G scattered to the arg-maxes: Ḡ = Z̄ gathered from them.
        Op::PoolScatter { pool, argmax } => vec![term(
            graph,
            0,
            Op::PoolGather { pool, argmax },
            vec![grad],
            format!("\\operatorname{{gather}}_{{\\arg\\max}}({g})"),
        )],
        // Y = c·Σ_window X: X̄ = c·Ȳ spread over each window's pixels; and back.
        Op::WindowSum { pool, scale } => vec![term(
            graph,
            0,
            Op::WindowSpread { pool, scale },
            vec![grad],
            format!("{scale}\\operatorname{{spread}}({g})"),
        )],
        Op::WindowSpread { pool, scale } => vec![term(
            graph,
            0,
            Op::WindowSum { pool, scale },
            vec![grad],
            format!("{scale}\\textstyle\\sum_{{\\text{{window}}}} {g}"),
        )],
        _ => Vec::new(),
    }
}
