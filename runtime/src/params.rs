//! Named parameter sets: what optimisers, the gradient checker and checkpoints walk over.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::scalar::Scalar;

/// An ordered set of named matrices. A gradient has the same names and shapes as the
/// parameters it belongs to, so it is a value of the same type.
pub trait Parameters<T: Scalar> {
    /// How many parameters there are.
    fn count(&self) -> usize;
    /// The name of parameter `index`.
    fn name(&self, index: usize) -> &str;
    /// Parameter `index`.
    fn param(&self, index: usize) -> ArrayView2<'_, T>;
    /// Parameter `index`, mutably.
    fn param_mut(&mut self, index: usize) -> ArrayViewMut2<'_, T>;
}

/// A [`Parameters`] held as a list: for hand-written models and tape experiments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamList<T> {
    names: Vec<String>,
    values: Vec<Array2<T>>,
}

impl<T: Scalar> ParamList<T> {
    /// An empty list.
    pub fn new() -> Self {
        ParamList {
            names: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Appends a parameter and returns its index.
    pub fn push(&mut self, name: impl Into<String>, value: Array2<T>) -> usize {
        self.names.push(name.into());
        self.values.push(value);
        self.values.len() - 1
    }

    /// A list of the same names and shapes, filled with zeros: a gradient buffer.
    pub fn zeros_like(&self) -> Self {
        ParamList {
            names: self.names.clone(),
            values: self.values.iter().map(|v| Array2::zeros(v.raw_dim())).collect(),
        }
    }

    /// The parameter values in order.
    pub fn values(&self) -> &[Array2<T>] {
        &self.values
    }
}

impl<T: Scalar> Parameters<T> for ParamList<T> {
    fn count(&self) -> usize {
        self.values.len()
    }
    fn name(&self, index: usize) -> &str {
        &self.names[index]
    }
    fn param(&self, index: usize) -> ArrayView2<'_, T> {
        self.values[index].view()
    }
    fn param_mut(&mut self, index: usize) -> ArrayViewMut2<'_, T> {
        self.values[index].view_mut()
    }
}
