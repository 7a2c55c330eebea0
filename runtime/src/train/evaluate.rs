//! Evaluation-mode passes over a whole data set: loss, accuracy, predictions, outputs.

use ndarray::{Array2, s};
use serde::{Deserialize, Serialize};

use crate::data::FromExamples;
use crate::data::{Dataset, Examples};
use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// Loss and accuracy on a data set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss over the samples (evaluation mode).
    #[serde(with = "crate::json::float")]
    pub loss: f64,
    /// Fraction of samples whose largest output is their label (NaN without class labels).
    #[serde(with = "crate::json::float")]
    pub accuracy: f64,
}

/// The samples `start..end` of `data`, uncorrupted.
fn examples<T: Scalar>(data: &Dataset<T>, start: usize, end: usize) -> Examples<'_, T> {
    // A set without class labels (real-valued targets) has an empty label list.
    let labels = data.labels.get(start..end).unwrap_or_default();
    Examples {
        targets: data.targets.as_ref().map(|t| t.slice(s![start..end, ..])),
        ..Examples::new(data.features.slice(s![start..end, ..]), labels)
    }
}

/// Checks `data` (see [`Dataset::check`]) and that it can feed `M`: a network with a
/// class-label target needs labels. `op` names the caller.
pub(super) fn check_feeds<T: Scalar, M: FromExamples<T>>(data: &Dataset<T>, op: &'static str) -> Result<()> {
    data.check(op)?;
    if M::classifies() && !data.has_labels() {
        return Err(Error::Config {
            setting: op.into(),
            message: "has real-valued targets and no class labels, but the network's target is class labels".into(),
        });
    }
    Ok(())
}

/// `(start, end)` of consecutive batches covering `len` samples.
fn spans(len: usize, batch_size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len)
        .step_by(batch_size.max(1))
        .map(move |start| (start, (start + batch_size.max(1)).min(len)))
}

/// Loss and accuracy of `model` on `data`, in batches of `batch_size`, in evaluation mode.
/// The accuracy is NaN for a network without class labels (an autoencoder).
pub fn evaluate<T: Scalar, M: FromExamples<T>>(
    model: &M,
    ws: &mut M::Workspace,
    data: &Dataset<T>,
    batch_size: usize,
) -> Result<Evaluation> {
    check_feeds::<T, M>(data, "evaluate")?;
    evaluate_checked(model, ws, data, batch_size)
}

/// [`evaluate`] on a data set already checked (`fit` checks its validation set once).
pub(super) fn evaluate_checked<T: Scalar, M: FromExamples<T>>(
    model: &M,
    ws: &mut M::Workspace,
    data: &Dataset<T>,
    batch_size: usize,
) -> Result<Evaluation> {
    let (mut loss, mut correct) = (0.0, 0usize);
    for (start, end) in spans(data.len(), batch_size) {
        let batch = M::batch(examples(data, start, end))?;
        let (output, batch_loss) = model.output_and_loss(ws, &batch)?;
        loss += batch_loss.to_f64() * (end - start) as f64;
        correct += output
            .rows()
            .into_iter()
            .zip(data.labels.get(start..end).unwrap_or_default())
            .filter(|(row, label)| argmax(row.iter().copied()) == Some(**label))
            .count();
    }
    let n = data.len().max(1) as f64;
    Ok(Evaluation {
        loss: loss / n,
        accuracy: if M::classifies() { correct as f64 / n } else { f64::NAN },
    })
}

/// The predicted class (the largest output) of every sample of `data`, in evaluation mode.
pub fn predict<T: Scalar, M: FromExamples<T>>(
    model: &M,
    ws: &mut M::Workspace,
    data: &Dataset<T>,
    batch_size: usize,
) -> Result<Vec<usize>> {
    check_feeds::<T, M>(data, "predict")?;
    let mut predictions = Vec::with_capacity(data.len());
    for (start, end) in spans(data.len(), batch_size) {
        let output = model.output(ws, &M::batch(examples(data, start, end))?)?;
        predictions.extend(
            output
                .rows()
                .into_iter()
                .map(|row| argmax(row.iter().copied()).unwrap_or(0)),
        );
    }
    Ok(predictions)
}

/// The outputs of `model` for every sample of `data`, in evaluation mode, one row each (an
/// autoencoder's reconstructions, an encoder's codes).
pub fn outputs<T: Scalar, M: FromExamples<T>>(
    model: &M,
    ws: &mut M::Workspace,
    data: &Dataset<T>,
    batch_size: usize,
) -> Result<Array2<T>> {
    check_feeds::<T, M>(data, "outputs")?;
    let mut rows: Option<Array2<T>> = None;
    for (start, end) in spans(data.len(), batch_size) {
        let output = model.output(ws, &M::batch(examples(data, start, end))?)?;
        let all = rows.get_or_insert_with(|| Array2::zeros((data.len(), output.ncols())));
        all.slice_mut(s![start..end, ..]).assign(&output);
    }
    Ok(rows.unwrap_or_else(|| Array2::zeros((0, 0))))
}

/// `counts[true class][predicted class]`.
pub fn confusion_matrix(labels: &[usize], predictions: &[usize], classes: usize) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0; classes]; classes];
    for (&label, &predicted) in labels.iter().zip(predictions) {
        if label < classes && predicted < classes {
            counts[label][predicted] += 1;
        }
    }
    counts
}

/// A confusion matrix as text: one row per true class, named (`names[c]` for class `c`, its
/// number alone beyond the names given or where the name is the number), one column per
/// predicted class, numbered, with the key in the row names.
pub fn confusion_table(counts: &[Vec<usize>], names: &[&str]) -> String {
    let label = |c: usize| match names.get(c) {
        Some(name) if *name != c.to_string() => format!("{c:>2} {name}"),
        _ => format!("{c:>2}"),
    };
    let header = "true class";
    let left = (0..counts.len())
        .map(|c| label(c).chars().count())
        .fold(header.len(), usize::max);
    let width = counts
        .iter()
        .flatten()
        .map(|n| n.to_string().len())
        .max()
        .unwrap_or(1)
        .max(2)
        + 1;
    let mut text = format!("{header:left$}  predicted class\n{:left$}", "");
    for c in 0..counts.len() {
        text += &format!("{c:>width$}");
    }
    for (class, row) in counts.iter().enumerate() {
        text += &format!("\n{:<left$}", label(class));
        for n in row {
            text += &format!("{n:>width$}");
        }
    }
    text
}

fn argmax<T: Scalar>(values: impl Iterator<Item = T>) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, v) in values.enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::confusion_table;

    #[test]
    fn confusion_tables_name_the_true_classes_and_number_the_columns() {
        let table = confusion_table(
            &[vec![5, 0, 1], vec![2, 130, 0], vec![0, 0, 7]],
            &["Coat", "Ankle boot"],
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "true class     predicted class",
                "                0   1   2",
                " 0 Coat         5   0   1",
                " 1 Ankle boot   2 130   0",
                " 2              0   0   7",
            ]
        );
        let digits = confusion_table(&[vec![1, 0], vec![0, 1]], &["0", "1"]);
        assert_eq!(
            digits.lines().collect::<Vec<_>>(),
            [
                "true class  predicted class",
                "            0  1",
                " 0          1  0",
                " 1          0  1"
            ]
        );
    }
}
