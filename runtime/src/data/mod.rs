//! Data sets: features with class labels, splits, scaling, input corruptions, and readers for
//! CSV, IDX (the MNIST format, gzipped or not), the embedded digits and Fashion-MNIST. The
//! trainer gathers mini-batches from them (`train`).

mod corrupt;
mod csv;
mod idx;
mod sources;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};
use crate::model::Model;
use crate::scalar::Scalar;

pub use corrupt::Corruption;
pub use csv::read_csv;
pub use idx::{read_idx_images, read_idx_labels};
pub use sources::{FASHION_MNIST_DIR, Source, digits, fashion_mnist};

/// The most classes a data set may have; a larger label is taken for a corrupt file.
pub const MAX_CLASSES: usize = 1 << 16;

/// Samples as rows of `features`, each with a class label in `0..classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T = f32> {
    /// One sample per row.
    pub features: Array2<T>,
    /// One class label per sample.
    pub labels: Vec<usize>,
    /// The number of classes.
    pub classes: usize,
    /// Rows and columns of each sample as an image, where the features are pixels.
    pub image: Option<(usize, usize)>,
}

/// A batch as the trainer hands it to a model: the features, their class labels, and the
/// clean features as the target of an autoencoder (the same as `features` unless the inputs
/// were corrupted).
#[derive(Clone, Copy, Debug)]
pub struct Examples<'a, T> {
    /// One sample per row (possibly corrupted).
    pub features: ArrayView2<'a, T>,
    /// The class labels of the rows.
    pub labels: &'a [usize],
    /// The uncorrupted features: what a real-valued target is fed.
    pub clean: ArrayView2<'a, T>,
}

/// A model a data set can feed: the adaptor between the trainer's examples and the model's
/// batch.
pub trait FromExamples<T: Scalar>: Model<T> {
    /// A batch of this network built from examples of a data set: the features feed the one
    /// input, the labels a class-label target, the clean features a real-valued target. A
    /// network with several inputs answers with an error.
    fn batch(examples: Examples<'_, T>) -> Result<Self::Batch<'_>>;

    /// Whether the network has a class-label target, so that its output scores classes and
    /// an accuracy means something.
    fn classifies() -> bool;
}

impl<'a, T> Examples<'a, T> {
    /// Uncorrupted examples: the features are their own target.
    pub fn new(features: ArrayView2<'a, T>, labels: &'a [usize]) -> Self {
        Examples {
            features,
            labels,
            clean: features,
        }
    }
}

impl<T: Scalar> Dataset<T> {
    /// A data set, checked: one label per row, every label below `classes` (at most
    /// [`MAX_CLASSES`]), every feature finite.
    pub fn new(features: Array2<T>, labels: Vec<usize>, classes: usize) -> Result<Self> {
        let data = Dataset {
            features,
            labels,
            classes,
            image: None,
        };
        data.check("Dataset::new")?;
        Ok(data)
    }

    /// Checks what [`Dataset::new`] checks, again: the fields are public, and training and
    /// evaluation must not run on a NaN (a ReLU would hide it). `op` names the caller.
    pub fn check(&self, op: &'static str) -> Result<()> {
        let Dataset {
            features,
            labels,
            classes,
            ..
        } = self;
        let classes = *classes;
        if features.nrows() != labels.len() {
            return Err(Error::Shape {
                op,
                lhs_name: "rows of features",
                lhs: vec![features.nrows()],
                rhs_name: "labels",
                rhs: vec![labels.len()],
            });
        }
        if classes > MAX_CLASSES {
            return Err(Error::Config {
                setting: op.into(),
                message: format!("{classes} classes; at most {MAX_CLASSES} are supported"),
            });
        }
        if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(Error::Label {
                op,
                row,
                label,
                classes,
            });
        }
        if let Some(((row, column), &value)) = features.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "a feature".into(),
                location: format!("row {row}, column {column} of the data set ({op})"),
                value: value.to_f64(),
            });
        }
        Ok(())
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of features per sample.
    pub fn width(&self) -> usize {
        self.features.ncols()
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Dataset {
            features: self.features.select(Axis(0), indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes,
            image: self.image,
        }
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn first(&self, n: usize) -> Self {
        self.subset(&(0..n.min(self.len())).collect::<Vec<_>>())
    }

    /// Splits off `fraction` of each class (rounded) as a second set, after shuffling each class
    /// with `rng`: both parts keep the class proportions. Returns `(rest, split)`.
    pub fn split_stratified<R: Rng + ?Sized>(&self, fraction: f64, rng: &mut R) -> Result<(Self, Self)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::Domain {
                what: "split fraction",
                expected: "in [0, 1)",
                got: fraction,
            });
        }
        let (mut rest, mut split) = (Vec::new(), Vec::new());
        for class in 0..self.classes {
            let mut members: Vec<usize> = (0..self.len()).filter(|&i| self.labels[i] == class).collect();
            members.shuffle(rng);
            let take = (members.len() as f64 * fraction).round() as usize;
            split.extend_from_slice(&members[..take]);
            rest.extend_from_slice(&members[take..]);
        }
        rest.sort_unstable();
        split.sort_unstable();
        Ok((self.subset(&rest), self.subset(&split)))
    }

    /// The first `per_class` samples of each class (after shuffling with `rng`): a small
    /// labelled set.
    pub fn take_per_class<R: Rng + ?Sized>(&self, per_class: usize, rng: &mut R) -> Self {
        let mut chosen = Vec::new();
        for class in 0..self.classes {
            let mut members: Vec<usize> = (0..self.len()).filter(|&i| self.labels[i] == class).collect();
            members.shuffle(rng);
            chosen.extend(members.into_iter().take(per_class));
        }
        chosen.sort_unstable();
        self.subset(&chosen)
    }

    /// Divides every feature by `max`, mapping `0..=max` to `0..=1`.
    pub fn scale_by(&mut self, max: f64) {
        let inv = T::from_f64(1.0 / max);
        self.features.mapv_inplace(|v| v * inv);
    }

    /// The per-feature mean and standard deviation of this set (a deviation of 0 counts as 1).
    pub fn standardisation(&self) -> Standardisation<T> {
        let n = T::from_usize(self.len().max(1));
        let mean = self.features.sum_axis(Axis(0)).mapv(|s| s / n);
        let mut std = Array1::from_elem(self.width(), T::ONE);
        for (j, s) in std.iter_mut().enumerate() {
            let m = mean[j];
            let v = self.features.column(j).iter().map(|&x| (x - m) * (x - m)).sum::<T>() / n;
            *s = if v > T::ZERO { v.sqrt() } else { T::ONE };
        }
        Standardisation { mean, std }
    }
}

/// Per-feature `x ↦ (x − μ)/σ`, fitted on a training set and applied to every set.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardisation<T> {
    /// Per-feature means.
    pub mean: Array1<T>,
    /// Per-feature standard deviations.
    pub std: Array1<T>,
}

impl<T: Scalar> Standardisation<T> {
    /// Applies the transform to `data` in place.
    pub fn apply(&self, data: &mut Dataset<T>) -> Result<()> {
        crate::error::expect_same_shape(
            "standardise",
            "features",
            &[data.width()],
            "fitted features",
            &[self.mean.len()],
        )?;
        for mut row in data.features.rows_mut() {
            for ((x, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
        Ok(())
    }
}
