//! The compiled graph in Graphviz DOT: the forward pass and the backward pass the compiler
//! derived, as `dot -Tsvg` draws them.
//!
//! Every node the training step computes is drawn once, labelled with its operation, its name
//! in the definition where it has one, and its shape. Inputs and targets are grey ellipses,
//! parameters blue ellipses; kernels the compiler fused (a matmul with its bias add, a scaled
//! matmul, softmax with cross-entropy, sigmoid with binary cross-entropy) are filled yellow and
//! say `fused`; the nodes holding a parameter's gradient are red with a thick border and say
//! which gradient. The forward nodes sit in one cluster, the backward ones in another; an edge
//! from the first into the second is a forward value the backward pass reads.

use std::fmt::Write;

use crate::diff::Derivative;
use crate::graph::Graph;
use crate::lower::Lowered;
use crate::ops::{Loss, Op, TargetRef};

/// The DOT text of the training step of `net`: `graph` after fusion, `output` and `loss` its
/// forward roots, `derivative` the backward pass.
pub fn graph_dot(net: &Lowered, graph: &Graph, output: usize, loss: usize, derivative: &Derivative) -> String {
    let forward = graph.reaches(&[output, loss]);
    let all = graph.reaches(&derivative.param_grads);
    let backward: Vec<bool> = all.iter().zip(&forward).map(|(&a, &f)| a && !f).collect();
    let drawn = |id: usize| forward[id] || all[id];
    let mut text = String::new();
    let _ = writeln!(text, "digraph {} {{", quoted(&net.name.to_string()));
    let _ = writeln!(text, "  rankdir=TB;");
    let _ = writeln!(text, "  node [shape=box, fontname=\"DejaVu Sans\", fontsize=10];");
    let _ = writeln!(text, "  edge [color=\"#555555\"];");
    for (cluster, title, members) in [
        ("forward", "forward pass", &forward),
        ("backward", "backward pass (derived)", &backward),
    ] {
        let _ = writeln!(text, "  subgraph cluster_{cluster} {{");
        let _ = writeln!(
            text,
            "    label={}; fontname=\"DejaVu Sans\"; color=\"#bbbbbb\";",
            quoted(title)
        );
        for id in (0..graph.nodes.len()).filter(|&id| members[id]) {
            let _ = writeln!(text, "    n{id} [{}];", attributes(net, graph, derivative, id));
        }
        let _ = writeln!(text, "  }}");
    }
    for (id, node) in graph.nodes.iter().enumerate().filter(|(id, _)| drawn(*id)) {
        for &input in &node.inputs {
            let _ = writeln!(text, "  n{input} -> n{id};");
        }
    }
    let _ = writeln!(text, "}}");
    text
}

/// A DOT string literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The attributes of node `id`: its label and its style.
fn attributes(net: &Lowered, graph: &Graph, derivative: &Derivative, id: usize) -> String {
    let node = &graph.nodes[id];
    let (what, fused) = describe(net, node.op);
    let mut lines = vec![match &node.label {
        Some(label) if !node.op.is_leaf() => format!("{label} = {what}"),
        _ => what,
    }];
    lines.push(node.shape.to_string());
    let gradients: Vec<String> = derivative
        .param_grads
        .iter()
        .zip(&net.params)
        .filter(|(grad, _)| **grad == id)
        .map(|(_, p)| format!("∂L/∂{}", p.name))
        .collect();
    let mut style = match node.op {
        Op::Input(_) | Op::Target(_) | Op::Constant(_) => "shape=ellipse, style=filled, fillcolor=\"#e8e8e8\"",
        Op::Param(_) => "shape=ellipse, style=filled, fillcolor=\"#cfe2f3\"",
        _ if fused => "style=filled, fillcolor=\"#fff2cc\"",
        _ => "",
    }
    .to_owned();
    if fused {
        lines.push("fused".to_owned());
    }
    if !gradients.is_empty() {
        lines.push(gradients.join(", "));
        style = format!(
            "{style}{}color=\"#cc0000\", penwidth=2",
            if style.is_empty() { "" } else { ", " }
        );
    }
    let label = quoted(&lines.join("\n")).replace('\n', "\\n");
    if style.is_empty() {
        format!("label={label}")
    } else {
        format!("label={label}, {style}")
    }
}

/// An operation in words, and whether it is a kernel fusion made by the compiler.
fn describe(net: &Lowered, op: Op) -> (String, bool) {
    let flag = |t: bool| if t { "ᵀ" } else { "" };
    let text = match op {
        Op::Input(i) => format!("input {}", net.inputs[i].name),
        Op::Target(i) => format!("target {}", net.targets[i].name),
        Op::Param(i) => format!("param {}", net.params[i].name),
        Op::Direction(i) => format!("direction v_{}", net.params[i].name),
        Op::Constant(c) => format!("constant {c}"),
        Op::MatMul { lhs_t, rhs_t, alpha } if alpha != 1.0 => {
            return (format!("{alpha} · A{} B{}", flag(lhs_t), flag(rhs_t)), true);
        }
        Op::MatMul { lhs_t, rhs_t, .. } => format!("matmul A{} B{}", flag(lhs_t), flag(rhs_t)),
        Op::Affine { lhs_t, rhs_t } => return (format!("X{} W{} + b", flag(lhs_t), flag(rhs_t)), true),
        Op::AddBroadcast { .. } => "add (broadcast)".to_owned(),
        Op::Add => "add".to_owned(),
        Op::Sub => "sub".to_owned(),
        Op::Mul => "mul".to_owned(),
        Op::Div => "div".to_owned(),
        Op::Scale(c) => format!("scale {c}"),
        Op::Transpose => "transpose".to_owned(),
        Op::Reshape => "reshape".to_owned(),
        Op::Act(a) => a.name().to_owned(),
        Op::Softmax => "softmax".to_owned(),
        Op::LogSoftmax => "log_softmax".to_owned(),
        Op::RowReduce(r) => r.name().to_owned(),
        Op::Dropout { p, block: 1, .. } => format!("dropout {p}"),
        Op::Dropout { p, .. } => format!("dropout {p} of whole maps"),
        Op::Sum => "sum".to_owned(),
        Op::Mean => "mean".to_owned(),
        Op::Loss { kind, target } => {
            let fused = matches!(kind, Loss::SoftmaxCrossEntropy | Loss::BceWithLogits);
            let text = match target {
                TargetRef::Labels(i) => format!("{} (labels {})", kind.name(), net.targets[i].name),
                TargetRef::Dense => kind.name().to_owned(),
            };
            return (text, fused);
        }
        Op::Conv(c) => format!("conv {}×{} /{} → {}", c.kernel.0, c.kernel.1, c.stride, c.filters),
        Op::MaxPool { pool, .. } => format!("max pool {}×{} /{}", pool.size.0, pool.size.1, pool.stride),
        Op::WindowSum { pool, scale } => {
            format!("{scale} · window sum {}×{} /{}", pool.size.0, pool.size.1, pool.stride)
        }
        Op::WindowSpread { pool, scale } => format!(
            "{scale} · window spread {}×{} /{}",
            pool.size.0, pool.size.1, pool.stride
        ),
        Op::ConvInput(_) => "conv backward (input)".to_owned(),
        Op::ConvKernel(_) => "conv backward (kernel)".to_owned(),
        Op::PoolScatter { .. } => "max pool backward (scatter)".to_owned(),
        Op::PoolGather { .. } => "gather at arg-max".to_owned(),
        Op::AddN => "sum of adjoints".to_owned(),
        Op::ActGrad(a) => format!("{}′ ⊙ adjoint", a.name()),
        Op::SoftmaxGrad => "softmax backward".to_owned(),
        Op::LogSoftmaxGrad => "log_softmax backward".to_owned(),
        Op::RowReduceGrad(r) => format!("{} backward", r.name()),
        Op::MaskMul { .. } => "dropout mask ⊙ adjoint".to_owned(),
        Op::BroadcastSum { .. } => "sum over the broadcast axes".to_owned(),
        Op::Fill { mean: false } => "fill".to_owned(),
        Op::Fill { mean: true } => "fill ÷ size".to_owned(),
        Op::LossGrad { kind, .. } => {
            let fused = matches!(kind, Loss::SoftmaxCrossEntropy | Loss::BceWithLogits);
            return (format!("{} backward", kind.name()), fused);
        }
    };
    (text, false)
}
