//! The SSA expression graph: an arena of nodes in topological order (every node after its
//! inputs), each with its op, shape and the span of the token that created it.
//!
//! Nodes are added through [`Graph::add`], which shares common subexpressions: asking twice
//! for the same op (every attribute equal) on the same inputs with the same shape returns the
//! first node. The shape is part of the key because some ops take it from the node, not from
//! their inputs: the backward fill of a sum or mean broadcasts one scalar adjoint to the
//! summed value's shape (and divides by its size), so two fills of the same adjoint for
//! values of different shapes are different values. The builders below also apply
//! the algebraic identities the backward pass produces (`1·x = x`, `(xᵀ)ᵀ = x`, a transposed
//! matmul operand becomes a stride flag, a scaled one the gemm's factor `α`).

use proc_macro2::Span;

use crate::ops::{Op, Rows, Shape};

pub type NodeId = usize;

#[derive(Clone)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
    pub shape: Shape,
    pub span: Span,
    /// Whether the value depends on a parameter (and so has an adjoint).
    pub tracked: bool,
    /// The name the definition gave the value, for the derivation text.
    pub label: Option<String>,
}

#[derive(Clone, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
}

impl Graph {
    /// Adds a node, or returns the existing node with the same op, inputs and shape.
    pub fn add(&mut self, op: Op, inputs: Vec<NodeId>, shape: Shape, span: Span) -> NodeId {
        let shareable = !matches!(op, Op::Dropout { .. }) && !op.is_leaf();
        if shareable
            && let Some(existing) = self
                .nodes
                .iter()
                .position(|n| n.op == op && n.inputs == inputs && n.shape == shape)
        {
            return existing;
        }
        let tracked = matches!(op, Op::Param(_)) || inputs.iter().any(|&i| self.nodes[i].tracked);
        self.nodes.push(Node {
            op,
            inputs,
            shape,
            span,
            tracked,
            label: None,
        });
        self.nodes.len() - 1
    }

    /// Which nodes `roots` are computed from, the roots and leaves included.
    pub fn reaches(&self, roots: &[NodeId]) -> Vec<bool> {
        let mut needed = vec![false; self.nodes.len()];
        for &root in roots {
            needed[root] = true;
        }
        for id in (0..self.nodes.len()).rev() {
            if needed[id] {
                for &input in &self.nodes[id].inputs {
                    needed[input] = true;
                }
            }
        }
        needed
    }

    pub fn shape(&self, id: NodeId) -> Shape {
        self.nodes[id].shape
    }

    pub fn op(&self, id: NodeId) -> Op {
        self.nodes[id].op
    }

    /// `c · x`, folding `1·x = x`, `c·(d·x) = (cd)·x` and constants.
    pub fn scale(&mut self, c: f64, x: NodeId) -> NodeId {
        match self.op(x) {
            _ if c == 1.0 => x,
            Op::Scale(d) => {
                let inner = self.nodes[x].inputs[0];
                self.scale(c * d, inner)
            }
            Op::Constant(d) => self.constant(c * d),
            _ => {
                let (shape, span) = (self.shape(x), self.nodes[x].span);
                self.add(Op::Scale(c), vec![x], shape, span)
            }
        }
    }

    pub fn constant(&mut self, c: f64) -> NodeId {
        if let Some(existing) = self.nodes.iter().position(|n| n.op == Op::Constant(c)) {
            return existing;
        }
        self.nodes.push(Node {
            op: Op::Constant(c),
            inputs: Vec::new(),
            shape: Shape::SCALAR,
            span: Span::call_site(),
            tracked: false,
            label: None,
        });
        self.nodes.len() - 1
    }

    /// `xᵀ`, folding `(xᵀ)ᵀ = x`.
    pub fn transpose(&mut self, x: NodeId) -> NodeId {
        if self.op(x) == Op::Transpose {
            return self.nodes[x].inputs[0];
        }
        let shape = self.shape(x).transposed().unwrap_or(self.shape(x));
        let span = self.nodes[x].span;
        self.add(Op::Transpose, vec![x], shape, span)
    }

    /// `op(a) · op(b)`; a materialised transpose operand is replaced by its input with the
    /// flag flipped, so transposes become strides, and a scaled operand `c·x` by `x` with `c`
    /// in the gemm's factor `α`.
    pub fn matmul(&mut self, a: NodeId, lhs_t: bool, b: NodeId, rhs_t: bool) -> NodeId {
        self.scaled_matmul(1.0, a, lhs_t, b, rhs_t)
    }

    /// `α · op(a) · op(b)`, with the identities of [`Graph::matmul`].
    pub fn scaled_matmul(
        &mut self,
        mut alpha: f64,
        mut a: NodeId,
        mut lhs_t: bool,
        mut b: NodeId,
        mut rhs_t: bool,
    ) -> NodeId {
        for (operand, flag) in [(&mut a, &mut lhs_t), (&mut b, &mut rhs_t)] {
            loop {
                match self.op(*operand) {
                    Op::Transpose => *flag = !*flag,
                    Op::Scale(c) => alpha *= c,
                    _ => break,
                }
                *operand = self.nodes[*operand].inputs[0];
            }
        }
        // Operands are matrices (a batch of vectors on the left only): the product's shape
        // follows from the stored matrices.
        let (a_rows, a_cols) = self.shape(a).matrix();
        let (b_rows, b_cols) = self.shape(b).matrix();
        let rows = if lhs_t { Rows::Fixed(a_cols) } else { a_rows };
        let cols = match (rhs_t, b_rows) {
            (false, _) => b_cols,
            (true, Rows::Fixed(r)) => r,
            (true, Rows::Batch) => 1,
        };
        let shape = match rows {
            Rows::Batch => Shape::batch(cols),
            Rows::Fixed(r) => Shape::fixed(r, cols),
        };
        let span = self.nodes[a].span;
        self.add(Op::MatMul { lhs_t, rhs_t, alpha }, vec![a, b], shape, span)
    }

    /// The sum of adjoint contributions: the single one itself, or an `AddN`.
    pub fn sum_of(&mut self, mut terms: Vec<NodeId>) -> NodeId {
        if terms.len() == 1 {
            return terms[0];
        }
        terms.sort_unstable();
        let (shape, span) = (self.shape(terms[0]), self.nodes[terms[0]].span);
        self.add(Op::AddN, terms, shape, span)
    }
}
