//! Weights to and from PyTorch, through safetensors files and a name map.
//!
//! `nn.Linear` stores its weight as `[out, in]` and computes `x Wᵀ + b`; a `dense` weight here
//! is `[in, out]` and computes `x W + b`. So a matrix (a rank-2 parameter) crosses transposed,
//! and every other rank (biases `[out]`, kernels `[out, in, kh, kw]`, laid out as PyTorch lays
//! them) crosses as it is. A file written by [`export`] loads into the matching module with
//! `model.load_state_dict(safetensors.torch.load_file(path))`; [`import`] reads a file that
//! `safetensors.torch.save_file(model.state_dict(), path)` wrote.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD};

use super::{load, save};
use crate::error::{Error, Result};
use crate::params::Parameters;
use crate::scalar::Scalar;

/// Which tensor of the other framework's file holds each parameter: pairs of (our name, their
/// name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameMap {
    pairs: Vec<(String, String)>,
}

impl NameMap {
    /// A map from (our name, their name) pairs.
    pub fn new<A: Into<String>, B: Into<String>>(pairs: impl IntoIterator<Item = (A, B)>) -> Self {
        NameMap {
            pairs: pairs.into_iter().map(|(a, b)| (a.into(), b.into())).collect(),
        }
    }

    /// The names of an `nn.Sequential` of `nn.Linear` layers (with parameter-free modules such
    /// as activations between them): `dense` layer `name` (parameters `name_w`, `name_b`) is
    /// module `index` (tensors `index.weight`, `index.bias`). For `h1 = relu(dense(x, 32)); z =
    /// dense(h1, 10)` and `nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))`,
    /// the layers are `[("h1", 0), ("z", 2)]`.
    pub fn sequential(layers: &[(&str, usize)]) -> Self {
        NameMap::new(layers.iter().flat_map(|&(name, index)| {
            [
                (format!("{name}_w"), format!("{index}.weight")),
                (format!("{name}_b"), format!("{index}.bias")),
            ]
        }))
    }

    /// Their name for each parameter of `params`, in order; a parameter without one, or a
    /// name in the map that is no parameter, is an error.
    fn theirs<T: Scalar, P: Parameters<T>>(&self, params: &P, source: &Path) -> Result<Vec<String>> {
        let ours: BTreeMap<&str, &str> = self.pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let bad = |message: String| Error::format(source.display().to_string(), message);
        if let Some((unknown, _)) = self
            .pairs
            .iter()
            .find(|(a, _)| !(0..params.count()).any(|i| params.name(i) == a))
        {
            return Err(bad(format!(
                "the name map names `{unknown}`, which is no parameter of the network"
            )));
        }
        (0..params.count())
            .map(|i| {
                let name = params.name(i);
                ours.get(name)
                    .map(|theirs| theirs.to_string())
                    .ok_or_else(|| bad(format!("parameter `{name}` has no name in the name map")))
            })
            .collect()
    }
}

/// A parameter in the other framework's layout: a matrix transposed, any other rank as it is.
fn crossed<T: Scalar>(value: ArrayViewD<'_, T>) -> ArrayViewD<'_, T> {
    if value.ndim() == 2 {
        value.reversed_axes()
    } else {
        value
    }
}

/// Writes every parameter of `params` to `path` (atomically, as [`save`] does) under its name
/// in `names`, matrices transposed to PyTorch's `[out, in]`.
pub fn export<T: Scalar, P: Parameters<T>>(params: &P, names: &NameMap, path: &Path) -> Result<()> {
    let theirs = names.theirs(params, path)?;
    let tensors: Vec<(String, ArrayViewD<'_, T>)> = theirs
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, crossed(params.param(i))))
        .collect();
    let metadata = BTreeMap::from([(super::FORMAT.to_owned(), "symgrad export for PyTorch".to_owned())]);
    save(path, &tensors, &metadata)
}

/// Reads every parameter of `params` from the tensor `names` gives it in the safetensors file
/// at `path` (F32, F64, F16 or BF16), matrices transposed from PyTorch's `[out, in]`. A missing
/// tensor or one of another shape is an error naming both names and both shapes, and `params`
/// is changed only when every parameter was read. Tensors the map does not name are ignored.
pub fn import<T: Scalar, P: Parameters<T> + Clone>(params: &mut P, names: &NameMap, path: &Path) -> Result<()> {
    let theirs = names.theirs(params, path)?;
    let file = load::<T>(path)?;
    let mut read = params.clone();
    for (i, name) in theirs.iter().enumerate() {
        let tensor: &ArrayD<T> = file.tensor(name, path)?;
        let ours = params.name(i);
        let expected = crossed(params.param(i)).shape().to_vec();
        if tensor.shape() != expected {
            return Err(Error::format(
                path.display().to_string(),
                format!(
                    "tensor `{name}` is {:?}, but parameter `{ours}` {:?} needs {expected:?} there",
                    tensor.shape(),
                    params.param(i).shape()
                ),
            ));
        }
        read.param_mut(i).assign(&crossed(tensor.view()));
    }
    *params = read;
    Ok(())
}
