//! Checkpoints in the safetensors format, checksummed and written atomically.
//!
//! A file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
//! shape and byte range (plus string metadata under `__metadata__`), then the raw
//! little-endian data: the format PyTorch (`safetensors.torch.load_file`) and the Hugging Face
//! tools read. Parsing and writing the container is the official `safetensors` crate's.
//!
//! **Integrity.** Every file written here carries two metadata entries: `format` (`symgrad
//! checkpoint` unless the caller names another, always starting with `symgrad`) and
//! [`CHECKSUM`], the CRC-32 of the whole file with the checksum's own eight hex digits read as
//! `0`. Loading verifies the checksum before it trusts anything in the file, so any single-bit
//! flip (and any burst of up to 32 flipped bits) is an error, never a silently different
//! network. A file without either entry is another tool's and is read unverified; a file with
//! one but not the other has been damaged and is refused.
//!
//! **Atomicity.** A save writes a temporary file beside the target, flushes it to disk,
//! renames it over the target and flushes the directory, so a process killed at any moment
//! leaves either the old checkpoint or the new one, never a torn file. A failed save removes
//! its temporary file; temporary files left by killed processes are removed by the next save
//! to the same path.

mod files;
pub mod torch;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};
use safetensors::{Dtype, SafeTensors, View};

use crate::error::{Error, Result};
use crate::params::Parameters;
use crate::scalar::Scalar;
pub use files::check_writable;
use files::write_atomically;

/// The metadata key of the file's CRC-32 (eight lowercase hex digits).
pub const CHECKSUM: &str = "symgrad.crc32";

/// The metadata key naming what a file holds.
pub const FORMAT: &str = "format";

/// The tensors and metadata of a checkpoint file.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<T> {
    /// The floating-point tensors (F64, F32, F16, BF16), converted to `T`, by name.
    pub tensors: BTreeMap<String, ArrayD<T>>,
    /// Tensors of other dtypes (integers, booleans, 8-bit floats, ...) by name, with their
    /// dtype in words: ignored unless a network needs one, which is then an error.
    pub unread: BTreeMap<String, String>,
    /// String metadata (`__metadata__`), without the checksum.
    pub metadata: BTreeMap<String, String>,
}

impl<T: Scalar> Checkpoint<T> {
    /// Copies the tensors `prefix + name` into every parameter of `params`; a missing tensor,
    /// one of a dtype that is not read, or a shape that differs is an error naming the tensor
    /// (and both shapes). Tensors no parameter needs are ignored.
    pub fn restore<P: Parameters<T>>(&self, prefix: &str, params: &mut P, source: &Path) -> Result<()> {
        for i in 0..params.count() {
            let name = format!("{prefix}{}", params.name(i));
            let tensor = self.tensor(&name, source)?;
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

    /// The tensor `name`, or an error saying that the file (`source`) lacks it or holds it in
    /// a dtype that is not read.
    pub fn tensor(&self, name: &str, source: &Path) -> Result<&ArrayD<T>> {
        self.tensors.get(name).ok_or_else(|| {
            let message = match self.unread.get(name) {
                Some(dtype) => format!("tensor `{name}` holds {dtype}, not floating-point numbers"),
                None => format!("no tensor `{name}`: the checkpoint is of another network"),
            };
            Error::format(source.display().to_string(), message)
        })
    }
}

/// The tensors of `params` named `prefix + name`, for [`save`].
pub fn named<'a, T: Scalar, P: Parameters<T>>(prefix: &str, params: &'a P) -> Vec<(String, ArrayViewD<'a, T>)> {
    (0..params.count())
        .map(|i| (format!("{prefix}{}", params.name(i)), params.param(i)))
        .collect()
}

/// One tensor's little-endian bytes, as the `safetensors` crate serialises them.
struct Bytes {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Bytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// The placeholder the checksum is computed over, then replaced by.
const UNSET: &[u8; 8] = b"00000000";

/// Writes `tensors` and `metadata` to `path` atomically, checksummed (see the module docs).
/// Non-finite values are refused: a NaN never reaches a checkpoint.
///
/// ```
/// use std::collections::BTreeMap;
/// use symgrad_runtime::checkpoint;
/// use symgrad_runtime::ndarray::array;
/// use symgrad_runtime::{ParamList, Parameters};
///
/// let mut params = ParamList::new();
/// params.push("w", array![[0.5f32, -1.0], [2.0, 0.25]]);
/// let path = std::env::temp_dir().join(format!("symgrad-doc-{}.safetensors", std::process::id()));
/// let metadata = BTreeMap::from([("epoch".to_owned(), "3".to_owned())]);
/// checkpoint::save(&path, &checkpoint::named("model.", &params), &metadata)?;
///
/// let file = checkpoint::load::<f32>(&path)?; // the checksum is verified here
/// assert_eq!(file.metadata["epoch"], "3");
/// let mut restored = params.zeros_like();
/// file.restore("model.", &mut restored, &path)?;
/// assert_eq!(restored, params);
///
/// // A flipped bit anywhere in the file is an error, never a different network.
/// let mut bytes = std::fs::read(&path)?;
/// let last = bytes.len() - 1;
/// bytes[last] ^= 1;
/// assert!(checkpoint::parse::<f32>(&bytes, "flipped").is_err());
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save<T: Scalar>(
    path: &Path,
    tensors: &[(String, ArrayViewD<'_, T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut encoded = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        if let Some((index, value)) = tensor.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("tensor `{name}`"),
                location: format!("{:?}, not saved to {}", index.slice(), path.display()),
                value: value.to_f64(),
            });
        }
        let (dtype, data) = if T::NAME == "f32" {
            let bytes = tensor.iter().flat_map(|v| (v.to_f64() as f32).to_le_bytes());
            (Dtype::F32, bytes.collect())
        } else {
            (
                Dtype::F64,
                tensor.iter().flat_map(|v| v.to_f64().to_le_bytes()).collect(),
            )
        };
        let shape = tensor.shape().to_vec();
        encoded.push((name.clone(), Bytes { dtype, shape, data }));
    }
    let mut info: HashMap<String, String> = metadata.clone().into_iter().collect();
    let format = info
        .entry(FORMAT.to_owned())
        .or_insert_with(|| "symgrad checkpoint".to_owned());
    if !format.starts_with("symgrad") {
        *format = format!("symgrad: {format}");
    }
    info.insert(CHECKSUM.to_owned(), String::from_utf8_lossy(UNSET).into_owned());
    let mut bytes = safetensors::serialize(encoded.iter().map(|(n, b)| (n, b)), Some(info))
        .map_err(|e| Error::format(path.display().to_string(), format!("cannot encode the checkpoint: {e}")))?;
    let at = checksum_position(&bytes).expect("the checksum was just written into the header");
    let crc = crc32fast::hash(&bytes);
    bytes[at..at + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
    write_atomically(path, &bytes)
}

/// Where the checksum's eight hex digits start, if the header holds the checksum entry.
fn checksum_position(bytes: &[u8]) -> Option<usize> {
    let len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header = bytes.get(8..8usize.checked_add(len)?)?;
    let key = format!("\"{CHECKSUM}\":\"");
    let start = header.windows(key.len()).position(|w| w == key.as_bytes())? + 8 + key.len();
    (start + 8 <= 8 + len).then_some(start)
}

/// The CRC-32 of `bytes` with the eight bytes at `at` read as [`UNSET`].
fn checksum(bytes: &[u8], at: usize) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[..at]);
    hasher.update(UNSET);
    hasher.update(&bytes[at + 8..]);
    hasher.finalize()
}

/// Reads a checkpoint, verifying its checksum where it has one (see the module docs).
/// Floating-point tensors of any width are converted to `T`; others are listed as unread.
pub fn load<T: Scalar>(path: &Path) -> Result<Checkpoint<T>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), &e))?;
    parse(&bytes, &path.display().to_string())
}

/// [`load`] on the bytes of a file, named `source_name` in errors.
///
/// Built for fuzzing (`--cfg fuzzing`), a wrong checksum is accepted, so that the fuzzer
/// reaches the code behind it; everywhere else it is an error.
pub fn parse<T: Scalar>(bytes: &[u8], source_name: &str) -> Result<Checkpoint<T>> {
    let bad = |message: String| Error::format(source_name, message);
    let verified = match checksum_position(bytes) {
        Some(at) => {
            // Compared as written (lowercase hex): `A` for `a` is a flipped bit, not the same
            // number.
            let computed = checksum(bytes, at);
            if bytes[at..at + 8] != *format!("{computed:08x}").as_bytes() && !cfg!(fuzzing) {
                return Err(bad(format!(
                    "corrupt: the checksum over the file is {computed:08x} but the file records {}",
                    String::from_utf8_lossy(&bytes[at..at + 8])
                )));
            }
            true
        }
        None => false,
    };
    let file = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let mut metadata: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
    metadata.remove(CHECKSUM);
    if !verified && metadata.get(FORMAT).is_some_and(|f| f.starts_with("symgrad")) {
        return Err(bad(format!(
            "corrupt: the `{CHECKSUM}` entry that every checkpoint written here carries is missing"
        )));
    }
    let mut checkpoint = Checkpoint {
        tensors: BTreeMap::new(),
        unread: BTreeMap::new(),
        metadata,
    };
    for (name, view) in file.iter() {
        let data = view.data();
        let values: Vec<T> = match view.dtype() {
            Dtype::F64 => little_endian::<T, 8>(data, f64::from_le_bytes),
            Dtype::F32 => little_endian::<T, 4>(data, |b| f32::from_le_bytes(b).into()),
            Dtype::F16 => little_endian::<T, 2>(data, |b| f16_to_f32(u16::from_le_bytes(b)).into()),
            Dtype::BF16 => little_endian::<T, 2>(data, |b| f32::from_bits((u16::from_le_bytes(b) as u32) << 16).into()),
            other => {
                checkpoint.unread.insert(name.to_owned(), dtype_in_words(other));
                continue;
            }
        };
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "tensor `{name}` holds a non-finite value at flat index {index}"
            )));
        }
        let array =
            ArrayD::from_shape_vec(IxDyn(view.shape()), values).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
        checkpoint.tensors.insert(name.to_owned(), array);
    }
    Ok(checkpoint)
}

/// Elements of `N` little-endian bytes, each read (exactly) as an `f64` by `read`.
fn little_endian<T: Scalar, const N: usize>(data: &[u8], read: impl Fn([u8; N]) -> f64) -> Vec<T> {
    data.chunks_exact(N)
        .map(|b| T::from_f64(read(b.try_into().expect("N bytes"))))
        .collect()
}

/// An IEEE half-precision number as an `f32` (exactly: every half is an `f32`).
fn f16_to_f32(half: u16) -> f32 {
    let sign = if half & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((half >> 10) & 0x1f);
    let mantissa = f32::from(half & 0x3ff);
    match exponent {
        0 => sign * mantissa * (-24f32).exp2(),
        31 if mantissa == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + mantissa / 1024.0) * ((exponent - 15) as f32).exp2(),
    }
}

/// A dtype this module does not read, in words.
fn dtype_in_words(dtype: Dtype) -> String {
    let words = match dtype {
        Dtype::BOOL => "booleans",
        Dtype::U8 => "8-bit unsigned integers",
        Dtype::I8 => "8-bit signed integers",
        Dtype::U16 => "16-bit unsigned integers",
        Dtype::I16 => "16-bit signed integers",
        Dtype::U32 => "32-bit unsigned integers",
        Dtype::I32 => "32-bit signed integers",
        Dtype::U64 => "64-bit unsigned integers",
        Dtype::I64 => "64-bit signed integers",
        Dtype::C64 => "complex numbers",
        other => return format!("{other:?} numbers (a format of under 16 bits)"),
    };
    format!("{words} ({dtype:?})")
}
