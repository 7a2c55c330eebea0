//! Reverse-mode symbolic differentiation.
//!
//! Walking the forward nodes from the loss back to the parameters, each node's adjoint
//! `v̄ = ∂L/∂v` is the sum over its users `u` of `ū · ∂u/∂v`: the chain rule. The adjoint of the
//! loss is 1. The terms are built as new nodes of the same graph, so common subexpressions are
//! shared and identities folded as they are created; values that reach no parameter (inputs,
//! targets) get no adjoint at all. The ops the backward pass creates have backward rules too
//! (`backward_ops`), so a derivative can be differentiated again.

mod backward_ops;
mod spatial;

use std::collections::BTreeMap;

use crate::graph::{Graph, NodeId};
use crate::ops::{Op, Saved, Shape, TargetRef};

/// One chain-rule term: the contribution of a user's adjoint to an input's adjoint.
pub struct Term {
    pub input: NodeId,
    pub node: NodeId,
    /// The term in LaTeX, for the derivation.
    pub latex: String,
}

/// The backward pass: the adjoint node of every tracked value and of every parameter.
pub struct Derivative {
    /// Per parameter (in declaration order), the node holding `∂L/∂param`.
    pub param_grads: Vec<NodeId>,
    /// For each value with an adjoint, in the order computed: the value and its terms.
    pub equations: Vec<(NodeId, Vec<String>)>,
    /// For each value with an adjoint, in the order computed: the value and its adjoint node.
    pub adjoints: Vec<(NodeId, NodeId)>,
}

impl Derivative {
    /// The same derivative in a graph rebuilt with `map` from old nodes to new (fusion).
    pub fn remap(&mut self, map: &[NodeId]) {
        for grad in &mut self.param_grads {
            *grad = map[*grad];
        }
        for (value, _) in &mut self.equations {
            *value = map[*value];
        }
        for (value, adjoint) in &mut self.adjoints {
            (*value, *adjoint) = (map[*value], map[*adjoint]);
        }
    }
}

/// Differentiates `loss` with respect to `params`; `labels` names the class-label targets.
pub fn differentiate(graph: &mut Graph, loss: NodeId, params: &[NodeId], labels: &[String]) -> Derivative {
    let one = graph.constant(1.0);
    differentiate_through(graph, &[(loss, one, "1".to_owned())], params, labels, |_, _, _| true)
}

/// The reverse pass from `seeds`, each a node, its adjoint and that adjoint in LaTeX (for a
/// scalar loss `L`: `L̄ = 1`; for a scalar `⟨g, v⟩` of values `g`: `ḡ = v`, so that the
/// pass starts at the values rather than forming the scalar and broadcasting its adjoint back
/// to them), keeping only the chain-rule terms from a node to an input that `keep` accepts
/// (`keep(graph, node, input)`): the others are held constant. The Gauss-Newton product is the
/// Hessian's with some dependencies so held. A seed on a value that no parameter reaches is
/// dropped, as a chain-rule term into it would be.
pub fn differentiate_through(
    graph: &mut Graph,
    seeds: &[(NodeId, NodeId, String)],
    params: &[NodeId],
    labels: &[String],
    keep: impl Fn(&Graph, NodeId, NodeId) -> bool,
) -> Derivative {
    let mut contributions: BTreeMap<NodeId, Vec<(NodeId, String)>> = BTreeMap::new();
    for (node, seed, latex) in seeds {
        if graph.nodes[*node].tracked {
            contributions.entry(*node).or_default().push((*seed, latex.clone()));
        }
    }
    let mut adjoint: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    let (mut equations, mut adjoints) = (Vec::new(), Vec::new());
    let last = contributions.keys().next_back().copied();
    for id in (0..=last.unwrap_or(0)).rev() {
        let Some(terms) = contributions.remove(&id) else {
            continue;
        };
        let (nodes, latex): (Vec<NodeId>, Vec<String>) = terms.into_iter().unzip();
        let grad = graph.sum_of(nodes);
        adjoint.insert(id, grad);
        equations.push((id, latex));
        adjoints.push((id, grad));
        for term in local_terms(graph, id, grad, labels) {
            if graph.nodes[term.input].tracked && keep(graph, id, term.input) {
                contributions
                    .entry(term.input)
                    .or_default()
                    .push((term.node, term.latex));
            }
        }
    }
    // A parameter the differentiated value does not depend on has a zero adjoint (lowering
    // rejects such parameters for the loss; a second derivative may well be zero).
    let param_grads = params
        .iter()
        .map(|p| match adjoint.get(p) {
            Some(&grad) => grad,
            None => {
                let (zero, shape, span) = (graph.constant(0.0), graph.shape(*p), graph.nodes[*p].span);
                graph.add(Op::Fill { mean: false }, vec![zero], shape, span)
            }
        })
        .collect();
    Derivative {
        param_grads,
        equations,
        adjoints,
    }
}

fn bar(graph: &Graph, id: NodeId) -> String {
    format!("\\overline{{{}}}", latex_name(graph, id))
}

/// A node's name in LaTeX: `\mathrm{h1}`, with underscores escaped.
pub fn latex_name(graph: &Graph, id: NodeId) -> String {
    match graph.nodes[id].label.as_deref() {
        Some(label) => format!("\\mathrm{{{}}}", label.replace('_', "\\_")),
        None => format!("t_{{{id}}}"),
    }
}

fn transposed(name: String, flag: bool) -> String {
    if flag { format!("{name}^\\top") } else { name }
}

fn transposed_product(product: String, flag: bool) -> String {
    if flag {
        format!("\\left({product}\\right)^\\top")
    } else {
        product
    }
}

/// The chain-rule terms `ū · ∂u/∂v` of node `u = id` for each of its inputs `v`, given the
/// adjoint node `grad = ū`. Every backward rule of the language is in this one `match`.
fn local_terms(graph: &mut Graph, id: NodeId, grad: NodeId, labels: &[String]) -> Vec<Term> {
    let node = graph.nodes[id].clone();
    let inputs = node.inputs.clone();
    let g = bar(graph, id);
    let name = |graph: &Graph, i: usize| latex_name(graph, inputs[i]);
    let term = |input, node, latex: String| Term { input, node, latex };
    match node.op {
        Op::Input(_) | Op::Target(_) | Op::Param(_) | Op::Constant(_) | Op::Direction(_) => vec![],
        // C = op(A)·op(B): Ā = C̄·op(B)ᵀ (or op(B)·C̄ᵀ if A is used transposed),
        //                  B̄ = op(A)ᵀ·C̄ (or C̄ᵀ·op(A) if B is used transposed).
        // Affine adds the bias row b: b̄ = 1ᵀ C̄, the column sums.
        // With a factor, C = α op(A)·op(B): the terms are those of αC̄.
        Op::MatMul { lhs_t, rhs_t, .. } | Op::Affine { lhs_t, rhs_t } => {
            let (a, b) = (inputs[0], inputs[1]);
            let (grad, g) = match node.op {
                Op::MatMul { alpha, .. } if alpha != 1.0 => (graph.scale(alpha, grad), format!("{alpha}\\,{g}")),
                _ => (grad, g),
            };
            let (an, bn) = (name(graph, 0), name(graph, 1));
            let grad_a = if lhs_t {
                graph.matmul(b, rhs_t, grad, true)
            } else {
                graph.matmul(grad, false, b, !rhs_t)
            };
            let grad_b = if rhs_t {
                graph.matmul(grad, true, a, lhs_t)
            } else {
                graph.matmul(a, !lhs_t, grad, false)
            };
            let mut terms = vec![
                term(
                    a,
                    grad_a,
                    transposed_product(format!("{g}\\,{}", transposed(bn.clone(), !rhs_t)), lhs_t),
                ),
                term(
                    b,
                    grad_b,
                    transposed_product(format!("{}\\,{g}", transposed(an, !lhs_t)), rhs_t),
                ),
            ];
            if let Op::Affine { .. } = node.op {
                let sums = broadcast_sum(graph, grad, inputs[2], 1);
                terms.push(term(inputs[2], sums, format!("\\mathbf{{1}}^\\top {g}")));
            }
            terms
        }
        // Y = X + b, b broadcast (repeated) along the axes where it is missing or 1:
        // X̄ = Ȳ, b̄ = Ȳ summed over those axes (1ᵀȲ for a row over a batch).
        Op::AddBroadcast { inner } => {
            let sums = broadcast_sum(graph, grad, inputs[1], inner);
            let row = node.shape.dims().len() == 1 && graph.shape(inputs[1]).dims() == node.shape.dims();
            let latex = if row {
                format!("\\mathbf{{1}}^\\top {g}")
            } else {
                format!("\\textstyle\\sum_{{\\text{{broadcast}}}} {g}")
            };
            vec![term(inputs[0], grad, g.clone()), term(inputs[1], sums, latex)]
        }
        // Y = A ± B: Ā = Ȳ, B̄ = ±Ȳ.
        Op::Add => vec![term(inputs[0], grad, g.clone()), term(inputs[1], grad, g)],
        Op::Sub => {
            let minus = graph.scale(-1.0, grad);
            vec![
                term(inputs[0], grad, g.clone()),
                term(inputs[1], minus, format!("-{g}")),
            ]
        }
        // Y = A ⊙ B: Ā = Ȳ ⊙ B, B̄ = Ȳ ⊙ A.
        Op::Mul => {
            let shape = graph.shape(grad);
            let (an, bn) = (name(graph, 0), name(graph, 1));
            let grad_a = graph.add(Op::Mul, vec![grad, inputs[1]], shape, node.span);
            let grad_b = graph.add(Op::Mul, vec![grad, inputs[0]], shape, node.span);
            vec![
                term(inputs[0], grad_a, format!("{g} \\odot {bn}")),
                term(inputs[1], grad_b, format!("{g} \\odot {an}")),
            ]
        }
        // Y = A ⊘ B: Ā = Ȳ ⊘ B, B̄ = −Ȳ ⊙ A ⊘ B² = −Ā ⊙ Y.
        Op::Div => {
            let shape = graph.shape(grad);
            let (bn, y) = (name(graph, 1), latex_name(graph, id));
            let grad_a = graph.add(Op::Div, vec![grad, inputs[1]], shape, node.span);
            let product = graph.add(Op::Mul, vec![grad_a, id], shape, node.span);
            let grad_b = graph.scale(-1.0, product);
            vec![
                term(inputs[0], grad_a, format!("{g} \\oslash {bn}")),
                term(inputs[1], grad_b, format!("-({g} \\oslash {bn}) \\odot {y}")),
            ]
        }
        // Y = cX: X̄ = cȲ.
        Op::Scale(c) => {
            let scaled = graph.scale(c, grad);
            vec![term(inputs[0], scaled, format!("{c}\\,{g}"))]
        }
        // Y = Xᵀ: X̄ = Ȳᵀ.
        Op::Transpose => {
            let back = graph.transpose(grad);
            vec![term(inputs[0], back, format!("{g}^\\top"))]
        }
        // Y = reshape(X): X̄ = Ȳ reshaped back (the same values, element for element).
        Op::Reshape => {
            let shape = graph.shape(inputs[0]);
            let back = graph.add(Op::Reshape, vec![grad], shape, node.span);
            vec![term(inputs[0], back, format!("\\operatorname{{reshape}}({g})"))]
        }
        // Y = f(X): X̄ = Ȳ ⊙ f′(X), f′ read from X or from Y.
        Op::Act(act) => {
            let saved = match act.saved() {
                Saved::Nothing => return vec![term(inputs[0], grad, g)],
                Saved::Input => inputs[0],
                Saved::Output => id,
            };
            let latex = format!(
                "{g} \\odot {}",
                act.derivative_latex(&name(graph, 0), &latex_name(graph, id))
            );
            let shape = graph.shape(grad);
            let back = graph.add(Op::ActGrad(act), vec![saved, grad], shape, node.span);
            vec![term(inputs[0], back, latex)]
        }
        // P = softmax(Z) row-wise: Z̄ = P ⊙ (P̄ − rowsum(P ⊙ P̄));
        // Y = log_softmax(Z) row-wise: Z̄ = Ȳ − e^Y ⊙ rowsum(Ȳ). Both read their output.
        Op::Softmax | Op::LogSoftmax => {
            let y = latex_name(graph, id);
            let (backward, latex) = if node.op == Op::Softmax {
                let latex = format!("{y} \\odot ({g} - ({y} \\odot {g})\\mathbf{{1}}\\mathbf{{1}}^\\top)");
                (Op::SoftmaxGrad, latex)
            } else {
                let latex = format!("{g} - e^{{{y}}} \\odot ({g}\\mathbf{{1}})\\mathbf{{1}}^\\top");
                (Op::LogSoftmaxGrad, latex)
            };
            let shape = graph.shape(grad);
            let back = graph.add(backward, vec![id, grad], shape, node.span);
            vec![term(inputs[0], back, latex)]
        }
        // y = reduce_rows(X): X̄ = ȳ1ᵀ, ȳ1ᵀ/n, or ȳ at each row's arg-max.
        Op::RowReduce(kind) => {
            let shape = graph.shape(inputs[0]);
            let args = if kind.reads_values() {
                vec![inputs[0], id, grad]
            } else {
                vec![grad]
            };
            let back = graph.add(Op::RowReduceGrad(kind), args, shape, node.span);
            let latex = kind.gradient_latex(&g, &name(graph, 0), &latex_name(graph, id));
            vec![term(inputs[0], back, latex)]
        }
        // Y = X ⊙ M (M the dropout mask, 0 or 1/(1−p)): X̄ = Ȳ ⊙ M.
        Op::Dropout { mask, .. } => {
            let shape = graph.shape(grad);
            let back = graph.add(Op::MaskMul { mask }, vec![grad], shape, node.span);
            vec![term(inputs[0], back, format!("{g} \\odot M_{{{mask}}}"))]
        }
        // s = Σ X: X̄ = s̄·1; m = (1/N) Σ X: X̄ = (m̄/N)·1.
        Op::Sum | Op::Mean => {
            let mean = node.op == Op::Mean;
            let shape = graph.shape(inputs[0]);
            let back = graph.add(Op::Fill { mean }, vec![grad], shape, node.span);
            let latex = if mean {
                format!("\\tfrac{{{g}}}{{N}}\\mathbf{{1}}")
            } else {
                format!("{g}\\,\\mathbf{{1}}")
            };
            vec![term(inputs[0], back, latex)]
        }
        // ℓ = loss(X, t): X̄ = ℓ̄ · ∇ₓloss (targets are data: no adjoint).
        Op::Loss { kind, target } => {
            let t = match target {
                TargetRef::Dense => name(graph, 1),
                TargetRef::Labels(i) => format!("\\mathrm{{onehot}}(\\mathrm{{{}}})", labels[i].replace('_', "\\_")),
            };
            let mut args = vec![inputs[0], grad];
            args.extend(inputs.get(1));
            let shape = graph.shape(inputs[0]);
            let back = graph.add(Op::LossGrad { kind, target }, args, shape, node.span);
            vec![term(
                inputs[0],
                back,
                format!("{g} \\cdot {}", kind.gradient_latex(&name(graph, 0), &t)),
            )]
        }
        Op::AddN
        | Op::ActGrad(_)
        | Op::SoftmaxGrad
        | Op::LogSoftmaxGrad
        | Op::RowReduceGrad(_)
        | Op::MaskMul { .. }
        | Op::BroadcastSum { .. }
        | Op::Fill { .. }
        | Op::LossGrad { .. } => backward_ops::terms(graph, id, grad),
        Op::Conv(_)
        | Op::ConvInput(_)
        | Op::ConvKernel(_)
        | Op::MaxPool { .. }
        | Op::PoolScatter { .. }
        | Op::PoolGather { .. }
        | Op::WindowSum { .. }
        | Op::WindowSpread { .. } => spatial::terms(graph, id, grad),
    }
}

/// The adjoint of an operand broadcast with factor `inner`: `grad` summed to its shape.
fn broadcast_sum(graph: &mut Graph, grad: NodeId, small: NodeId, inner: usize) -> NodeId {
    let shape: Shape = graph.shape(small);
    let span = graph.nodes[small].span;
    graph.add(Op::BroadcastSum { inner }, vec![grad], shape, span)
}
