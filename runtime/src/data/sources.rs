//! Where data sets come from: the digits shipped inside the crate, and Fashion-MNIST on disk.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use super::{Dataset, read_csv, read_idx_images, read_idx_labels};
use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// Where Debian's `dataset-fashion-mnist` package installs the data.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The largest decompressed size accepted, against decompression bombs.
const MAX_DECOMPRESSED: u64 = 1 << 30;

const DIGITS: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The 1,797 handwritten digits (8×8 pixels, values `0..=16`, 10 classes) of the UCI "Optical
/// Recognition of Handwritten Digits" data set (Alpaydin and Kaynak, 1998; CC BY 4.0), embedded
/// in the crate: no download needed.
pub fn digits<T: Scalar>() -> Result<Dataset<T>> {
    let text = gunzip(DIGITS, "embedded digits")?;
    let text = std::str::from_utf8(&text).map_err(|_| Error::format("embedded digits", "not UTF-8"))?;
    let mut data = read_csv(text, "embedded digits")?;
    data.image = Some((8, 8));
    Ok(data)
}

/// Fashion-MNIST's training (60,000) and test (10,000) images, 28×28 pixels with values
/// `0..=255`, from the four IDX files (gzipped or not) in `dir`.
pub fn fashion_mnist<T: Scalar>(dir: &Path) -> Result<(Dataset<T>, Dataset<T>)> {
    let part = |images: &str, labels_file: &str| -> Result<Dataset<T>> {
        let (features, image) = read_idx_images(&read(dir, images)?, images)?;
        let labels = read_idx_labels(&read(dir, labels_file)?, labels_file)?;
        if labels.len() != features.nrows() {
            return Err(Error::format(
                format!("{}", dir.display()),
                format!(
                    "{images} holds {} images but {labels_file} holds {} labels",
                    features.nrows(),
                    labels.len()
                ),
            ));
        }
        if let Some((row, label)) = labels.iter().enumerate().find(|(_, l)| **l >= 10) {
            return Err(Error::format(
                format!("{}", dir.join(labels_file).display()),
                format!("label {label} of sample {row} is not one of the 10 classes"),
            ));
        }
        let mut data = Dataset::new(features, labels, 10)?;
        data.image = Some(image);
        Ok(data)
    };
    Ok((
        part("train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
        part("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
    ))
}

/// The bytes of `dir/name`, or of `dir/name.gz`; where neither exists, the error says how to
/// install the data.
fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(Error::format(
            dir.display().to_string(),
            format!(
                "{what}; expected the directory holding Fashion-MNIST's four IDX files (install them with \
                 `apt-get install dataset-fashion-mnist`, which puts them in {FASHION_MNIST_DIR})"
            ),
        ));
    }
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    let path = if plain.exists() { plain } else { gz };
    if path.is_dir() {
        return Err(Error::format(
            path.display().to_string(),
            "is a directory, not an IDX file",
        ));
    }
    std::fs::read(&path).map_err(|e| Error::io(path.display(), &e))
}

/// `bytes`, decompressed if they start with the gzip magic number.
pub(super) fn gunzip<'a>(bytes: &'a [u8], source_name: &str) -> Result<Cow<'a, [u8]>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::format(source_name, format!("corrupt gzip data: {e}")))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(Error::format(source_name, "decompresses to more than 1 GiB"));
    }
    Ok(Cow::Owned(out))
}

/// Fashion-MNIST's class names, by label (from the data set's documentation).
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The digits' class names, by label.
pub const DIGIT_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// A data set to train on, as chosen on a command line: the embedded digits by default,
/// `--fashion [DIR]` for Fashion-MNIST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The embedded 8×8 digits, split 80/20 (stratified).
    Digits,
    /// Fashion-MNIST from a directory.
    FashionMnist(std::path::PathBuf),
}

impl Source {
    /// Training and test sets with features scaled to `0..=1`; `seed` fixes the digits' split.
    pub fn load<T: Scalar>(&self, seed: u64) -> Result<(Dataset<T>, Dataset<T>)> {
        use rand::SeedableRng;
        match self {
            Source::Digits => {
                let mut all = digits::<T>()?;
                all.scale_by(16.0);
                all.split_stratified(0.2, &mut rand::rngs::StdRng::seed_from_u64(seed))
            }
            Source::FashionMnist(dir) => {
                let (mut train, mut test) = fashion_mnist::<T>(dir)?;
                train.scale_by(255.0);
                test.scale_by(255.0);
                Ok((train, test))
            }
        }
    }

    /// The names of the classes, by label.
    pub fn class_names(&self) -> &'static [&'static str] {
        match self {
            Source::Digits => &DIGIT_CLASSES,
            Source::FashionMnist(_) => &FASHION_MNIST_CLASSES,
        }
    }
}
