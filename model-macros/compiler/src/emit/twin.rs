//! The tape twin: the network as written, recorded on the runtime's tape.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{Emitter, act_tokens, constant, float};
use crate::graph::NodeId;
use crate::ops::{Op, TargetRef};

impl Emitter<'_> {
    /// The same network recorded on the runtime's tape: an oracle independent of everything
    /// above, built from the definition as written (before fusion).
    pub(super) fn tape_twin(&self) -> TokenStream {
        let net = self.net;
        let graph = &net.graph;
        let needed = graph.reaches(&[net.loss]);
        let var = |id: NodeId| format_ident!("v{}", id);
        let params: Vec<Ident> = net.params.iter().map(|p| var(p.node)).collect();
        let stmts = (0..graph.nodes.len()).filter(|&id| needed[id]).map(|id| {
            let node = &graph.nodes[id];
            let v = var(id);
            let i: Vec<Ident> = node.inputs.iter().map(|&i| var(i)).collect();
            let value = match node.op {
                Op::Input(k) => {
                    let f = &net.inputs[k].name;
                    quote! { tape.input(batch.#f.to_owned()) }
                }
                Op::Target(k) => {
                    let f = &net.targets[k].name;
                    quote! { tape.input(batch.#f.to_owned()) }
                }
                Op::Param(k) => {
                    let value = self.param_matrix(k, quote!(self), false);
                    quote! { tape.param(#value.to_owned()) }
                }
                Op::Constant(c) => {
                    let c = constant(c);
                    quote! { tape.input(::symgrad::__private::ndarray::Array2::from_elem((1, 1), #c)) }
                }
                Op::MatMul { lhs_t, rhs_t, alpha } => {
                    let (a, b) = (&i[0], &i[1]);
                    let a = if lhs_t { quote!(tape.transpose(#a)) } else { quote!(#a) };
                    let b = if rhs_t { quote!(tape.transpose(#b)) } else { quote!(#b) };
                    if alpha == 1.0 {
                        quote! { { let a = #a; let b = #b; tape.matmul(a, b)? } }
                    } else {
                        let alpha = float(alpha);
                        quote! { { let a = #a; let b = #b; let p = tape.matmul(a, b)?; tape.scale(#alpha, p) } }
                    }
                }
                Op::AddBroadcast { inner } => {
                    let (a, b) = (&i[0], &i[1]);
                    quote! { tape.add_broadcast(#a, #b, #inner)? }
                }
                Op::Add | Op::Sub | Op::Mul | Op::Div => {
                    let (a, b) = (&i[0], &i[1]);
                    let method = match node.op {
                        Op::Add => quote!(add),
                        Op::Sub => quote!(sub),
                        Op::Mul => quote!(mul),
                        _ => quote!(div),
                    };
                    quote! { tape.#method(#a, #b)? }
                }
                Op::Scale(c) => {
                    let (a, c) = (&i[0], float(c));
                    quote! { tape.scale(#c, #a) }
                }
                Op::Transpose => {
                    let a = &i[0];
                    quote! { tape.transpose(#a) }
                }
                // The tape holds a batch as `[batch, d1⋯dk]` at any rank.
                Op::Reshape => {
                    let a = &i[0];
                    quote! { #a }
                }
                Op::Act(act) => {
                    let (a, f) = (&i[0], act_tokens(act));
                    quote! { tape.activation(#f, #a) }
                }
                Op::Softmax => {
                    let a = &i[0];
                    quote! { tape.softmax(#a) }
                }
                Op::LogSoftmax => {
                    let a = &i[0];
                    quote! { tape.log_softmax(#a) }
                }
                Op::RowReduce(kind) => {
                    let (a, kind) = (&i[0], super::reduction_tokens(kind));
                    quote! { tape.row_reduce(#kind, #a) }
                }
                Op::Dropout { p, block, .. } => {
                    let (a, p) = (&i[0], float(p));
                    quote! { tape.dropout(#a, #p, #block, rng)? }
                }
                Op::Sum => {
                    let a = &i[0];
                    quote! { tape.sum(#a) }
                }
                Op::Mean => {
                    let a = &i[0];
                    quote! { tape.mean(#a)? }
                }
                Op::Loss { kind, target } => {
                    let kind = super::loss_tokens(kind);
                    let a = &i[0];
                    match target {
                        TargetRef::Labels(k) => {
                            let f = &net.targets[k].name;
                            quote! { tape.loss_labels(#kind, #a, batch.#f)? }
                        }
                        TargetRef::Dense => {
                            let t = &i[1];
                            quote! { tape.loss_dense(#kind, #a, #t)? }
                        }
                    }
                }
                Op::Conv(conv) => {
                    let (x, k, g) = (&i[0], &i[1], super::spatial::conv_tokens(conv));
                    quote! { tape.conv2d(#g, #x, #k)? }
                }
                Op::MaxPool { pool, .. } => {
                    let (x, g) = (&i[0], super::spatial::pool_tokens(pool));
                    quote! { tape.max_pool2d(#g, #x)? }
                }
                Op::WindowSum { pool, scale } => {
                    let (x, g, scale) = (&i[0], super::spatial::pool_tokens(pool), float(scale));
                    quote! { tape.window_sum(#g, #scale, #x)? }
                }
                Op::WindowSpread { pool, scale } => {
                    let (x, g, scale) = (&i[0], super::spatial::pool_tokens(pool), float(scale));
                    quote! { tape.window_spread(#g, #scale, #x)? }
                }
                _ => quote! { compile_error!("internal: backward op in the forward graph") },
            };
            quote! { let #v = #value; }
        });
        let loss = var(net.loss);
        let batch_name = format_ident!("{}Batch", net.name);
        quote! {
            /// Records the network, as written, on `tape` and returns the loss and the
            /// parameters' variables: the tape twin of the compiled passes.
            #[allow(unused_variables, clippy::all)]
            pub fn record<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                tape: &mut ::symgrad::__private::Tape<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
            ) -> ::symgrad::__private::Result<(::symgrad::__private::Var, ::std::vec::Vec<::symgrad::__private::Var>)> {
                #(#stmts)*
                Ok((#loss, ::std::vec![#(#params),*]))
            }

            /// The training-mode loss and gradient computed on the runtime tape (the twin of
            /// [`Self::loss_and_grad`], for tests and benchmarks).
            pub fn tape_loss_and_grad<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                tape: &mut ::symgrad::__private::Tape<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                tape.clear();
                let (loss, params) = self.record(tape, batch, rng)?;
                tape.backward(loss)?.write_into(&params, grads)?;
                Ok(tape.scalar(loss))
            }
        }
    }
}
