//! After a compile error, the generated API with bodies that never run: the network's type,
//! its batch, inputs and workspaces, every inherent method and every trait the runtime's
//! functions need. Code that uses the network then adds no "no function `new` found" or
//! "trait bound not satisfied" errors to the one that matters (the `compile_error!` keeps the
//! crate from building, so nothing here is ever called).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ast::{Header, Item, Network, TargetKind};

/// The stub of the definition `input`: nothing if not even `struct Name` can be read; batch
/// and inputs without fields if the statements cannot be read.
pub(crate) fn stub(input: TokenStream) -> TokenStream {
    let Ok(Header { vis, name }) = syn::parse2::<Header>(input.clone()) else {
        return TokenStream::new();
    };
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    if let Ok(network) = syn::parse2::<Network>(input) {
        for item in network.items {
            match item {
                Item::Input { name, .. } => inputs.push(name),
                Item::Target { name, kind, .. } => targets.push(match kind {
                    TargetKind::Classes => quote! { pub #name: &'a [usize] },
                    TargetKind::Dense => quote! { pub #name: ::symgrad::__private::ndarray::ArrayView2<'a, T> },
                }),
                _ => {}
            }
        }
    }
    let private = quote! { ::symgrad::__private };
    let view = quote! { #private::ndarray::ArrayView2<'a, T> };
    // Without fields, a marker keeps the lifetime and the type parameter in use.
    let marker = (inputs.is_empty() && targets.is_empty())
        .then(|| quote! { #[doc(hidden)] pub __marker: ::core::marker::PhantomData<&'a T>, });
    let input_marker = inputs
        .is_empty()
        .then(|| quote! { #[doc(hidden)] pub __marker: ::core::marker::PhantomData<&'a T>, });
    let [batch, inputs_name, ws, hvp_ws, gnvp_ws] =
        ["Batch", "Inputs", "Workspace", "HvpWorkspace", "GnvpWorkspace"].map(|s| format_ident!("{name}{s}"));
    let never = quote! { ::core::unreachable!("the definition did not compile") };
    let rng = quote! { R: #private::rand::Rng + ?Sized };
    quote! {
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #name<T = f32>(::core::marker::PhantomData<T>);
        #[derive(Clone, Copy, Debug)]
        #vis struct #batch<'a, T = f32> { #( pub #inputs: #view, )* #( #targets, )* #marker }
        #[derive(Clone, Copy, Debug)]
        #vis struct #inputs_name<'a, T = f32> { #( pub #inputs: #view, )* #input_marker }
        #vis struct #ws<T = f32>(::core::marker::PhantomData<T>);
        #vis struct #hvp_ws<T = f32>(::core::marker::PhantomData<T>);
        #vis struct #gnvp_ws<T = f32>(::core::marker::PhantomData<T>);

        #[allow(unused_variables, clippy::all)]
        impl<T: #private::Scalar> #name<T> {
            pub fn new<#rng>(rng: &mut R) -> Self { #never }
            pub fn zeros() -> Self { #never }
            pub fn workspace(&self, capacity: usize) -> #ws<T> { #never }
            pub fn forward<'w>(&self, ws: &'w mut #ws<T>, inputs: &#inputs_name<'_, T>)
                -> #private::Result<#private::ndarray::ArrayView2<'w, T>> { #never }
            pub fn loss(&self, ws: &mut #ws<T>, batch: &#batch<'_, T>) -> #private::Result<T> { #never }
            pub fn output_and_loss<'w>(&self, ws: &'w mut #ws<T>, batch: &#batch<'_, T>)
                -> #private::Result<(#private::ndarray::ArrayView2<'w, T>, T)> { #never }
            pub fn loss_train<#rng>(&self, ws: &mut #ws<T>, batch: &#batch<'_, T>, rng: &mut R)
                -> #private::Result<T> { #never }
            pub fn loss_and_grad<#rng>(&self, ws: &mut #ws<T>, batch: &#batch<'_, T>, rng: &mut R, grads: &mut Self)
                -> #private::Result<T> { #never }
            pub fn derivation() -> &'static str { #never }
            pub fn graph_dot() -> &'static str { #never }
            pub fn hvp_workspace(&self, capacity: usize) -> #hvp_ws<T> { #never }
            pub fn hvp<#rng>(&self, ws: &mut #hvp_ws<T>, batch: &#batch<'_, T>, rng: &mut R, v: &Self, out: &mut Self)
                -> #private::Result<T> { #never }
            pub fn hvp_derivation() -> &'static str { #never }
            pub fn gnvp_workspace(&self, capacity: usize) -> #gnvp_ws<T> { #never }
            pub fn gnvp<#rng>(&self, ws: &mut #gnvp_ws<T>, batch: &#batch<'_, T>, rng: &mut R, v: &Self, out: &mut Self)
                -> #private::Result<T> { #never }
            pub fn gnvp_derivation() -> &'static str { #never }
            pub fn record<#rng>(&self, tape: &mut #private::Tape<T>, batch: &#batch<'_, T>, rng: &mut R)
                -> #private::Result<(#private::Var, ::std::vec::Vec<#private::Var>)> { #never }
            pub fn tape_loss_and_grad<#rng>(
                &self, tape: &mut #private::Tape<T>, batch: &#batch<'_, T>, rng: &mut R, grads: &mut Self,
            ) -> #private::Result<T> { #never }
            pub fn tape_hvp<#rng>(&self, batch: &#batch<'_, T>, rng: &mut R, v: &Self, out: &mut Self)
                -> #private::Result<T> { #never }
        }

        #[allow(unused_variables, clippy::all)]
        impl<T: #private::Scalar> #private::Parameters<T> for #name<T> {
            fn count(&self) -> usize { #never }
            fn name(&self, index: usize) -> &str { #never }
            fn param(&self, index: usize) -> #private::ndarray::ArrayViewD<'_, T> { #never }
            fn param_mut(&mut self, index: usize) -> #private::ndarray::ArrayViewMutD<'_, T> { #never }
        }

        #[allow(unused_variables, clippy::all)]
        impl<T: #private::Scalar> #private::Model<T> for #name<T> {
            type Workspace = #ws<T>;
            type Batch<'a> = #batch<'a, T>;
            fn init<#rng>(rng: &mut R) -> Self { #never }
            fn zeros() -> Self { #never }
            fn workspace(&self, capacity: usize) -> #ws<T> { #never }
            fn output<'w>(&self, ws: &'w mut #ws<T>, batch: &#batch<'_, T>)
                -> #private::Result<#private::ndarray::ArrayView2<'w, T>> { #never }
            fn output_and_loss<'w>(&self, ws: &'w mut #ws<T>, batch: &#batch<'_, T>)
                -> #private::Result<(#private::ndarray::ArrayView2<'w, T>, T)> { #never }
            fn loss(&self, ws: &mut #ws<T>, batch: &#batch<'_, T>) -> #private::Result<T> { #never }
            fn loss_train<#rng>(&self, ws: &mut #ws<T>, batch: &#batch<'_, T>, rng: &mut R)
                -> #private::Result<T> { #never }
            fn loss_and_grad<#rng>(&self, ws: &mut #ws<T>, batch: &#batch<'_, T>, rng: &mut R, grads: &mut Self)
                -> #private::Result<T> { #never }
        }

        #[allow(unused_variables, clippy::all)]
        impl<T: #private::Scalar> #private::HessianVector<T> for #name<T> {
            type HvpWorkspace = #hvp_ws<T>;
            type GnvpWorkspace = #gnvp_ws<T>;
            fn hvp_workspace(&self, capacity: usize) -> #hvp_ws<T> { #never }
            fn hvp<#rng>(&self, ws: &mut #hvp_ws<T>, batch: &#batch<'_, T>, rng: &mut R, v: &Self, out: &mut Self)
                -> #private::Result<T> { #never }
            fn tape_hvp<#rng>(&self, batch: &#batch<'_, T>, rng: &mut R, v: &Self, out: &mut Self)
                -> #private::Result<T> { #never }
            fn gnvp_workspace(&self, capacity: usize) -> #gnvp_ws<T> { #never }
            fn gnvp<#rng>(&self, ws: &mut #gnvp_ws<T>, batch: &#batch<'_, T>, rng: &mut R, v: &Self, out: &mut Self)
                -> #private::Result<T> { #never }
        }

        #[allow(unused_variables, clippy::all)]
        impl<T: #private::Scalar> #private::FromExamples<T> for #name<T> {
            fn batch(examples: #private::Examples<'_, T>) -> #private::Result<#batch<'_, T>> { #never }
            fn classifies() -> bool { #never }
        }

        #[allow(unused_variables, clippy::all)]
        impl<T: #private::Scalar> #private::TapeTwin<T> for #name<T> {
            fn tape_loss_and_grad<#rng>(
                &self, tape: &mut #private::Tape<T>, batch: &#batch<'_, T>, rng: &mut R, grads: &mut Self,
            ) -> #private::Result<T> { #never }
        }
    }
}
