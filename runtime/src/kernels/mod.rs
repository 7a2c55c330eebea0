//! The kernels generated code and the tape call: each a loop over contiguous data, with its
//! derivative beside it.

pub mod activation;
pub mod binary;
pub mod conv;
pub mod dropout;
pub mod elementwise;
pub mod loss;
pub mod reduce;
pub mod rows;
pub mod softmax;

pub use activation::{Activation, ActivationKernel, Saved};
pub use binary::{Binary, scale};
pub use conv::{Conv2d, Pool2d};
pub use dropout::{check_probability, dropout_mask};
pub use loss::{Loss, LossKernel, Target};
pub use reduce::{
    RowReduction, add_broadcast, add_row, broadcast_rows, broadcast_sum, column_sums, row_max_backward, row_reduce,
    spread_rows,
};
pub use softmax::{log_softmax, log_softmax_backward, log_sum_exp, log_sum_exp_row, softmax, softmax_backward};
