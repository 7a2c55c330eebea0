//! The kernel calls of convolutions and poolings: the runtime's `Conv2d` and `Pool2d` built
//! from the geometry, on the workspace's patch buffer and arg-max buffers.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Emitter, constant};
use crate::graph::NodeId;
use crate::ops::{Conv, Op, Pool};

impl Emitter<'_> {
    /// The call computing the convolution or pooling node `id`, into `out`.
    pub(super) fn spatial_stmt(&self, id: NodeId, out: TokenStream) -> TokenStream {
        let node = &self.graph.nodes[id];
        let r = |i: usize| self.read(node.inputs[i]);
        // Every convolution's scratch: the workspace's, which fits the largest one's patch
        // buffers for two halves of the batch.
        let cols = quote!(&mut ws.columns);
        match node.op {
            Op::Conv(conv) => {
                let (g, x, k) = (conv_tokens(conv), r(0), r(1));
                quote! { #g.forward(#x, #k, #out, #cols)?; }
            }
            Op::ConvInput(conv) => {
                let (g, dy, k) = (conv_tokens(conv), r(0), r(1));
                quote! { #g.backward_input(#dy, #k, #out, #cols)?; }
            }
            Op::ConvKernel(conv) => {
                let (g, x, dy) = (conv_tokens(conv), r(0), r(1));
                quote! { #g.backward_kernel(#x, #dy, T::ZERO, #out, #cols)?; }
            }
            Op::MaxPool { pool, argmax } => {
                let (g, x, argmax) = (pool_tokens(pool), r(0), self.argmax(argmax, true));
                quote! { #g.max_forward(#x, #out, #argmax)?; }
            }
            Op::PoolScatter { pool, argmax } => {
                let (g, dy, argmax) = (pool_tokens(pool), r(0), self.argmax(argmax, false));
                quote! { #g.max_backward(#dy, #argmax, #out)?; }
            }
            Op::PoolGather { pool, argmax } => {
                let (g, dx, argmax) = (pool_tokens(pool), r(0), self.argmax(argmax, false));
                quote! { #g.max_gather(#dx, #argmax, #out)?; }
            }
            Op::WindowSum { pool, scale } => {
                let (g, x, scale) = (pool_tokens(pool), r(0), constant(scale));
                quote! { #g.window_sum(#scale, #x, #out)?; }
            }
            Op::WindowSpread { pool, scale } => {
                let (g, dy, scale) = (pool_tokens(pool), r(0), constant(scale));
                quote! { #g.window_spread(#scale, #dy, #out)?; }
            }
            _ => quote! { compile_error!("internal: not a spatial operation"); },
        }
    }

    /// The first `rows` samples' part of arg-max buffer `i`.
    fn argmax(&self, i: usize, mutable: bool) -> TokenStream {
        let field = format_ident!("argmax{}", i);
        let per_row = self.net.argmaxes[i].size();
        if mutable {
            quote!(&mut ws.#field[..rows * #per_row])
        } else {
            quote!(&ws.#field[..rows * #per_row])
        }
    }
}

pub(super) fn conv_tokens(c: Conv) -> TokenStream {
    let Conv {
        channels,
        height,
        width,
        filters,
        kernel: (kh, kw),
        stride,
        padding,
        dilation,
    } = c;
    quote! {
        ::symgrad::__private::kernels::Conv2d {
            channels: #channels, height: #height, width: #width, filters: #filters,
            kernel: (#kh, #kw), stride: #stride, padding: #padding, dilation: #dilation,
        }
    }
}

pub(super) fn pool_tokens(p: Pool) -> TokenStream {
    let Pool {
        channels,
        height,
        width,
        size: (kh, kw),
        stride,
    } = p;
    quote! {
        ::symgrad::__private::kernels::Pool2d {
            channels: #channels, height: #height, width: #width, size: (#kh, #kw), stride: #stride,
        }
    }
}

/// The scratch every convolution of `graph` fits in: the largest `scratch_len`.
pub(super) fn scratch_len(graph: &crate::graph::Graph) -> usize {
    graph
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Conv(c) | Op::ConvInput(c) | Op::ConvKernel(c) => Some(c.scratch_len()),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}
