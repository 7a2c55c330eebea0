//! The element types networks compute in: `f32` for training, `f64` for gradient checks.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

pub use symgrad_ops::Real;

#[cfg(target_arch = "x86_64")]
use crate::gemm::packed::Wide;
#[cfg(target_arch = "x86_64")]
use crate::simd::{Avx512, Vector};

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
    /// The smallest positive normal number: below it arithmetic is on subnormal numbers, which
    /// x86 cores run many times slower.
    const MIN_POSITIVE: Self;
    /// The type's name, for reports and checkpoints (`"f32"`, `"f64"`).
    const NAME: &'static str;

    /// `f` on `len` values of scratch, contents unspecified. `f32` and `f64` keep one buffer per
    /// thread, grown when a call needs more, so that a warm caller allocates nothing; this
    /// default allocates on every call.
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
        f(&mut vec![Self::ZERO; len])
    }

    /// `self · a + b`, rounded once where the type has a fused multiply-add (`f32`, `f64`).
    /// Fast only in code compiled for a processor with FMA instructions; elsewhere it is a
    /// library call.
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }

    /// The transpose of the `rows × cols` corner of a tile (each at most [`TILE`]): row `i` of
    /// `from` (at `i · from_stride`, `cols` values) becomes column `i` of `to` (rows at
    /// `j · to_stride`, `rows` values written of each); nothing past the corner is read or
    /// written. In vector registers where the processor's vectors hold a row of the type
    /// (`f32` with AVX-512: 64 shuffles, the corner's rows and columns loaded and stored under
    /// masks, against up to 256 values moved one by one), else value by value.
    ///
    /// # Panics
    /// If the corner is larger than a tile or reaches past the end of its slice.
    fn transpose_tile(from: &[Self], from_stride: usize, size: (usize, usize), to: &mut [Self], to_stride: usize) {
        assert!(
            size.0 <= TILE && size.1 <= TILE,
            "a corner of {size:?} is larger than a tile"
        );
        crate::kernels::rows::transpose_values(from, from_stride, size, to, to_stride);
    }

    /// `C ← α A B + β C` through a packed, blocked kernel, on raw strided storage: for `f32` and
    /// `f64` the runtime's own (`gemm/packed.rs`) where [`crate::gemm::kernel`] says so, else
    /// the `gemm` crate's.
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

/// The side of the square tiles [`Scalar::transpose_tile`] transposes.
pub const TILE: usize = 16;

macro_rules! impl_scalar {
    ($t:ident) => {
        impl Scalar for $t {
            const EPSILON: Self = $t::EPSILON;
            const MIN_POSITIVE: Self = $t::MIN_POSITIVE;
            const NAME: &'static str = stringify!($t);

            fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                thread_local! {
                    static SCRATCH: std::cell::RefCell<Vec<$t>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                SCRATCH.with_borrow_mut(|scratch| {
                    if scratch.len() < len {
                        scratch.resize(len, 0.0);
                    }
                    f(&mut scratch[..len])
                })
            }

            #[inline]
            fn transpose_tile(
                from: &[Self],
                from_stride: usize,
                (rows, cols): (usize, usize),
                to: &mut [Self],
                to_stride: usize,
            ) {
                assert!(
                    rows <= TILE && cols <= TILE,
                    "a corner of {rows} × {cols} is larger than a tile"
                );
                if rows == 0 || cols == 0 {
                    return;
                }
                assert!(
                    from.len() >= (rows - 1) * from_stride + cols && to.len() >= (cols - 1) * to_stride + rows,
                    "a tile past the end of its slice"
                );
                #[cfg(target_arch = "x86_64")]
                if <$t as Vector<Avx512>>::N == TILE && std::arch::is_x86_feature_detected!("avx512f") {
                    let (from, to) = (from.as_ptr(), to.as_mut_ptr());
                    // SAFETY: the processor has AVX-512F, a vector holds a row, and the corner
                    // is within both slices (asserted).
                    unsafe {
                        if (rows, cols) == (TILE, TILE) {
                            <$t as Wide<Avx512>>::transpose(from, from_stride as isize, to, to_stride)
                        } else {
                            <$t as Wide<Avx512>>::transpose_part(from, from_stride, (rows, cols), to, to_stride)
                        }
                    }
                    return;
                }
                crate::kernels::rows::transpose_values(from, from_stride, (rows, cols), to, to_stride);
            }

            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                $t::mul_add(self, a, b)
            }

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
                #[cfg(target_arch = "x86_64")]
                if let Some(unit) = crate::gemm::own_unit().filter(|_| k > 0) {
                    use crate::gemm::packed::{Strided, gemm};
                    let (a, b) = (
                        Strided {
                            ptr: a,
                            rows: rsa,
                            cols: csa,
                        },
                        Strided {
                            ptr: b,
                            rows: rsb,
                            cols: csb,
                        },
                    );
                    // SAFETY: the unit is there; the caller guarantees the rest of the contract.
                    return unsafe {
                        gemm(
                            unit,
                            (m, k, n),
                            alpha,
                            a,
                            b,
                            beta,
                            Strided {
                                ptr: c,
                                rows: rsc,
                                cols: csc,
                            },
                        )
                    };
                }
                // The gemm crate computes `dst ← α·dst + β·lhs·rhs` (reading `dst` only if asked),
                // with each operand's column stride before its row stride.
                // SAFETY: the caller guarantees the shapes, strides and non-aliasing that
                // `gemm::gemm` needs; with β = 0, `c` is not read.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c,
                        csc,
                        rsc,
                        beta != 0.0,
                        a,
                        csa,
                        rsa,
                        b,
                        csb,
                        rsb,
                        beta,
                        alpha,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            }
        }
    };
}

impl_scalar!(f32);
impl_scalar!(f64);
