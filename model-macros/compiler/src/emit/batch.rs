//! The batch: its checks, its bindings, and how a data set's examples become one.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::Emitter;
use crate::ast::TargetKind;

impl Emitter<'_> {
    /// `Model::batch`: the one input from the features, class labels from the labels, a
    /// real-valued target from the examples' targets, or else the clean features (an
    /// autoencoder's target).
    pub(super) fn batch_from_examples(&self) -> TokenStream {
        let net_name = self.net.name.to_string();
        let unfit = |message: String| quote! { Err(::symgrad::__private::Error::format(#net_name, #message)) };
        if self.net.inputs.len() != 1 {
            return unfit(format!(
                "a data set feeds one input, but the network has {}",
                self.net.inputs.len()
            ));
        }
        let mut fields = vec![];
        let input = &self.net.inputs[0].name;
        fields.push(quote! { #input: examples.features });
        for target in &self.net.targets {
            let name = &target.name;
            match target.kind {
                TargetKind::Classes => fields.push(quote! { #name: examples.labels }),
                TargetKind::Dense => fields.push(quote! { #name: examples.real_target() }),
            }
        }
        let batch_name = format_ident!("{}Batch", self.net.name);
        quote! { Ok(#batch_name { #(#fields),* }) }
    }

    /// The network's inputs from a batch.
    pub(super) fn inputs_of_batch(&self) -> TokenStream {
        let inputs_name = format_ident!("{}Inputs", self.net.name);
        let fields = self.net.inputs.iter().map(|i| &i.name);
        quote! { #inputs_name { #( #fields: batch.#fields, )* } }
    }

    /// The locals of the inputs, from `inputs`.
    pub(super) fn bind_inputs(&self) -> TokenStream {
        let inputs = self.net.inputs.iter().map(|i| {
            let (field, local) = (&i.name, format_ident!("in_{}", i.name));
            quote! { let #local = inputs.#field; }
        });
        quote! { #(#inputs)* }
    }

    /// The locals of the targets, from `batch`.
    pub(super) fn bind_targets(&self) -> TokenStream {
        let targets = self.net.targets.iter().map(|t| {
            let field = &t.name;
            let local = match t.kind {
                TargetKind::Classes => format_ident!("lb_{}", t.name),
                TargetKind::Dense => format_ident!("tg_{}", t.name),
            };
            quote! { let #local = batch.#field; }
        });
        quote! { #(#targets)* }
    }

    pub(super) fn check_batch(&self) -> TokenStream {
        let first = &self.net.inputs[0].name;
        let checks = self
            .net
            .inputs
            .iter()
            .map(|i| (&i.name, i.shape.size(), TargetKind::Dense))
            .chain(self.net.targets.iter().map(|t| (&t.name, t.width, t.kind)))
            .map(|(name, width, kind)| {
                let label = name.to_string();
                match kind {
                    TargetKind::Dense => {
                        quote! { ::symgrad::__private::check_batch_matrix(#label, batch.#name.dim(), rows, #width)?; }
                    }
                    TargetKind::Classes => {
                        quote! { ::symgrad::__private::check_batch_labels(#label, batch.#name.len(), rows)?; }
                    }
                }
            });
        quote! {
            let rows = batch.#first.nrows();
            #(#checks)*
            ws.reserve(rows);
        }
    }
}
