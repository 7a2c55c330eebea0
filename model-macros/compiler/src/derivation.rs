//! The backward pass as a student would write it: one chain-rule equation per adjoint, in
//! Markdown with LaTeX math, followed by what the compiler did with it.

use std::fmt::Write;

use crate::diff::{Derivative, latex_name};
use crate::graph::Graph;
use crate::lower::Lowered;
use crate::ops::Op;
use crate::plan::Plan;
use crate::schedule::Schedule;

/// Which derivative a text describes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The gradient of the loss.
    Gradient,
    /// The Hessian-vector product, the gradient of `⟨∇L, v⟩`.
    HessianVector,
    /// The Gauss-Newton-vector product: the same with the network's curvature held constant.
    GaussNewtonVector,
}

pub fn derivation(
    net: &Lowered,
    graph: &Graph,
    derivative: &Derivative,
    plan: &Plan,
    schedule: &Schedule,
    order: Order,
) -> String {
    let mut text = String::new();
    let notation = "$B$ the batch size, $n$ the number of columns, $\\odot$ and $\\oslash$ elementwise \
         product and division, $\\mathbf{1}$ a column of ones. Each adjoint is the sum, over the users of a \
         value, of the user's adjoint times its local derivative.";
    match order {
        Order::Gradient => {
            let _ = writeln!(text, "# Backward pass of `{}`\n", net.name);
            let _ = writeln!(
                text,
                "Notation: $\\overline{{v}} = \\partial L / \\partial v$ is the adjoint of $v$, {notation}\n"
            );
        }
        Order::HessianVector | Order::GaussNewtonVector => {
            let (title, held) = match order {
                Order::GaussNewtonVector => (
                    "Gauss-Newton-vector product",
                    " For $G v = J^\\top H_\\ell J v$, the adjoints of the gradient's nodes reach the forward \
                     values and weights they read only through the losses' own gradients: the network's \
                     curvature is held constant.",
                ),
                _ => ("Hessian-vector product", ""),
            };
            let _ = writeln!(text, "# {title} of `{}`\n", net.name);
            let _ = writeln!(
                text,
                "The backward pass of the gradient's own graph: with a direction $v$ of the parameters' shapes \
                 ($\\mathrm{{v\\_w}}$ for $\\mathrm{{w}}$), $H v = \\nabla_\\theta \\langle \\nabla_\\theta L, v \\rangle$. \
                 The gradient's nodes are values here, named $t_k$ as in its plan. Notation: \
                 $\\overline{{u}} = \\partial \\langle \\nabla L, v \\rangle / \\partial u$ is the adjoint of $u$, {notation}{held}\n"
            );
        }
    }
    let _ = writeln!(text, "## Chain rule\n");
    for (id, terms) in &derivative.equations {
        let lhs = format!("\\overline{{{}}}", latex_name(graph, *id));
        let _ = writeln!(text, "$$ {lhs} = {} $$\n", terms.join(" + "));
    }
    let _ = match order {
        Order::Gradient => writeln!(text, "## Parameter gradients\n"),
        Order::HessianVector => writeln!(text, "## Hessian-vector products\n"),
        Order::GaussNewtonVector => writeln!(text, "## Gauss-Newton-vector products\n"),
    };
    for (param, &grad) in net.params.iter().zip(&derivative.param_grads) {
        let name = format!("\\mathrm{{{}}}", param.name.to_string().replace('_', "\\_"));
        let what = match order {
            Order::Gradient => format!("\\partial L / \\partial {name}"),
            Order::HessianVector => format!("(H v)_{{{name}}}"),
            Order::GaussNewtonVector => format!("(G v)_{{{name}}}"),
        };
        let _ = writeln!(
            text,
            "- ${what}$ (`{}`, `[{}]`) is $\\overline{{{name}}}$, node {grad}",
            param.name,
            param.dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        );
    }
    let mut fused: Vec<&str> = graph
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Affine { .. } => Some("matmul with bias add (bias broadcast, then gemm with β = 1)"),
            Op::MatMul { alpha, .. } if alpha != 1.0 => {
                Some("matmul with a scaled operand (the scale is the gemm's α)")
            }
            Op::Loss {
                kind: crate::ops::Loss::SoftmaxCrossEntropy,
                ..
            } => Some("softmax with cross-entropy (gradient (p − onehot(y))/B)"),
            Op::Loss {
                kind: crate::ops::Loss::BceWithLogits,
                ..
            } => Some("sigmoid with binary cross-entropy (gradient (σ(z) − t)/(Bn))"),
            _ => None,
        })
        .collect();
    fused.sort_unstable();
    let counted: Vec<String> = fused
        .chunk_by(|a, b| a == b)
        .map(|group| {
            if group.len() == 1 {
                group[0].to_owned()
            } else {
                format!("{} × {}", group.len(), group[0])
            }
        })
        .collect();
    let in_place = plan.in_place.iter().filter(|&&b| b).count();
    let accumulated = plan.accumulates.iter().filter(|&&b| b).count();
    let pass = match order {
        Order::Gradient => "training step",
        Order::HessianVector => "Hessian-vector product",
        Order::GaussNewtonVector => "Gauss-Newton-vector product",
    };
    let _ = writeln!(
        text,
        "\n## Compiled\n\n- fused: {}\n- {pass}: {} kernels, {} workspace buffers, {} computed in place, \
         {} products added onto a sum of adjoints (gemm with β = 1)\n- schedule of the output, loss and backward steps: {} \
         kernel steps, the longest chain of dependent steps {} long (the others may run beside it)\n",
        if counted.is_empty() {
            "nothing".to_owned()
        } else {
            counted.join("; ")
        },
        plan.train.len(),
        plan.buffers.len(),
        in_place,
        accumulated,
        schedule.steps.len(),
        schedule.longest_chain()
    );
    text
}
