//! Data sets: features with class labels or real-valued targets, splits, scaling, input corruptions, and readers for
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
pub use sources::{DIGIT_CLASSES, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Source, digits, fashion_mnist};

/// The most classes a data set may have; a larger label is taken for a corrupt file.
pub const MAX_CLASSES: usize = 1 << 16;

/// Samples as rows of `features`, each with a class label in `0..classes`, or with a row of
/// real-valued `targets` (a regression), or both.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T = f32> {
    /// One sample per row.
    pub features: Array2<T>,
    /// One class label per sample; empty in a set of real-valued targets alone.
    pub labels: Vec<usize>,
    /// The number of classes (0 without labels).
    pub classes: usize,
    /// Real-valued targets, one row per sample. Without them a network's real-valued target is
    /// fed the samples' own features (an autoencoder).
    pub targets: Option<Array2<T>>,
    /// Rows and columns of each sample as an image, where the features are pixels.
    pub image: Option<(usize, usize)>,
}

/// A batch as the trainer hands it to a model: the features, their class labels, their
/// real-valued targets if the data set has them, and the clean features (the same as `features`
/// unless the inputs were corrupted).
#[derive(Clone, Copy, Debug)]
pub struct Examples<'a, T> {
    /// One sample per row (possibly corrupted).
    pub features: ArrayView2<'a, T>,
    /// The class labels of the rows (empty where the data set has none).
    pub labels: &'a [usize],
    /// The uncorrupted features: an autoencoder's target.
    pub clean: ArrayView2<'a, T>,
    /// The rows' real-valued targets, where the data set has them (a regression).
    pub targets: Option<ArrayView2<'a, T>>,
}

/// A model a data set can feed: the adaptor between the trainer's examples and the model's
/// batch.
pub trait FromExamples<T: Scalar>: Model<T> {
    /// A batch of this network built from examples of a data set: the features feed the one
    /// input, the labels a class-label target, and a real-valued target is fed the examples'
    /// targets where there are some, else the clean features. A network with several inputs
    /// answers with an error.
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
            targets: None,
        }
    }

    /// The value a network's real-valued target is fed: the targets where there are some, else
    /// the clean features.
    pub fn real_target(&self) -> ArrayView2<'a, T> {
        self.targets.unwrap_or(self.clean)
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
            targets: None,
            image: None,
        };
        data.check("Dataset::new")?;
        Ok(data)
    }

    /// A regression set, checked: a row of real-valued `targets` per row of `features`, both
    /// finite; no class labels.
    pub fn regression(features: Array2<T>, targets: Array2<T>) -> Result<Self> {
        let data = Dataset {
            features,
            labels: Vec::new(),
            classes: 0,
            targets: Some(targets),
            image: None,
        };
        data.check("Dataset::regression")?;
        Ok(data)
    }

    /// Whether the samples have class labels (every set but a regression set has).
    pub fn has_labels(&self) -> bool {
        self.targets.is_none() || !self.labels.is_empty()
    }

    /// Checks what [`Dataset::new`] and [`Dataset::regression`] check, again: the fields are
    /// public, and training and evaluation must not run on a NaN (a ReLU would hide it). `op`
    /// names the caller.
    pub fn check(&self, op: &'static str) -> Result<()> {
        let Dataset {
            features,
            labels,
            classes,
            targets,
            ..
        } = self;
        let classes = *classes;
        if self.has_labels() && features.nrows() != labels.len() {
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
        if let Some(targets) = targets
            && targets.nrows() != features.nrows()
        {
            return Err(Error::Shape {
                op,
                lhs_name: "rows of features",
                lhs: vec![features.nrows()],
                rhs_name: "rows of targets",
                rhs: vec![targets.nrows()],
            });
        }
        let values = [("a feature", Some(features)), ("a target", targets.as_ref())];
        for (what, values) in values.into_iter().filter_map(|(w, v)| Some((w, v?))) {
            // One pass without early exit, which vectorises; the search for where only on failure.
            let finite = match values.as_slice_memory_order() {
                Some(all) => all.iter().fold(true, |finite, v| finite & v.is_finite()),
                None => values.iter().all(|v| v.is_finite()),
            };
            if finite {
                continue;
            }
            if let Some(((row, column), &value)) = values.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: what.into(),
                    location: format!("row {row}, column {column} of the data set ({op})"),
                    value: value.to_f64(),
                });
            }
        }
        Ok(())
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.features.nrows()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of features per sample.
    pub fn width(&self) -> usize {
        self.features.ncols()
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let labels = if self.labels.is_empty() {
            Vec::new()
        } else {
            indices.iter().map(|&i| self.labels[i]).collect()
        };
        Dataset {
            features: self.features.select(Axis(0), indices),
            labels,
            classes: self.classes,
            targets: self.targets.as_ref().map(|t| t.select(Axis(0), indices)),
            image: self.image,
        }
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn first(&self, n: usize) -> Self {
        self.subset(&(0..n.min(self.len())).collect::<Vec<_>>())
    }

    /// Splits off `fraction` of each class (rounded) as a second set, after shuffling each class
    /// with `rng`: both parts keep the class proportions. A set without labels is one class.
    /// Returns `(rest, split)`.
    pub fn split_stratified<R: Rng + ?Sized>(&self, fraction: f64, rng: &mut R) -> Result<(Self, Self)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::Domain {
                what: "split fraction",
                expected: "in [0, 1)",
                got: fraction,
            });
        }
        let (mut rest, mut split) = (Vec::new(), Vec::new());
        let labelled = !self.labels.is_empty();
        for class in 0..self.classes.max(1) {
            let mut members: Vec<usize> = (0..self.len())
                .filter(|&i| !labelled || self.labels[i] == class)
                .collect();
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

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::Dataset;

    /// A non-finite feature or target is an error naming where it is, wherever it lies
    /// (inside the vectorised pass's blocks of eight or in their remainder).
    #[test]
    fn a_non_finite_value_is_an_error_naming_its_row_and_column() {
        for (row, column) in [(0, 0), (2, 1), (4, 2)] {
            let mut features = Array2::<f32>::zeros((5, 3));
            features[[row, column]] = f32::NAN;
            let message = Dataset::new(features, vec![0; 5], 2).unwrap_err().to_string();
            let place = format!("row {row}, column {column} of the data set (Dataset::new)");
            assert!(
                message.contains("a feature is not finite") && message.contains(&place),
                "{message}"
            );
        }
        let mut targets = Array2::<f64>::zeros((5, 2));
        targets[[3, 1]] = f64::INFINITY;
        let message = Dataset::regression(Array2::zeros((5, 2)), targets)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("a target is not finite (inf) at row 3, column 1"),
            "{message}"
        );
        assert!(Dataset::new(Array2::<f32>::ones((5, 3)), vec![1; 5], 2).is_ok());
    }
}
