//! What a run records: one line of metrics per epoch, written as CSV and plotted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plot::{Axes, Scale, line_chart};

/// The metrics of one epoch. In JSON (serde), NaN and the infinities are the strings `"NaN"`,
/// `"inf"` and `"-inf"`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (training mode).
    #[serde(with = "crate::json::float")]
    pub train_loss: f64,
    /// Loss on the validation set (evaluation mode).
    #[serde(with = "crate::json::float")]
    pub val_loss: f64,
    /// Accuracy on the validation set (NaN for a network without class labels).
    #[serde(with = "crate::json::float")]
    pub val_accuracy: f64,
    /// The step size used.
    #[serde(with = "crate::json::float")]
    pub rate: f64,
    /// Mean gradient norm over the epoch's batches.
    #[serde(with = "crate::json::float")]
    pub grad_norm: f64,
    /// Training throughput.
    #[serde(with = "crate::json::float")]
    pub samples_per_second: f64,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stop {
    /// The epoch limit.
    Epochs,
    /// No better validation accuracy for `patience` epochs.
    Patience,
    /// The target accuracy was reached.
    Target,
    /// The gradient norm fell below the threshold.
    GradientNorm,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Why it ended.
    pub stop: Stop,
    /// The epoch (from 1) with the best validation accuracy.
    pub best_epoch: usize,
}

impl History {
    /// The history as CSV, one row per epoch.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("epoch,train_loss,val_loss,val_accuracy,rate,grad_norm,samples_per_second\n");
        for r in &self.epochs {
            out += &format!(
                "{},{},{},{},{},{},{}\n",
                r.epoch, r.train_loss, r.val_loss, r.val_accuracy, r.rate, r.grad_norm, r.samples_per_second
            );
        }
        out
    }

    /// The history as JSON (serde): every record, why the run stopped, the best epoch.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a history is plain data")
    }

    /// The files a history written to `path` occupies: the CSV, then the loss and accuracy
    /// plots `{stem}-loss.png` and `{stem}-accuracy.png` beside it.
    pub fn files(path: &Path) -> [PathBuf; 3] {
        let stem = path.with_extension("");
        [
            path.to_path_buf(),
            PathBuf::from(format!("{}-loss.png", stem.display())),
            PathBuf::from(format!("{}-accuracy.png", stem.display())),
        ]
    }

    /// Plots the loss curves (training and validation, on a log scale) and the validation
    /// accuracy (from 0 to 1) into the two PNG files of [`files`](Self::files); returns their
    /// paths.
    pub fn write_plots(&self, path: &Path) -> Result<[PathBuf; 2]> {
        let curve = |name: &str, value: fn(&EpochRecord) -> f64| crate::plot::Series {
            name: name.to_owned(),
            points: self.epochs.iter().map(|r| (r.epoch as f64, value(r))).collect(),
        };
        let [_, loss_path, accuracy_path] = Self::files(path);
        let axes = |title, y, y_scale| Axes {
            title,
            x: "epoch",
            y,
            y_scale,
        };
        line_chart(
            &loss_path,
            &axes("Loss per epoch", "mean loss per sample", Scale::Log),
            &[
                curve("training loss (dropout on)", |r| r.train_loss),
                curve("validation loss", |r| r.val_loss),
            ],
            (720, 440),
        )?;
        line_chart(
            &accuracy_path,
            &axes(
                "Validation accuracy per epoch",
                "accuracy (0 to 1)",
                Scale::Fixed(0.0, 1.0),
            ),
            &[curve("validation accuracy", |r| r.val_accuracy)],
            (720, 440),
        )?;
        Ok([loss_path, accuracy_path])
    }

    /// Writes [`to_csv`](Self::to_csv) to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_csv()).map_err(|e| Error::io(path.display(), &e))
    }
}

#[cfg(test)]
mod tests {
    use super::{EpochRecord, History, Stop};

    #[test]
    fn histories_round_trip_through_json_with_their_nans() {
        let record = |epoch, val_accuracy| EpochRecord {
            epoch,
            train_loss: 0.5 / epoch as f64,
            val_loss: 0.625,
            val_accuracy,
            rate: 1e-3,
            grad_norm: 2.0,
            samples_per_second: 1.5e6,
        };
        let history = History {
            epochs: vec![record(1, f64::NAN), record(2, 0.75)],
            stop: Stop::Patience,
            best_epoch: 2,
        };
        let text = history.to_json();
        assert!(
            text.contains("\"val_accuracy\": \"NaN\"") && text.contains("\"stop\": \"Patience\""),
            "{text}"
        );
        let back: History = serde_json::from_str(&text).unwrap();
        assert!(back.epochs[0].val_accuracy.is_nan());
        assert_eq!(back.epochs[1], history.epochs[1]);
        assert_eq!((back.stop, back.best_epoch), (Stop::Patience, 2));
    }
}
