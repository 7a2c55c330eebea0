//! Code generation, a printer of the schedule: the parameter struct, its batch, inputs and
//! workspace types, the forward body that `forward`, `loss`, `output_and_loss`, `loss_train`
//! and `loss_and_grad` share, the backward body of `loss_and_grad`, the tape twin, the
//! derivation text and the runtime trait implementations.

use std::collections::BTreeMap;

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ast::TargetKind;
use crate::chain::Chain;
use crate::diff::{Derivative, latex_name};
use crate::graph::{Graph, NodeId};
use crate::lower::Lowered;
use crate::ops::{Activation, Init, Loss, RowReduction, Rows, Shape};
use crate::plan::Plan;
use crate::schedule::Schedule;

mod batch;
mod hvp;
mod kernels;
mod rows;
mod spatial;
mod twin;
mod views;

struct Emitter<'a> {
    net: &'a Lowered,
    graph: &'a Graph,
    plan: &'a Plan,
    /// The workspace field of each buffer.
    buffers: Vec<Ident>,
    /// The workspace field of each dropout mask.
    mask_fields: Vec<Ident>,
    /// The chain-rule equation each adjoint node computes, in the derivation's LaTeX.
    equations: BTreeMap<NodeId, String>,
    schedule: &'a Schedule,
    /// The length of the workspace's scratch `columns`.
    scratch: usize,
}

/// A compiled pass: its graph, plan, schedule and derivative (whose equations annotate the
/// backward steps), and adjoints of an earlier derivative that name buffers too.
pub struct Pass<'a> {
    pub graph: &'a Graph,
    pub plan: &'a Plan,
    pub schedule: &'a Schedule,
    pub derivative: &'a Derivative,
    pub earlier_adjoints: &'a [(NodeId, NodeId)],
    /// Its derivation text.
    pub derivation: &'a str,
}

impl<'a> Emitter<'a> {
    fn new(net: &'a Lowered, pass: &Pass<'a>) -> Self {
        let (graph, derivative) = (pass.graph, pass.derivative);
        let mask_fields: Vec<Ident> = (0..net.masks.len()).map(|m| format_ident!("mask{}", m)).collect();
        let adjoints: Vec<(NodeId, NodeId)> = pass
            .earlier_adjoints
            .iter()
            .chain(&derivative.adjoints)
            .copied()
            .collect();
        let buffers = buffer_names(graph, pass.plan, &adjoints, &mask_fields);
        let mut equations: BTreeMap<NodeId, String> = BTreeMap::new();
        for (&(value, adjoint), (_, terms)) in derivative.adjoints.iter().zip(&derivative.equations) {
            let equation = format!(" \\overline{{{}}} = {}", latex_name(graph, value), terms.join(" + "));
            equations
                .entry(adjoint)
                .and_modify(|e| e.push_str(&format!(";{equation}")))
                .or_insert(equation);
        }
        Emitter {
            net,
            graph,
            plan: pass.plan,
            buffers,
            mask_fields,
            equations,
            schedule: pass.schedule,
            scratch: spatial::scratch_len(graph),
        }
    }

    /// The workspace type of this pass: its buffers, dropout masks and scalars.
    fn workspace_items(&self, ws_name: &Ident, doc: &str) -> TokenStream {
        let (net, plan) = (self.net, self.plan);
        let vis = &net.vis;
        let (buffer_fields, mask_fields) = (&self.buffers, &self.mask_fields);
        let buffer_alloc: Vec<TokenStream> = plan
            .buffers
            .iter()
            .map(|s| alloc_tokens(*s, quote!(capacity)))
            .collect();
        let batch_buffers: Vec<&Ident> = buffer_fields
            .iter()
            .zip(&plan.buffers)
            .filter(|(_, s)| s.is_batch())
            .map(|(f, _)| f)
            .collect();
        let batch_buffer_alloc: Vec<TokenStream> = plan
            .buffers
            .iter()
            .filter(|s| s.is_batch())
            .map(|s| alloc_tokens(*s, quote!(rows)))
            .collect();
        let mask_alloc: Vec<TokenStream> = net.masks.iter().map(|s| alloc_tokens(*s, quote!(capacity))).collect();
        let mask_grow: Vec<TokenStream> = net.masks.iter().map(|s| alloc_tokens(*s, quote!(rows))).collect();
        let argmax_fields: Vec<Ident> = (0..net.argmaxes.len()).map(|i| format_ident!("argmax{}", i)).collect();
        let argmax_sizes: Vec<usize> = net.argmaxes.iter().map(|s| s.size()).collect();
        let columns = self.scratch;
        let scalar_fields: Vec<Ident> = plan
            .loc
            .iter()
            .filter_map(|loc| match loc {
                Some(crate::plan::Loc::Scalar(id)) => Some(format_ident!("s{}", id)),
                _ => None,
            })
            .collect();
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug)]
            #vis struct #ws_name<T = f32> {
                capacity: usize,
                #( #buffer_fields: ::symgrad::__private::ndarray::Array2<T>, )*
                #( #mask_fields: ::symgrad::__private::ndarray::Array2<T>, )*
                #( #argmax_fields: ::std::vec::Vec<usize>, )*
                columns: ::std::vec::Vec<T>,
                #( #scalar_fields: T, )*
            }

            impl<T: ::symgrad::__private::Scalar> #ws_name<T> {
                #[doc = "Buffers for batches of up to `capacity` rows."]
                pub fn new(capacity: usize) -> Self {
                    #ws_name {
                        capacity,
                        #( #buffer_fields: #buffer_alloc, )*
                        #( #mask_fields: #mask_alloc, )*
                        #( #argmax_fields: ::std::vec![0; capacity * #argmax_sizes], )*
                        columns: ::std::vec![T::ZERO; #columns],
                        #( #scalar_fields: T::ZERO, )*
                    }
                }

                #[doc = "The largest batch the buffers hold."]
                pub fn capacity(&self) -> usize {
                    self.capacity
                }

                /// Grows the batch buffers to hold `rows` rows; does nothing (and allocates nothing)
                /// if they already do.
                pub fn reserve(&mut self, rows: usize) {
                    if rows > self.capacity {
                        #( self.#batch_buffers = #batch_buffer_alloc; )*
                        #( self.#mask_fields = #mask_grow; )*
                        #( self.#argmax_fields = ::std::vec![0; rows * #argmax_sizes]; )*
                        self.capacity = rows;
                    }
                }
            }
        }
    }

    /// The start of every entry point that takes a `batch`: its checks, then `inputs`.
    fn batch_prelude(&self) -> TokenStream {
        let (check_batch, inputs_of_batch) = (self.check_batch(), self.inputs_of_batch());
        quote! {
            #check_batch
            let inputs = #inputs_of_batch;
        }
    }

    /// The backward steps after a forward pass, the batch bound, and copies into `grads` of
    /// the parameters' derivatives that live elsewhere; with `hook`, `on_final` is called for
    /// every parameter once its gradient is final.
    fn backward_pass(&self, hook: bool) -> TokenStream {
        self.backward_steps(hook, &BTreeMap::new())
    }

    /// The backward pass with plain gradient descent: the updates that fold into a product
    /// happen there, the others after the pass, from the gradients written into `grads`.
    fn sgd_pass(&self) -> TokenStream {
        let folded = self.schedule.folded_updates(self.graph, self.plan);
        let backward = self.backward_steps(false, &folded);
        let updates = (0..self.net.params.len())
            .filter(|param| !folded.values().any(|p| p == param))
            .map(|param| {
                let field = &self.net.params[param].name;
                quote! {
                    ::symgrad::__private::sgd_update(
                        self.#field.view_mut(), grads.#field.view(), rate, decay);
                }
            });
        quote! { #backward #( #updates )* }
    }

    /// [`Self::backward_pass`], with the updates in `folded` (see `backward_body`).
    fn backward_steps(&self, hook: bool, folded: &BTreeMap<usize, usize>) -> TokenStream {
        let (bind_inputs, bind_targets, backward_body) = (
            self.bind_inputs(),
            self.bind_targets(),
            self.backward_body(hook, folded),
        );
        let grad_copies = self.plan.grad_copies.iter().map(|&(param, node)| {
            let value = self.read(node);
            let slot = self.param_matrix(param, quote!(grads), true);
            let on_final = hook.then(|| kernels::on_final(param));
            quote! { #slot.assign(&#value); #on_final }
        });
        quote! {
            #bind_inputs
            #bind_targets
            #backward_body
            #( #grad_copies )*
        }
    }
}

/// The items of the network: everything of its `first` pass (forward, loss and gradient, and
/// `graph_dot` returning `dot`), `hvp` from its `hessian` pass and `gnvp` from its
/// `gauss_newton` pass; with `chain`, the training step also as a loop over blocks of samples
/// (`rows`).
pub fn emit(
    net: &Lowered,
    first: &Pass<'_>,
    hessian: &Pass<'_>,
    gauss_newton: &Pass<'_>,
    dot: &str,
    chain: Option<&Chain>,
) -> TokenStream {
    let mut e = Emitter::new(net, first);
    if let Some(chain) = chain {
        e.scratch = e.scratch.max(rows::scratch_len(chain));
    }
    let (plan, derivation) = (first.plan, first.derivation);
    let hvp = hvp::second_order_items(
        net,
        (&Emitter::new(net, hessian), hessian.derivation),
        (&Emitter::new(net, gauss_newton), gauss_newton.derivation),
    );
    let name = &net.name;
    let vis = &net.vis;
    let attrs = &net.attrs;
    let batch_name = format_ident!("{}Batch", name);
    let inputs_name = format_ident!("{}Inputs", name);
    let ws_name = format_ident!("{}Workspace", name);

    let fields: Vec<&Ident> = net.params.iter().map(|p| &p.name).collect();
    let dims_text = |dims: &[usize]| dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
    let field_docs: Vec<String> = net
        .params
        .iter()
        .map(|p| format!("`[{}]`", dims_text(&p.dims)))
        .collect();
    let field_types: Vec<TokenStream> = net
        .params
        .iter()
        .map(|p| {
            let rank = format_ident!("Ix{}", p.dims.len());
            quote!(::symgrad::__private::ndarray::Array<T, ::symgrad::__private::ndarray::#rank>)
        })
        .collect();
    let param_dims: Vec<TokenStream> = net
        .params
        .iter()
        .map(|p| {
            let dims = &p.dims;
            quote!([#(#dims),*])
        })
        .collect();
    let param_names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let indices: Vec<usize> = (0..fields.len()).collect();
    let count = fields.len();
    let inits: Vec<TokenStream> = net.params.iter().map(|p| init_tokens(p.init)).collect();

    let input_fields: Vec<&Ident> = net.inputs.iter().map(|i| &i.name).collect();
    let input_docs: Vec<String> = net.inputs.iter().map(|i| per_sample("Input", i.shape)).collect();
    let target_fields: Vec<TokenStream> = net
        .targets
        .iter()
        .map(|t| {
            let n = &t.name;
            match t.kind {
                TargetKind::Classes => {
                    let doc = format!("Class labels in `0..{}`, one per row.", t.width);
                    quote! { #[doc = #doc] pub #n: &'a [usize] }
                }
                TargetKind::Dense => {
                    let doc = per_sample("Target", t.shape);
                    quote! { #[doc = #doc] pub #n: ::symgrad::__private::ndarray::ArrayView2<'a, T> }
                }
            }
        })
        .collect();

    let buffer_count = plan.buffers.len();
    let computed = plan
        .eval
        .iter()
        .chain(&plan.loss)
        .chain(&plan.train)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let workspace = e.workspace_items(&ws_name, "Preallocated buffers for the network's compiled passes.");

    let prelude = e.batch_prelude();
    let bind_inputs = e.bind_inputs();
    let forward_body = e.forward_body();
    let backward_pass = e.backward_pass(true);
    let sgd_pass = e.sgd_pass();
    let output_view = e.read(plan.output);
    let loss_value = e.scalar(plan.loss_node);
    let first_input = &input_fields[0];
    let input_checks: Vec<TokenStream> = net
        .inputs
        .iter()
        .map(|i| {
            let (n, w, label) = (&i.name, i.shape.size(), i.name.to_string());
            quote! { ::symgrad::__private::check_batch_matrix(#label, inputs.#n.dim(), rows, #w)?; }
        })
        .collect();
    let (blocked_gradient, blocked_hooked, blocked_sgd) = match chain {
        Some(chain) => {
            let hooks = (0..count).map(kernels::on_final);
            let updates = fields.iter().map(|field| {
                quote! {
                    ::symgrad::__private::sgd_update(
                        self.#field.view_mut(), grads.#field.view(), rate, decay);
                }
            });
            (
                rows::method(net, chain, &ws_name),
                rows::shortcut(net, chain, quote!(#( #hooks )*)),
                rows::shortcut(net, chain, quote!(#( #updates )*)),
            )
        }
        None => Default::default(),
    };
    let twin = e.tape_twin();
    let batch_from_examples = e.batch_from_examples();
    let classifies = net.targets.iter().any(|t| t.kind == TargetKind::Classes);
    let doc = format!(
        "A network defined with `network!`: {count} parameter matrices, {} inputs.\n\nThe backward pass was derived symbolically at compile time; see [`{name}::derivation`].",
        net.inputs.len()
    );

    quote! {
        #(#attrs)*
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #name<T = f32> {
            #( #[doc = #field_docs] pub #fields: #field_types, )*
        }

        #[doc = "A batch for the network: its inputs and targets, one sample per row."]
        #[derive(Clone, Copy, Debug)]
        #vis struct #batch_name<'a, T = f32> {
            #( #[doc = #input_docs] pub #input_fields: ::symgrad::__private::ndarray::ArrayView2<'a, T>, )*
            #( #target_fields, )*
        }

        #[doc = "The network's inputs alone, for evaluation."]
        #[derive(Clone, Copy, Debug)]
        #vis struct #inputs_name<'a, T = f32> {
            #( #[doc = #input_docs] pub #input_fields: ::symgrad::__private::ndarray::ArrayView2<'a, T>, )*
        }

        #workspace

        #hvp

        impl<T: ::symgrad::__private::Scalar> #name<T> {
            /// Each parameter's name and shape, in declaration order.
            pub const PARAMETERS: [(&'static str, &'static [usize]); #count] = [ #( (#param_names, &#param_dims), )* ];

            /// How many matrices the workspace holds (dropout masks not counted): the values the
            /// compiled passes compute share them wherever their lifetimes do not overlap.
            pub const WORKSPACE_BUFFERS: usize = #buffer_count;

            /// How many values the compiled passes compute (matrices and scalars).
            pub const COMPUTED_VALUES: usize = #computed;

            /// The parameters, initialised from `rng` as the definition says.
            pub fn new<R: ::symgrad::__private::rand::Rng + ?Sized>(rng: &mut R) -> Self {
                let mut net = Self::zeros();
                #( ::symgrad::__private::Fill::fill(#inits, rng, net.#fields.view_mut()); )*
                net
            }

            /// All parameters zero: a gradient buffer.
            pub fn zeros() -> Self {
                #name { #( #fields: ::symgrad::__private::ndarray::Array::zeros(::symgrad::__private::ndarray::Dim(#param_dims)), )* }
            }

            /// A workspace for batches of up to `capacity` rows.
            pub fn workspace(&self, capacity: usize) -> #ws_name<T> {
                #ws_name::new(capacity)
            }

            /// The forward pass every entry point runs: the output's values if `output`, the
            /// loss's if there is a `batch`, dropout on if there is an `rng`. Inputs are checked.
            #[doc(hidden)]
            #[allow(unused_variables, unused_mut, clippy::all)]
            fn __forward<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut #ws_name<T>,
                inputs: &#inputs_name<'_, T>,
                batch: ::core::option::Option<&#batch_name<'_, T>>,
                mut rng: ::core::option::Option<&mut R>,
                output: bool,
            ) -> ::symgrad::__private::Result<()> {
                let rows = inputs.#first_input.nrows();
                #bind_inputs
                #forward_body
                Ok(())
            }

            /// The output in evaluation mode (dropout off), as a view into the workspace.
            #[allow(unused_variables, clippy::all)]
            pub fn forward<'w>(
                &self,
                ws: &'w mut #ws_name<T>,
                inputs: &#inputs_name<'_, T>,
            ) -> ::symgrad::__private::Result<::symgrad::__private::ndarray::ArrayView2<'w, T>> {
                let rows = inputs.#first_input.nrows();
                #( #input_checks )*
                ws.reserve(rows);
                self.__forward::<::symgrad::__private::rand::rngs::StdRng>(ws, inputs, None, None, true)?;
                Ok(#output_view)
            }

            /// The loss in evaluation mode (dropout off).
            #[allow(unused_variables, clippy::all)]
            pub fn loss(&self, ws: &mut #ws_name<T>, batch: &#batch_name<'_, T>) -> ::symgrad::__private::Result<T> {
                #prelude
                self.__forward::<::symgrad::__private::rand::rngs::StdRng>(ws, &inputs, Some(batch), None, false)?;
                Ok(#loss_value)
            }

            /// The output and the loss in evaluation mode, from one forward pass.
            #[allow(unused_variables, clippy::all)]
            pub fn output_and_loss<'w>(
                &self,
                ws: &'w mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
            ) -> ::symgrad::__private::Result<(::symgrad::__private::ndarray::ArrayView2<'w, T>, T)> {
                #prelude
                self.__forward::<::symgrad::__private::rand::rngs::StdRng>(ws, &inputs, Some(batch), None, true)?;
                Ok((#output_view, #loss_value))
            }

            /// The loss in training mode: dropout masks are drawn from `rng`.
            #[allow(unused_variables, clippy::all)]
            pub fn loss_train<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
            ) -> ::symgrad::__private::Result<T> {
                #prelude
                self.__forward(ws, &inputs, Some(batch), Some(rng), false)?;
                Ok(#loss_value)
            }

            /// The training-mode loss, and its gradient with respect to every parameter written
            /// into `grads`, by the backward pass derived at compile time: each step of it is
            /// annotated with the chain-rule equation it computes.
            #[inline]
            pub fn loss_and_grad<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                self.loss_and_grad_with_hook(ws, batch, rng, grads, |_, _| {})
            }

            /// [`Self::loss_and_grad`], calling `on_final(i, gradient)` for every parameter
            /// `i`, once each, right after the step that finishes its gradient (see
            /// `Model::loss_and_grad_with_hook`).
            #[allow(unused_variables, unused_doc_comments, clippy::all)]
            pub fn loss_and_grad_with_hook<
                R: ::symgrad::__private::rand::Rng + ?Sized,
                F: FnMut(usize, ::symgrad::__private::ndarray::ArrayViewD<'_, T>),
            >(
                &self,
                ws: &mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
                grads: &mut Self,
                mut on_final: F,
            ) -> ::symgrad::__private::Result<T> {
                #prelude
                #blocked_hooked
                self.__forward(ws, &inputs, Some(batch), Some(rng), false)?;
                #backward_pass
                Ok(#loss_value)
            }

            /// One step of plain gradient descent with an L2 penalty on the training-mode loss,
            /// `θ ← θ − α(∇L(θ) + λθ)` with `α = rate` and `λ = decay`; returns the loss before
            /// the step. A weight whose gradient one product computes after the weight's last
            /// use is updated inside that product (gemm with `β = 1 − αλ`), which saves a pass
            /// over it; the other gradients are written into `grads`, scratch space, and
            /// applied after the pass.
            #[allow(unused_variables, unused_doc_comments, clippy::all)]
            pub fn sgd_step<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &mut self,
                ws: &mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
                grads: &mut Self,
                rate: T,
                decay: T,
            ) -> ::symgrad::__private::Result<T> {
                #prelude
                #blocked_sgd
                self.__forward(ws, &inputs, Some(batch), Some(rng), false)?;
                #sgd_pass
                Ok(#loss_value)
            }

            #twin

            #blocked_gradient

            /// The backward pass as chain-rule equations (Markdown with LaTeX math).
            pub fn derivation() -> &'static str {
                #derivation
            }

            /// The forward pass and the derived backward pass of a training step as a Graphviz
            /// DOT graph: fused kernels filled yellow, the nodes holding parameter gradients red.
            /// Draw it with `dot -Tsvg`.
            pub fn graph_dot() -> &'static str {
                #dot
            }
        }

        impl<T: ::symgrad::__private::Scalar> ::symgrad::__private::Parameters<T> for #name<T> {
            fn count(&self) -> usize {
                #count
            }
            fn name(&self, index: usize) -> &str {
                Self::PARAMETERS[index].0
            }
            fn param(&self, index: usize) -> ::symgrad::__private::ndarray::ArrayViewD<'_, T> {
                match index {
                    #( #indices => self.#fields.view().into_dyn(), )*
                    _ => panic!("parameter index {index} out of range for {} parameters", #count),
                }
            }
            fn param_mut(&mut self, index: usize) -> ::symgrad::__private::ndarray::ArrayViewMutD<'_, T> {
                match index {
                    #( #indices => self.#fields.view_mut().into_dyn(), )*
                    _ => panic!("parameter index {index} out of range for {} parameters", #count),
                }
            }
        }

        impl<T: ::symgrad::__private::Scalar> ::symgrad::__private::Model<T> for #name<T> {
            type Workspace = #ws_name<T>;
            type Batch<'a> = #batch_name<'a, T>;

            fn init<R: ::symgrad::__private::rand::Rng + ?Sized>(rng: &mut R) -> Self {
                Self::new(rng)
            }
            fn zeros() -> Self {
                Self::zeros()
            }
            fn workspace(&self, capacity: usize) -> Self::Workspace {
                #ws_name::new(capacity)
            }
            fn output<'w>(
                &self,
                ws: &'w mut Self::Workspace,
                batch: &Self::Batch<'_>,
            ) -> ::symgrad::__private::Result<::symgrad::__private::ndarray::ArrayView2<'w, T>> {
                self.forward(ws, &#inputs_name { #( #input_fields: batch.#input_fields, )* })
            }
            fn loss(&self, ws: &mut Self::Workspace, batch: &Self::Batch<'_>) -> ::symgrad::__private::Result<T> {
                self.loss(ws, batch)
            }
            fn output_and_loss<'w>(
                &self,
                ws: &'w mut Self::Workspace,
                batch: &Self::Batch<'_>,
            ) -> ::symgrad::__private::Result<(::symgrad::__private::ndarray::ArrayView2<'w, T>, T)> {
                self.output_and_loss(ws, batch)
            }
            fn loss_train<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut Self::Workspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
            ) -> ::symgrad::__private::Result<T> {
                self.loss_train(ws, batch, rng)
            }
            fn loss_and_grad<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                ws: &mut Self::Workspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                self.loss_and_grad(ws, batch, rng, grads)
            }
            fn loss_and_grad_with_hook<
                R: ::symgrad::__private::rand::Rng + ?Sized,
                F: FnMut(usize, ::symgrad::__private::ndarray::ArrayViewD<'_, T>),
            >(
                &self,
                ws: &mut Self::Workspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                grads: &mut Self,
                on_final: F,
            ) -> ::symgrad::__private::Result<T> {
                self.loss_and_grad_with_hook(ws, batch, rng, grads, on_final)
            }
            fn sgd_step<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &mut self,
                ws: &mut Self::Workspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                grads: &mut Self,
                rate: T,
                decay: T,
            ) -> ::symgrad::__private::Result<T> {
                self.sgd_step(ws, batch, rng, grads, rate, decay)
            }
        }

        impl<T: ::symgrad::__private::Scalar> ::symgrad::__private::FromExamples<T> for #name<T> {
            fn batch(examples: ::symgrad::__private::Examples<'_, T>) -> ::symgrad::__private::Result<Self::Batch<'_>> {
                #batch_from_examples
            }
            fn classifies() -> bool {
                #classifies
            }
        }

        impl<T: ::symgrad::__private::Scalar> ::symgrad::__private::TapeTwin<T> for #name<T> {
            fn tape_loss_and_grad<R: ::symgrad::__private::rand::Rng + ?Sized>(
                &self,
                tape: &mut ::symgrad::__private::Tape<T>,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::__private::Result<T> {
                self.tape_loss_and_grad(tape, batch, rng, grads)
            }
        }
    }
}

/// `::symgrad::__private::Init::Variant` or `::symgrad::__private::Init::Variant(arg)`, from the table's value.
fn init_tokens(init: Init) -> TokenStream {
    let variant = variant_ident(&format!("{init:?}"));
    match init {
        Init::Constant(c) => {
            let c = float(c);
            quote!(::symgrad::__private::Init::#variant(#c))
        }
        _ => quote!(::symgrad::__private::Init::#variant),
    }
}

/// `::symgrad::__private::Loss::Variant`.
fn loss_tokens(loss: Loss) -> TokenStream {
    let variant = variant_ident(&format!("{loss:?}"));
    quote!(::symgrad::__private::Loss::#variant)
}

/// `::symgrad::__private::kernels::RowReduction::Variant`.
fn reduction_tokens(kind: RowReduction) -> TokenStream {
    let variant = variant_ident(&format!("{kind:?}"));
    quote!(::symgrad::__private::kernels::RowReduction::#variant)
}

/// The variant name of a table value from its `Debug` form (`LeakyRelu(0.1)` → `LeakyRelu`).
fn variant_ident(debug: &str) -> proc_macro2::Ident {
    let name = debug.split(['(', ' ', '{']).next().unwrap_or(debug);
    proc_macro2::Ident::new(name, proc_macro2::Span::call_site())
}

/// Workspace fields named after the values they hold: the first value written to the buffer,
/// or the last of those computed in place over it (`h` for `h = relu(h_pre)`), by its name in
/// the definition (`h1`) or as the adjoint of a named value (`grad_z`); else the next named
/// value the buffer holds, else `tmp{b}`. A name taken by another field gets the buffer's number.
fn buffer_names(graph: &Graph, plan: &Plan, adjoints: &[(NodeId, NodeId)], masks: &[Ident]) -> Vec<Ident> {
    let label = |id: NodeId| graph.nodes[id].label.clone();
    let name_of = |id: NodeId| {
        label(id).or_else(|| {
            adjoints
                .iter()
                .find(|&&(_, adjoint)| adjoint == id)
                .and_then(|&(value, _)| label(value))
                .map(|l| format!("grad_{l}"))
        })
    };
    let mut taken: std::collections::BTreeSet<String> = masks.iter().map(|m| m.to_string()).collect();
    taken.insert("capacity".to_owned());
    plan.buffer_values
        .iter()
        .enumerate()
        .map(|(b, values)| {
            // A label is an identifier of the definition; a raw one (`r#type`) loses its prefix,
            // and a name that is then no plain identifier is not used.
            let plain = |n: String| {
                let n = n.trim_start_matches("r#").to_owned();
                syn::parse_str::<Ident>(&n).is_ok().then_some(n)
            };
            // The first value and those computed in place over it (`h_pre`, then `h = relu(..)`):
            // the last of them with a name.
            let chain = 1 + values.iter().skip(1).take_while(|&&id| plan.in_place[id]).count();
            let name = values[..chain]
                .iter()
                .rev()
                .chain(&values[chain..])
                .find_map(|&id| name_of(id).and_then(plain))
                .unwrap_or_else(|| format!("tmp{b}"));
            let name = if taken.contains(&name) {
                format!("{name}_{b}")
            } else {
                name
            };
            taken.insert(name.clone());
            format_ident!("{}", name)
        })
        .collect()
}

/// A buffer holding a value of `shape` as its matrix ([`Shape::matrix`]).
fn alloc_tokens(shape: Shape, batch_rows: TokenStream) -> TokenStream {
    let (rows, cols) = shape.matrix();
    let rows = match rows {
        Rows::Batch => batch_rows,
        Rows::Fixed(r) => quote!(#r),
    };
    quote!(::symgrad::__private::ndarray::Array2::zeros((#rows, #cols)))
}

/// The doc of an input or dense target: its shape, and how a batch of it is passed.
fn per_sample(what: &str, shape: Shape) -> String {
    if shape.is_batch_of_vectors() {
        format!("{what} `{shape}`.")
    } else {
        format!(
            "{what} `{shape}`, passed as `[batch, {}]`: each sample's values in row-major order.",
            shape.size()
        )
    }
}

/// `::symgrad::__private::Activation::Variant` or `::symgrad::__private::Activation::Variant(arg)`.
fn act_tokens(act: Activation) -> TokenStream {
    let variant = variant_ident(&format!("{act:?}"));
    match act.arg() {
        Some(a) => {
            let a = float(a);
            quote!(::symgrad::__private::Activation::#variant(#a))
        }
        None => quote!(::symgrad::__private::Activation::#variant),
    }
}

/// An `f64` literal; a constant that overflowed while folding is a compile error, not a panic.
fn float(c: f64) -> TokenStream {
    if c.is_finite() {
        let literal = Literal::f64_suffixed(c);
        quote!(#literal)
    } else {
        quote!(compile_error!("a constant of the network overflows the f64 range"))
    }
}

fn constant(c: f64) -> TokenStream {
    let c = float(c);
    quote!(T::from_f64(#c))
}
