//! The kernel schedule, between buffer planning and emission: the ordered list of kernel
//! invocations of the forward and backward passes over the places the plan assigned, with
//! the dependencies between them. Emission prints it; the dependencies say which kernels may
//! run at the same time (no step depends on another that is not before it).

use std::collections::BTreeMap;

use crate::graph::{Graph, NodeId};
use crate::ops::Op;
use crate::plan::{Loc, Plan};

/// Which pass a step belongs to and when it runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    /// A forward step: needed for the output, for the loss, or both. A step only the output
    /// needs runs when the output is asked for; one only the loss needs runs when a batch with
    /// targets is given.
    Forward { output: bool, loss: bool },
    /// A step of the backward pass.
    Backward,
}

/// What a kernel reads or writes: a planned location, a dropout mask, a max pooling's
/// arg-maxes, or the scratch buffer convolutions copy their patches into.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Place {
    Buffer(usize),
    Grad(usize),
    Scalar(NodeId),
    Mask(usize),
    Argmax(usize),
    Columns,
}

/// One kernel invocation: the node it computes.
#[derive(Clone, Debug)]
pub struct Step {
    pub node: NodeId,
    pub phase: Phase,
    /// The earlier steps this one must follow: the last writer of every place it reads or
    /// writes, and every reader of a place it overwrites since that place was last written.
    pub after: Vec<usize>,
}

pub struct Schedule {
    pub steps: Vec<Step>,
}

impl Schedule {
    /// The number of steps in the longest chain of dependent steps: the length of the pass
    /// when every step that may run beside others does.
    pub fn longest_chain(&self) -> usize {
        let mut depth = vec![0usize; self.steps.len()];
        for (i, step) in self.steps.iter().enumerate() {
            depth[i] = 1 + step.after.iter().map(|&a| depth[a]).max().unwrap_or(0);
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// For each step, the parameters whose gradients it finishes: it writes their gradient's
    /// place, and no later step does. Every parameter whose gradient has a place of its own
    /// is listed once; the others' gradients are copied into place after the pass.
    pub fn finished_gradients(&self, graph: &Graph, plan: &Plan) -> BTreeMap<usize, Vec<usize>> {
        let mut last = BTreeMap::new();
        for (index, step) in self.steps.iter().enumerate() {
            for place in places(graph, plan, step.node).1 {
                if let Place::Grad(param) = place {
                    last.insert(param, index);
                }
            }
        }
        let mut finished: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (param, index) in last {
            finished.entry(index).or_default().push(param);
        }
        finished
    }

    /// The weight updates of plain gradient descent that can be folded into the product
    /// computing the weight's gradient, `W ← βW − α·op(A)·op(B)` (gemm with β = 1 − αλ): by
    /// step, the parameter it updates in place. A parameter qualifies when one product alone
    /// writes its gradient (not added onto other terms) and every step reading the parameter
    /// comes before it, so no later step sees the updated value.
    pub fn folded_updates(&self, graph: &Graph, plan: &Plan) -> BTreeMap<usize, usize> {
        let mut writers: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut last_read: BTreeMap<usize, usize> = BTreeMap::new();
        for (index, step) in self.steps.iter().enumerate() {
            let (reads, writes) = places(graph, plan, step.node);
            for place in writes.into_iter().chain(reads) {
                if let Place::Grad(param) = place {
                    writers.entry(param).or_default().push(index);
                }
            }
            for &input in &graph.nodes[step.node].inputs {
                if let Some(Loc::Param(param)) = plan.loc[input] {
                    last_read.insert(param, index);
                }
            }
        }
        writers
            .into_iter()
            .filter_map(|(param, steps)| {
                let &[step] = steps.as_slice() else { return None };
                let node = self.steps[step].node;
                let product = matches!(graph.nodes[node].op, Op::MatMul { .. }) && !plan.accumulates[node];
                (product && last_read.get(&param).is_none_or(|&read| read < step)).then_some((step, param))
            })
            .collect()
    }
}

/// The places the kernel of `id` reads and writes.
pub fn places(graph: &Graph, plan: &Plan, id: NodeId) -> (Vec<Place>, Vec<Place>) {
    let node = &graph.nodes[id];
    let mut reads: Vec<Place> = node.inputs.iter().filter_map(|&i| place(plan.loc[i])).collect();
    let mut writes: Vec<Place> = place(plan.loc[id]).into_iter().collect();
    if plan.accumulates[id] {
        // β = 1: the product adds itself onto what the place holds.
        reads.extend(writes.iter().copied());
    }
    match node.op {
        Op::Dropout { mask, .. } => writes.push(Place::Mask(mask)),
        Op::MaskMul { mask } => reads.push(Place::Mask(mask)),
        Op::MaxPool { argmax, .. } => writes.push(Place::Argmax(argmax)),
        Op::PoolScatter { argmax, .. } | Op::PoolGather { argmax, .. } => reads.push(Place::Argmax(argmax)),
        Op::Conv(_) | Op::ConvInput(_) | Op::ConvKernel(_) => writes.push(Place::Columns),
        _ => {}
    }
    (reads, writes)
}

fn place(loc: Option<Loc>) -> Option<Place> {
    match loc? {
        Loc::Buffer(b) => Some(Place::Buffer(b)),
        Loc::Grad(i) => Some(Place::Grad(i)),
        Loc::Scalar(id) => Some(Place::Scalar(id)),
        Loc::Param(_) | Loc::Direction(_) | Loc::Input(_) | Loc::Target(_) | Loc::Constant => None,
    }
}

/// The schedule of a plan: the forward steps (the output's and the loss's values in graph
/// order), then the backward steps (the rest of the training schedule).
pub fn schedule(graph: &Graph, plan: &Plan) -> Schedule {
    let mut forward: Vec<NodeId> = plan.eval.iter().chain(&plan.loss).copied().collect();
    forward.sort_unstable();
    forward.dedup();
    let backward = plan.train.iter().filter(|id| !plan.loss.contains(id)).copied();
    let phased = forward
        .iter()
        .map(|&id| {
            let phase = Phase::Forward {
                output: plan.eval.contains(&id),
                loss: plan.loss.contains(&id),
            };
            (id, phase)
        })
        .chain(backward.map(|id| (id, Phase::Backward)));

    let mut steps: Vec<Step> = Vec::new();
    let mut last_writer: BTreeMap<Place, usize> = BTreeMap::new();
    let mut readers: BTreeMap<Place, Vec<usize>> = BTreeMap::new();
    for (id, phase) in phased {
        let (reads, writes) = places(graph, plan, id);
        let mut after: Vec<usize> = reads
            .iter()
            .chain(&writes)
            .filter_map(|p| last_writer.get(p).copied())
            .collect();
        for p in &writes {
            after.extend(readers.get(p).into_iter().flatten().copied());
        }
        let index = steps.len();
        after.sort_unstable();
        after.dedup();
        for &p in &reads {
            readers.entry(p).or_default().push(index);
        }
        for &p in &writes {
            last_writer.insert(p, index);
            readers.insert(p, Vec::new());
        }
        steps.push(Step { node: id, phase, after });
    }
    Schedule { steps }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    use super::{Schedule, places, schedule};
    use crate::graph::Graph;
    use crate::plan::Plan;
    use crate::{ast, diff, fuse, lower, plan};

    fn compile(source: &str) -> (Graph, Plan, Schedule) {
        let network: ast::Network = syn::parse2(TokenStream::from_str(source).unwrap()).unwrap();
        let lowered = lower::lower(network).unwrap();
        let (mut graph, map) = fuse::fuse(&lowered.graph);
        let params: Vec<usize> = lowered.params.iter().map(|p| map[p.node]).collect();
        let labels: Vec<String> = lowered.targets.iter().map(|t| t.name.to_string()).collect();
        let derivative = diff::differentiate(&mut graph, map[lowered.loss], &params, &labels);
        let plan = plan::plan(&graph, map[lowered.output], map[lowered.loss], &derivative.param_grads);
        let schedule = schedule(&graph, &plan);
        (graph, plan, schedule)
    }

    /// In an MLP every weight's gradient is one product after the weight's last read (the
    /// product for the layer below, which reads it, comes first), so gradient descent updates
    /// every weight inside its product; a weight used twice (tied) is not folded.
    #[test]
    fn an_mlps_weight_updates_fold_into_their_products() {
        let (graph, plan, schedule) = compile(
            "struct A { input x: [4]; target y: classes[3]; h = relu(dense(x, 6)); \
             z = dense(h, 3); output softmax(z); loss cross_entropy(softmax(z), y); }",
        );
        let folded: Vec<usize> = schedule.folded_updates(&graph, &plan).into_values().collect();
        // Parameters in order: h's weight and bias, z's weight and bias.
        assert_eq!(folded, [2, 0]);
        let (graph, plan, schedule) = compile(
            "struct B { input x: [5]; param w1: [5, 4]; param w2: [4, 2]; e1 = relu(x @ w1); \
             e2 = tanh(e1 @ w2); deep = relu(e2 @ transpose(w2)) @ transpose(w1); output deep; \
             loss mse(deep, x); }",
        );
        assert!(schedule.folded_updates(&graph, &plan).is_empty());
    }

    /// Whether step `to` follows step `from` through the dependencies.
    fn follows(schedule: &Schedule, from: usize, to: usize) -> bool {
        let mut stack = vec![to];
        let mut seen = vec![false; schedule.steps.len()];
        while let Some(s) = stack.pop() {
            if s == from {
                return true;
            }
            for &a in &schedule.steps[s].after {
                if !seen[a] {
                    seen[a] = true;
                    stack.push(a);
                }
            }
        }
        false
    }

    /// Every step depends only on earlier steps, and follows the steps computing its inputs:
    /// any order the dependencies allow computes what the sequential order does.
    #[test]
    fn every_step_follows_the_steps_of_its_inputs() {
        let networks = [
            "struct A { input x: [4]; target y: classes[3]; h = dropout(relu(dense(x, 6)), 0.3); \
             z = dense(h, 3); output softmax(z); loss cross_entropy(softmax(z), y); }",
            "struct B { input x: [5]; param w1: [5, 4]; param w2: [4, 2]; e1 = relu(x @ w1); \
             e2 = tanh(e1 @ w2); shallow = e1 @ transpose(w1); \
             deep = relu(e2 @ transpose(w2)) @ transpose(w1); output deep; \
             loss mse(deep, x) + 0.5 * mse(shallow, x); }",
            "struct C { input x: [4]; target t: [3]; h1 = relu(dense(x, 5)); \
             h2 = h1 + relu(dense(h1, 5)); out = dense(h2, 3); output out; \
             loss mse(out, t) * mae(out, t) + 0.1 * mean(square(h2)); }",
        ];
        for source in networks {
            let (graph, plan, schedule) = compile(source);
            let places: Vec<_> = schedule.steps.iter().map(|s| places(&graph, &plan, s.node)).collect();
            let step_of: std::collections::BTreeMap<usize, usize> =
                schedule.steps.iter().enumerate().map(|(i, s)| (s.node, i)).collect();
            for (i, step) in schedule.steps.iter().enumerate() {
                assert!(
                    step.after.iter().all(|&a| a < i),
                    "{source}: step {i} depends on a later one"
                );
                for input in &graph.nodes[step.node].inputs {
                    if let Some(&producer) = step_of.get(input) {
                        assert!(
                            follows(&schedule, producer, i),
                            "{source}: step {i} does not follow the step computing its input"
                        );
                    }
                }
                // A step that overwrites a place follows every earlier reader of it.
                for place in &places[i].1 {
                    for (j, (reads, _)) in places[..i].iter().enumerate() {
                        if reads.contains(place) {
                            assert!(
                                follows(&schedule, j, i),
                                "{source}: step {i} overwrites {place:?} read by {j}"
                            );
                        }
                    }
                }
            }
        }
    }
}
