//! The second emitter of a small dense chain's training step (see `crate::chain`): one loop
//! over blocks of samples, one sample a row at the hidden layers and one class a row at the
//! logits, every width a constant, on the runtime's `kernels::rows`. The gradient and
//! `sgd_step` take it first; it declines (and the batch-wide step runs) where a label is out
//! of range, the batch is empty, or a parameter is not stored contiguously, so that every
//! error is still the batch-wide step's.

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

/// Whether layer `l`'s weight gradient is summed as `W̄ᵀ`, its inputs along the vectors
/// (`rows::transposed_weight_adjoint`), rather than as `W̄`: always for the last layer, whose
/// adjoints are stored a class a row, and elsewhere where that takes fewer vector
/// multiply-adds a sample, `O·⌈H/ROW⌉` against `I·⌈P/ROW⌉`.
fn transposed_gradient(chain: &Chain, l: usize) -> bool {
    let layer = &chain.layers[l];
    let vectors = |width: usize| width.div_ceil(ROW);
    l + 1 == chain.layers.len()
        || layer.fan_out * vectors(input_width(chain, l)) < layer.fan_in * vectors(layer.fan_out)
}

/// Whether layer `l`'s outputs fill whole rows (`O` a multiple of [`ROW`]): then its
/// parameters are read, and its gradients summed, where they are, with no padded copies.
fn whole_rows(chain: &Chain, l: usize) -> bool {
    chain.layers[l].fan_out.is_multiple_of(ROW)
}

/// Whether layer `l`'s parameters and bias gradient have padded copies (`wp`, `bp`, `gbp`): a
/// layer but the last (which reads its parameters as they are) whose rows are not whole.
fn padded_parameters(chain: &Chain, l: usize) -> bool {
    l + 1 < chain.layers.len() && !whole_rows(chain, l)
}

/// Whether layer `l`'s weight gradient is summed in a buffer of its own (`gwp`) and written
/// to the gradient at the step's end: where it is summed transposed or its rows are padded.
fn gradient_buffer(chain: &Chain, l: usize) -> bool {
    transposed_gradient(chain, l) || !whole_rows(chain, l)
}

/// The shape of layer `l`'s weight gradient as the loop sums it, rows by values: `W̄ᵀ`,
/// `[O, H]`, where [`transposed_gradient`], else `W̄` with its rows padded, `[I, P]`.
fn gradient_shape(chain: &Chain, l: usize) -> (usize, usize) {
    let layer = &chain.layers[l];
    if transposed_gradient(chain, l) {
        (layer.fan_out, input_width(chain, l))
    } else {
        (layer.fan_in, padded(layer.fan_out))
    }
}

/// A buffer of the loop in the workspace's scratch: its name, and its shape as rows by values.
struct Buffer {
    name: Ident,
    rows: usize,
    width: usize,
}

/// Every buffer of the loop, in the order they are carved from the scratch. For the layers
/// but the last whose rows need padding ([`whole_rows`]): `wp`, `bp` the padded parameters,
/// `gwp`, `gbp` their gradients; `gwp` also where the gradient is `W̄ᵀ`
/// ([`transposed_gradient`]); for the last, which reads its parameters as they are:
/// `gwp` its `W̄ᵀ` and `gbl` its bias gradient a lane a sample. `wt_l` is `Wᵀ` padded (l ≥ 1);
/// `a_l` the input block of layer l (`a0` the samples where they cannot be read in place) and
/// `d_l` its adjoint (l ≥ 1); `ht` the last layer's input a value a row, `zt` the logits a
/// class a row.
fn buffers(chain: &Chain) -> Vec<Buffer> {
    let layers = &chain.layers;
    let last = layers.len() - 1;
    let classes = chain.classes();
    let mut buffers = Vec::new();
    let mut add = |name: String, rows: usize, width: usize| {
        buffers.push(Buffer {
            name: format_ident!("{}", name),
            rows,
            width,
        })
    };
    for (l, layer) in layers.iter().enumerate() {
        let (i, o, p) = (layer.fan_in, layer.fan_out, padded(layer.fan_out));
        let h = input_width(chain, l);
        add(format!("a{l}"), BLOCK, h);
        if l > 0 {
            add(format!("d{l}"), BLOCK, h);
            add(format!("wt{l}"), o, h);
        }
        if gradient_buffer(chain, l) {
            let (rows, width) = gradient_shape(chain, l);
            add(format!("gwp{l}"), rows, width);
        }
        if padded_parameters(chain, l) {
            add(format!("wp{l}"), i, p);
            add(format!("bp{l}"), 1, p);
            add(format!("gbp{l}"), 1, p);
        }
    }
    add("ht".into(), input_width(chain, last), BLOCK);
    add("zt".into(), classes, BLOCK);
    add("gbl".into(), classes, BLOCK);
    buffers
}

/// The stored width of a block's rows at the input of layer `l`: the samples' own width at
/// the first, a padded row past it.
fn input_width(chain: &Chain, l: usize) -> usize {
    let layer = &chain.layers[l];
    if l == 0 { layer.fan_in } else { padded(layer.fan_in) }
}

/// The scratch the loop needs in the workspace: its [`buffers`], and up to a row's worth
/// skipped to align them.
pub(super) fn scratch_len(chain: &Chain) -> usize {
    ROW + buffers(chain).iter().map(|b| b.rows * b.width).sum::<usize>()
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
    let (count, last) = (layers.len(), layers.len() - 1);
    let field = |p: usize| &net.params[p].name;
    let (fan_in, fan_out): (Vec<usize>, Vec<usize>) = layers.iter().map(|l| (l.fan_in, l.fan_out)).unzip();
    let name = |prefix: &str, l: usize| format_ident!("{}{}", prefix, l);
    let names = |prefix: &str| (0..count).map(|l| name(prefix, l)).collect::<Vec<_>>();
    // w, b: the parameters; gw, gb: their gradients; the rest are `buffers`.
    let (w, b, gw, gb) = (names("w"), names("b"), names("gw"), names("gb"));
    let (wf, bf): (Vec<&Ident>, Vec<&Ident>) = layers.iter().map(|l| (field(l.weight), field(l.bias))).unzip();
    let (classes, inputs) = (chain.classes(), fan_in[0]);
    let buffers = buffers(chain);
    let (buffer, rows, width): (Vec<&Ident>, Vec<usize>, Vec<usize>) =
        buffers.iter().map(|b| (&b.name, b.rows, b.width)).collect();
    let views = quote! {
        #( let #w = rows::matrix::<T, #fan_in, #fan_out>(&self.#wf)?; )*
        #( let #b = rows::vector::<T, #fan_out>(&self.#bf)?; )*
        #( let #gw = rows::matrix_mut::<T, #fan_in, #fan_out>(&mut grads.#wf)?; )*
        #( let #gb = rows::vector_mut::<T, #fan_out>(&mut grads.#bf)?; )*
        let scratch = rows::aligned(&mut ws.columns[..]);
        #( let (#buffer, scratch) = rows::carve::<T, #rows, #width>(scratch)?; )*
    };
    let mut field_types: Vec<(&Ident, TokenStream)> = Vec::new();
    for l in 0..count {
        let (i, o) = (fan_in[l], fan_out[l]);
        field_types.extend([
            (&w[l], quote!(&'s [[T; #o]; #i])),
            (&b[l], quote!(&'s [[T; #o]; 1])),
            (&gw[l], quote!(&'s mut [[T; #o]; #i])),
            (&gb[l], quote!(&'s mut [[T; #o]; 1])),
        ]);
    }
    for Buffer { name, rows, width } in &buffers {
        field_types.push((name, quote!(&'s mut [[T; #width]; #rows])));
    }
    let (block_fields, block_types): (Vec<&Ident>, Vec<&TokenStream>) =
        field_types.iter().map(|(f, t)| (*f, t)).unzip();
    // The first layer reads the block `h0` (the samples in place, or copied into a0).
    let input_of = |l: usize| {
        let al = name("a", l);
        if l == 0 { quote!(h0) } else { quote!(&*#al) }
    };
    let hidden = 0..last;
    // Where each layer's padded parameters and gradients are: in their buffers, or the
    // parameters and gradients themselves where the rows are whole.
    let own_or =
        |own: &[Ident], copy: &str, l: usize, copied: bool| if copied { name(copy, l) } else { own[l].clone() };
    let (wp, bp): (Vec<Ident>, Vec<Ident>) = hidden
        .clone()
        .map(|l| {
            let copied = padded_parameters(chain, l);
            (own_or(&w, "wp", l, copied), own_or(&b, "bp", l, copied))
        })
        .unzip();
    let gwp: Vec<Ident> = (0..count)
        .map(|l| own_or(&gw, "gwp", l, gradient_buffer(chain, l)))
        .collect();
    let gbp: Vec<Ident> = hidden
        .clone()
        .map(|l| own_or(&gb, "gbp", l, padded_parameters(chain, l)))
        .collect();
    let padded_layers: Vec<usize> = hidden.clone().filter(|&l| padded_parameters(chain, l)).collect();
    let (w_padded, wp_padded): (Vec<&Ident>, Vec<&Ident>) = padded_layers.iter().map(|&l| (&w[l], &wp[l])).unzip();
    let (b_padded, bp_padded): (Vec<&Ident>, Vec<&Ident>) = padded_layers.iter().map(|&l| (&b[l], &bp[l])).unzip();
    let (gb_padded, gbp_padded): (Vec<&Ident>, Vec<&Ident>) = padded_layers.iter().map(|&l| (&gb[l], &gbp[l])).unzip();
    let (gw_unpadded, gwp_unpadded): (Vec<&Ident>, Vec<&Ident>) = (0..count)
        .filter(|&l| gradient_buffer(chain, l))
        .map(|l| (&gw[l], &gwp[l]))
        .unzip();
    let (w_transposed, wt) = (&w[1..], (1..count).map(|l| name("wt", l)).collect::<Vec<_>>());
    let forward = hidden.clone().map(|l| {
        let (input, output, wl, bl) = (input_of(l), name("a", l + 1), &wp[l], &bp[l]);
        let f = super::act_tokens(chain.activations[l]);
        quote! {
            rows::affine(isa, #input, #wl, &#bl[0], #output);
            rows::activate(isa, #f, #output);
        }
    });
    let (w_last, b_last, input_last) = (&w[last], &b[last], input_of(last));
    let backward = (0..count).rev().map(|l| {
        let (input, gwl) = (input_of(l), &gwp[l]);
        let adjoint = if l == last {
            quote!(rows::Transposed(&*zt))
        } else {
            let dl = name("d", l + 1);
            quote!(*#dl)
        };
        let weight = if transposed_gradient(chain, l) {
            quote!(rows::transposed_weight_adjoint(isa, #input, &#adjoint, n, sum, #gwl);)
        } else {
            quote!(rows::weight_adjoint(isa, #input, &#adjoint, n, sum, #gwl);)
        };
        let bias = if l == last {
            quote!(rows::class_bias_adjoint(&*zt, sum, gbl);)
        } else {
            let gbl = &gbp[l];
            quote!(rows::bias_adjoint(isa, &#adjoint, n, sum, &mut #gbl[0]);)
        };
        if l == 0 {
            return quote!(#weight #bias);
        }
        let (dl, wtl, al) = (name("d", l), name("wt", l), name("a", l));
        // Layer l > 0 reads the output of activation l − 1.
        let f = super::act_tokens(chain.activations[l - 1]);
        quote! {
            #weight
            #bias
            rows::input_adjoint(isa, &#adjoint, #wtl, #dl);
            rows::activation_adjoint(#f, &*#al, #dl);
        }
    });
    let unpad_weight = (0..count).filter(|&l| gradient_buffer(chain, l)).map(|l| {
        if transposed_gradient(chain, l) {
            quote!(rows::unpad_transposed)
        } else {
            quote!(rows::unpad)
        }
    });
    let gb_last = &gb[last];
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
                    #( rows::pad(#w_padded, #wp_padded); rows::pad(#b_padded, #bp_padded); )*
                    #( rows::pad_transposed(#w_transposed, #wt); )*
                    let mut loss = T::ZERO;
                    let mut start = 0;
                    while start < samples {
                        let (h0, n) = rows::block(&x, start, a0);
                        // The first block starts the gradients, the others add to them.
                        let sum = rows::Sum::at(start);
                        #( #forward )*
                        rows::logits(isa, #input_last, #w_last, &#b_last[0], ht, zt);
                        loss += rows::softmax_cross_entropy::<_, T, #classes>(isa, zt, &labels[start..start + n], scale);
                        #( #backward )*
                        start += n;
                    }
                    #( #unpad_weight(#gwp_unpadded, #gw_unpadded); )*
                    #( rows::unpad(#gbp_padded, #gb_padded); )*
                    rows::lane_sums(gbl, &mut #gb_last[0]);
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
