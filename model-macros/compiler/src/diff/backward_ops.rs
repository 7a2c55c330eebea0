//! The backward rules of the ops the backward pass itself creates, so that a derivative graph
//! can be differentiated again (a Hessian-vector product is the gradient of `⟨∇L, v⟩`).
//!
//! Each rule is written in ordinary graph ops, which have rules of their own: a derivative
//! of any order stays a graph. For a backward op `y = op(args)` with adjoint `ȳ`, each rule
//! gives the chain-rule term `ȳ · ∂y/∂arg` for every argument.

use proc_macro2::Span;
use symgrad_ops::Expr;

use super::{Term, bar, latex_name};
use crate::graph::{Graph, NodeId};
use crate::ops::{Activation, Loss, Op, RowReduction, Shape, TargetRef};

/// The chain-rule terms of the backward op `id`, given its adjoint `grad`.
pub(super) fn terms(graph: &mut Graph, id: NodeId, grad: NodeId) -> Vec<Term> {
    let node = graph.nodes[id].clone();
    let inputs = node.inputs.clone();
    let mut b = Builder { graph, span: node.span };
    let g = bar(b.graph, id);
    let term = |input, node, latex: String| Term { input, node, latex };
    match node.op {
        // Y = Σᵢ Tᵢ: T̄ᵢ = Ȳ.
        Op::AddN => inputs.iter().map(|&t| term(t, grad, g.clone())).collect(),
        // Y = G ⊙ f′(S): Ḡ = Ȳ ⊙ f′(S), S̄ = (Ȳ ⊙ G) ⊙ ∂f′/∂S (from the table).
        Op::ActGrad(act) => {
            let (s, gin) = (inputs[0], inputs[1]);
            let mut terms = vec![term(
                gin,
                b.add(Op::ActGrad(act), vec![s, grad], node.shape),
                format!("{g} \\odot f'({})", latex_name(b.graph, s)),
            )];
            if let Some(second) = act.second_derivative() {
                let m = b.add(Op::Mul, vec![grad, gin], node.shape);
                let back = b.expr(&second, m, s, node.shape);
                terms.push(term(
                    s,
                    back,
                    format!("({g} \\odot {}) \\odot f''", latex_name(b.graph, gin)),
                ));
            }
            terms
        }
        // Y = P ⊙ (G − R1ᵀ), R = rowsum(P ⊙ G): Ḡ = P ⊙ (Ȳ − rowsum(P ⊙ Ȳ)1ᵀ) (the Jacobian is
        // symmetric), P̄ = Ȳ ⊙ (G − R1ᵀ) − G ⊙ rowsum(Ȳ ⊙ P)1ᵀ.
        Op::SoftmaxGrad => {
            let (p, gin) = (inputs[0], inputs[1]);
            let grad_g = b.add(Op::SoftmaxGrad, vec![p, grad], node.shape);
            let pg = b.add(Op::Mul, vec![p, gin], node.shape);
            let r = b.spread_row_sums(pg);
            let centred = b.add(Op::Sub, vec![gin, r], node.shape);
            let first = b.add(Op::Mul, vec![grad, centred], node.shape);
            let yp = b.add(Op::Mul, vec![grad, p], node.shape);
            let q = b.spread_row_sums(yp);
            let second = b.add(Op::Mul, vec![gin, q], node.shape);
            let grad_p = b.add(Op::Sub, vec![first, second], node.shape);
            vec![
                term(gin, grad_g, format!("\\operatorname{{softmax}}'\\,{g}")),
                term(
                    p,
                    grad_p,
                    format!("\\partial_P(\\operatorname{{softmax}}'\\,G)^\\top {g}"),
                ),
            ]
        }
        // Y = G − e^S ⊙ rowsum(G)1ᵀ: Ḡ = Ȳ − rowsum(Ȳ ⊙ e^S)1ᵀ, S̄ = −Ȳ ⊙ e^S ⊙ rowsum(G)1ᵀ.
        Op::LogSoftmaxGrad => {
            let (s, gin) = (inputs[0], inputs[1]);
            let e = b.add(Op::Act(Activation::Exp), vec![s], node.shape);
            let ye = b.add(Op::Mul, vec![grad, e], node.shape);
            let spread = b.spread_row_sums(ye);
            let grad_g = b.add(Op::Sub, vec![grad, spread], node.shape);
            let totals = b.spread_row_sums(gin);
            let yet = b.add(Op::Mul, vec![ye, totals], node.shape);
            let grad_s = b.graph.scale(-1.0, yet);
            vec![
                term(
                    gin,
                    grad_g,
                    format!("{g} - ({g} \\odot e^{{S}})\\mathbf{{1}}\\mathbf{{1}}^\\top"),
                ),
                term(
                    s,
                    grad_s,
                    format!("-{g} \\odot e^{{S}} \\odot G\\mathbf{{1}}\\mathbf{{1}}^\\top"),
                ),
            ]
        }
        // Y = G ⊙ M: Ḡ = Ȳ ⊙ M.
        Op::MaskMul { mask } => {
            let back = b.add(Op::MaskMul { mask }, vec![grad], node.shape);
            vec![term(inputs[0], back, format!("{g} \\odot M_{{{mask}}}"))]
        }
        // y = G summed over the broadcast axes (1ᵀG for a row): Ḡ = ȳ broadcast back.
        Op::BroadcastSum { inner } => {
            let shape = b.graph.shape(inputs[0]);
            let zeros = b.fill(0.0, shape);
            let back = b.add(Op::AddBroadcast { inner }, vec![zeros, grad], shape);
            vec![term(inputs[0], back, format!("\\mathbf{{1}}{g}"))]
        }
        // Y = s·1 (or s/N·1): s̄ = Σ Ȳ (or the mean).
        Op::Fill { mean } => {
            let op = if mean { Op::Mean } else { Op::Sum };
            let back = b.add(op, vec![grad], Shape::SCALAR);
            let latex = if mean {
                format!("\\tfrac{{1}}{{N}}\\mathbf{{1}}^\\top {g}\\mathbf{{1}}")
            } else {
                format!("\\mathbf{{1}}^\\top {g}\\mathbf{{1}}")
            };
            vec![term(inputs[0], back, latex)]
        }
        // Y = g1ᵀ (or g1ᵀ/n): ḡ = rowsum(Ȳ) (or the row mean). For the max, Y = g at each
        // row's arg-max: ḡ = rowsum(Ȳ ⊙ onehot(argmax)); the arg-max is piecewise constant.
        Op::RowReduceGrad(kind) => {
            // The adjoint input is the last: `[g]`, or `[x, y, g]` for the max.
            let gin = inputs[inputs.len() - 1];
            let shape = b.graph.shape(gin);
            let back = match kind {
                RowReduction::Sum | RowReduction::Mean => b.add(Op::RowReduce(kind), vec![grad], shape),
                RowReduction::Max => {
                    let ones = b.fill(1.0, shape);
                    let onehot = b.add(Op::RowReduceGrad(kind), vec![inputs[0], inputs[1], ones], node.shape);
                    let picked = b.add(Op::Mul, vec![grad, onehot], node.shape);
                    b.add(Op::RowReduce(RowReduction::Sum), vec![picked], shape)
                }
            };
            vec![term(gin, back, format!("\\operatorname{{{}}}({g})", kind.name()))]
        }
        // Y = s·∇ℓ(X): s̄ = ⟨Ȳ, ∇ℓ(X)⟩, X̄ = s·H_ℓ(X)Ȳ.
        Op::LossGrad { kind, target } => {
            let (x, s) = (inputs[0], inputs[1]);
            let t = inputs.get(2).copied();
            let mut args = vec![x, b.graph.constant(1.0)];
            args.extend(t);
            let unit = b.add(Op::LossGrad { kind, target }, args, node.shape);
            let product = b.add(Op::Mul, vec![grad, unit], node.shape);
            let grad_s = b.add(Op::Sum, vec![product], Shape::SCALAR);
            let mut terms = vec![term(s, grad_s, format!("\\langle {g}, \\nabla\\ell \\rangle"))];
            if let Some(back) = b.loss_hessian(kind, target, id, x, s, t, grad) {
                terms.push(term(x, back, format!("s\\,H_\\ell\\,{g}")));
            }
            terms
        }
        _ => vec![],
    }
}

/// Builds the nodes of a rule.
struct Builder<'g> {
    graph: &'g mut Graph,
    span: Span,
}

impl Builder<'_> {
    fn add(&mut self, op: Op, inputs: Vec<NodeId>, shape: Shape) -> NodeId {
        self.graph.add(op, inputs, shape, self.span)
    }

    /// `c` in every element of a value of `shape`.
    fn fill(&mut self, c: f64, shape: Shape) -> NodeId {
        let c = self.graph.constant(c);
        self.add(Op::Fill { mean: false }, vec![c], shape)
    }

    /// `rowsum(x)1ᵀ`: each row's sum in every column of the row.
    fn spread_row_sums(&mut self, x: NodeId) -> NodeId {
        let shape = self.graph.shape(x);
        let sums = self.add(Op::RowReduce(RowReduction::Sum), vec![x], shape.with_last(1));
        self.add(Op::RowReduceGrad(RowReduction::Sum), vec![sums], shape)
    }

    /// The table's expression in `m` and `s` as nodes of `shape`.
    fn expr(&mut self, e: &Expr, m: NodeId, s: NodeId, shape: Shape) -> NodeId {
        let binary = |this: &mut Self, op, a: &Expr, b: &Expr| {
            let (a, b) = (this.expr(a, m, s, shape), this.expr(b, m, s, shape));
            this.add(op, vec![a, b], shape)
        };
        match e {
            Expr::M => m,
            Expr::S => s,
            Expr::Scale(c, e) => {
                let e = self.expr(e, m, s, shape);
                self.graph.scale(*c, e)
            }
            Expr::Add(a, b) => binary(self, Op::Add, a, b),
            Expr::Sub(a, b) => binary(self, Op::Sub, a, b),
            Expr::Mul(a, b) => binary(self, Op::Mul, a, b),
            Expr::Div(a, b) => binary(self, Op::Div, a, b),
            Expr::Apply(f, e) => {
                let e = self.expr(e, m, s, shape);
                self.add(Op::Act(*f), vec![e], shape)
            }
            Expr::Derivative(f, saved, grad) => {
                let (saved, grad) = (self.expr(saved, m, s, shape), self.expr(grad, m, s, shape));
                self.add(Op::ActGrad(*f), vec![saved, grad], shape)
            }
        }
    }

    /// `s·H_ℓ(X)·V` for `y = s·∇ℓ(X)` (node `y`), in graph ops; `None` where the Hessian is 0
    /// almost everywhere (MAE). `B` and `n` are the rows and columns of `X`; the factors `1/B`
    /// come from the MSE gradient of `V` against zeros, `2V/(Bn)` (scaled as needed), since
    /// the batch size is known only at run time.
    #[allow(clippy::too_many_arguments)]
    fn loss_hessian(
        &mut self,
        kind: Loss,
        target: TargetRef,
        y: NodeId,
        x: NodeId,
        s: NodeId,
        t: Option<NodeId>,
        v: NodeId,
    ) -> Option<NodeId> {
        let shape = self.graph.shape(x);
        let n = shape.size() as f64;
        let zeros = self.fill(0.0, shape);
        // `s·2W/(Bn)`: the MSE gradient of `W` against zeros.
        let mse = |this: &mut Self, w: NodeId| {
            this.add(
                Op::LossGrad {
                    kind: Loss::Mse,
                    target: TargetRef::Dense,
                },
                vec![w, s, zeros],
                shape,
            )
        };
        Some(match kind {
            Loss::Mae => return None,
            // ∇ = 2(X − T)/(Bn) (or 2(X − T)/B): H = 2/(Bn) (or 2/B).
            Loss::Mse => mse(self, v),
            Loss::SquaredError => {
                let scaled = mse(self, v);
                self.graph.scale(n, scaled)
            }
            // ∇ = (σ(X) − T)/(Bn): H = σ(1 − σ)/(Bn).
            Loss::BceWithLogits => {
                let sigma = self.add(Op::Act(Activation::Sigmoid), vec![x], shape);
                let w = self.add(Op::ActGrad(Activation::Sigmoid), vec![sigma, v], shape);
                let scaled = mse(self, w);
                self.graph.scale(0.5, scaled)
            }
            // y = −s·T ⊘ (XB): s·H·V = s·T ⊙ V ⊘ (X²B) = −y ⊙ V ⊘ X.
            Loss::CrossEntropy => {
                let yv = self.add(Op::Mul, vec![y, v], shape);
                let quotient = self.add(Op::Div, vec![yv, x], shape);
                self.graph.scale(-1.0, quotient)
            }
            // y = s(X − T) ⊘ (qBn), q = X(1 − X):
            // s·H·V = s·V ⊘ (qBn) − y ⊙ (1 − 2X) ⊙ V ⊘ q.
            Loss::Bce => {
                let xx = self.add(Op::Mul, vec![x, x], shape);
                let q = self.add(Op::Sub, vec![x, xx], shape);
                let vq = self.add(Op::Div, vec![v, q], shape);
                let first = {
                    let scaled = mse(self, vq);
                    self.graph.scale(0.5, scaled)
                };
                let k = self.add(Op::Mul, vec![y, vq], shape);
                let kx = self.add(Op::Mul, vec![k, x], shape);
                let kx2 = self.graph.scale(2.0, kx);
                let second = self.add(Op::Sub, vec![k, kx2], shape);
                self.add(Op::Sub, vec![first, second], shape)
            }
            // y = s(P·mass − T)/B, P = softmax(X), mass = rowsum(T) (1 for labels):
            // s·H·V = (s/B)·mass ⊙ P ⊙ (V − rowsum(P ⊙ V)).
            Loss::SoftmaxCrossEntropy => {
                let p = self.add(Op::Softmax, vec![x], shape);
                let jv = self.add(Op::SoftmaxGrad, vec![p, v], shape);
                let scaled = mse(self, jv);
                let per_row = self.graph.scale(n / 2.0, scaled);
                match (target, t) {
                    (TargetRef::Dense, Some(t)) => {
                        let mass = self.spread_row_sums(t);
                        self.add(Op::Mul, vec![mass, per_row], shape)
                    }
                    _ => per_row,
                }
            }
        })
    }
}
