//! The Hessian-vector product's items: its workspace type, `hvp_workspace`, `hvp` and
//! `hvp_derivation`, printed from the second pass's schedule as the gradient is from the first.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Emitter;
use crate::ast::TargetKind;
use crate::lower::Lowered;

pub(super) fn hvp_items(net: &Lowered, e: &Emitter<'_>, derivation: &str) -> TokenStream {
    let name = &net.name;
    let batch_name = format_ident!("{}Batch", name);
    let ws_name = format_ident!("{}HvpWorkspace", name);
    let workspace = e.workspace_items(
        &ws_name,
        "Preallocated buffers for the network's Hessian-vector products.",
    );
    let prelude = e.batch_prelude();
    let (bind_inputs, bind_targets, forward_body) = (e.bind_inputs(), e.bind_targets(), e.forward_body());
    let backward_pass = e.backward_pass();
    let tape_hvp = tape_hvp(net);
    let loss_value = e.scalar(e.plan.loss_node);
    quote! {
        #workspace

        impl<T: ::symgrad::__private::Scalar> #name<T> {
            /// A workspace for Hessian-vector products on batches of up to `capacity` rows.
            pub fn hvp_workspace(&self, capacity: usize) -> #ws_name<T> {
                #ws_name::new(capacity)
            }

            /// `H·v`, the Hessian of the training-mode loss with respect to every parameter
            /// times the direction `v` (a value of the parameters' shapes), written into `out`;
            /// returns the loss. Derived at compile time by differentiating the gradient's own
            /// graph (forward over reverse; see [`Self::hvp_derivation`]), exact up to rounding.
            /// Dropout masks are drawn from `rng` as `loss_and_grad` draws them: an `rng` in the
            /// same state gives the same masks, so the product is that of the same loss.
            #[allow(unused_variables, unused_mut, unused_doc_comments, clippy::all)]
            pub fn hvp<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
                v: &Self,
                out: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                #prelude
                {
                    // Every forward step is one the loss needs: it runs with the targets bound.
                    #bind_inputs
                    #bind_targets
                    let (output, batch, mut rng) = (false, Some(batch), Some(rng));
                    #forward_body
                }
                let grads = out;
                #backward_pass
                Ok(#loss_value)
            }

            #tape_hvp

            /// The Hessian-vector product as equations (Markdown with LaTeX math): the backward
            /// pass of the gradient's graph.
            pub fn hvp_derivation() -> &'static str {
                #derivation
            }
        }

        impl<T: ::symgrad::__private::Scalar> ::symgrad::__private::HessianVector<T> for #name<T> {
            type HvpWorkspace = #ws_name<T>;

            fn hvp_workspace(&self, capacity: usize) -> Self::HvpWorkspace {
                #ws_name::new(capacity)
            }
            fn hvp<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut Self::HvpWorkspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                v: &Self,
                out: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                self.hvp(ws, batch, rng, v, out)
            }
            fn tape_hvp<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                v: &Self,
                out: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                self.tape_hvp(batch, rng, v, out)
            }
        }
    }
}

/// `tape_hvp`: the network lifted to dual numbers `θ + vε` and the batch to constants, the
/// tape twin's gradient computed on them, and its tangent, `H·v`, written into `out`.
fn tape_hvp(net: &Lowered) -> TokenStream {
    let name = &net.name;
    let batch_name = format_ident!("{}Batch", name);
    let fields: Vec<_> = net.params.iter().map(|p| &p.name).collect();
    let data: Vec<_> = net
        .inputs
        .iter()
        .map(|i| &i.name)
        .chain(
            net.targets
                .iter()
                .filter(|t| t.kind == TargetKind::Dense)
                .map(|t| &t.name),
        )
        .collect();
    // Locals of their own, as a definition's names may be anything (`out`, `v`).
    let lifted_data: Vec<_> = data.iter().map(|d| format_ident!("lifted_{}", d)).collect();
    let labels: Vec<_> = net
        .targets
        .iter()
        .filter(|t| t.kind == TargetKind::Classes)
        .map(|t| &t.name)
        .collect();
    quote! {
        /// `H·v` on the tape twin in forward mode: the parameters lifted to dual numbers
        /// `θ + vε` (f64), the tape's gradient of them has the tangent `H·v`, written into
        /// `out`; returns the loss. An oracle for [`Self::hvp`], independent of the compiler's
        /// second derivative; dropout masks as `tape_loss_and_grad` draws them.
        #[allow(unused_variables, clippy::all)]
        pub fn tape_hvp<R: ::symgrad::__private::rand::Rng + ?Sized>(
            &self,
            batch: &#batch_name<'_, T>,
            rng: &mut R,
            v: &Self,
            out: &mut Self,
        ) -> ::symgrad::__private::Result<T> {
            let dual = #name::<::symgrad::__private::Dual> {
                #( #fields: ::symgrad::__private::ndarray::Zip::from(&self.#fields)
                    .and(&v.#fields)
                    .map_collect(|p, d| ::symgrad::__private::Dual::new(p.to_f64(), d.to_f64())), )*
            };
            #( let #lifted_data = batch.#data.mapv(|x| ::symgrad::__private::Dual::constant(x.to_f64())); )*
            let lifted = #batch_name::<'_, ::symgrad::__private::Dual> {
                #( #data: #lifted_data.view(), )*
                #( #labels: batch.#labels, )*
            };
            let mut grads = #name::<::symgrad::__private::Dual>::zeros();
            let mut tape = ::symgrad::__private::Tape::new();
            let loss = dual.tape_loss_and_grad(&mut tape, &lifted, rng, &mut grads)?;
            #( ::symgrad::__private::ndarray::Zip::from(&mut out.#fields)
                .and(&grads.#fields)
                .for_each(|o, g| *o = T::from_f64(g.tangent)); )*
            Ok(T::from_f64(loss.value))
        }
    }
}
