//! The second emitter of a small dense chain's training step (see `crate::chain`): one loop
//! over blocks of samples, every width a constant, on the runtime's `kernels::lanes`. The
//! gradient and `sgd_step` take it first; it declines (and the batch-wide step runs) where a
//! label is out of range, the batch is empty, or a parameter is not stored contiguously, so
//! that every error is still the batch-wide step's.

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, format_ident, quote};

use crate::chain::Chain;
use crate::lower::Lowered;

const LANES: usize = 16;

/// The width of a layer's output adjoint sample by sample (`lanes::weight_adjoint`): its
/// width padded to whole blocks of lanes, so that its sums run on whole vectors.
fn padded(fan_out: usize) -> usize {
    fan_out.next_multiple_of(LANES)
}

/// The scratch the loop needs in the workspace: a block's values and adjoints, and each
/// layer's output adjoint sample by sample.
pub(super) fn scratch_len(chain: &Chain) -> usize {
    (chain.units() + chain.layers.iter().map(|l| padded(l.fan_out)).sum::<usize>()) * LANES
}

/// `if let Some(loss) = <the chain's gradient into grads> { then; return Ok(loss) }`.
pub(super) fn shortcut(net: &Lowered, chain: &Chain, then: TokenStream) -> TokenStream {
    let input = &net.inputs[0].name;
    let labels = &net.targets[chain.labels].name;
    quote! {
        if let ::std::option::Option::Some(loss) = self.__lanes_gradient(ws, batch.#input, batch.#labels, grads) {
            #then
            return Ok(loss);
        }
    }
}

/// The method `__lanes_gradient`: the loss, and its gradient written into `grads`. Its loop
/// is the `run` of a local `lanes::Blocks`, whose fields are every view the loop reads or
/// writes, so that `lanes::with_wide_vectors` can compile it for wider vectors.
pub(super) fn method(net: &Lowered, chain: &Chain, ws_name: &Ident) -> TokenStream {
    let layers = &chain.layers;
    let count = layers.len();
    let field = |p: usize| &net.params[p].name;
    let (fan_in, fan_out): (Vec<usize>, Vec<usize>) = layers.iter().map(|l| (l.fan_in, l.fan_out)).unzip();
    let row_width: Vec<usize> = fan_out.iter().map(|&o| padded(o)).collect();
    let names = |prefix: &str| (0..count).map(|l| format_ident!("{}{}", prefix, l)).collect::<Vec<_>>();
    let (w, b, gw, gb, rows) = (names("w"), names("b"), names("gw"), names("gb"), names("rows"));
    // a_l: the input of layer l (a_0 the samples); d_l: its adjoint (l ≥ 1); z: the logits.
    let (a, d) = (names("a"), names("d"));
    let (wf, bf): (Vec<&Ident>, Vec<&Ident>) = layers.iter().map(|l| (field(l.weight), field(l.bias))).unzip();
    let (classes, inputs) = (chain.classes(), fan_in[0]);
    let hidden = 1..count;
    let (d_hidden, width_hidden) = (&d[hidden.clone()], &fan_in[hidden]);
    let views = quote! {
        #( let #w = lanes::matrix::<T, #fan_in, #fan_out>(&self.#wf)?; )*
        #( let #b = lanes::vector::<T, #fan_out>(&self.#bf)?; )*
        #( let #gw = lanes::matrix_mut::<T, #fan_in, #fan_out>(&mut grads.#wf)?; )*
        #( let #gb = lanes::vector_mut::<T, #fan_out>(&mut grads.#bf)?; )*
        let scratch = &mut ws.columns[..];
        #( let (#a, scratch) = lanes::units::<T, #fan_in>(scratch)?; )*
        let (z, scratch) = lanes::units::<T, #classes>(scratch)?;
        #( let (#d_hidden, scratch) = lanes::units::<T, #width_hidden>(scratch)?; )*
        #( let (#rows, scratch) = lanes::sample_rows::<T, #row_width>(scratch)?; )*
    };
    let lanes_of = |width: usize| quote!(&'s mut [[T; ::symgrad::__private::kernels::lanes::LANES]; #width]);
    let field_types: Vec<(Ident, TokenStream)> = (0..count)
        .flat_map(|l| {
            let (i, o, p) = (fan_in[l], fan_out[l], row_width[l]);
            [
                (w[l].clone(), quote!(&'s [[T; #o]; #i])),
                (b[l].clone(), quote!(&'s [T; #o])),
                (gw[l].clone(), quote!(&'s mut [[T; #o]; #i])),
                (gb[l].clone(), quote!(&'s mut [T; #o])),
                (a[l].clone(), lanes_of(i)),
                (
                    rows[l].clone(),
                    quote!(&'s mut [[T; #p]; ::symgrad::__private::kernels::lanes::LANES]),
                ),
            ]
        })
        .chain((1..count).map(|l| (d[l].clone(), lanes_of(fan_in[l]))))
        .chain([(format_ident!("z"), lanes_of(classes))])
        .collect();
    let (block_fields, block_types): (Vec<&Ident>, Vec<&TokenStream>) = field_types.iter().map(|(f, t)| (f, t)).unzip();
    let forward = (0..count).map(|l| {
        let (input, wl, bl) = (&a[l], &w[l], &b[l]);
        match chain.activations.get(l) {
            Some(&f) => {
                let (output, f) = (&a[l + 1], super::act_tokens(f));
                quote! {
                    lanes::affine(isa, #input, #wl, #bl, #output);
                    lanes::activate(#f, #output);
                }
            }
            None => quote! { lanes::affine(isa, #input, #wl, #bl, z); },
        }
    });
    let backward = (0..count).rev().map(|l| {
        let adjoint = if l + 1 == count {
            quote!(z)
        } else {
            d[l + 1].to_token_stream()
        };
        let (input, rl, gwl, gbl) = (&a[l], &rows[l], &gw[l], &gb[l]);
        let weight = quote! { lanes::weight_adjoint(isa, #input, #adjoint, n, #rl, #gwl, #gbl); };
        if l == 0 {
            return weight;
        }
        let (dl, wl) = (&d[l], &w[l]);
        // Layer l > 0 reads the output of activation l − 1.
        let f = super::act_tokens(chain.activations[l - 1]);
        quote! {
            #weight
            lanes::input_adjoint(isa, #adjoint, #wl, #dl);
            lanes::activation_adjoint(#f, #input, #dl);
        }
    });
    quote! {
        /// The training-mode loss and its gradient into `grads`, a block of samples at a time
        /// (`symgrad::kernels::lanes`); `None`, with nothing written, where the batch-wide
        /// step has to run instead. Public for tests alone.
        #[doc(hidden)]
        #[allow(clippy::all)]
        pub fn __lanes_gradient(
            &self,
            ws: &mut #ws_name<T>,
            x: ::symgrad::__private::ndarray::ArrayView2<'_, T>,
            labels: &[usize],
            grads: &mut Self,
        ) -> ::std::option::Option<T> {
            use ::symgrad::__private::kernels::lanes;

            struct Blocks<'s, T> {
                x: ::symgrad::__private::ndarray::ArrayView2<'s, T>,
                labels: &'s [usize],
                #( #block_fields: #block_types, )*
            }

            impl<T: ::symgrad::__private::Scalar> lanes::Blocks for Blocks<'_, T> {
                type Output = T;

                #[inline(always)]
                fn run<I: lanes::Isa>(self, isa: I) -> T {
                    let Blocks { x, labels, #( #block_fields, )* } = self;
                    let samples = x.nrows();
                    let scale = T::ONE / T::from_usize(samples);
                    #( *#gw = [[T::ZERO; #fan_out]; #fan_in]; )*
                    #( *#gb = [T::ZERO; #fan_out]; )*
                    let mut loss = T::ZERO;
                    let mut start = 0;
                    while start < samples {
                        let n = lanes::load(x, start, a0);
                        #( #forward )*
                        loss += lanes::softmax_cross_entropy(z, &labels[start..start + n], scale);
                        #( #backward )*
                        start += n;
                    }
                    loss * scale
                }
            }

            let samples = x.nrows();
            let valid = x.ncols() == #inputs && labels.len() == samples;
            if samples == 0 || !valid || labels.iter().any(|&label| label >= #classes) {
                return ::std::option::Option::None;
            }
            #views
            ::std::option::Option::Some(lanes::with_wide_vectors(Blocks { x, labels, #( #block_fields, )* }))
        }
    }
}
