//! The element types networks compute in: `f32` for training, `f64` for gradient checks.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

pub use symgrad_ops::Real;

/// A real floating-point scalar: the table's elementary functions ([`Real`]), what the
/// runtime adds around them, and the gemm that fits it.
///
/// Implemented for `f32` and `f64`, and for [`Dual`](crate::dual::Dual) numbers (forward-mode
/// oracles); generated networks are generic over it.
pub trait Scalar:
    Real
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + num_traits::Zero
    + num_traits::One
    + 'static
{
    /// Machine epsilon.
    const EPSILON: Self;
    /// The type's name, for reports and checkpoints (`"f32"`, `"f64"`).
    const NAME: &'static str;

    /// `C ← α A B + β C` through matrixmultiply, on raw strided storage.
    ///
    /// # Safety
    /// The pointers must address `m×k`, `k×n` and `m×n` matrices with the given row and column
    /// strides (in elements); `c` must not alias `a` or `b`. If `β = 0`, `c` is not read.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

macro_rules! impl_scalar {
    ($t:ident, $gemm:ident) => {
        impl Scalar for $t {
            const EPSILON: Self = $t::EPSILON;
            const NAME: &'static str = stringify!($t);

            #[inline]
            unsafe fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded verbatim; the caller upholds matrixmultiply's contract.
                unsafe { matrixmultiply::$gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
        }
    };
}

impl_scalar!(f32, sgemm);
impl_scalar!(f64, dgemm);
