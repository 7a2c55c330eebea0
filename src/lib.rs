//! # symgrad
//!
//! Neural networks whose backward pass is derived by the compiler. A network is written once,
//! declaratively; the `network!` macro checks its shapes at compile time, applies the chain rule
//! symbolically, fuses the result and emits plain Rust forward and backward code.
//!
//! This facade re-exports the runtime ([`symgrad_runtime`]): kernels, the tape-based
//! reverse-mode engine used as baseline and oracle, the finite-difference gradient checker and
//! initialisers.

pub use symgrad_runtime::*;

/// The names most programs need.
pub mod prelude {
    pub use symgrad_runtime::gradcheck;
    pub use symgrad_runtime::{
        Activation, Error, Init, Loss, ParamList, Parameters, Result, Scalar, Tape, Target, Var, gemm,
    };
}
