//! Named parameter sets: what optimisers, the gradient checker and checkpoints walk over.
//! A parameter may have any rank: a bias row, a weight matrix, a convolution kernel.

use ndarray::{Array2, ArrayViewD, ArrayViewMutD};

use crate::scalar::Scalar;

/// An ordered set of named arrays of any rank. A gradient has the same names and shapes as
/// the parameters it belongs to, so it is a value of the same type.
pub trait Parameters<T: Scalar> {
    /// How many parameters there are.
    fn count(&self) -> usize;
    /// The name of parameter `index`.
    fn name(&self, index: usize) -> &str;
    /// Parameter `index`.
    fn param(&self, index: usize) -> ArrayViewD<'_, T>;
    /// Parameter `index`, mutably.
    fn param_mut(&mut self, index: usize) -> ArrayViewMutD<'_, T>;
}

/// A [`Parameters`] held as a list of matrices: for hand-written models and tape experiments
/// (the tape computes on matrices).
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
    fn param(&self, index: usize) -> ArrayViewD<'_, T> {
        self.values[index].view().into_dyn()
    }
    fn param_mut(&mut self, index: usize) -> ArrayViewMutD<'_, T> {
        self.values[index].view_mut().into_dyn()
    }
}
