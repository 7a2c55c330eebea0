//! The second emitter of a small dense chain's training step (see `crate::chain`): one loop
//! over blocks of samples, one sample a row, every width a constant, on the runtime's
//! `kernels::rows`. The gradient and `sgd_step` take it first; it declines (and the
//! batch-wide step runs) where a label is out of range, the batch is empty, or a parameter is
//! not stored contiguously, so that every error is still the batch-wide step's.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::chain::Chain;
use crate::lower::Lowered;

/// Samples per block, as the runtime's `rows::BLOCK`.
const BLOCK: usize = 16;
/// What a row's width is rounded up to a multiple of, as the runtime's `rows::ROW`.
const ROW: usize = 16;

/// A row of `width` values as stored: padded with zeros to whole vectors.
fn padded(width: usize) -> usize {
    width.next_multiple_of(ROW)
}

/// The stored width of a block's rows at the input of layer `l`: the samples' own width at
/// the first, a padded row past it.
fn input_width(chain: &Chain, l: usize) -> usize {
    let layer = &chain.layers[l];
    if l == 0 { layer.fan_in } else { padded(layer.fan_in) }
}

/// Whether layer `l`'s weight gradient is summed as `W̄ᵀ`, its inputs along the vectors
/// (`rows::transposed_weight_adjoint`), rather than as `W̄`: where that takes fewer vector
/// multiply-adds a sample, `O·⌈H/ROW⌉` against `I·⌈P/ROW⌉`, as in a layer narrowing to a few
/// classes.
fn transposed_gradient(chain: &Chain, l: usize) -> bool {
    let layer = &chain.layers[l];
    let vectors = |width: usize| width.div_ceil(ROW);
    layer.fan_out * vectors(input_width(chain, l)) < layer.fan_in * vectors(layer.fan_out)
}

/// The shape of layer `l`'s padded weight gradient, rows by values: `[O, H]` where it is
/// summed transposed, else `[I, P]` as the padded weights.
fn gradient_shape(chain: &Chain, l: usize) -> (usize, usize) {
    let layer = &chain.layers[l];
    if transposed_gradient(chain, l) {
        (layer.fan_out, input_width(chain, l))
    } else {
        (layer.fan_in, padded(layer.fan_out))
    }
}

/// The scratch the loop needs in the workspace: up to a row's worth skipped to align it; a
/// block's inputs, each layer's outputs and the hidden layers' adjoints; and per layer the
/// padded weights, biases and their gradients, and (past the first) the padded `Wᵀ`.
pub(super) fn scratch_len(chain: &Chain) -> usize {
    let layers = &chain.layers;
    let rows = layers[0].fan_in
        + layers.iter().map(|l| padded(l.fan_out)).sum::<usize>()
        + layers[1..].iter().map(|l| padded(l.fan_in)).sum::<usize>();
    let params: usize = (0..layers.len())
        .map(|l| {
            let (rows, width) = gradient_shape(chain, l);
            (layers[l].fan_in + 2) * padded(layers[l].fan_out) + rows * width
        })
        .sum();
    let transposed: usize = layers[1..].iter().map(|l| l.fan_out * padded(l.fan_in)).sum();
    ROW + BLOCK * rows + params + transposed
}

/// `if let Some(loss) = <the chain's gradient into grads> { then; return Ok(loss) }`.
pub(super) fn shortcut(net: &Lowered, chain: &Chain, then: TokenStream) -> TokenStream {
    let input = &net.inputs[0].name;
    let labels = &net.targets[chain.labels].name;
    quote! {
        if let ::std::option::Option::Some(loss) = self.__blocked_gradient(ws, batch.#input, batch.#labels, grads) {
            #then
            return Ok(loss);
        }
    }
}

/// The method `__blocked_gradient`: the loss, and its gradient written into `grads`. Its loop
/// is the `run` of a local `rows::Blocks`, whose fields are every view the loop reads or
/// writes, so that `rows::with_wide_vectors` can compile it for wider vectors.
pub(super) fn method(net: &Lowered, chain: &Chain, ws_name: &Ident) -> TokenStream {
    let layers = &chain.layers;
    let count = layers.len();
    let field = |p: usize| &net.params[p].name;
    let (fan_in, fan_out): (Vec<usize>, Vec<usize>) = layers.iter().map(|l| (l.fan_in, l.fan_out)).unzip();
    let width: Vec<usize> = fan_out.iter().map(|&o| padded(o)).collect();
    let names = |prefix: &str| (0..count).map(|l| format_ident!("{}{}", prefix, l)).collect::<Vec<_>>();
    // w, b: the parameters; gw, gb: their gradients; wp, bp, gwp, gbp: the same padded (gwp
    // holds W̄ᵀ where `transposed_gradient`); wt: Wᵀ padded; a_l: the input of layer l (a_0 the samples, a_count the logits); d_l: its
    // adjoint (l ≥ 1).
    let (w, b, gw, gb) = (names("w"), names("b"), names("gw"), names("gb"));
    let (wp, bp, gwp, gbp, wt) = (names("wp"), names("bp"), names("gwp"), names("gbp"), names("wt"));
    let a: Vec<Ident> = (0..=count).map(|l| format_ident!("a{}", l)).collect();
    let d = names("d");
    let (wf, bf): (Vec<&Ident>, Vec<&Ident>) = layers.iter().map(|l| (field(l.weight), field(l.bias))).unzip();
    let (classes, inputs) = (chain.classes(), fan_in[0]);
    // The stored width of a block's rows at the input of layer l (at `count`, the logits).
    let row_width = |l: usize| {
        if l == count {
            width[l - 1]
        } else {
            input_width(chain, l)
        }
    };
    let (grad_rows, grad_width): (Vec<usize>, Vec<usize>) = (0..count).map(|l| gradient_shape(chain, l)).unzip();
    let hidden = 1..count;
    let (wt_hidden, d_hidden) = (&wt[hidden.clone()], &d[hidden.clone()]);
    let (w_hidden, out_hidden) = (&w[hidden.clone()], &fan_out[hidden.clone()]);
    let width_hidden: Vec<usize> = hidden.clone().map(row_width).collect();
    let block_widths: Vec<usize> = (0..=count).map(row_width).collect();
    let views = quote! {
        #( let #w = rows::matrix::<T, #fan_in, #fan_out>(&self.#wf)?; )*
        #( let #b = rows::vector::<T, #fan_out>(&self.#bf)?; )*
        #( let #gw = rows::matrix_mut::<T, #fan_in, #fan_out>(&mut grads.#wf)?; )*
        #( let #gb = rows::vector_mut::<T, #fan_out>(&mut grads.#bf)?; )*
        let scratch = rows::aligned(&mut ws.columns[..]);
        #( let (#a, scratch) = rows::carve::<T, { rows::BLOCK }, #block_widths>(scratch)?; )*
        #( let (#d_hidden, scratch) = rows::carve::<T, { rows::BLOCK }, #width_hidden>(scratch)?; )*
        #( let (#wp, scratch) = rows::carve::<T, #fan_in, #width>(scratch)?; )*
        #( let (#bp, scratch) = rows::carve::<T, 1, #width>(scratch)?; )*
        #( let (#gwp, scratch) = rows::carve::<T, #grad_rows, #grad_width>(scratch)?; )*
        #( let (#gbp, scratch) = rows::carve::<T, 1, #width>(scratch)?; )*
        #( let (#wt_hidden, scratch) = rows::carve::<T, #out_hidden, #width_hidden>(scratch)?; )*
    };
    let mut field_types: Vec<(Ident, TokenStream)> = Vec::new();
    for l in 0..count {
        let (i, o, p) = (fan_in[l], fan_out[l], width[l]);
        let (gr, gp) = (grad_rows[l], grad_width[l]);
        field_types.extend([
            (w[l].clone(), quote!(&'s [[T; #o]; #i])),
            (b[l].clone(), quote!(&'s [[T; #o]; 1])),
            (gw[l].clone(), quote!(&'s mut [[T; #o]; #i])),
            (gb[l].clone(), quote!(&'s mut [[T; #o]; 1])),
            (wp[l].clone(), quote!(&'s mut [[T; #p]; #i])),
            (bp[l].clone(), quote!(&'s mut [[T; #p]; 1])),
            (gwp[l].clone(), quote!(&'s mut [[T; #gp]; #gr])),
            (gbp[l].clone(), quote!(&'s mut [[T; #p]; 1])),
        ]);
        if l > 0 {
            let h = row_width(l);
            field_types.push((wt[l].clone(), quote!(&'s mut [[T; #h]; #o])));
            field_types.push((d[l].clone(), quote!(&'s mut rows::Block<T, #h>)));
        }
    }
    for (al, h) in a.iter().zip(&block_widths) {
        field_types.push((al.clone(), quote!(&'s mut rows::Block<T, #h>)));
    }
    let (block_fields, block_types): (Vec<&Ident>, Vec<&TokenStream>) = field_types.iter().map(|(f, t)| (f, t)).unzip();
    // The first layer reads the block `h0` (the samples in place, or copied into a0).
    let input_of = |l: usize| {
        let al = &a[l];
        if l == 0 { quote!(h0) } else { quote!(&*#al) }
    };
    let forward = (0..count).map(|l| {
        let (input, output, wl, bl) = (input_of(l), &a[l + 1], &wp[l], &bp[l]);
        let affine = quote! { rows::affine(isa, #input, #wl, &#bl[0], #output); };
        match chain.activations.get(l) {
            Some(&f) => {
                let f = super::act_tokens(f);
                quote! { #affine rows::activate(isa, #f, #output); }
            }
            None => affine,
        }
    });
    let backward = (0..count).rev().map(|l| {
        let adjoint = if l + 1 == count { &a[count] } else { &d[l + 1] };
        let (input, gwl, gbl) = (input_of(l), &gwp[l], &gbp[l]);
        let adjoint_of_weight = if transposed_gradient(chain, l) {
            quote!(rows::transposed_weight_adjoint)
        } else {
            quote!(rows::weight_adjoint)
        };
        let weight = quote! { #adjoint_of_weight(isa, #input, &*#adjoint, n, #gwl, &mut #gbl[0]); };
        if l == 0 {
            return weight;
        }
        let (dl, wtl, al) = (&d[l], &wt[l], &a[l]);
        // Layer l > 0 reads the output of activation l − 1.
        let f = super::act_tokens(chain.activations[l - 1]);
        quote! {
            #weight
            rows::input_adjoint(isa, &*#adjoint, #wtl, #dl);
            rows::activation_adjoint(#f, &*#al, #dl);
        }
    });
    let logits = &a[count];
    let unpad_weight = (0..count).map(|l| {
        if transposed_gradient(chain, l) {
            quote!(rows::unpad_transposed)
        } else {
            quote!(rows::unpad)
        }
    });
    quote! {
        /// The training-mode loss and its gradient into `grads`, a block of samples at a time
        /// (`symgrad::kernels::rows`); `None`, with nothing written, where the batch-wide
        /// step has to run instead. Public for tests alone.
        #[doc(hidden)]
        #[allow(clippy::all)]
        pub fn __blocked_gradient(
            &self,
            ws: &mut #ws_name<T>,
            x: ::symgrad::__private::ndarray::ArrayView2<'_, T>,
            labels: &[usize],
            grads: &mut Self,
        ) -> ::std::option::Option<T> {
            use ::symgrad::__private::kernels::rows;

            struct Blocks<'s, T> {
                x: ::symgrad::__private::ndarray::ArrayView2<'s, T>,
                labels: &'s [usize],
                #( #block_fields: #block_types, )*
            }

            impl<T: ::symgrad::__private::Scalar> rows::Blocks for Blocks<'_, T> {
                type Output = T;

                #[inline(always)]
                fn run<I: rows::Isa>(self, isa: I) -> T {
                    let Blocks { x, labels, #( #block_fields, )* } = self;
                    let samples = x.nrows();
                    let scale = T::ONE / T::from_usize(samples);
                    #( rows::pad(#w, #wp); rows::pad(#b, #bp); )*
                    #( rows::pad_transposed(#w_hidden, #wt_hidden); )*
                    #( *#gwp = [[T::ZERO; #grad_width]; #grad_rows]; *#gbp = [[T::ZERO; #width]; 1]; )*
                    let mut loss = T::ZERO;
                    let mut start = 0;
                    while start < samples {
                        let (h0, n) = rows::block(&x, start, a0);
                        #( #forward )*
                        loss += rows::softmax_cross_entropy::<_, T, #classes, _>(isa, #logits, &labels[start..start + n], scale);
                        #( #backward )*
                        start += n;
                    }
                    #( #unpad_weight(#gwp, #gw); rows::unpad(#gbp, #gb); )*
                    loss * scale
                }
            }

            let samples = x.nrows();
            let valid = x.ncols() == #inputs && labels.len() == samples;
            if samples == 0 || !valid || labels.iter().any(|&label| label >= #classes) {
                return ::std::option::Option::None;
            }
            #views
            ::std::option::Option::Some(rows::with_wide_vectors(Blocks { x, labels, #( #block_fields, )* }))
        }
    }
}
