//! From the syntax tree to the graph: names are resolved, shapes inferred and checked, and
//! every mistake is reported at the token that caused it. Lowering goes on after an error so
//! that several mistakes are reported at once; a value whose definition failed is left out
//! quietly, so one mistake does not cascade into many.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

use crate::ast::{Dims, InitSpec, Item, Network, TargetKind};

mod calls;
mod expr;
mod spatial;
use crate::graph::{Graph, NodeId};
use crate::ops::{Init, MAX_ELEMENTS, MAX_ELEMENTS_WORDS, MAX_RANK, Op, Shape};

pub struct InputDecl {
    pub name: Ident,
    /// `[batch, d1, …, dk]`.
    pub shape: Shape,
}

pub struct TargetDecl {
    pub name: Ident,
    pub kind: TargetKind,
    /// The number of classes, or the values per sample of a dense target.
    pub width: usize,
    /// `[batch, d1, …, dk]` for a dense target.
    pub shape: Shape,
}

pub struct ParamDecl {
    pub name: Ident,
    pub dims: Vec<usize>,
    pub init: Init,
    pub node: NodeId,
}

/// The network as a graph, with everything the later phases need to know about its names.
pub struct Lowered {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub graph: Graph,
    pub inputs: Vec<InputDecl>,
    pub targets: Vec<TargetDecl>,
    pub params: Vec<ParamDecl>,
    /// The shape of each dropout mask, by mask index.
    pub masks: Vec<Shape>,
    /// The output shape of each max pooling, whose arg-maxes have a buffer of that size.
    pub argmaxes: Vec<Shape>,
    pub output: NodeId,
    pub loss: NodeId,
}

/// What a name or expression stands for.
#[derive(Clone, Copy)]
enum Value {
    Node(NodeId),
    Labels(usize),
    Number(f64),
}

struct Lowering {
    graph: Graph,
    errors: Vec<syn::Error>,
    names: HashMap<String, Value>,
    /// Names of values defined by a later statement: for "used before its definition".
    later: HashSet<String>,
    inputs: Vec<InputDecl>,
    targets: Vec<TargetDecl>,
    params: Vec<ParamDecl>,
    used: HashSet<String>,
    /// Parameters declared by `dense` (not by `param`).
    generated: HashSet<String>,
    /// Names whose definition failed (already reported): their uses are skipped quietly.
    failed: HashSet<String>,
    /// Nodes named by the definition (or declared): their labels are final.
    named: HashSet<NodeId>,
    masks: Vec<Shape>,
    argmaxes: Vec<Shape>,
}

/// The most operations (nodes of the forward graph) a definition may have. A sum of 1,000
/// `dense` layers (5,002 operations, 10 MB of generated code) compiles, in two minutes; a sum
/// of 3,000 overflows rustc's stack.
pub(crate) const MAX_OPERATIONS: usize = 6_000;

pub fn lower(network: Network) -> syn::Result<Lowered> {
    let mut cx = Lowering {
        graph: Graph::default(),
        errors: Vec::new(),
        names: HashMap::new(),
        generated: HashSet::new(),
        later: network
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Let { name, .. } => Some(name.to_string()),
                _ => None,
            })
            .collect(),
        inputs: Vec::new(),
        targets: Vec::new(),
        params: Vec::new(),
        used: HashSet::new(),
        named: HashSet::new(),
        failed: HashSet::new(),
        masks: Vec::new(),
        argmaxes: Vec::new(),
    };
    let mut output = None;
    let mut loss = None;
    for item in &network.items {
        match item {
            Item::Input { name, dims } => {
                let Some(shape) = cx.shape(dims, true) else {
                    cx.failed.insert(name.to_string());
                    continue;
                };
                let node = cx.graph.add(Op::Input(cx.inputs.len()), vec![], shape, name.span());
                cx.graph.nodes[node].label = Some(name.to_string());
                if cx.define(name, Value::Node(node)) {
                    cx.inputs.push(InputDecl {
                        name: name.clone(),
                        shape,
                    });
                }
            }
            Item::Target { name, kind, dims } => {
                let Some(shape) = cx.shape(dims, true) else {
                    cx.failed.insert(name.to_string());
                    continue;
                };
                let index = cx.targets.len();
                let value = match kind {
                    TargetKind::Classes => Value::Labels(index),
                    TargetKind::Dense => {
                        let node = cx.graph.add(Op::Target(index), vec![], shape, name.span());
                        cx.graph.nodes[node].label = Some(name.to_string());
                        Value::Node(node)
                    }
                };
                if cx.define(name, value) {
                    cx.targets.push(TargetDecl {
                        name: name.clone(),
                        kind: *kind,
                        width: shape.size(),
                        shape,
                    });
                }
            }
            Item::Param { name, dims, init } => {
                if !cx.declare_param(name, dims, init.as_ref()) {
                    cx.failed.insert(name.to_string());
                }
            }
            Item::Let { name, expr } => {
                cx.later.remove(&name.to_string());
                let value = cx.expr(expr, &name.to_string());
                if value.is_none() {
                    cx.failed.insert(name.to_string());
                }
                if let Some(value) = value {
                    if let Value::Node(node) = value
                        && cx.named.insert(node)
                    {
                        cx.graph.nodes[node].label = Some(name.to_string());
                    }
                    cx.define(name, value);
                }
            }
            Item::Output { keyword, expr } => {
                if output.is_some() {
                    cx.error(*keyword, "a network has one `output`; this is a second one");
                    continue;
                }
                output = Some(None);
                if let Some(value) = cx.expr(expr, "output") {
                    match cx.node_of(value) {
                        Some(node) if cx.graph.op(node).is_leaf() => cx.error(
                            expr.span(),
                            "the output must be computed from the inputs, not be an input or target itself",
                        ),
                        Some(node) if cx.graph.shape(node).is_batch() => output = Some(Some(node)),
                        _ => cx.error(
                            expr.span(),
                            "the output must hold one value per sample, `[batch, n]` or `[batch, d1, …, dk]`",
                        ),
                    }
                }
            }
            Item::Loss { keyword, expr } => {
                if loss.is_some() {
                    cx.error(
                        *keyword,
                        "a network has one `loss`; add the terms into one expression instead",
                    );
                    continue;
                }
                loss = Some(None);
                if let Some(value) = cx.expr(expr, "loss") {
                    match cx.node_of(value) {
                        Some(node) if cx.graph.shape(node) == Shape::SCALAR => {
                            if cx.graph.nodes[node].tracked {
                                if cx.named.insert(node) {
                                    cx.graph.nodes[node].label = Some("L".to_owned());
                                }
                                loss = Some(Some(node));
                            } else {
                                cx.error(
                                    expr.span(),
                                    "the loss does not depend on any parameter: there is nothing to train",
                                );
                            }
                        }
                        Some(node) => {
                            let shape = cx.graph.shape(node);
                            cx.error(
                                expr.span(),
                                format!("the loss must be a scalar, but this is {shape}; reduce it with a loss function, `sum` or `mean`"),
                            )
                        }
                        None => cx.error(expr.span(), "the loss must be a scalar expression"),
                    }
                }
            }
        }
    }
    let end = network.name.span();
    let declared = |item: &Item| matches!(item, Item::Input { .. });
    if !network.items.iter().any(declared) {
        cx.error(end, "the network has no `input`: declare one with `input x: [n];`");
    }
    if output.is_none() {
        cx.error(end, "the network has no `output`: add `output <expression>;`");
    }
    if loss.is_none() {
        cx.error(
            end,
            "the network has no `loss`: add `loss <scalar expression>;`, e.g. `loss cross_entropy(softmax(z), y);`",
        );
    }
    for input in &cx.inputs {
        if !cx.used.contains(&input.name.to_string()) {
            cx.errors.push(syn::Error::new(
                input.name.span(),
                format!("input `{}` is declared but never used", input.name),
            ));
        }
    }
    for param in &cx.params {
        if !cx.used.contains(&param.name.to_string()) {
            cx.errors.push(syn::Error::new(
                param.name.span(),
                format!("parameter `{}` is declared but never used", param.name),
            ));
        }
    }
    if cx.graph.nodes.len() > MAX_OPERATIONS {
        cx.error(
            network.name.span(),
            format!(
                "`{}` has {} operations; at most {MAX_OPERATIONS} are supported (the generated code grows \
                 with each, and much larger definitions exhaust the compiler)",
                network.name,
                cx.graph.nodes.len()
            ),
        );
    }
    if let (Some(Some(output)), Some(Some(loss))) = (output, loss) {
        if cx.errors.is_empty() {
            cx.check_params_reach_loss(loss);
        }
        if let Some(error) = cx.errors.into_iter().reduce(|mut all, e| {
            all.combine(e);
            all
        }) {
            return Err(error);
        }
        return Ok(Lowered {
            attrs: network.attrs,
            vis: network.vis,
            name: network.name,
            graph: cx.graph,
            inputs: cx.inputs,
            targets: cx.targets,
            params: cx.params,
            masks: cx.masks,
            argmaxes: cx.argmaxes,
            output,
            loss,
        });
    }
    Err(cx
        .errors
        .into_iter()
        .reduce(|mut all, e| {
            all.combine(e);
            all
        })
        .unwrap_or_else(|| syn::Error::new(end, "the network is incomplete")))
}

impl Lowering {
    fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// Binds a name; reports (and returns false for) a name defined twice.
    fn define(&mut self, name: &Ident, value: Value) -> bool {
        let key = name.to_string();
        if self.names.contains_key(&key) {
            self.error(
                name.span(),
                format!("`{name}` is defined twice; give this value another name"),
            );
            return false;
        }
        self.names.insert(key, value);
        true
    }

    /// Declares a parameter; false if the declaration was reported as wrong.
    /// The shape `[batch, d1, …, dk]` (or `[d1, …, dk]`) of declared sizes.
    fn shape(&mut self, dims: &Dims, batch: bool) -> Option<Shape> {
        let shape = if batch {
            Shape::of_batch(&dims.sizes)
        } else {
            Shape::of(&dims.sizes)
        };
        match shape {
            None => self.error(
                dims.span,
                format!(
                    "{} sizes are more than a value may have: at most {MAX_RANK} besides the batch",
                    dims.sizes.len()
                ),
            ),
            Some(shape) if shape.size() > MAX_ELEMENTS => {
                self.error(
                    dims.span,
                    format!("{shape} is too large: a value or parameter has {MAX_ELEMENTS_WORDS}"),
                );
                return None;
            }
            Some(_) => {}
        }
        shape
    }

    fn declare_param(&mut self, name: &Ident, dims: &Dims, init: Option<&InitSpec>) -> bool {
        let Some(shape) = self.shape(dims, false) else {
            return false;
        };
        let init = match init {
            // A vector in any orientation (`[n]`, a per-channel `[c, 1, 1]`) is a bias.
            None if dims.sizes.iter().filter(|&&d| d > 1).count() <= 1 => Init::Zeros,
            None => Init::XavierNormal,
            Some(InitSpec::Constant(c)) => Init::Constant(*c),
            Some(InitSpec::Named(ident)) => match Init::from_name(&ident.to_string()) {
                Some(init) => init,
                None => {
                    let mut names = Init::all_names();
                    names.push("constant(c)");
                    self.error(
                        ident.span(),
                        format!(
                            "unknown initialiser `{ident}`: expected {}, or a number",
                            symgrad_ops::list(&names)
                        ),
                    );
                    return false;
                }
            },
        };
        self.push_param(name.clone(), shape, init).is_some()
    }

    fn push_param(&mut self, name: Ident, shape: Shape, init: Init) -> Option<NodeId> {
        let node = self.graph.add(Op::Param(self.params.len()), vec![], shape, name.span());
        self.graph.nodes[node].label = Some(name.to_string());
        if !self.define(&name, Value::Node(node)) {
            return None;
        }
        self.params.push(ParamDecl {
            name,
            dims: shape.dims().to_vec(),
            init,
            node,
        });
        Some(node)
    }

    fn node_of(&self, value: Value) -> Option<NodeId> {
        match value {
            Value::Node(node) => Some(node),
            _ => None,
        }
    }

    /// A matrix or scalar operand; reports numbers and labels used where a value is needed.
    fn operand(&mut self, value: Value, span: Span, what: &str) -> Option<NodeId> {
        match value {
            Value::Node(node) => Some(node),
            Value::Labels(_) => {
                self.error(
                    span,
                    format!("class labels can only be the target of a loss, not {what}"),
                );
                None
            }
            Value::Number(_) => {
                self.error(span, format!("expected an array here ({what}), found a number"));
                None
            }
        }
    }
    /// A parameter the loss does not depend on would never be trained.
    fn check_params_reach_loss(&mut self, loss: NodeId) {
        let reaches = self.graph.reaches(&[loss]);
        let unreached: Vec<(Span, String)> = self
            .params
            .iter()
            .filter(|p| !reaches[p.node])
            .map(|p| (p.name.span(), p.name.to_string()))
            .collect();
        for (span, name) in unreached {
            self.error(
                span,
                format!("parameter `{name}` does not affect the loss, so it would never be trained"),
            );
        }
    }
}
