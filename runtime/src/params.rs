//! Named parameter sets: what optimisers, the gradient checker and checkpoints walk over.
//! A parameter may have any rank: a bias row, a weight matrix, a convolution kernel.

use ndarray::{Array2, ArrayBase, ArrayViewD, ArrayViewMutD, Axis, Dimension, Ix1, Ix2, RawData};

use crate::error::{Error, Result};
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

/// Checks that `a` and `b` hold parameters of the same shapes, naming the first that differs.
fn same_shapes<T: Scalar, P: Parameters<T>>(op: &'static str, a: &P, b: &P) -> Result<()> {
    if a.count() != b.count() {
        return Err(Error::Shape {
            op,
            lhs_name: "the parameter count of the first",
            lhs: vec![a.count()],
            rhs_name: "that of the second",
            rhs: vec![b.count()],
        });
    }
    (0..a.count()).try_for_each(|i| {
        crate::error::expect_same_shape(
            op,
            "a parameter",
            a.param(i).shape(),
            "its counterpart",
            b.param(i).shape(),
        )
    })
}

/// `Σᵢ aᵢ bᵢ` over every element of every parameter, accumulated in f64: the inner product of
/// parameter space (a directional derivative `⟨∇L, v⟩`, a curvature `vᵀHv`).
pub fn dot<T: Scalar, P: Parameters<T>>(a: &P, b: &P) -> Result<f64> {
    same_shapes("dot", a, b)?;
    Ok((0..a.count())
        .map(|i| {
            let (x, y) = (a.param(i), b.param(i));
            x.iter()
                .zip(y.iter())
                .map(|(x, y)| x.to_f64() * y.to_f64())
                .sum::<f64>()
        })
        .sum())
}

/// `a ← a + c·b`, parameter by parameter.
pub fn axpy<T: Scalar, P: Parameters<T>>(a: &mut P, c: T, b: &P) -> Result<()> {
    same_shapes("axpy", a, b)?;
    for i in 0..a.count() {
        a.param_mut(i).zip_mut_with(&b.param(i), |x, &y| *x += c * y);
    }
    Ok(())
}

/// `a ← c·a`.
pub fn scale<T: Scalar, P: Parameters<T>>(a: &mut P, c: T) {
    for i in 0..a.count() {
        a.param_mut(i).mapv_inplace(|x| c * x);
    }
}

/// The rows and columns of the matrix an array of `shape` is computed on: `[n]` is the row
/// `[1, n]`, `[d1, d2, …, dk]` is `[d1, d2⋯dk]` (row-major), a scalar `[1, 1]`.
fn matrix_dims(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (1, *n),
        [rows, rest @ ..] => (*rows, rest.iter().product()),
    }
}

/// A parameter (or its gradient) of any rank as the matrix the compiled passes compute on:
/// `[n]` as the row `[1, n]`, `[d1, d2, …, dk]` as `[d1, d2⋯dk]`. A view, never a copy, and
/// no allocation. Rows and matrices of any strides are read as they are; an array of three or
/// more axes must be in standard layout, as arrays are when created, and is an
/// [`Error::Layout`] naming `name` otherwise.
pub fn as_matrix<S: RawData, D: Dimension>(p: ArrayBase<S, D>, name: &str) -> Result<ArrayBase<S, Ix2>> {
    let layout = |shape: Vec<usize>| Error::Layout {
        what: name.to_owned(),
        shape,
        needed: "a parameter of three or more axes is computed on as a matrix of its first axis by the others, which needs that layout: replace it with `p.as_standard_layout().into_owned()`",
    };
    if p.ndim() > 2 && !p.is_standard_layout() {
        return Err(layout(p.shape().to_vec()));
    }
    let (rows, cols) = matrix_dims(p.shape());
    let matrix = match p.ndim() {
        0 => p.into_shape_with_order((1, 1)).ok(),
        1 => p.into_dimensionality::<Ix1>().ok().map(|row| row.insert_axis(Axis(0))),
        2 => p.into_dimensionality::<Ix2>().ok(),
        _ => p.into_shape_with_order((rows, cols)).ok(),
    };
    matrix.ok_or_else(|| layout(vec![rows, cols]))
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
