//! Buffer planning: which computed value lives where.
//!
//! Three schedules run over one graph: evaluation (the ancestors of the output), the loss (the
//! ancestors of the loss) and the training step (the loss and every parameter's adjoint). Each
//! is the graph's own order restricted to what it needs. Buffers are assigned once, by a linear
//! scan over the union of the three: a buffer returns to a pool of its stored matrix's shape
//! ([`Shape::matrix`]: `[batch, 2, 3]` and `[batch, 6]` share) after the last
//! read of its value, an elementwise op overwrites its input in place when that input is read
//! for the last time, and each parameter's adjoint is written straight into the gradient
//! struct; a matrix product that is a term of a sum of adjoints adds itself onto the sum's
//! buffer (gemm with `β = 1`). Since each schedule is a subsequence of the union, lifetimes in
//! it are sub-intervals of those planned, so the assignment is valid for all three. The forward values the backward
//! pass reads are exactly those whose lifetime reaches into it; everything else is reused.

use std::collections::BTreeSet;

use crate::graph::{Graph, NodeId};
use crate::ops::{Op, Shape};

/// Where a node's value lives at run time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Loc {
    /// Workspace buffer `i`.
    Buffer(usize),
    /// Parameter `i` of the network.
    Param(usize),
    /// Parameter `i` of the gradient (of `H·v` in a Hessian-vector product).
    Grad(usize),
    /// Parameter `i`'s part of the direction of a Hessian-vector product.
    Direction(usize),
    /// Input `i` of the batch.
    Input(usize),
    /// Dense target `i` of the batch.
    Target(usize),
    /// A scalar in the workspace, named after the node.
    Scalar(NodeId),
    /// A scalar constant.
    Constant,
}

pub struct Plan {
    pub output: NodeId,
    pub loss_node: NodeId,
    pub loc: Vec<Option<Loc>>,
    /// Whether the node overwrites the buffer of its in-place input.
    pub in_place: Vec<bool>,
    /// Whether the node, a matrix product that is one term of a sum of adjoints, adds itself
    /// onto the sum's buffer (gemm with `β = 1`) instead of being written and summed.
    pub accumulates: Vec<bool>,
    /// The shape of each workspace buffer (of its first value; see [`Shape::matrix`]).
    pub buffers: Vec<Shape>,
    /// The values each buffer holds, in the order they are written.
    pub buffer_values: Vec<Vec<NodeId>>,
    pub eval: Vec<NodeId>,
    pub loss: Vec<NodeId>,
    pub train: Vec<NodeId>,
    /// Parameters whose adjoint is a value living elsewhere: copied into the gradient.
    pub grad_copies: Vec<(usize, NodeId)>,
}

/// The nodes `roots` depend on, in graph order, leaves excluded.
fn ancestors(graph: &Graph, roots: &[NodeId]) -> Vec<NodeId> {
    let needed = graph.reaches(roots);
    (0..graph.nodes.len())
        .filter(|&id| needed[id] && !graph.nodes[id].op.is_leaf())
        .collect()
}

pub fn plan(graph: &Graph, output: NodeId, loss: NodeId, param_grads: &[NodeId]) -> Plan {
    let n = graph.nodes.len();
    let eval = ancestors(graph, &[output]);
    let loss_schedule = ancestors(graph, &[loss]);
    let mut roots = vec![loss];
    roots.extend_from_slice(param_grads);
    let train = ancestors(graph, &roots);
    let union: Vec<NodeId> = eval
        .iter()
        .chain(&loss_schedule)
        .chain(&train)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let mut users: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for &id in &union {
        for &input in &graph.nodes[id].inputs {
            if !users[input].contains(&id) {
                users[input].push(id);
            }
        }
    }
    let forward: BTreeSet<NodeId> = eval.iter().chain(&loss_schedule).copied().collect();
    let mut last_use = vec![None::<usize>; n];
    for (pos, &id) in union.iter().enumerate() {
        for &input in &graph.nodes[id].inputs {
            last_use[input] = Some(pos);
        }
    }

    let mut loc: Vec<Option<Loc>> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(id, node)| match node.op {
            Op::Input(i) => Some(Loc::Input(i)),
            Op::Target(i) => Some(Loc::Target(i)),
            Op::Param(i) => Some(Loc::Param(i)),
            Op::Direction(i) => Some(Loc::Direction(i)),
            Op::Constant(_) => Some(Loc::Constant),
            _ if node.shape == Shape::SCALAR => Some(Loc::Scalar(id)),
            _ => None,
        })
        .collect();
    let mut grad_copies = Vec::new();
    for (param, &grad) in param_grads.iter().enumerate() {
        if loc[grad].is_none() {
            loc[grad] = Some(Loc::Grad(param));
        } else {
            grad_copies.push((param, grad));
        }
    }

    let mut in_place = vec![false; n];
    let mut accumulates = vec![false; n];
    let mut buffers: Vec<Shape> = Vec::new();
    let mut buffer_values: Vec<Vec<NodeId>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    for (pos, &id) in union.iter().enumerate() {
        let node = &graph.nodes[id];
        // The sums of adjoints that are a parameter's gradient run in place in the gradient:
        // their first term is written there.
        if loc[id].is_none()
            && !forward.contains(&id)
            && let [sum] = users[id][..]
            && graph.nodes[sum].op == Op::AddN
            && graph.nodes[sum].inputs.first() == Some(&id)
            && graph.nodes[sum].inputs.iter().filter(|&&t| t == id).count() == 1
            && let Some(grad @ Loc::Grad(_)) = loc[sum]
        {
            loc[id] = Some(grad);
            in_place[sum] = true;
        }
        // A product whose one user is a sum of adjoints, not its first term, whose first term
        // has no other user: it is added onto the first term's buffer or gradient (gemm with
        // `β = 1`), and the sum is that buffer or gradient, in place.
        if loc[id].is_none()
            && matches!(node.op, Op::MatMul { .. })
            && !forward.contains(&id)
            && let [sum] = users[id][..]
            && graph.nodes[sum].op == Op::AddN
            && let Some(&first) = graph.nodes[sum].inputs.first()
            && first != id
            && users[first] == [sum]
            && graph.nodes[sum].inputs.iter().filter(|&&t| t == first).count() == 1
            && let Some(target) = loc[first]
            && (loc[sum].is_none() || loc[sum] == Some(target))
            && match target {
                Loc::Buffer(b) => buffers[b].matrix() == node.shape.matrix(),
                Loc::Grad(_) => true,
                _ => false,
            }
        {
            accumulates[id] = true;
            if let Loc::Buffer(b) = target {
                buffer_values[b].push(id);
                if loc[sum].is_none() {
                    buffer_values[b].push(sum);
                }
            }
            loc[id] = Some(target);
            loc[sum] = Some(target);
            in_place[sum] = true;
        }
        if loc[id].is_none() {
            let reuse = node.op.in_place_input().and_then(|i| {
                let input = node.inputs[i];
                // The output must survive a pass that computes both it and the loss, so it is
                // never overwritten in place.
                let sole_read = node.inputs.iter().filter(|&&j| j == input).count() == 1 && input != output;
                match loc[input] {
                    Some(Loc::Buffer(b))
                        if sole_read && last_use[input] == Some(pos) && buffers[b].matrix() == node.shape.matrix() =>
                    {
                        Some(b)
                    }
                    _ => None,
                }
            });
            let buffer = match reuse {
                Some(b) => {
                    in_place[id] = true;
                    b
                }
                None => match free.iter().position(|&b| buffers[b].matrix() == node.shape.matrix()) {
                    Some(slot) => free.swap_remove(slot),
                    None => {
                        buffers.push(node.shape);
                        buffer_values.push(Vec::new());
                        buffers.len() - 1
                    }
                },
            };
            buffer_values[buffer].push(id);
            loc[id] = Some(Loc::Buffer(buffer));
        }
        let mut seen = BTreeSet::new();
        for &input in &node.inputs {
            if !seen.insert(input) || last_use[input] != Some(pos) || input == output {
                continue;
            }
            if let Some(Loc::Buffer(b)) = loc[input]
                && loc[id] != Some(Loc::Buffer(b))
            {
                free.push(b);
            }
        }
    }
    Plan {
        output,
        loss_node: loss,
        loc,
        in_place,
        accumulates,
        buffers,
        buffer_values,
        eval,
        loss: loss_schedule,
        train,
        grad_copies,
    }
}
