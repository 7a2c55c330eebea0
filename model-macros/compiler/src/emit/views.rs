//! Where each value is read and written: buffers, parameters, gradients, inputs, scalars.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Emitter, constant};
use crate::graph::NodeId;
use crate::ops::{Op, TargetRef};
use crate::plan::Loc;

impl Emitter<'_> {
    pub(super) fn loc(&self, id: NodeId) -> Loc {
        self.plan.loc[id].unwrap_or(Loc::Constant)
    }

    /// A read-only view of a node's value.
    pub(super) fn read(&self, id: NodeId) -> TokenStream {
        match self.loc(id) {
            Loc::Buffer(b) => {
                let field = &self.buffers[b];
                if self.plan.buffers[b].is_batch() {
                    quote!(ws.#field.slice(::symgrad::__private::ndarray::s![..rows, ..]))
                } else {
                    quote!(ws.#field.view())
                }
            }
            Loc::Param(i) => self.param_matrix(i, quote!(self), false),
            Loc::Direction(i) => self.param_matrix(i, quote!(v), false),
            Loc::Grad(i) => self.param_matrix(i, quote!(grads), false),
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
    pub(super) fn write(&self, id: NodeId) -> TokenStream {
        match self.loc(id) {
            Loc::Buffer(b) => {
                let field = &self.buffers[b];
                if self.plan.buffers[b].is_batch() {
                    quote!(ws.#field.slice_mut(::symgrad::__private::ndarray::s![..rows, ..]))
                } else {
                    quote!(ws.#field.view_mut())
                }
            }
            Loc::Grad(i) => self.param_matrix(i, quote!(grads), true),
            other => {
                let message = format!("internal: node {id} at {other:?} is not writable");
                quote!(compile_error!(#message))
            }
        }
    }

    /// Parameter `i` of `owner` (the network or its gradient) as the matrix the kernels
    /// compute on: a matrix as it is, a row `[n]` as `[1, n]`, higher ranks through
    /// `as_matrix` (which needs them in standard layout).
    pub(super) fn param_matrix(&self, i: usize, owner: TokenStream, mutable: bool) -> TokenStream {
        let param = &self.net.params[i];
        let field = &param.name;
        let view = if mutable {
            quote!(#owner.#field.view_mut())
        } else {
            quote!(#owner.#field.view())
        };
        match param.dims.len() {
            1 => quote!(#view.insert_axis(::symgrad::__private::ndarray::Axis(0))),
            2 => view,
            _ => {
                let label = field.to_string();
                quote!(::symgrad::__private::as_matrix(#view, #label)?)
            }
        }
    }

    pub(super) fn mask(&self, mask: usize, mutable: bool) -> TokenStream {
        let field = &self.mask_fields[mask];
        if mutable {
            quote!(ws.#field.slice_mut(::symgrad::__private::ndarray::s![..rows, ..]))
        } else {
            quote!(ws.#field.slice(::symgrad::__private::ndarray::s![..rows, ..]))
        }
    }

    pub(super) fn scalar(&self, id: NodeId) -> TokenStream {
        match self.graph.nodes[id].op {
            Op::Constant(c) => constant(c),
            _ => {
                let field = format_ident!("s{}", id);
                quote!(ws.#field)
            }
        }
    }

    pub(super) fn target(&self, target: TargetRef, dense: Option<NodeId>) -> TokenStream {
        match (target, dense) {
            (TargetRef::Labels(i), _) => {
                let local = format_ident!("lb_{}", self.net.targets[i].name);
                quote!(::symgrad::__private::Target::Labels(#local))
            }
            (TargetRef::Dense, Some(t)) => {
                let view = self.read(t);
                quote!(::symgrad::__private::Target::Dense(#view))
            }
            (TargetRef::Dense, None) => quote!(compile_error!("internal: dense target without a value")),
        }
    }
}
