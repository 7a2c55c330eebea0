//! Expressions: names, numbers, operators, and the shape rules of products and sums.

use proc_macro2::Span;

use super::{Lowering, Value};
use crate::ast::{BinOp, Expr};
use crate::graph::NodeId;
use crate::ops::{Op, Rows, Shape};

impl Lowering {
    pub(super) fn expr(&mut self, expr: &Expr, line: &str) -> Option<Value> {
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
            Expr::Call { func, args, options } => self.call(func, args, options, line),
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
                    format!("`{symbol}` between a number and an array is not supported; only `c * x` and `x / c` are"),
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
        let elementwise = match op {
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            BinOp::Mul => Op::Mul,
            _ => Op::Div,
        };
        if sa == sb {
            return Some(self.graph.add(elementwise, vec![a, b], sa, span));
        }
        // A smaller operand broadcast over the other (a bias row, a per-channel vector): `X ± b`
        // is `X + (±b)`, `b + X` is `X + b` and `b − X` is `(−X) + b`.
        if matches!(op, BinOp::Add | BinOp::Sub) {
            if let Some(inner) = sa.broadcast(sb) {
                let small = if op == BinOp::Sub { self.graph.scale(-1.0, b) } else { b };
                return Some(self.graph.add(Op::AddBroadcast { inner }, vec![a, small], sa, span));
            }
            if let Some(inner) = sb.broadcast(sa) {
                let big = if op == BinOp::Sub { self.graph.scale(-1.0, b) } else { b };
                return Some(self.graph.add(Op::AddBroadcast { inner }, vec![big, a], sb, span));
            }
        }
        let symbol = match op {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            _ => "/",
        };
        let hint = match op {
            BinOp::Add | BinOp::Sub if !(sa.is_batch() && sb.is_batch()) => {
                "; a smaller operand broadcasts when its sizes match the other's last axes or are 1 (a per-channel vector over `[batch, c, h, w]` is `[c, 1, 1]`)"
            }
            BinOp::Mul | BinOp::Div => "; `*` and `/` take operands of one shape",
            _ => "",
        };
        self.error(
            span,
            format!("shape mismatch in `{symbol}`: the left side is {sa} but the right side is {sb}{hint}"),
        );
        None
    }

    /// The sizes of the maps `a` flattens, if it is a flattening of a batch of several axes.
    fn flattened_maps(&self, a: NodeId) -> Option<Vec<usize>> {
        let node = &self.graph.nodes[a];
        let input = self.graph.shape(*node.inputs.first()?);
        (node.op == Op::Reshape && node.shape.dims().len() == 1 && input.dims().len() > 1)
            .then(|| input.dims().to_vec())
    }

    pub(super) fn matmul(&mut self, span: Span, a: NodeId, b: NodeId) -> Option<NodeId> {
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        // As stored: a row `[n]` is the matrix `[1, n]`.
        let (Rows::Fixed(k2), n) = sb.matrix() else {
            self.error(span, format!("the right side of a matrix product must be a weight-like matrix, but it is {sb}: batch rows must stay rows"));
            return None;
        };
        if !(sa.is_batch_of_vectors() || sa.is_fixed_matrix()) || !sb.is_fixed_matrix() {
            self.error(
                span,
                format!("a matrix product takes a batch of vectors `[batch, n]` or a matrix on the left and a matrix on the right, found {sa} and {sb}"),
            );
            return None;
        }
        let (rows, k) = sa.matrix();
        if k2 != k {
            let message = match self.flattened_maps(a) {
                Some(maps) => {
                    let sizes: Vec<String> = maps.iter().map(usize::to_string).collect();
                    let right = match &self.graph.nodes[b].label {
                        Some(name) => format!("`{name}`"),
                        None => "the right side".to_owned(),
                    };
                    format!(
                        "`flatten` gives {} = {k} features, but {right} is {sb} and expects {k2}",
                        sizes.join(" × ")
                    )
                }
                None => format!(
                    "shape mismatch in matrix product: the left side is {sa} but the right side is {sb}; the inner sizes {k} and {k2} differ"
                ),
            };
            self.error(span, message);
            return None;
        }
        let shape = match rows {
            Rows::Batch => Shape::batch(n),
            Rows::Fixed(r) => Shape::fixed(r, n),
        };
        if shape.size() > crate::ops::MAX_ELEMENTS {
            self.error(
                span,
                format!(
                    "the product {sa} @ {sb} is {shape}, too large: a value has {}",
                    crate::ops::MAX_ELEMENTS_WORDS
                ),
            );
            return None;
        }
        let op = Op::MatMul {
            lhs_t: false,
            rhs_t: false,
            alpha: 1.0,
        };
        Some(self.graph.add(op, vec![a, b], shape, span))
    }
}
