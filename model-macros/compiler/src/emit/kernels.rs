//! The kernel calls that compute each node of a schedule: usually one, two for a matmul with its
//! bias (broadcast, then gemm with β = 1), one per term for a sum of adjoints.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Emitter, act_tokens, constant, float, loss_tokens, reduction_tokens};
use crate::graph::NodeId;
use crate::ops::{Op, RowReduction, Shape};
use crate::schedule::Phase;

impl Emitter<'_> {
    /// The forward steps of the schedule, once for every entry point. A step only the output
    /// needs runs `if output`, one only the loss needs runs when there is a batch (its targets
    /// bound), one both need runs always; dropout is on when there is an `rng`.
    pub(super) fn forward_body(&self) -> TokenStream {
        let bind_targets = self.bind_targets();
        let stmts = self.schedule.steps.iter().filter_map(|step| {
            let Phase::Forward { output, loss } = step.phase else {
                return None;
            };
            let stmt = self.stmt(step.node);
            Some(match (output, loss) {
                (true, true) => stmt,
                (true, false) => quote! { if output { #stmt } },
                _ => quote! { if let Some(batch) = batch { #bind_targets #stmt } },
            })
        });
        quote! { #(#stmts)* }
    }

    /// The backward steps of the schedule, each annotated with the chain-rule equation it
    /// computes; with `hook`, each followed by `on_final(i, gradient)` for every parameter `i`
    /// whose gradient it finishes. A step in `folded` updates its parameter in place instead
    /// of writing its gradient ([`Self::folded_update`]).
    pub(super) fn backward_body(&self, hook: bool, folded: &BTreeMap<usize, usize>) -> TokenStream {
        let finished = if hook {
            self.schedule.finished_gradients(self.graph, self.plan)
        } else {
            BTreeMap::new()
        };
        let stmts = self
            .schedule
            .steps
            .iter()
            .enumerate()
            .filter(|(_, step)| step.phase == Phase::Backward)
            .map(|(index, step)| {
                let stmt = match folded.get(&index) {
                    Some(&param) => self.folded_update(step.node, param),
                    None => self.stmt(step.node),
                };
                let stmt = match self.equations.get(&step.node) {
                    // A block: attributes on other expression statements are unstable.
                    Some(equation) if !stmt.is_empty() => quote! { #[doc = #equation] { #stmt } },
                    _ => stmt,
                };
                let hooks = finished.get(&index).into_iter().flatten().map(|&i| on_final(i));
                quote! { #stmt #(#hooks)* }
            });
        quote! { #(#stmts)* }
    }

    /// Plain gradient descent folded into the product computing parameter `param`'s gradient
    /// `G = c·op(A)·op(B)`: `W ← (1 − αλ)W − αG` is one gemm with `α' = −αc` and
    /// `β = 1 − αλ` (`rate` and `decay` of `sgd_step`), writing the parameter itself.
    fn folded_update(&self, id: NodeId, param: usize) -> TokenStream {
        let Op::MatMul { alpha, .. } = self.graph.nodes[id].op else {
            return quote!(compile_error!("internal: a folded update that is not a product"));
        };
        let (alpha, weight) = (constant(alpha), self.param_matrix(param, quote!(self), true));
        self.product(id, quote!(-rate * #alpha), quote!(T::ONE - rate * decay), weight)
    }

    /// `out ← α·op(A)·op(B) + β·out` for the product node `id`, its operands transposed as the
    /// node says.
    fn product(&self, id: NodeId, alpha: TokenStream, beta: TokenStream, out: TokenStream) -> TokenStream {
        let node = &self.graph.nodes[id];
        let Op::MatMul { lhs_t, rhs_t, .. } = node.op else {
            return quote!(compile_error!("internal: a product that is not a matmul"));
        };
        let (a, b) = (
            transpose_if(self.read(node.inputs[0]), lhs_t),
            transpose_if(self.read(node.inputs[1]), rhs_t),
        );
        quote! { ::symgrad::__private::gemm(#alpha, #a, #b, #beta, #out)?; }
    }

    /// The kernel call computing one node.
    fn stmt(&self, id: NodeId) -> TokenStream {
        let node = &self.graph.nodes[id];
        let ins = &node.inputs;
        let in_place = self.plan.in_place[id];
        if node.shape == Shape::SCALAR {
            return self.scalar_stmt(id);
        }
        let out = self.write(id);
        let r = |i: usize| self.read(ins[i]);
        match node.op {
            Op::Input(_) | Op::Target(_) | Op::Param(_) | Op::Constant(_) | Op::Direction(_) => quote! {},
            Op::MatMul { alpha, .. } => {
                let alpha = if alpha == 1.0 { quote!(T::ONE) } else { constant(alpha) };
                let beta = if self.plan.accumulates[id] {
                    quote!(T::ONE)
                } else {
                    quote!(T::ZERO)
                };
                self.product(id, alpha, beta, out)
            }
            Op::Affine { lhs_t, rhs_t } => {
                let (a, b, bias) = (transpose_if(r(0), lhs_t), transpose_if(r(1), rhs_t), r(2));
                let out2 = self.write(id);
                quote! {
                    ::symgrad::__private::kernels::broadcast_rows(#bias, #out)?;
                    ::symgrad::__private::gemm(T::ONE, #a, #b, T::ONE, #out2)?;
                }
            }
            Op::AddBroadcast { inner } => {
                let small = r(1);
                if in_place {
                    quote! { ::symgrad::__private::kernels::add_broadcast(#out, #small, #inner)?; }
                } else {
                    let x = r(0);
                    quote! { { let mut out = #out; out.assign(&#x); ::symgrad::__private::kernels::add_broadcast(out, #small, #inner)?; } }
                }
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let op = match node.op {
                    Op::Add => quote!(Add),
                    Op::Sub => quote!(Sub),
                    Op::Mul => quote!(Mul),
                    _ => quote!(Div),
                };
                let b = r(1);
                if in_place {
                    quote! { ::symgrad::__private::Binary::#op.apply_assign(#out, #b)?; }
                } else {
                    let a = r(0);
                    quote! { ::symgrad::__private::Binary::#op.apply(#a, #b, #out)?; }
                }
            }
            Op::AddN => {
                let first = if in_place {
                    quote! {}
                } else {
                    let (a, b) = (r(0), r(1));
                    quote! { ::symgrad::__private::Binary::Add.apply(#a, #b, #out)?; }
                };
                // Terms that added themselves onto the sum's buffer are already in it.
                let rest = ins
                    .iter()
                    .skip(if in_place { 1 } else { 2 })
                    .filter(|&&t| !self.plan.accumulates[t])
                    .map(|&t| {
                        let (out, t) = (self.write(id), self.read(t));
                        quote! { ::symgrad::__private::Binary::Add.apply_assign(#out, #t)?; }
                    });
                quote! { #first #(#rest)* }
            }
            Op::Scale(c) => {
                let c = constant(c);
                if in_place {
                    quote! { { let c: T = #c; #out.map_inplace(|v| *v *= c); } }
                } else {
                    let x = r(0);
                    quote! { ::symgrad::__private::kernels::scale(#c, #x, #out)?; }
                }
            }
            Op::Transpose => {
                let x = r(0);
                quote! { #out.assign(&#x.t()); }
            }
            // A reshaped batch is stored as its input is, `[batch, d1⋯dk]`.
            Op::Reshape if in_place => quote! {},
            Op::Reshape => {
                let x = r(0);
                quote! { #out.assign(&#x); }
            }
            Op::Act(act) => {
                let f = act_tokens(act);
                if in_place {
                    quote! { ::symgrad::__private::ActivationKernel::forward_view_inplace(#f, #out); }
                } else {
                    let x = r(0);
                    quote! { ::symgrad::__private::ActivationKernel::forward_view(#f, #x, #out)?; }
                }
            }
            Op::Softmax => {
                let x = r(0);
                quote! { ::symgrad::__private::kernels::softmax(#x, #out)?; }
            }
            Op::LogSoftmax => {
                let x = r(0);
                quote! { ::symgrad::__private::kernels::log_softmax(#x, #out)?; }
            }
            Op::RowReduce(kind) => {
                let (x, kind) = (r(0), reduction_tokens(kind));
                quote! { ::symgrad::__private::kernels::row_reduce(#kind, #x, #out)?; }
            }
            Op::Dropout { p, mask, block } => {
                let p = float(p);
                let (mask_mut, mask) = (self.mask(mask, true), self.mask(mask, false));
                let (apply, identity) = if in_place {
                    (
                        quote! { ::symgrad::__private::Binary::Mul.apply_assign(#out, #mask)?; },
                        quote! {},
                    )
                } else {
                    let x = r(0);
                    (
                        quote! { ::symgrad::__private::Binary::Mul.apply(#x, #mask, #out)?; },
                        quote! { #out.assign(&#x); },
                    )
                };
                quote! {
                    match rng.as_mut() {
                        Some(rng) => {
                            ::symgrad::__private::kernels::dropout_mask(&mut **rng, #p, #block, #mask_mut)?;
                            #apply
                        }
                        None => { #identity }
                    }
                }
            }
            Op::ActGrad(act) => {
                let f = act_tokens(act);
                let saved = r(0);
                if in_place {
                    quote! { ::symgrad::__private::ActivationKernel::backward_view_inplace(#f, #saved, #out)?; }
                } else {
                    let g = r(1);
                    quote! { ::symgrad::__private::ActivationKernel::backward_view(#f, #saved, #g, #out)?; }
                }
            }
            Op::SoftmaxGrad => {
                let (p, g) = (r(0), r(1));
                quote! { ::symgrad::__private::kernels::softmax_backward(#p, #g, #out)?; }
            }
            Op::LogSoftmaxGrad => {
                let (y, g) = (r(0), r(1));
                quote! { ::symgrad::__private::kernels::log_softmax_backward(#y, #g, #out)?; }
            }
            Op::RowReduceGrad(kind) => match kind {
                RowReduction::Sum | RowReduction::Mean => {
                    let g = r(0);
                    let n = node.shape.last().unwrap_or(1);
                    let scale = if kind == RowReduction::Mean {
                        quote!(T::ONE / T::from_usize(#n))
                    } else {
                        quote!(T::ONE)
                    };
                    quote! { ::symgrad::__private::kernels::spread_rows(#g, #scale, #out)?; }
                }
                RowReduction::Max => {
                    let (x, y, g) = (r(0), r(1), r(2));
                    quote! { ::symgrad::__private::kernels::row_max_backward(#x, #y, #g, #out)?; }
                }
            },
            Op::MaskMul { mask } => {
                let mask = self.mask(mask, false);
                if in_place {
                    quote! { ::symgrad::__private::Binary::Mul.apply_assign(#out, #mask)?; }
                } else {
                    let g = r(0);
                    quote! { ::symgrad::__private::Binary::Mul.apply(#g, #mask, #out)?; }
                }
            }
            Op::BroadcastSum { inner } => {
                let g = r(0);
                quote! { ::symgrad::__private::kernels::broadcast_sum(#g, #inner, T::ZERO, #out)?; }
            }
            Op::Fill { mean } => {
                let s = r(0);
                if mean {
                    quote! { { let mut out = #out; let n = T::from_usize(out.len()); out.fill(#s / n); } }
                } else {
                    quote! { #out.fill(#s); }
                }
            }
            Op::LossGrad { kind, target } => {
                let kind = loss_tokens(kind);
                let (x, s) = (r(0), r(1));
                let t = self.target(target, ins.get(2).copied());
                quote! { ::symgrad::__private::LossKernel::gradient(#kind, #x, #t, #s, #out)?; }
            }
            Op::Conv(_)
            | Op::ConvInput(_)
            | Op::ConvKernel(_)
            | Op::MaxPool { .. }
            | Op::PoolScatter { .. }
            | Op::PoolGather { .. }
            | Op::WindowSum { .. }
            | Op::WindowSpread { .. } => self.spatial_stmt(id, out),
            Op::Sum | Op::Mean | Op::Loss { .. } => quote! { compile_error!("internal: reduction to a matrix"); },
        }
    }

    fn scalar_stmt(&self, id: NodeId) -> TokenStream {
        let node = &self.graph.nodes[id];
        let ins = &node.inputs;
        let field = format_ident!("s{}", id);
        let value = match node.op {
            Op::Constant(_) | Op::Input(_) | Op::Target(_) | Op::Param(_) | Op::Direction(_) => return quote! {},
            Op::Sum => {
                let x = self.read(ins[0]);
                quote! { #x.sum() }
            }
            Op::Mean => {
                let x = self.read(ins[0]);
                quote! { { let v = #x; v.sum() / T::from_usize(v.len()) } }
            }
            Op::Loss { kind, target } => {
                let kind = loss_tokens(kind);
                let x = self.read(ins[0]);
                let t = self.target(target, ins.get(1).copied());
                quote! { ::symgrad::__private::LossKernel::value(#kind, #x, #t)? }
            }
            Op::Add | Op::AddN => {
                let terms = ins.iter().map(|&i| self.scalar(i));
                quote! { #(#terms)+* }
            }
            Op::Sub => {
                let (a, b) = (self.scalar(ins[0]), self.scalar(ins[1]));
                quote! { #a - #b }
            }
            Op::Mul => {
                let (a, b) = (self.scalar(ins[0]), self.scalar(ins[1]));
                quote! { #a * #b }
            }
            Op::Div => {
                let (a, b) = (self.scalar(ins[0]), self.scalar(ins[1]));
                quote! { #a / #b }
            }
            Op::Scale(c) => {
                let (c, a) = (constant(c), self.scalar(ins[0]));
                quote! { #c * #a }
            }
            _ => quote! { compile_error!("internal: unsupported scalar operation") },
        };
        quote! { ws.#field = #value; }
    }
}

fn transpose_if(view: TokenStream, flag: bool) -> TokenStream {
    if flag { quote!(#view.reversed_axes()) } else { view }
}

/// The call telling `loss_and_grad_with_hook`'s caller that parameter `i`'s gradient is final.
pub(super) fn on_final(i: usize) -> TokenStream {
    quote! { on_final(#i, ::symgrad::__private::Parameters::param(&*grads, #i)); }
}
