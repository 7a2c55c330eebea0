//! Algebraic rewrites and fusion, applied by rebuilding the user's graph:
//!
//! - `cross_entropy(softmax(z), y)` becomes the fused softmax cross-entropy on the logits `z`,
//!   evaluated as `lse(z) − z_y` (stable for any logits), whose gradient is `(p − onehot(y))/B`;
//! - `bce(sigmoid(z), t)` becomes binary cross-entropy on the logits, gradient `(σ(z) − t)/(Bn)`;
//! - `X·W + b`, where the product has no other use, becomes one affine node: the bias is
//!   written into the output and the gemm accumulates onto it (`β = 1`);
//! - a transpose feeding a matmul becomes a stride flag; `(xᵀ)ᵀ = x`; scales fold together;
//!   equal subexpressions are shared.

use crate::graph::{Graph, NodeId};
use crate::ops::{Activation, Loss, Op, Rows};

/// The rewritten graph and, for each node of the original, its node in the new one.
pub fn fuse(original: &Graph) -> (Graph, Vec<NodeId>) {
    let mut uses = vec![0usize; original.nodes.len()];
    for node in &original.nodes {
        for &input in &node.inputs {
            uses[input] += 1;
        }
    }
    let mut graph = Graph::default();
    let mut map: Vec<NodeId> = Vec::with_capacity(original.nodes.len());
    for (id, node) in original.nodes.iter().enumerate() {
        let inputs: Vec<NodeId> = node.inputs.iter().map(|&i| map[i]).collect();
        let new = match node.op {
            Op::Constant(c) => graph.constant(c),
            Op::MatMul { lhs_t, rhs_t, alpha } => graph.scaled_matmul(alpha, inputs[0], lhs_t, inputs[1], rhs_t),
            Op::Transpose => graph.transpose(inputs[0]),
            Op::Scale(c) => graph.scale(c, inputs[0]),
            // A bias row over the product's rows: written first, the gemm accumulating onto it.
            Op::AddBroadcast { inner: 1 }
                if uses[node.inputs[0]] == 1
                    && matches!(graph.op(inputs[0]), Op::MatMul { alpha: 1.0, .. })
                    && graph.shape(inputs[1]).matrix() == (Rows::Fixed(1), node.shape.matrix().1) =>
            {
                let Op::MatMul { lhs_t, rhs_t, .. } = graph.op(inputs[0]) else {
                    unreachable!()
                };
                let product = graph.nodes[inputs[0]].inputs.clone();
                graph.add(
                    Op::Affine { lhs_t, rhs_t },
                    vec![product[0], product[1], inputs[1]],
                    node.shape,
                    node.span,
                )
            }
            Op::Loss {
                kind: Loss::CrossEntropy,
                target,
            } if graph.op(inputs[0]) == Op::Softmax => {
                let mut fused = inputs.clone();
                fused[0] = graph.nodes[inputs[0]].inputs[0];
                graph.add(
                    Op::Loss {
                        kind: Loss::SoftmaxCrossEntropy,
                        target,
                    },
                    fused,
                    node.shape,
                    node.span,
                )
            }
            Op::Loss {
                kind: Loss::Bce,
                target,
            } if graph.op(inputs[0]) == Op::Act(Activation::Sigmoid) => {
                let mut fused = inputs.clone();
                fused[0] = graph.nodes[inputs[0]].inputs[0];
                graph.add(
                    Op::Loss {
                        kind: Loss::BceWithLogits,
                        target,
                    },
                    fused,
                    node.shape,
                    node.span,
                )
            }
            op => graph.add(op, inputs, node.shape, node.span),
        };
        if graph.nodes[new].label.is_none() {
            graph.nodes[new].label = original.nodes[id].label.clone();
        }
        map.push(new);
    }
    (graph, map)
}
