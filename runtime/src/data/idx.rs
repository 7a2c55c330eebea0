//! The IDX format of MNIST and Fashion-MNIST: a big-endian header (magic number, then one `u32`
//! per dimension) followed by raw `u8` data. Every count is checked against the bytes actually
//! present before anything is allocated, so a corrupt header cannot cause a huge allocation.
//!
//! Hand-written: a header and raw bytes, with every count checked against the file as above.

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::scalar::Scalar;

const IMAGES: u32 = 0x0000_0803;
const LABELS: u32 = 0x0000_0801;

/// Images as rows of pixel values `0..=255`, with the image's rows and columns.
pub fn read_idx_images<T: Scalar>(bytes: &[u8], source_name: &str) -> Result<(Array2<T>, (usize, usize))> {
    let bytes = super::sources::gunzip(bytes, source_name)?;
    let dims = header(&bytes, IMAGES, 3, source_name)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    let pixels = rows
        .checked_mul(cols)
        .and_then(|p| p.checked_mul(count))
        .ok_or_else(|| Error::format(source_name, "the header's sizes overflow"))?;
    let data = payload(&bytes, 16, pixels, source_name)?;
    let features = Array2::from_shape_vec(
        (count, rows * cols),
        data.iter().map(|&b| T::from_f64(b as f64)).collect(),
    )
    .expect("size checked");
    Ok((features, (rows, cols)))
}

/// Labels, one byte each.
pub fn read_idx_labels(bytes: &[u8], source_name: &str) -> Result<Vec<usize>> {
    let bytes = super::sources::gunzip(bytes, source_name)?;
    let dims = header(&bytes, LABELS, 1, source_name)?;
    Ok(payload(&bytes, 8, dims[0], source_name)?
        .iter()
        .map(|&b| b as usize)
        .collect())
}

fn header(bytes: &[u8], magic: u32, dims: usize, source_name: &str) -> Result<Vec<usize>> {
    let word = |i: usize| -> Option<u32> { Some(u32::from_be_bytes(bytes.get(4 * i..4 * i + 4)?.try_into().ok()?)) };
    let found = word(0).ok_or_else(|| Error::format(source_name, "too short for an IDX header"))?;
    if found != magic {
        return Err(Error::format(
            source_name,
            format!(
                "wrong magic number 0x{found:08x}, expected 0x{magic:08x} (IDX {})",
                if magic == IMAGES { "images" } else { "labels" }
            ),
        ));
    }
    (1..=dims)
        .map(|i| {
            word(i)
                .map(|d| d as usize)
                .ok_or_else(|| Error::format(source_name, "the IDX header is truncated"))
        })
        .collect()
}

fn payload<'a>(bytes: &'a [u8], offset: usize, len: usize, source_name: &str) -> Result<&'a [u8]> {
    let present = bytes.len().saturating_sub(offset);
    match present.cmp(&len) {
        std::cmp::Ordering::Less => Err(Error::format(
            source_name,
            format!("truncated: the header announces {len} bytes of data but the file holds {present}"),
        )),
        std::cmp::Ordering::Greater => Err(Error::format(
            source_name,
            format!(
                "{} bytes after the {len} bytes of data the header announces",
                present - len
            ),
        )),
        std::cmp::Ordering::Equal => Ok(&bytes[offset..]),
    }
}
