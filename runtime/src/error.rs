//! The runtime's one error type: every variant says what went wrong and where.

use thiserror::Error;

/// Errors of the runtime: shape mismatches, bad inputs and non-finite values.
#[derive(Error, Clone, PartialEq)]
pub enum Error {
    /// Two operands of one operation do not fit together.
    #[error("shape mismatch in {op}: {lhs_name} is {lhs:?} but {rhs_name} is {rhs:?}")]
    Shape {
        /// The operation that checked the shapes.
        op: &'static str,
        /// What the left shape belongs to.
        lhs_name: &'static str,
        /// The left shape.
        lhs: Vec<usize>,
        /// What the right shape belongs to.
        rhs_name: &'static str,
        /// The right shape.
        rhs: Vec<usize>,
    },
    /// An operation that needs at least one element was given none.
    #[error("{op}: {what} is empty")]
    Empty {
        /// The operation.
        op: &'static str,
        /// The operand that was empty.
        what: &'static str,
    },
    /// A class label is not below the number of classes.
    #[error("{op}: label {label} in row {row} is out of range for {classes} classes")]
    Label {
        /// The operation.
        op: &'static str,
        /// The row of the batch.
        row: usize,
        /// The label found.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A parameter value is outside its domain.
    #[error("{what} must be {expected}, got {got}")]
    Domain {
        /// The parameter.
        what: &'static str,
        /// The accepted range, in words.
        expected: &'static str,
        /// The value given.
        got: f64,
    },
    /// A file or stream could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file (or a description of the stream).
        path: String,
        /// What the operating system said.
        message: String,
    },
    /// Data in a file is malformed.
    #[error("{source_name}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Format {
        /// The file or data set.
        source_name: String,
        /// The line, for text formats.
        line: Option<usize>,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// An array is not laid out as an operation needs.
    #[error("{what} of shape {shape:?} is not in standard (row-major) layout; {needed}")]
    Layout {
        /// The array (a parameter's name, ...).
        what: String,
        /// Its shape.
        shape: Vec<usize>,
        /// Why the layout matters and what to do.
        needed: &'static str,
    },
    /// The settings of a run do not fit together, or disagree with what is on disk.
    #[error("{setting}: {message}")]
    Config {
        /// The setting (a field of the configuration, a command-line flag, a file).
        setting: String,
        /// What is wrong, and what to do instead.
        message: String,
    },
    /// A value that must be finite is not.
    #[error("{what} is not finite ({value}) at {location}")]
    NonFinite {
        /// The quantity (loss, gradient of a parameter, ...).
        what: String,
        /// Where it was found (index, epoch and step, ...).
        location: String,
        /// The value found.
        value: f64,
    },
}

/// Debug output is the message in words, as [`Display`](std::fmt::Display) gives it: what a
/// program returning `Result<(), Error>` from `main` prints.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that two shapes are equal, naming both operands on failure.
pub(crate) fn expect_same_shape(
    op: &'static str,
    lhs_name: &'static str,
    lhs: &[usize],
    rhs_name: &'static str,
    rhs: &[usize],
) -> Result<()> {
    if lhs == rhs {
        Ok(())
    } else {
        Err(Error::Shape {
            op,
            lhs_name,
            lhs: lhs.to_vec(),
            rhs_name,
            rhs: rhs.to_vec(),
        })
    }
}

impl Error {
    /// An [`Error::Format`] without a line number.
    pub fn format(source_name: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Format {
            source_name: source_name.into(),
            line: None,
            message: message.into(),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl std::fmt::Display, error: &std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            message: error.to_string(),
        }
    }
}
