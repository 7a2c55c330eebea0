//! From the syntax tree to the graph: names are resolved, shapes inferred and checked, and
//! every mistake is reported at the token that caused it. Lowering goes on after an error so
//! that several mistakes are reported at once; a value whose definition failed is left out
//! quietly, so one mistake does not cascade into many.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

use crate::ast::{BinOp, Expr, InitSpec, Item, Network, TargetKind, Width};
use crate::graph::{Graph, NodeId};
use crate::ops::{Act, LossKind, Op, Rows, Shape, TargetRef};

/// A parameter initialiser, as named in the runtime's `Init`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Init {
    XavierNormal,
    XavierUniform,
    He,
    Normal,
    Zeros,
    Constant(f64),
}

pub struct InputDecl {
    pub name: Ident,
    pub width: usize,
}

pub struct TargetDecl {
    pub name: Ident,
    pub kind: TargetKind,
    pub width: usize,
}

pub struct ParamDecl {
    pub name: Ident,
    pub rows: usize,
    pub cols: usize,
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
    /// Names whose definition failed (already reported): their uses are skipped quietly.
    failed: HashSet<String>,
    /// Nodes named by the definition (or declared): their labels are final.
    named: HashSet<NodeId>,
    masks: Vec<Shape>,
}

pub fn lower(network: Network) -> syn::Result<Lowered> {
    let mut cx = Lowering {
        graph: Graph::default(),
        errors: Vec::new(),
        names: HashMap::new(),
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
    };
    let mut output = None;
    let mut loss = None;
    for item in &network.items {
        match item {
            Item::Input { name, width } => {
                let node = cx.graph.add(
                    Op::Input(cx.inputs.len()),
                    vec![],
                    Shape::batch(width.value),
                    name.span(),
                );
                cx.graph.nodes[node].label = Some(name.to_string());
                if cx.define(name, Value::Node(node)) {
                    cx.inputs.push(InputDecl {
                        name: name.clone(),
                        width: width.value,
                    });
                }
            }
            Item::Target { name, kind, width } => {
                let index = cx.targets.len();
                let value = match kind {
                    TargetKind::Classes => Value::Labels(index),
                    TargetKind::Dense => {
                        let node = cx
                            .graph
                            .add(Op::Target(index), vec![], Shape::batch(width.value), name.span());
                        cx.graph.nodes[node].label = Some(name.to_string());
                        Value::Node(node)
                    }
                };
                if cx.define(name, value) {
                    cx.targets.push(TargetDecl {
                        name: name.clone(),
                        kind: *kind,
                        width: width.value,
                    });
                }
            }
            Item::Param {
                name,
                shape,
                init,
                span,
            } => {
                if !cx.declare_param(name, shape, init.as_ref(), *span) {
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
                        Some(node) if matches!(cx.graph.shape(node), Shape::Matrix(Rows::Batch, _)) => {
                            output = Some(Some(node))
                        }
                        _ => cx.error(expr.span(), "the output must be a batch of rows, `[batch, n]`"),
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
                        Some(node) if cx.graph.shape(node) == Shape::Scalar => {
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
    if cx.inputs.is_empty() {
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
    fn declare_param(&mut self, name: &Ident, shape: &[Width], init: Option<&InitSpec>, span: Span) -> bool {
        let (rows, cols) = match shape {
            [n] => (1, n.value),
            [r, c] => (r.value, c.value),
            _ => {
                self.error(
                    span,
                    "a parameter is `[n]` (a row, e.g. a bias) or `[rows, cols]` (a weight)",
                );
                return false;
            }
        };
        let init = match init {
            None if rows == 1 => Init::Zeros,
            None => Init::XavierNormal,
            Some(InitSpec::Constant(c)) => Init::Constant(*c),
            Some(InitSpec::Named(ident)) => match ident.to_string().as_str() {
                "xavier_normal" | "glorot_normal" => Init::XavierNormal,
                "xavier_uniform" | "glorot_uniform" => Init::XavierUniform,
                "he" => Init::He,
                "normal" => Init::Normal,
                "zeros" => Init::Zeros,
                other => {
                    self.error(
                        ident.span(),
                        format!("unknown initialiser `{other}`: expected xavier_normal, xavier_uniform, he, normal, zeros, constant(c) or a number"),
                    );
                    return false;
                }
            },
        };
        self.push_param(name.clone(), rows, cols, init).is_some()
    }

    fn push_param(&mut self, name: Ident, rows: usize, cols: usize, init: Init) -> Option<NodeId> {
        let node = self.graph.add(
            Op::Param(self.params.len()),
            vec![],
            Shape::fixed(rows, cols),
            name.span(),
        );
        self.graph.nodes[node].label = Some(name.to_string());
        if !self.define(&name, Value::Node(node)) {
            return None;
        }
        self.params.push(ParamDecl {
            name,
            rows,
            cols,
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
                self.error(span, format!("expected a matrix here ({what}), found a number"));
                None
            }
        }
    }

    fn expr(&mut self, expr: &Expr, line: &str) -> Option<Value> {
        match expr {
            Expr::Number(value, _) => Some(Value::Number(*value)),
            Expr::Name(ident) => {
                let key = ident.to_string();
                match self.names.get(&key) {
                    Some(&value) => {
                        self.used.insert(key);
                        Some(value)
                    }
                    None if self.failed.contains(&key) => None,
                    None if self.later.contains(&key) => {
                        self.error(
                            ident.span(),
                            format!("`{key}` is used before its definition; define it on an earlier line"),
                        );
                        None
                    }
                    None => {
                        self.error(
                            ident.span(),
                            format!("unknown name `{key}`: not an input, target, parameter or value defined above"),
                        );
                        None
                    }
                }
            }
            Expr::Neg { span, arg } => {
                let value = self.expr(arg, line)?;
                match value {
                    Value::Number(v) => Some(Value::Number(-v)),
                    _ => {
                        let node = self.operand(value, *span, "the operand of `-`")?;
                        Some(Value::Node(self.graph.scale(-1.0, node)))
                    }
                }
            }
            Expr::Binary { op, op_span, lhs, rhs } => {
                let lhs_value = self.expr(lhs, line);
                let rhs_value = self.expr(rhs, line);
                self.binary(*op, *op_span, lhs_value?, rhs_value?)
            }
            Expr::Call { func, args } => self.call(func, args, line),
        }
    }

    fn binary(&mut self, op: BinOp, span: Span, lhs: Value, rhs: Value) -> Option<Value> {
        let symbol = match op {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::MatMul => "@",
        };
        match (op, lhs, rhs) {
            (_, Value::Number(a), Value::Number(b)) => Some(Value::Number(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul | BinOp::MatMul => a * b,
                BinOp::Div => a / b,
            })),
            (BinOp::Mul, Value::Number(c), other) | (BinOp::Mul, other, Value::Number(c)) => {
                let node = self.operand(other, span, "the operand of `*`")?;
                Some(Value::Node(self.graph.scale(c, node)))
            }
            (BinOp::Div, other, Value::Number(c)) => {
                if c == 0.0 {
                    self.error(span, "division by zero");
                    return None;
                }
                let node = self.operand(other, span, "the operand of `/`")?;
                Some(Value::Node(self.graph.scale(1.0 / c, node)))
            }
            (_, Value::Number(_), _) | (_, _, Value::Number(_)) => {
                self.error(
                    span,
                    format!("`{symbol}` between a number and a matrix is not supported; only `c * x` and `x / c` are"),
                );
                None
            }
            _ => {
                let a = self.operand(lhs, span, &format!("the left operand of `{symbol}`"))?;
                let b = self.operand(rhs, span, &format!("the right operand of `{symbol}`"))?;
                self.binary_nodes(op, span, a, b).map(Value::Node)
            }
        }
    }

    fn binary_nodes(&mut self, op: BinOp, span: Span, a: NodeId, b: NodeId) -> Option<NodeId> {
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        if op == BinOp::MatMul {
            return self.matmul(span, a, b);
        }
        if op == BinOp::Div {
            self.error(
                span,
                "dividing one matrix by another is not supported; divide by a number",
            );
            return None;
        }
        let elementwise = match op {
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            _ => Op::Mul,
        };
        if sa == sb {
            return Some(self.graph.add(elementwise, vec![a, b], sa, span));
        }
        // A 1×n row broadcast over a batch: the bias add.
        let is_row = |s: Shape, cols: Option<usize>| s == Shape::Matrix(Rows::Fixed(1), cols.unwrap_or(0));
        if op != BinOp::Mul && matches!(sa, Shape::Matrix(Rows::Batch, _)) && is_row(sb, sa.cols()) {
            let row = if op == BinOp::Sub { self.graph.scale(-1.0, b) } else { b };
            return Some(self.graph.add(Op::AddRow, vec![a, row], sa, span));
        }
        if op == BinOp::Add && matches!(sb, Shape::Matrix(Rows::Batch, _)) && is_row(sa, sb.cols()) {
            return Some(self.graph.add(Op::AddRow, vec![b, a], sb, span));
        }
        let symbol = match op {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            _ => "*",
        };
        self.error(
            span,
            format!("shape mismatch in `{symbol}`: the left side is {sa} but the right side is {sb}"),
        );
        None
    }

    fn matmul(&mut self, span: Span, a: NodeId, b: NodeId) -> Option<NodeId> {
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        match (sa, sb) {
            (Shape::Matrix(rows, k), Shape::Matrix(Rows::Fixed(k2), n)) if k == k2 => {
                let node = self.graph.add(
                    Op::MatMul {
                        lhs_t: false,
                        rhs_t: false,
                    },
                    vec![a, b],
                    Shape::Matrix(rows, n),
                    span,
                );
                Some(node)
            }
            (Shape::Matrix(_, k), Shape::Matrix(Rows::Fixed(k2), _)) => {
                self.error(
                    span,
                    format!("shape mismatch in matrix product: the left side is {sa} but the right side is {sb}; the inner sizes {k} and {k2} differ"),
                );
                None
            }
            (_, Shape::Matrix(Rows::Batch, _)) => {
                self.error(span, format!("the right side of a matrix product must be a weight-like matrix, but it is {sb}: batch rows must stay rows"));
                None
            }
            _ => {
                self.error(
                    span,
                    format!("a matrix product needs two matrices, found {sa} and {sb}"),
                );
                None
            }
        }
    }

    fn call(&mut self, func: &Ident, args: &[Expr], line: &str) -> Option<Value> {
        let name = func.to_string();
        let span = func.span();
        let arity = |cx: &mut Self, expected: &[usize], usage: &str| -> bool {
            if expected.contains(&args.len()) {
                true
            } else {
                cx.error(
                    span,
                    format!(
                        "`{name}` takes {usage}, but {} argument{} given",
                        args.len(),
                        if args.len() == 1 { " was" } else { "s were" }
                    ),
                );
                false
            }
        };
        if name == "dense" {
            if !arity(
                self,
                &[2, 3],
                "2 or 3 arguments: `dense(x, units)` or `dense(x, units, init)`",
            ) {
                return None;
            }
            return self.dense(func, args, line).map(Value::Node);
        }
        let values: Vec<Option<Value>> = args.iter().map(|a| self.expr(a, line)).collect();
        if let Some(act) = Act::from_name(&name, 0.0) {
            let (expected, usage) = match act {
                Act::LeakyRelu(_) => (2, "2 arguments: `leaky_relu(x, slope)`"),
                _ => (1, "1 argument"),
            };
            if !arity(self, &[expected], usage) {
                return None;
            }
            let x = self.operand(values[0]?, args[0].span(), &format!("the argument of `{name}`"))?;
            let act = match act {
                Act::LeakyRelu(_) => match values[1]? {
                    Value::Number(slope) if slope >= 0.0 => Act::LeakyRelu(slope),
                    Value::Number(slope) => {
                        self.error(
                            args[1].span(),
                            format!("the slope of leaky_relu must be at least 0, got {slope}"),
                        );
                        return None;
                    }
                    _ => {
                        self.error(args[1].span(), "the slope of leaky_relu must be a number");
                        return None;
                    }
                },
                other => other,
            };
            if self.graph.shape(x) == Shape::Scalar {
                self.error(args[0].span(), format!("`{name}` applies to a matrix, not a scalar"));
                return None;
            }
            let shape = self.graph.shape(x);
            return Some(Value::Node(self.graph.add(Op::Act(act), vec![x], shape, span)));
        }
        if let Some(kind) = LossKind::from_name(&name) {
            if !arity(self, &[2], "2 arguments: `(prediction, target)`") {
                return None;
            }
            return self.loss(kind, func, args, values[0]?, values[1]?).map(Value::Node);
        }
        match name.as_str() {
            "softmax" | "sum" | "mean" | "transpose" => {
                if !arity(self, &[1], "1 argument") {
                    return None;
                }
                let x = self.operand(values[0]?, args[0].span(), &format!("the argument of `{name}`"))?;
                let shape = self.graph.shape(x);
                let (op, out) = match name.as_str() {
                    "softmax" if matches!(shape, Shape::Matrix(Rows::Batch, _)) => (Op::Softmax, shape),
                    "softmax" => {
                        self.error(
                            args[0].span(),
                            format!("softmax normalises each row of a batch, `[batch, n]`, but this is {shape}"),
                        );
                        return None;
                    }
                    "transpose" => {
                        if !matches!(shape, Shape::Matrix(Rows::Fixed(_), _)) {
                            self.error(
                                args[0].span(),
                                format!("only weight-like matrices can be transposed; this is {shape}"),
                            );
                            return None;
                        }
                        return Some(Value::Node(self.graph.transpose(x)));
                    }
                    _ if shape == Shape::Scalar => {
                        self.error(
                            args[0].span(),
                            format!("`{name}` reduces a matrix, but this is already a scalar"),
                        );
                        return None;
                    }
                    "sum" => (Op::Sum, Shape::Scalar),
                    _ => (Op::Mean, Shape::Scalar),
                };
                Some(Value::Node(self.graph.add(op, vec![x], out, span)))
            }
            "matmul" => {
                if !arity(self, &[2], "2 arguments") {
                    return None;
                }
                let a = self.operand(values[0]?, args[0].span(), "the left side of a matrix product")?;
                let b = self.operand(values[1]?, args[1].span(), "the right side of a matrix product")?;
                self.matmul(span, a, b).map(Value::Node)
            }
            "dropout" => {
                if !arity(self, &[2], "2 arguments: `dropout(x, p)`") {
                    return None;
                }
                let x = self.operand(values[0]?, args[0].span(), "the argument of `dropout`")?;
                let p = match values[1]? {
                    Value::Number(p) if (0.0..1.0).contains(&p) => p,
                    Value::Number(p) => {
                        self.error(
                            args[1].span(),
                            format!("the dropout probability must be in [0, 1), got {p}"),
                        );
                        return None;
                    }
                    _ => {
                        self.error(args[1].span(), "the dropout probability must be a number in [0, 1)");
                        return None;
                    }
                };
                let shape = self.graph.shape(x);
                if !matches!(shape, Shape::Matrix(Rows::Batch, _)) {
                    self.error(
                        args[0].span(),
                        format!("dropout applies to a batch `[batch, n]`, but this is {shape}"),
                    );
                    return None;
                }
                let mask = self.masks.len();
                self.masks.push(shape);
                Some(Value::Node(self.graph.add(
                    Op::Dropout { p, mask },
                    vec![x],
                    shape,
                    span,
                )))
            }
            _ => {
                self.error(
                    span,
                    format!(
                        "unknown function `{name}`: expected dense, matmul, transpose, softmax, sum, mean, dropout, an activation ({}) or a loss ({})",
                        Act::NAMES.join(", "),
                        LossKind::NAMES.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// `dense(x, n[, init])`: declares `{line}_w: [k, n]` and `{line}_b: [n]` and returns
    /// `x · w + b`. Further dense layers on the same line get `_w2`, `_b2`, ...
    fn dense(&mut self, func: &Ident, args: &[Expr], line: &str) -> Option<NodeId> {
        let x = self.expr(&args[0], line);
        let units = match &args[1] {
            Expr::Number(n, _) if *n >= 1.0 && n.fract() == 0.0 => *n as usize,
            other => {
                self.error(
                    other.span(),
                    "the number of units of `dense` must be a positive integer",
                );
                return None;
            }
        };
        let init = match args.get(2) {
            None => Init::XavierNormal,
            Some(Expr::Name(ident)) => {
                match ident.to_string().as_str() {
                    "xavier_normal" => Init::XavierNormal,
                    "xavier_uniform" => Init::XavierUniform,
                    "he" => Init::He,
                    "normal" => Init::Normal,
                    "zeros" => Init::Zeros,
                    other => {
                        self.error(ident.span(), format!("unknown initialiser `{other}`: expected xavier_normal, xavier_uniform, he, normal or zeros"));
                        return None;
                    }
                }
            }
            Some(other) => {
                self.error(other.span(), "expected an initialiser name such as `he`");
                return None;
            }
        };
        let x = self.operand(x?, args[0].span(), "the input of `dense`")?;
        let Shape::Matrix(_, fan_in) = self.graph.shape(x) else {
            self.error(args[0].span(), "`dense` maps a matrix, not a scalar");
            return None;
        };
        let suffix = (1..)
            .map(|i: usize| if i == 1 { String::new() } else { i.to_string() })
            .find(|s| {
                !self.names.contains_key(&format!("{line}_w{s}")) && !self.names.contains_key(&format!("{line}_b{s}"))
            })
            .unwrap_or_default();
        let w_name = Ident::new(&format!("{line}_w{suffix}"), func.span());
        let b_name = Ident::new(&format!("{line}_b{suffix}"), func.span());
        let w = self.push_param(w_name.clone(), fan_in, units, init)?;
        let b = self.push_param(b_name.clone(), 1, units, Init::Zeros)?;
        self.used.insert(w_name.to_string());
        self.used.insert(b_name.to_string());
        let xw = self.matmul(func.span(), x, w)?;
        let shape = self.graph.shape(xw);
        let affine = self.graph.add(Op::AddRow, vec![xw, b], shape, func.span());
        self.graph.nodes[affine].label = Some(format!("{line}_pre{suffix}"));
        Some(affine)
    }

    fn loss(
        &mut self,
        kind: LossKind,
        func: &Ident,
        args: &[Expr],
        prediction: Value,
        target: Value,
    ) -> Option<NodeId> {
        let name = kind.name();
        let x = self.operand(prediction, args[0].span(), &format!("the prediction of `{name}`"))?;
        let shape = self.graph.shape(x);
        let Shape::Matrix(Rows::Batch, cols) = shape else {
            self.error(
                args[0].span(),
                format!("`{name}` compares a batch `[batch, n]` with its target, but the prediction is {shape}"),
            );
            return None;
        };
        match target {
            Value::Labels(index) => {
                let classes = self.targets[index].width;
                if classes != cols {
                    self.error(
                        args[1].span(),
                        format!("shape mismatch in `{name}`: the prediction has {cols} columns but the target has {classes} classes"),
                    );
                    return None;
                }
                Some(self.graph.add(
                    Op::Loss {
                        kind,
                        target: TargetRef::Labels(index),
                    },
                    vec![x],
                    Shape::Scalar,
                    func.span(),
                ))
            }
            Value::Node(t) => {
                let target_shape = self.graph.shape(t);
                if target_shape != shape {
                    self.error(
                        args[1].span(),
                        format!(
                            "shape mismatch in `{name}`: the prediction is {shape} but the target is {target_shape}"
                        ),
                    );
                    return None;
                }
                if self.graph.nodes[t].tracked {
                    self.error(
                        args[1].span(),
                        format!("the target of `{name}` depends on parameters; a target must be data"),
                    );
                    return None;
                }
                Some(self.graph.add(
                    Op::Loss {
                        kind,
                        target: TargetRef::Dense,
                    },
                    vec![x, t],
                    Shape::Scalar,
                    func.span(),
                ))
            }
            Value::Number(_) => {
                self.error(
                    args[1].span(),
                    format!("the target of `{name}` must be a target or input, not a number"),
                );
                None
            }
        }
    }

    /// A parameter the loss does not depend on would never be trained.
    fn check_params_reach_loss(&mut self, loss: NodeId) {
        let mut reaches = vec![false; self.graph.nodes.len()];
        reaches[loss] = true;
        for id in (0..=loss).rev() {
            if reaches[id] {
                for &input in &self.graph.nodes[id].inputs {
                    reaches[input] = true;
                }
            }
        }
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
