//! Checkpoints in the safetensors format, written atomically.
//!
//! A file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
//! shape and byte range (plus string metadata under `__metadata__`), then the raw
//! little-endian data: the format PyTorch (`safetensors.torch.load_file`) and the Hugging Face
//! tools read. A save writes a temporary file beside the target, flushes it to disk, renames it
//! over the target and flushes the directory, so a process killed at any moment leaves either
//! the old checkpoint or the new one, never a torn file.

mod json;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};

use crate::error::{Error, Result};
use crate::params::Parameters;
use crate::scalar::Scalar;
use json::Json;

/// The tensors and metadata of a checkpoint file.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<T> {
    /// Tensors by name.
    pub tensors: BTreeMap<String, ArrayD<T>>,
    /// String metadata (`__metadata__`).
    pub metadata: BTreeMap<String, String>,
}

impl<T: Scalar> Checkpoint<T> {
    /// Copies the tensors `prefix + name` into every parameter of `params`; a missing tensor
    /// or a shape that differs is an error naming the tensor (and both shapes).
    pub fn restore<P: Parameters<T>>(&self, prefix: &str, params: &mut P, source: &Path) -> Result<()> {
        for i in 0..params.count() {
            let name = format!("{prefix}{}", params.name(i));
            let tensor = self.tensors.get(&name).ok_or_else(|| {
                Error::format(
                    source.display().to_string(),
                    format!("no tensor `{name}`: the checkpoint is of another network"),
                )
            })?;
            let expected = params.param(i).shape().to_vec();
            // A vector `[n]` and a row `[1, n]` fill each other: other tools write a bias as
            // the one, matrix-only code (and older checkpoints of ours) as the other.
            let row_of = |shape: &[usize]| match shape {
                [1, n] | [n] => Some(*n),
                _ => None,
            };
            let fits = tensor.shape() == expected
                || (row_of(tensor.shape()).is_some() && row_of(tensor.shape()) == row_of(&expected));
            if !fits {
                return Err(Error::format(
                    source.display().to_string(),
                    format!(
                        "tensor `{name}` is {:?} in the checkpoint but {:?} in the network",
                        tensor.shape(),
                        expected
                    ),
                ));
            }
            let tensor = tensor
                .view()
                .into_shape_with_order(IxDyn(&expected))
                .map_err(|e| Error::format(source.display().to_string(), format!("tensor `{name}`: {e}")))?;
            params.param_mut(i).assign(&tensor);
        }
        Ok(())
    }
}

/// The tensors of `params` named `prefix + name`, for [`save`].
pub fn named<'a, T: Scalar, P: Parameters<T>>(prefix: &str, params: &'a P) -> Vec<(String, ArrayViewD<'a, T>)> {
    (0..params.count())
        .map(|i| (format!("{prefix}{}", params.name(i)), params.param(i)))
        .collect()
}

fn dtype<T: Scalar>() -> &'static str {
    if T::NAME == "f32" { "F32" } else { "F64" }
}

/// Writes `tensors` and `metadata` to `path` atomically. Non-finite values are refused: a
/// NaN never reaches a checkpoint.
pub fn save<T: Scalar>(
    path: &Path,
    tensors: &[(String, ArrayViewD<'_, T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut header = String::from("{");
    header += &format!(
        "\"__metadata__\":{{{}}}",
        metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", json::quote(k), json::quote(v)))
            .collect::<Vec<_>>()
            .join(",")
    );
    let width = std::mem::size_of::<T>();
    let mut offset = 0;
    for (name, tensor) in tensors {
        if let Some((index, value)) = tensor.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("tensor `{name}`"),
                location: format!("{:?}, not saved to {}", index.slice(), path.display()),
                value: value.to_f64(),
            });
        }
        let bytes = tensor.len() * width;
        let shape: Vec<String> = tensor.shape().iter().map(usize::to_string).collect();
        header += &format!(
            ",{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            json::quote(name),
            dtype::<T>(),
            shape.join(","),
            offset,
            offset + bytes
        );
        offset += bytes;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (_, tensor) in tensors {
        for &v in tensor.iter() {
            if width == 4 {
                out.extend_from_slice(&(v.to_f64() as f32).to_le_bytes());
            } else {
                out.extend_from_slice(&v.to_f64().to_le_bytes());
            }
        }
    }
    write_atomically(path, &out)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| Error::io(path.display(), &e);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::format(path.display().to_string(), "not a file path"))?;
    let temporary = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let mut file = File::create(&temporary).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(io)?;
    // The rename itself is durable once the directory is flushed.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Reads a checkpoint. Tensors stored in the other float width are converted.
pub fn load<T: Scalar>(path: &Path) -> Result<Checkpoint<T>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), &e))?;
    let bad = |message: String| Error::format(path.display().to_string(), message);
    let len = u64::from_le_bytes(
        bytes
            .get(..8)
            .ok_or_else(|| bad("too short for a safetensors header".into()))?
            .try_into()
            .expect("8 bytes"),
    );
    let data_start = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_add(8))
        .filter(|&end| end <= bytes.len());
    let data_start = data_start.ok_or_else(|| {
        bad(format!(
            "the header claims {len} bytes but the file holds {}",
            bytes.len()
        ))
    })?;
    let header = std::str::from_utf8(&bytes[8..data_start]).map_err(|_| bad("the header is not UTF-8".into()))?;
    let Json::Object(entries) = json::parse(header).map_err(bad)? else {
        return Err(bad("the header is not a JSON object".into()));
    };
    let data = &bytes[data_start..];
    let mut checkpoint = Checkpoint {
        tensors: BTreeMap::new(),
        metadata: BTreeMap::new(),
    };
    for (name, entry) in entries {
        let Json::Object(fields) = entry else {
            return Err(bad(format!("entry `{name}` is not an object")));
        };
        if name == "__metadata__" {
            for (key, value) in fields {
                if let Json::String(value) = value {
                    checkpoint.metadata.insert(key, value);
                }
            }
            continue;
        }
        let numbers = |field: &str| -> Result<Vec<usize>> {
            match fields.get(field) {
                Some(Json::Array(items)) => items
                    .iter()
                    .map(|v| match v {
                        Json::Number(n) => usize::try_from(*n).map_err(|_| bad(format!("`{name}`: {field} too large"))),
                        _ => Err(bad(format!("`{name}`: {field} must hold integers"))),
                    })
                    .collect(),
                _ => Err(bad(format!("tensor `{name}` has no {field}"))),
            }
        };
        let shape = numbers("shape")?;
        let offsets = numbers("data_offsets")?;
        let width = match fields.get("dtype") {
            Some(Json::String(d)) if d == "F32" => 4,
            Some(Json::String(d)) if d == "F64" => 8,
            other => {
                return Err(bad(format!(
                    "tensor `{name}` has dtype {other:?}; only F32 and F64 are read"
                )));
            }
        };
        let [begin, end] = offsets[..] else {
            return Err(bad(format!("tensor `{name}` needs two data offsets")));
        };
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| bad(format!("tensor `{name}`: shape overflows")))?;
        if end < begin || end > data.len() || end - begin != count * width {
            return Err(bad(format!(
                "tensor `{name}`: bytes {begin}..{end} do not fit its shape {shape:?} or the file"
            )));
        }
        let values = data[begin..end]
            .chunks_exact(width)
            .map(|b| {
                if width == 4 {
                    T::from_f64(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64)
                } else {
                    T::from_f64(f64::from_le_bytes(b.try_into().expect("8 bytes")))
                }
            })
            .collect();
        checkpoint.tensors.insert(
            name,
            ArrayD::from_shape_vec(IxDyn(&shape), values).expect("size checked"),
        );
    }
    Ok(checkpoint)
}
