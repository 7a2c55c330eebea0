//! The runtime of symgrad: the kernels generated code calls, a tape-based reverse-mode engine
//! (the baseline and an independent oracle), a finite-difference gradient checker,
//! initialisers, and what training needs around them: the `Model` contract, optimisers, the
//! mini-batch loop, data sets, checkpoints, plots and the analyses autoencoders are judged by.
//!
//! Matrices are `ndarray` arrays of shape `rows × columns`; a batch is a matrix with one sample
//! per row, and a bias is a `1 × n` row broadcast over the batch.

#![warn(missing_docs)]

pub mod analysis;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod dual;
pub mod error;
pub mod gemm;
pub mod gradcheck;
pub mod init;
pub mod json;
pub mod kernels;
pub mod model;
pub mod optim;
pub mod params;
pub mod plot;
#[cfg(feature = "threading")]
mod pool;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
mod simd;
pub mod tape;
pub mod train;

pub use data::{Dataset, Examples, FromExamples};
pub use error::{Error, Result};
pub use gemm::gemm;
pub use init::{Fill, Init};
pub use kernels::{Activation, ActivationKernel, Binary, Loss, LossKernel, Target};
pub use model::{HessianVector, Model};
pub use optim::{Optim, Optimizer, Schedule, sgd_update};
pub use params::{ParamList, Parameters, as_matrix};
pub use scalar::{Real, Scalar};
pub use tape::{Gradients, Tape, TapeTwin, Var};

/// Re-exported so that generated code and users name one version of each.
pub use ndarray;
pub use rand;
