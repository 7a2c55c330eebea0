//! Code generation: the parameter struct, its batch, inputs and workspace types, the three
//! compiled schedules (`forward`, `loss`/`loss_train`, `loss_and_grad`), the tape twin, the
//! derivation text and the runtime trait implementations.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ast::TargetKind;
use crate::graph::{Graph, NodeId};
use crate::lower::{Init, Lowered};
use crate::ops::{Act, Op, Rows, Shape, TargetRef};
use crate::plan::{Loc, Plan};

/// Whether dropout is active.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Eval,
    Train,
}

struct Emitter<'a> {
    net: &'a Lowered,
    graph: &'a Graph,
    plan: &'a Plan,
}

pub fn emit(net: &Lowered, graph: &Graph, plan: &Plan, derivation: &str) -> TokenStream {
    let e = Emitter { net, graph, plan };
    let name = &net.name;
    let vis = &net.vis;
    let attrs = &net.attrs;
    let batch_name = format_ident!("{}Batch", name);
    let inputs_name = format_ident!("{}Inputs", name);
    let ws_name = format_ident!("{}Workspace", name);

    let fields: Vec<&Ident> = net.params.iter().map(|p| &p.name).collect();
    let field_docs: Vec<String> = net
        .params
        .iter()
        .map(|p| format!("`[{}, {}]`", p.rows, p.cols))
        .collect();
    let param_names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let indices: Vec<usize> = (0..fields.len()).collect();
    let count = fields.len();
    let rows: Vec<usize> = net.params.iter().map(|p| p.rows).collect();
    let cols: Vec<usize> = net.params.iter().map(|p| p.cols).collect();
    let inits: Vec<TokenStream> = net.params.iter().map(|p| init_tokens(p.init)).collect();

    let input_fields: Vec<&Ident> = net.inputs.iter().map(|i| &i.name).collect();
    let input_docs: Vec<String> = net
        .inputs
        .iter()
        .map(|i| format!("Input `[batch, {}]`.", i.width))
        .collect();
    let input_locals: Vec<Ident> = input_fields.iter().map(|f| format_ident!("in_{}", f)).collect();
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
                    let doc = format!("Target `[batch, {}]`.", t.width);
                    quote! { #[doc = #doc] pub #n: ::symgrad::ndarray::ArrayView2<'a, T> }
                }
            }
        })
        .collect();

    let buffer_fields: Vec<Ident> = (0..plan.buffers.len()).map(|b| format_ident!("b{}", b)).collect();
    let buffer_alloc: Vec<TokenStream> = plan
        .buffers
        .iter()
        .map(|s| alloc_tokens(*s, quote!(capacity)))
        .collect();
    let batch_buffers: Vec<&Ident> = buffer_fields
        .iter()
        .zip(&plan.buffers)
        .filter(|(_, s)| matches!(s, Shape::Matrix(Rows::Batch, _)))
        .map(|(f, _)| f)
        .collect();
    let batch_buffer_alloc: Vec<TokenStream> = plan
        .buffers
        .iter()
        .filter(|s| matches!(s, Shape::Matrix(Rows::Batch, _)))
        .map(|s| alloc_tokens(*s, quote!(rows)))
        .collect();
    let mask_fields: Vec<Ident> = (0..net.masks.len()).map(|m| format_ident!("m{}", m)).collect();
    let mask_alloc: Vec<TokenStream> = net.masks.iter().map(|s| alloc_tokens(*s, quote!(capacity))).collect();
    let mask_grow: Vec<TokenStream> = net.masks.iter().map(|s| alloc_tokens(*s, quote!(rows))).collect();

    let bind_batch = e.bind_batch();
    let check_batch = e.check_batch();
    let eval_body = e.schedule(&plan.eval, Mode::Eval);
    let loss_eval_body = e.schedule(&plan.loss, Mode::Eval);
    let loss_train_body = e.schedule(&plan.loss, Mode::Train);
    let train_body = e.schedule(&plan.train, Mode::Train);
    let grad_copies: Vec<TokenStream> = plan
        .grad_copies
        .iter()
        .map(|&(param, node)| {
            let field = &net.params[param].name;
            let value = e.read(node);
            quote! { grads.#field.assign(&#value); }
        })
        .collect();
    let output_view = e.read(plan.output);
    let loss_value = e.scalar(plan.loss_node);
    let first_input = &input_fields[0];
    let input_checks: Vec<TokenStream> = net
        .inputs
        .iter()
        .map(|i| {
            let (n, w, label) = (&i.name, i.width, i.name.to_string());
            quote! { ::symgrad::model::check_batch_matrix(#label, inputs.#n.dim(), rows, #w)?; }
        })
        .collect();
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
            #( #[doc = #field_docs] pub #fields: ::symgrad::ndarray::Array2<T>, )*
        }

        #[doc = "A batch for the network: its inputs and targets, one sample per row."]
        #[derive(Clone, Copy, Debug)]
        #vis struct #batch_name<'a, T = f32> {
            #( #[doc = #input_docs] pub #input_fields: ::symgrad::ndarray::ArrayView2<'a, T>, )*
            #( #target_fields, )*
        }

        #[doc = "The network's inputs alone, for evaluation."]
        #[derive(Clone, Copy, Debug)]
        #vis struct #inputs_name<'a, T = f32> {
            #( #[doc = #input_docs] pub #input_fields: ::symgrad::ndarray::ArrayView2<'a, T>, )*
        }

        #[doc = "Preallocated buffers for the network's compiled passes."]
        #[derive(Clone, Debug)]
        #vis struct #ws_name<T = f32> {
            capacity: usize,
            #( #buffer_fields: ::symgrad::ndarray::Array2<T>, )*
            #( #mask_fields: ::symgrad::ndarray::Array2<T>, )*
        }

        impl<T: ::symgrad::Scalar> #ws_name<T> {
            #[doc = "Buffers for batches of up to `capacity` rows."]
            pub fn new(capacity: usize) -> Self {
                #ws_name {
                    capacity,
                    #( #buffer_fields: #buffer_alloc, )*
                    #( #mask_fields: #mask_alloc, )*
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
                    self.capacity = rows;
                }
            }
        }

        impl<T: ::symgrad::Scalar> #name<T> {
            /// Each parameter's name, rows and columns, in declaration order.
            pub const PARAMETERS: [(&'static str, usize, usize); #count] = [ #( (#param_names, #rows, #cols), )* ];

            /// The parameters, initialised from `rng` as the definition says.
            pub fn new<R: ::symgrad::rand::Rng + ?Sized>(rng: &mut R) -> Self {
                let mut net = Self::zeros();
                #( #inits.fill(rng, net.#fields.view_mut()); )*
                net
            }

            /// All parameters zero: a gradient buffer.
            pub fn zeros() -> Self {
                #name { #( #fields: ::symgrad::ndarray::Array2::zeros((#rows, #cols)), )* }
            }

            /// A workspace for batches of up to `capacity` rows.
            pub fn workspace(&self, capacity: usize) -> #ws_name<T> {
                #ws_name::new(capacity)
            }

            /// The output in evaluation mode (dropout off), as a view into the workspace.
            #[allow(unused_variables, clippy::all)]
            pub fn forward<'w>(
                &self,
                ws: &'w mut #ws_name<T>,
                inputs: &#inputs_name<'_, T>,
            ) -> ::symgrad::Result<::symgrad::ndarray::ArrayView2<'w, T>> {
                let rows = inputs.#first_input.nrows();
                #( #input_checks )*
                ws.reserve(rows);
                #( let #input_locals = inputs.#input_fields; )*
                #eval_body
                Ok(#output_view)
            }

            /// The loss in evaluation mode (dropout off).
            #[allow(unused_variables, clippy::all)]
            pub fn loss(&self, ws: &mut #ws_name<T>, batch: &#batch_name<'_, T>) -> ::symgrad::Result<T> {
                #check_batch
                #bind_batch
                #loss_eval_body
                Ok(#loss_value)
            }

            /// The loss in training mode: dropout masks are drawn from `rng`.
            #[allow(unused_variables, clippy::all)]
            pub fn loss_train<R: ::symgrad::rand::Rng + ?Sized>(
                &self,
                ws: &mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
            ) -> ::symgrad::Result<T> {
                #check_batch
                #bind_batch
                #loss_train_body
                Ok(#loss_value)
            }

            /// The training-mode loss, and its gradient with respect to every parameter written
            /// into `grads`, by the backward pass derived at compile time.
            #[allow(unused_variables, clippy::all)]
            pub fn loss_and_grad<R: ::symgrad::rand::Rng + ?Sized>(
                &self,
                ws: &mut #ws_name<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::Result<T> {
                #check_batch
                #bind_batch
                #train_body
                #( #grad_copies )*
                Ok(#loss_value)
            }

            #twin

            /// The backward pass as chain-rule equations (Markdown with LaTeX math).
            pub fn derivation() -> &'static str {
                #derivation
            }
        }

        impl<T: ::symgrad::Scalar> ::symgrad::Parameters<T> for #name<T> {
            fn count(&self) -> usize {
                #count
            }
            fn name(&self, index: usize) -> &str {
                Self::PARAMETERS[index].0
            }
            fn param(&self, index: usize) -> ::symgrad::ndarray::ArrayView2<'_, T> {
                match index {
                    #( #indices => self.#fields.view(), )*
                    _ => panic!("parameter index {index} out of range for {} parameters", #count),
                }
            }
            fn param_mut(&mut self, index: usize) -> ::symgrad::ndarray::ArrayViewMut2<'_, T> {
                match index {
                    #( #indices => self.#fields.view_mut(), )*
                    _ => panic!("parameter index {index} out of range for {} parameters", #count),
                }
            }
        }

        impl<T: ::symgrad::Scalar> ::symgrad::Model<T> for #name<T> {
            type Workspace = #ws_name<T>;
            type Batch<'a> = #batch_name<'a, T>;

            fn batch(examples: ::symgrad::Examples<'_, T>) -> ::symgrad::Result<Self::Batch<'_>> {
                #batch_from_examples
            }
            fn classifies() -> bool {
                #classifies
            }
            fn init<R: ::symgrad::rand::Rng + ?Sized>(rng: &mut R) -> Self {
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
            ) -> ::symgrad::Result<::symgrad::ndarray::ArrayView2<'w, T>> {
                self.forward(ws, &#inputs_name { #( #input_fields: batch.#input_fields, )* })
            }
            fn loss(&self, ws: &mut Self::Workspace, batch: &Self::Batch<'_>) -> ::symgrad::Result<T> {
                self.loss(ws, batch)
            }
            fn loss_train<R: ::symgrad::rand::Rng + ?Sized>(
                &self,
                ws: &mut Self::Workspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
            ) -> ::symgrad::Result<T> {
                self.loss_train(ws, batch, rng)
            }
            fn loss_and_grad<R: ::symgrad::rand::Rng + ?Sized>(
                &self,
                ws: &mut Self::Workspace,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::Result<T> {
                self.loss_and_grad(ws, batch, rng, grads)
            }
            fn tape_loss_and_grad<R: ::symgrad::rand::Rng + ?Sized>(
                &self,
                tape: &mut ::symgrad::Tape<T>,
                batch: &Self::Batch<'_>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::Result<T> {
                self.tape_loss_and_grad(tape, batch, rng, grads)
            }
        }
    }
}

fn init_tokens(init: Init) -> TokenStream {
    match init {
        Init::XavierNormal => quote!(::symgrad::Init::XavierNormal),
        Init::XavierUniform => quote!(::symgrad::Init::XavierUniform),
        Init::He => quote!(::symgrad::Init::He),
        Init::Normal => quote!(::symgrad::Init::StandardNormal),
        Init::Zeros => quote!(::symgrad::Init::Zeros),
        Init::Constant(c) => {
            let c = float(c);
            quote!(::symgrad::Init::Constant(#c))
        }
    }
}

fn alloc_tokens(shape: Shape, batch_rows: TokenStream) -> TokenStream {
    match shape {
        Shape::Matrix(Rows::Batch, c) => quote!(::symgrad::ndarray::Array2::zeros((#batch_rows, #c))),
        Shape::Matrix(Rows::Fixed(r), c) => quote!(::symgrad::ndarray::Array2::zeros((#r, #c))),
        Shape::Scalar => quote!(::symgrad::ndarray::Array2::zeros((1, 1))),
    }
}

fn act_tokens(act: Act) -> TokenStream {
    match act {
        Act::Relu => quote!(::symgrad::Activation::Relu),
        Act::LeakyRelu(a) => {
            let a = float(a);
            quote!(::symgrad::Activation::LeakyRelu(#a))
        }
        Act::Sigmoid => quote!(::symgrad::Activation::Sigmoid),
        Act::Tanh => quote!(::symgrad::Activation::Tanh),
        Act::Softplus => quote!(::symgrad::Activation::Softplus),
        Act::Exp => quote!(::symgrad::Activation::Exp),
        Act::Log => quote!(::symgrad::Activation::Log),
        Act::Square => quote!(::symgrad::Activation::Square),
        Act::Abs => quote!(::symgrad::Activation::Abs),
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

impl Emitter<'_> {
    fn loc(&self, id: NodeId) -> Loc {
        self.plan.loc[id].unwrap_or(Loc::Constant)
    }

    /// A read-only view of a node's value.
    fn read(&self, id: NodeId) -> TokenStream {
        match self.loc(id) {
            Loc::Buffer(b) => {
                let field = format_ident!("b{}", b);
                match self.plan.buffers[b] {
                    Shape::Matrix(Rows::Batch, _) => quote!(ws.#field.slice(::symgrad::ndarray::s![..rows, ..])),
                    _ => quote!(ws.#field.view()),
                }
            }
            Loc::Param(i) => {
                let field = &self.net.params[i].name;
                quote!(self.#field.view())
            }
            Loc::Grad(i) => {
                let field = &self.net.params[i].name;
                quote!(grads.#field.view())
            }
            Loc::Input(i) => {
                let local = format_ident!("in_{}", self.net.inputs[i].name);
                quote!(#local)
            }
            Loc::Target(i) => {
                let local = format_ident!("tg_{}", self.net.targets[i].name);
                quote!(#local)
            }
            Loc::Scalar(_) | Loc::Constant => self.scalar(id),
        }
    }

    /// A mutable view of the node's own location.
    fn write(&self, id: NodeId) -> TokenStream {
        match self.loc(id) {
            Loc::Buffer(b) => {
                let field = format_ident!("b{}", b);
                match self.plan.buffers[b] {
                    Shape::Matrix(Rows::Batch, _) => quote!(ws.#field.slice_mut(::symgrad::ndarray::s![..rows, ..])),
                    _ => quote!(ws.#field.view_mut()),
                }
            }
            Loc::Grad(i) => {
                let field = &self.net.params[i].name;
                quote!(grads.#field.view_mut())
            }
            other => {
                let message = format!("internal: node {id} at {other:?} is not writable");
                quote!(compile_error!(#message))
            }
        }
    }

    fn mask(&self, mask: usize, mutable: bool) -> TokenStream {
        let field = format_ident!("m{}", mask);
        if mutable {
            quote!(ws.#field.slice_mut(::symgrad::ndarray::s![..rows, ..]))
        } else {
            quote!(ws.#field.slice(::symgrad::ndarray::s![..rows, ..]))
        }
    }

    fn scalar(&self, id: NodeId) -> TokenStream {
        match self.graph.nodes[id].op {
            Op::Constant(c) => constant(c),
            _ => {
                let local = format_ident!("s{}", id);
                quote!(#local)
            }
        }
    }

    fn target(&self, target: TargetRef, dense: Option<NodeId>) -> TokenStream {
        match (target, dense) {
            (TargetRef::Labels(i), _) => {
                let local = format_ident!("lb_{}", self.net.targets[i].name);
                quote!(::symgrad::Target::Labels(#local))
            }
            (TargetRef::Dense, Some(t)) => {
                let view = self.read(t);
                quote!(::symgrad::Target::Dense(#view))
            }
            (TargetRef::Dense, None) => quote!(compile_error!("internal: dense target without a value")),
        }
    }

    /// `Model::batch`: the one input from the features, class labels from the labels, a
    /// real-valued target from the clean features (an autoencoder's target).
    fn batch_from_examples(&self) -> TokenStream {
        let net_name = self.net.name.to_string();
        let unfit = |message: String| quote! { Err(::symgrad::Error::format(#net_name, #message)) };
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
                TargetKind::Dense => fields.push(quote! { #name: examples.clean }),
            }
        }
        let batch_name = format_ident!("{}Batch", self.net.name);
        quote! { Ok(#batch_name { #(#fields),* }) }
    }

    fn bind_batch(&self) -> TokenStream {
        let inputs = self.net.inputs.iter().map(|i| {
            let (field, local) = (&i.name, format_ident!("in_{}", i.name));
            quote! { let #local = batch.#field; }
        });
        let targets = self.net.targets.iter().map(|t| {
            let field = &t.name;
            let local = match t.kind {
                TargetKind::Classes => format_ident!("lb_{}", t.name),
                TargetKind::Dense => format_ident!("tg_{}", t.name),
            };
            quote! { let #local = batch.#field; }
        });
        quote! { #(#inputs)* #(#targets)* }
    }

    fn check_batch(&self) -> TokenStream {
        let first = &self.net.inputs[0].name;
        let checks = self
            .net
            .inputs
            .iter()
            .map(|i| (&i.name, i.width, TargetKind::Dense))
            .chain(self.net.targets.iter().map(|t| (&t.name, t.width, t.kind)))
            .map(|(name, width, kind)| {
                let label = name.to_string();
                match kind {
                    TargetKind::Dense => {
                        quote! { ::symgrad::model::check_batch_matrix(#label, batch.#name.dim(), rows, #width)?; }
                    }
                    TargetKind::Classes => {
                        quote! { ::symgrad::model::check_batch_labels(#label, batch.#name.len(), rows)?; }
                    }
                }
            });
        quote! {
            let rows = batch.#first.nrows();
            #(#checks)*
            ws.reserve(rows);
        }
    }

    fn schedule(&self, nodes: &[NodeId], mode: Mode) -> TokenStream {
        let stmts = nodes.iter().map(|&id| self.stmt(id, mode));
        quote! { #(#stmts)* }
    }

    /// The kernel call computing one node.
    fn stmt(&self, id: NodeId, mode: Mode) -> TokenStream {
        let node = &self.graph.nodes[id];
        let ins = &node.inputs;
        let in_place = self.plan.in_place[id];
        if node.shape == Shape::Scalar {
            return self.scalar_stmt(id);
        }
        let out = self.write(id);
        let r = |i: usize| self.read(ins[i]);
        match node.op {
            Op::Input(_) | Op::Target(_) | Op::Param(_) | Op::Constant(_) => quote! {},
            Op::MatMul { lhs_t, rhs_t } => {
                let (a, b) = (transpose_if(r(0), lhs_t), transpose_if(r(1), rhs_t));
                quote! { ::symgrad::gemm(T::ONE, #a, #b, T::ZERO, #out)?; }
            }
            Op::Affine { lhs_t, rhs_t } => {
                let (a, b, bias) = (transpose_if(r(0), lhs_t), transpose_if(r(1), rhs_t), r(2));
                let out2 = self.write(id);
                quote! {
                    ::symgrad::kernels::broadcast_rows(#bias, #out)?;
                    ::symgrad::gemm(T::ONE, #a, #b, T::ONE, #out2)?;
                }
            }
            Op::AddRow => {
                let row = r(1);
                if in_place {
                    quote! { ::symgrad::kernels::add_row(#out, #row)?; }
                } else {
                    let x = r(0);
                    quote! { { let mut out = #out; out.assign(&#x); ::symgrad::kernels::add_row(out, #row)?; } }
                }
            }
            Op::Add | Op::Sub | Op::Mul => {
                let op = match node.op {
                    Op::Add => quote!(Add),
                    Op::Sub => quote!(Sub),
                    _ => quote!(Mul),
                };
                let b = r(1);
                if in_place {
                    quote! { ::symgrad::Binary::#op.apply_assign(#out, #b)?; }
                } else {
                    let a = r(0);
                    quote! { ::symgrad::Binary::#op.apply(#a, #b, #out)?; }
                }
            }
            Op::AddN => {
                let first = if in_place {
                    quote! {}
                } else {
                    let (a, b) = (r(0), r(1));
                    quote! { ::symgrad::Binary::Add.apply(#a, #b, #out)?; }
                };
                let rest = ins.iter().skip(if in_place { 1 } else { 2 }).map(|&t| {
                    let (out, t) = (self.write(id), self.read(t));
                    quote! { ::symgrad::Binary::Add.apply_assign(#out, #t)?; }
                });
                quote! { #first #(#rest)* }
            }
            Op::Scale(c) => {
                let c = constant(c);
                if in_place {
                    quote! { { let c: T = #c; #out.map_inplace(|v| *v *= c); } }
                } else {
                    let x = r(0);
                    quote! { ::symgrad::kernels::scale(#c, #x, #out)?; }
                }
            }
            Op::Transpose => {
                let x = r(0);
                quote! { #out.assign(&#x.t()); }
            }
            Op::Act(act) => {
                let f = act_tokens(act);
                if in_place {
                    quote! { #f.forward_view_inplace(#out); }
                } else {
                    let x = r(0);
                    quote! { #f.forward_view(#x, #out)?; }
                }
            }
            Op::Softmax => {
                let x = r(0);
                quote! { ::symgrad::kernels::softmax(#x, #out)?; }
            }
            Op::Dropout { p, mask } => match mode {
                Mode::Eval if in_place => quote! {},
                Mode::Eval => {
                    let x = r(0);
                    quote! { #out.assign(&#x); }
                }
                Mode::Train => {
                    let p = float(p);
                    let (mask_mut, mask) = (self.mask(mask, true), self.mask(mask, false));
                    let apply = if in_place {
                        quote! { ::symgrad::Binary::Mul.apply_assign(#out, #mask)?; }
                    } else {
                        let x = r(0);
                        quote! { ::symgrad::Binary::Mul.apply(#x, #mask, #out)?; }
                    };
                    quote! { ::symgrad::kernels::dropout_mask(rng, #p, &mut #mask_mut)?; #apply }
                }
            },
            Op::ActGrad(act) => {
                let f = act_tokens(act);
                let saved = r(0);
                if in_place {
                    quote! { #f.backward_view_inplace(#saved, #out)?; }
                } else {
                    let g = r(1);
                    quote! { #f.backward_view(#saved, #g, #out)?; }
                }
            }
            Op::SoftmaxGrad => {
                let (p, g) = (r(0), r(1));
                quote! { ::symgrad::kernels::softmax_backward(#p, #g, #out)?; }
            }
            Op::MaskMul { mask } => {
                let mask = self.mask(mask, false);
                if in_place {
                    quote! { ::symgrad::Binary::Mul.apply_assign(#out, #mask)?; }
                } else {
                    let g = r(0);
                    quote! { ::symgrad::Binary::Mul.apply(#g, #mask, #out)?; }
                }
            }
            Op::ColSum => {
                let g = r(0);
                quote! { ::symgrad::kernels::column_sums(#g, T::ZERO, #out)?; }
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
                let variant = format_ident!("{}", kind.variant());
                let (x, s) = (r(0), r(1));
                let t = self.target(target, ins.get(2).copied());
                quote! { ::symgrad::Loss::#variant.gradient(#x, #t, #s, #out)?; }
            }
            Op::Sum | Op::Mean | Op::Loss { .. } => quote! { compile_error!("internal: reduction to a matrix"); },
        }
    }

    fn scalar_stmt(&self, id: NodeId) -> TokenStream {
        let node = &self.graph.nodes[id];
        let ins = &node.inputs;
        let local = format_ident!("s{}", id);
        let value = match node.op {
            Op::Constant(_) | Op::Input(_) | Op::Target(_) | Op::Param(_) => return quote! {},
            Op::Sum => {
                let x = self.read(ins[0]);
                quote! { #x.sum() }
            }
            Op::Mean => {
                let x = self.read(ins[0]);
                quote! { { let v = #x; v.sum() / T::from_usize(v.len()) } }
            }
            Op::Loss { kind, target } => {
                let variant = format_ident!("{}", kind.variant());
                let x = self.read(ins[0]);
                let t = self.target(target, ins.get(1).copied());
                quote! { ::symgrad::Loss::#variant.value(#x, #t)? }
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
            Op::Scale(c) => {
                let (c, a) = (constant(c), self.scalar(ins[0]));
                quote! { #c * #a }
            }
            _ => quote! { compile_error!("internal: unsupported scalar operation") },
        };
        quote! { let #local: T = #value; }
    }

    /// The same network recorded on the runtime's tape: an oracle independent of everything
    /// above, built from the definition as written (before fusion).
    fn tape_twin(&self) -> TokenStream {
        let net = self.net;
        let graph = &net.graph;
        let mut needed = vec![false; graph.nodes.len()];
        needed[net.loss] = true;
        for id in (0..graph.nodes.len()).rev() {
            if needed[id] {
                for &i in &graph.nodes[id].inputs {
                    needed[i] = true;
                }
            }
        }
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
                    let f = &net.params[k].name;
                    quote! { tape.param(self.#f.clone()) }
                }
                Op::Constant(c) => {
                    let c = constant(c);
                    quote! { tape.input(::symgrad::ndarray::Array2::from_elem((1, 1), #c)) }
                }
                Op::MatMul { lhs_t, rhs_t } => {
                    let (a, b) = (&i[0], &i[1]);
                    let a = if lhs_t { quote!(tape.transpose(#a)) } else { quote!(#a) };
                    let b = if rhs_t { quote!(tape.transpose(#b)) } else { quote!(#b) };
                    quote! { { let a = #a; let b = #b; tape.matmul(a, b)? } }
                }
                Op::AddRow => {
                    let (a, b) = (&i[0], &i[1]);
                    quote! { tape.add_row(#a, #b)? }
                }
                Op::Add | Op::Sub | Op::Mul => {
                    let (a, b) = (&i[0], &i[1]);
                    let method = match node.op {
                        Op::Add => quote!(add),
                        Op::Sub => quote!(sub),
                        _ => quote!(mul),
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
                Op::Act(act) => {
                    let (a, f) = (&i[0], act_tokens(act));
                    quote! { tape.activation(#f, #a) }
                }
                Op::Softmax => {
                    let a = &i[0];
                    quote! { tape.softmax(#a) }
                }
                Op::Dropout { p, .. } => {
                    let (a, p) = (&i[0], float(p));
                    quote! { tape.dropout(#a, #p, rng)? }
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
                    let variant = format_ident!("{}", kind.variant());
                    let a = &i[0];
                    match target {
                        TargetRef::Labels(k) => {
                            let f = &net.targets[k].name;
                            quote! { tape.loss_labels(::symgrad::Loss::#variant, #a, batch.#f)? }
                        }
                        TargetRef::Dense => {
                            let t = &i[1];
                            quote! { tape.loss_dense(::symgrad::Loss::#variant, #a, #t)? }
                        }
                    }
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
            pub fn record<R: ::symgrad::rand::Rng + ?Sized>(
                &self,
                tape: &mut ::symgrad::Tape<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
            ) -> ::symgrad::Result<(::symgrad::Var, ::std::vec::Vec<::symgrad::Var>)> {
                #(#stmts)*
                Ok((#loss, ::std::vec![#(#params),*]))
            }

            /// The training-mode loss and gradient computed on the runtime tape (the twin of
            /// [`Self::loss_and_grad`], for tests and benchmarks).
            pub fn tape_loss_and_grad<R: ::symgrad::rand::Rng + ?Sized>(
                &self,
                tape: &mut ::symgrad::Tape<T>,
                batch: &#batch_name<'_, T>,
                rng: &mut R,
                grads: &mut Self,
            ) -> ::symgrad::Result<T> {
                tape.clear();
                let (loss, params) = self.record(tape, batch, rng)?;
                tape.backward(loss)?.write_into(&params, grads);
                Ok(tape.scalar(loss))
            }
        }
    }
}

fn transpose_if(view: TokenStream, flag: bool) -> TokenStream {
    if flag { quote!(#view.reversed_axes()) } else { view }
}
