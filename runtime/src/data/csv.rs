//! CSV of numbers: one sample per line, the features then the class label last.
//!
//! Hand-written: numbers and commas only (no quoting), and errors must name line and field.

use ndarray::Array2;

use super::{Dataset, MAX_CLASSES};
use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// Reads `text` (named `source_name` in errors): every non-empty line holds the same number of
/// comma-separated fields, the features (finite numbers, also once converted to `T`) and
/// last a class label (an integer below [`MAX_CLASSES`]). The number of classes is the largest
/// label plus one. An error names the line and the field.
pub fn read_csv<T: Scalar>(text: &str, source_name: &str) -> Result<Dataset<T>> {
    let error = |line: usize, message: String| Error::Format {
        source_name: source_name.to_owned(),
        line: Some(line),
        message,
    };
    let mut width = None;
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let expected = *width.get_or_insert(fields.len());
        if fields.len() < 2 {
            return Err(error(
                number,
                "expected the features and a label, separated by commas".into(),
            ));
        }
        if fields.len() != expected {
            return Err(error(
                number,
                format!("expected {expected} fields like the first row, found {}", fields.len()),
            ));
        }
        let (label, features) = fields.split_last().expect("at least two fields");
        for (column, field) in features.iter().enumerate() {
            let value = field
                .parse::<f64>()
                .ok()
                .map(T::from_f64)
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    error(
                        number,
                        format!("field {} is not a finite {} number: {field:?}", column + 1, T::NAME),
                    )
                })?;
            values.push(value);
        }
        let label: usize = label.parse().ok().filter(|&l| l < MAX_CLASSES).ok_or_else(|| {
            error(
                number,
                format!("the label (last field) is not a class index below {MAX_CLASSES}: {label:?}"),
            )
        })?;
        labels.push(label);
    }
    let Some(width) = width else {
        return Err(Error::format(source_name, "no data rows"));
    };
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let features = Array2::from_shape_vec((labels.len(), width - 1), values).expect("rows of equal width");
    Dataset::new(features, labels, classes)
}
