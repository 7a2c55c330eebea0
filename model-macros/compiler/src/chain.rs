//! Recognising a small dense chain, `hₗ = fₗ(hₗ₋₁ Wₗ + bₗ)` from one input to a softmax
//! cross-entropy on class labels, whose training step is emitted a second way: one loop over
//! blocks of samples with every width fixed (`emit::rows`, on the runtime's
//! `kernels::rows`). Anything else (dropout, shared or extra parameters, other ops, other
//! losses, wide layers) keeps the batch-wide step alone.

use crate::graph::{Graph, NodeId};
use crate::ops::{Activation, Loss, Op, Saved, TargetRef};

/// The widest layer taken: the widths the blocked step was measured on (below).
const MAX_WIDTH: usize = 64;
/// The most weights taken, all layers together: the blocked step's products are simple loops,
/// which the batch-wide gemm overtakes as they grow. One training step, f32, one core of an
/// AMD EPYC with AVX-512 (`benches/step.rs` with these networks added, 2026-12-01):
/// 64-32-10 (2,368 weights) 4.6 µs blocked against 7.6 µs batch-wide at batch 32, 34 against
/// 52 µs at 256; 64-64-64-64-10 (12,928 weights) 18.0–18.5 against 19.6–19.7 µs at 32, 129–164
/// against 127 µs at 256.
const MAX_WEIGHTS: usize = 8192;

/// One layer `h = f(x W + b)`.
pub struct Layer {
    /// The parameter indices of `W` (`[fan_in, fan_out]`) and `b`.
    pub weight: usize,
    pub bias: usize,
    pub fan_in: usize,
    pub fan_out: usize,
}

/// A chain of dense layers from input 0 to the logits of a softmax cross-entropy.
pub struct Chain {
    /// From the input to the logits.
    pub layers: Vec<Layer>,
    /// The activation after each layer but the last.
    pub activations: Vec<Activation>,
    /// The index of the class-label target.
    pub labels: usize,
}

impl Chain {
    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.fan_out)
    }
}

/// The chain computing `loss` in `graph`, if it is one: every parameter of the network
/// (`params`, by index) used by exactly one layer, and nothing else on the way.
pub fn chain(graph: &Graph, loss: NodeId, inputs: usize, params: usize) -> Option<Chain> {
    let Op::Loss {
        kind: Loss::SoftmaxCrossEntropy,
        target: TargetRef::Labels(labels),
    } = graph.op(loss)
    else {
        return None;
    };
    let mut node = *graph.nodes[loss].inputs.first()?;
    let (mut layers, mut activations) = (Vec::new(), Vec::new());
    loop {
        let Op::Affine {
            lhs_t: false,
            rhs_t: false,
        } = graph.op(node)
        else {
            return None;
        };
        let &[x, w, b] = graph.nodes[node].inputs.as_slice() else {
            return None;
        };
        let (Op::Param(weight), Op::Param(bias)) = (graph.op(w), graph.op(b)) else {
            return None;
        };
        let (ws, bs, xs) = (graph.shape(w), graph.shape(b), graph.shape(x));
        let (&[fan_in, fan_out], &[width], &[x_width]) = (ws.dims(), bs.dims(), xs.dims()) else {
            return None;
        };
        if ws.is_batch() || bs.is_batch() || !xs.is_batch() || x_width != fan_in || width != fan_out {
            return None;
        }
        layers.push(Layer {
            weight,
            bias,
            fan_in,
            fan_out,
        });
        match graph.op(x) {
            Op::Input(0) if inputs == 1 => break,
            Op::Act(f) if matches!(f.saved(), Saved::Output | Saved::Nothing) => {
                activations.push(f);
                node = graph.nodes[x].inputs[0];
            }
            _ => return None,
        }
    }
    layers.reverse();
    activations.reverse();
    let mut used = vec![false; params];
    for layer in &layers {
        for p in [layer.weight, layer.bias] {
            if std::mem::replace(used.get_mut(p)?, true) {
                return None;
            }
        }
    }
    let widths_fit = layers.iter().all(|l| l.fan_in.max(l.fan_out) <= MAX_WIDTH);
    let weights: usize = layers.iter().map(|l| l.fan_in * l.fan_out).sum();
    (used.iter().all(|&u| u) && widths_fit && weights <= MAX_WEIGHTS).then_some(Chain {
        layers,
        activations,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    use super::chain;
    use crate::{ast, fuse, lower};

    /// The widths of the chain `body` defines (inside `struct N { ... }`), if it is one.
    fn widths(body: &str) -> Option<Vec<(usize, usize)>> {
        let source = format!("struct N {{ {body} }}");
        let network: ast::Network = syn::parse2(TokenStream::from_str(&source).unwrap()).unwrap();
        let lowered = lower::lower(network).unwrap();
        let (graph, map) = fuse::fuse(&lowered.graph);
        let found = chain(&graph, map[lowered.loss], lowered.inputs.len(), lowered.params.len())?;
        assert_eq!(found.activations.len() + 1, found.layers.len());
        Some(found.layers.iter().map(|l| (l.fan_in, l.fan_out)).collect())
    }

    #[test]
    fn dense_chains_to_softmax_cross_entropy_are_found() {
        let tiny = "input x: [2]; target y: classes[2]; h1 = tanh(dense(x, 16)); \
                    h2 = tanh(dense(h1, 16)); z = dense(h2, 2); output softmax(z); \
                    loss cross_entropy(softmax(z), y);";
        assert_eq!(widths(tiny), Some(vec![(2, 16), (16, 16), (16, 2)]));
        let logistic = "input x: [64]; target y: classes[10]; z = dense(x, 10); output z; \
                        loss softmax_cross_entropy(z, y);";
        assert_eq!(widths(logistic), Some(vec![(64, 10)]));
    }

    #[test]
    fn anything_else_keeps_the_batch_wide_step() {
        let declined = [
            // Dropout.
            "input x: [4]; target y: classes[3]; h = dropout(relu(dense(x, 8)), 0.5); \
             z = dense(h, 3); output z; loss softmax_cross_entropy(z, y);",
            // An activation whose derivative needs its input.
            "input x: [4]; target y: classes[3]; h = gelu(dense(x, 8)); z = dense(h, 3); \
             output z; loss softmax_cross_entropy(z, y);",
            // Another loss.
            "input x: [4]; target t: [3]; h = relu(dense(x, 8)); z = dense(h, 3); output z; \
             loss mse(z, t);",
            // A residual connection.
            "input x: [4]; target y: classes[3]; h1 = relu(dense(x, 8)); \
             h2 = h1 + relu(dense(h1, 8)); z = dense(h2, 3); output z; \
             loss softmax_cross_entropy(z, y);",
            // One weight in two layers.
            "input x: [4]; target y: classes[4]; param w: [4, 4]; param b: [4]; \
             h = relu(x @ w + b); z = h @ w + b; output z; loss softmax_cross_entropy(z, y);",
            // A parameter outside the chain.
            "input x: [4]; target y: classes[3]; param s: [3]; z = dense(x, 3); \
             output z; loss softmax_cross_entropy(z + s, y);",
            // Two inputs.
            "input x: [4]; input u: [4]; target y: classes[3]; z = dense(x + u, 3); output z; \
             loss softmax_cross_entropy(z, y);",
            // Too wide for a block.
            "input x: [784]; target y: classes[10]; h = relu(dense(x, 256)); z = dense(h, 10); \
             output z; loss softmax_cross_entropy(z, y);",
            // Narrow, but too many weights (3·64·64 + 64·10).
            "input x: [64]; target y: classes[10]; h1 = relu(dense(x, 64)); \
             h2 = relu(dense(h1, 64)); h3 = relu(dense(h2, 64)); z = dense(h3, 10); output z; \
             loss softmax_cross_entropy(z, y);",
        ];
        for body in declined {
            assert_eq!(widths(body), None, "{body}");
        }
    }
}
