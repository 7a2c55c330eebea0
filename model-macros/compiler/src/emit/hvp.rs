//! The second-order items: for the Hessian and the Gauss-Newton matrix, a workspace type and
//! `hvp`/`gnvp` with their workspaces and derivations, each printed from its own pass's
//! schedule; `tape_hvp`, the oracle; and the `HessianVector` implementation.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Emitter;
use crate::ast::TargetKind;
use crate::lower::Lowered;
use crate::second::Curvature;

/// The second-order items: `hvp` from the `hessian` pass, `gnvp` from the `gauss_newton` one,
/// `tape_hvp`, and the `HessianVector` implementation.
pub(super) fn second_order_items(
    net: &Lowered,
    (hessian, hessian_text): (&Emitter<'_>, &str),
    (gauss_newton, gauss_newton_text): (&Emitter<'_>, &str),
) -> TokenStream {
    let name = &net.name;
    let hvp = product(net, hessian, Curvature::Hessian, hessian_text);
    let gnvp = product(net, gauss_newton, Curvature::GaussNewton, gauss_newton_text);
    let tape_hvp = tape_hvp(net);
    let (hvp_ws, gnvp_ws) = (
        format_ident!("{}HvpWorkspace", name),
        format_ident!("{}GnvpWorkspace", name),
    );
    quote! {
        #hvp
        #gnvp

        impl<T: ::symgrad::__private::Scalar> #name<T> {
            #tape_hvp
        }

        impl<T: ::symgrad::__private::Scalar> ::symgrad::__private::HessianVector<T> for #name<T> {
            type HvpWorkspace = #hvp_ws<T>;
            type GnvpWorkspace = #gnvp_ws<T>;

            fn hvp_workspace(&self, capacity: usize) -> Self::HvpWorkspace {
                #hvp_ws::new(capacity)
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
            fn gnvp_workspace(&self, capacity: usize) -> Self::GnvpWorkspace {
                #gnvp_ws::new(capacity)
            }
            fn gnvp<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut Self::GnvpWorkspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                v: &Self,
                out: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                self.gnvp(ws, batch, rng, v, out)
            }
        }
    }
}

/// One product's workspace type and its `{hvp,gnvp}_workspace`, `{hvp,gnvp}` and
/// `{hvp,gnvp}_derivation`, printed from its pass's schedule as the gradient is from the first.
fn product(net: &Lowered, e: &Emitter<'_>, curvature: Curvature, derivation: &str) -> TokenStream {
    let name = &net.name;
    let batch_name = format_ident!("{}Batch", name);
    let (method, ws_suffix, what, doc) = match curvature {
        Curvature::Hessian => (
            "hvp",
            "HvpWorkspace",
            "Hessian-vector products",
            "`H·v`, the Hessian of the training-mode loss with respect to every parameter times the \
             direction `v` (a value of the parameters' shapes), written into `out`; returns the loss. \
             Derived at compile time by differentiating the gradient's own graph (reverse over \
             reverse; see `hvp_derivation`), exact up to rounding.",
        ),
        Curvature::GaussNewton => (
            "gnvp",
            "GnvpWorkspace",
            "Gauss-Newton-vector products",
            "`G·v = Jᵀ H_ℓ J v`, the generalised Gauss-Newton matrix of the training-mode loss (`J` the \
             Jacobian of the losses' inputs, `H_ℓ` the losses' own Hessians) times the direction `v`, \
             written into `out`; returns the loss. The Hessian's derivation with the network's own \
             curvature held constant (see `gnvp_derivation`); positive semi-definite for losses \
             combined with nonnegative factors.",
        ),
    };
    let ws_name = format_ident!("{}{}", name, ws_suffix);
    let (ws_fn, product_fn, derivation_fn) = (
        format_ident!("{}_workspace", method),
        format_ident!("{}", method),
        format_ident!("{}_derivation", method),
    );
    let workspace = e.workspace_items(&ws_name, &format!("Preallocated buffers for the network's {what}."));
    let workspace_doc = format!("A workspace for {what} on batches of up to `capacity` rows.");
    let doc = format!(
        "{doc} Dropout masks are drawn from `rng` as `loss_and_grad` draws them: an `rng` in the \
         same state gives the same masks, so the product is that of the same loss."
    );
    let derivation_doc = format!("The {what} as equations (Markdown with LaTeX math).");
    let prelude = e.batch_prelude();
    let (bind_inputs, bind_targets, forward_body) = (e.bind_inputs(), e.bind_targets(), e.forward_body());
    let backward_pass = e.backward_pass(false);
    let loss_value = e.scalar(e.plan.loss_node);
    quote! {
        #workspace

        impl<T: ::symgrad::__private::Scalar> #name<T> {
            #[doc = #workspace_doc]
            pub fn #ws_fn(&self, capacity: usize) -> #ws_name<T> {
                #ws_name::new(capacity)
            }

            #[doc = #doc]
            #[allow(unused_variables, unused_mut, unused_doc_comments, clippy::all)]
            pub fn #product_fn<R: ::symgrad::__private::rand::Rng + ?Sized>(
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

            #[doc = #derivation_doc]
            pub fn #derivation_fn() -> &'static str {
                #derivation
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
