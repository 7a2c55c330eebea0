//! Matrix multiplication on strided views: `C ← α A B + β C`.
//!
//! A transpose is a stride swap (`a.t()`), never a copy: every combination of transposed and
//! plain operands, and any row or column strides ndarray can express, is multiplied in place.
//!
//! Large products go to a packed, blocked kernel ([`kernel`], [`set_kernel`]): the runtime's own
//! where the processor has AVX-512 (`gemm/packed.rs`, `f32` and `f64`; its packing buffer is
//! kept per thread, so a warm caller allocates nothing), else the `gemm` crate's (AVX2 or SSE,
//! chosen at run time; it allocates one or two small vectors on every call). The own kernel
//! compiled for AVX2 is there to be chosen where allocations matter more than time. Products of at most [`SMALL_GEMM`]
//! multiply-adds, the norm for the small networks people study, run through direct loops
//! instead: packing would cost more than it saves there.
//!
//! With the `threading` feature a product of at least [`split_size`] multiply-adds is split
//! across threads (helpers started once, on the first such product, and kept awake between
//! products): one per core by default, as many as [`set_threads`] says otherwise. The larger
//! of C's axes is cut in halves, each computed by the `gemm` crate on its own thread; smaller
//! products stay on the calling thread ([`DEFAULT_SPLIT_SIZE`] says why). Every element of C
//! is summed over k in the same order whatever the split (the crate's blocks of k depend on k
//! alone), so the result does not depend on the thread count; the facade's
//! `tests/threads.rs` checks one thread against two and four, bit for bit.
//!
//! A layer's input gradient `Z̄·Wᵀ` is computed into a column-major scratch kept per thread
//! where that is faster (k ≥ 4m, n ≥ 256), and added into C.

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};

use crate::error::{Error, Result};
use crate::scalar::Scalar;

#[cfg(target_arch = "x86_64")]
pub(crate) mod packed;

/// `C ← α A B + β C` for `A: m×k`, `B: k×n`, `C: m×n`.
///
/// If `β = 0`, `C` is not read, so it may hold anything (even NaN). An inner dimension of 0
/// gives `C ← β C`. Shapes that do not fit are an [`Error::Shape`]; nothing is written then.
///
/// ```
/// use symgrad_runtime::gemm;
/// use symgrad_runtime::ndarray::{Array2, array};
///
/// let a = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]; // 3×2
/// let b = array![[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]; // 2×3
/// // C ← 1·AᵀBᵀ + 0·C: the transposes are views with swapped strides, nothing is copied.
/// let mut c = Array2::from_elem((2, 2), f64::NAN); // β = 0: C is not read
/// gemm(1.0, a.t(), b.t(), 0.0, c.view_mut())?;
/// assert_eq!(c, a.t().dot(&b.t()));
/// assert_eq!(c, array![[11.0, 8.0], [14.0, 10.0]]);
///
/// // A k that does not match is an error, and C is left as it was.
/// assert!(gemm(1.0, a.view(), a.view(), 0.0, c.view_mut()).is_err());
/// assert_eq!(c[[0, 0]], 11.0);
/// # Ok::<(), symgrad_runtime::Error>(())
/// ```
pub fn gemm<T: Scalar>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) -> Result<()> {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 {
        return Err(shape_error("A (m×k)", a.shape(), "B (k×n)", b.shape()));
    }
    if c.dim() != (m, n) {
        return Err(shape_error("A·B (m×n)", &[m, n], "C", c.shape()));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if beta == T::ZERO {
            c.fill(T::ZERO);
        } else {
            c.map_inplace(|x| *x *= beta);
        }
        return Ok(());
    }
    if m * k * n <= SMALL_GEMM {
        small::gemm(alpha, a, b, beta, c);
        return Ok(());
    }
    let path = if !own_kernel() && by_columns(&b, &c) {
        Path::Columns
    } else {
        Path::Direct
    };
    packed(alpha, a, b, beta, c, parts(m * k * n), path);
    Ok(())
}

/// How many parts a product of `multiply_adds` multiply-adds is split into, each on its own
/// thread: as many as [`threads`] allows from [`split_size`] on, else one; one also inside a
/// task of [`join`] (which already runs beside another).
#[cfg_attr(not(feature = "threading"), allow(unused_variables))]
fn parts(multiply_adds: usize) -> usize {
    #[cfg(feature = "threading")]
    if !in_join() && multiply_adds >= split_size() {
        return thread_count();
    }
    1
}

/// The threads a product or a join may use: [`threads`], else one per core.
#[cfg(feature = "threading")]
fn thread_count() -> usize {
    threads().unwrap_or_else(crate::pool::cores)
}

/// The packed kernel that computes the products above [`SMALL_GEMM`] multiply-adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The runtime's own (`f32` and `f64`) compiled for AVX-512, the default where the
    /// processor has AVX-512F: its packing buffer is kept per thread, so a warm caller
    /// allocates nothing.
    Avx512,
    /// The runtime's own compiled for AVX2 with FMA: allocation-free as well, but on the one
    /// AVX2 processor measured (an AMD EPYC Zen 3, 2026-12-02, `cargo bench --bench
    /// kernel_pairs`) it took 1.02–1.42× the `gemm` crate's time on the benchmark networks'
    /// products with 64 columns or more and 1.26–1.92× on those with ten, so it is chosen only
    /// by [`set_kernel`].
    Avx2,
    /// The `gemm` crate's (AVX2 or SSE kernels, chosen at run time), the default without
    /// AVX-512: it allocates one or two small vectors on every call.
    GemmCrate,
}

/// The kernel [`set_kernel`] chose: 0 for none (the processor's default), else 1 + its index.
static CHOSEN: AtomicUsize = AtomicUsize::new(0);

/// Which kernel computes the large products: the one [`set_kernel`] chose, else the default
/// for this processor (the own kernel where it has AVX-512F, else the `gemm` crate's).
pub fn kernel() -> Kernel {
    match CHOSEN.load(Ordering::Relaxed) {
        1 => Kernel::Avx512,
        2 => Kernel::Avx2,
        3 => Kernel::GemmCrate,
        _ => {
            #[cfg(target_arch = "x86_64")]
            if packed::unit() == Some(packed::Unit::Avx512) {
                return Kernel::Avx512;
            }
            Kernel::GemmCrate
        }
    }
}

/// Chooses the kernel of the large products for the whole process (an [`Error::Config`]
/// where this processor cannot run it, and nothing changes then). Only the time, the
/// allocations and the rounding of the products change (each kernel sums in its own order);
/// [`Kernel::Avx2`] makes the steps of an AVX2 processor allocation-free.
pub fn set_kernel(kernel: Kernel) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    let runs = match kernel {
        Kernel::Avx512 => packed::unit() == Some(packed::Unit::Avx512),
        // Every processor with AVX-512F has AVX2 and FMA.
        Kernel::Avx2 => packed::unit().is_some(),
        Kernel::GemmCrate => true,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let runs = kernel == Kernel::GemmCrate;
    if !runs {
        return Err(Error::Config {
            setting: "gemm::set_kernel".into(),
            message: format!("this processor cannot run the {kernel:?} kernel"),
        });
    }
    let index = match kernel {
        Kernel::Avx512 => 1,
        Kernel::Avx2 => 2,
        Kernel::GemmCrate => 3,
    };
    CHOSEN.store(index, Ordering::Relaxed);
    Ok(())
}

/// The vector unit of the own kernel, if [`kernel`] is one of its forms.
#[cfg(target_arch = "x86_64")]
pub(crate) fn own_unit() -> Option<packed::Unit> {
    match kernel() {
        Kernel::Avx512 => Some(packed::Unit::Avx512),
        Kernel::Avx2 => Some(packed::Unit::Avx2),
        Kernel::GemmCrate => None,
    }
}

/// Whether large products go to the runtime's own kernel, which sums every element of C the
/// same way wherever it lies (so any split keeps the result) and reads a transposed B without
/// the column-major detour of [`Path::Columns`].
fn own_kernel() -> bool {
    kernel() != Kernel::GemmCrate
}

/// How the `gemm` crate computes a product: into C itself, or into a column-major scratch
/// copied into C afterwards ([`by_columns`] says when).
#[derive(Clone, Copy)]
enum Path {
    Direct,
    Columns,
}

/// Whether a product with C stored row by row and B column by column (`Z̄·Wᵀ`, a layer's
/// input gradient) is computed faster into a column-major scratch: the crate then reads B in
/// place, where a row-major C makes it pack all of B transposed, a pass that only C's m rows
/// of work pay for. So when k ≥ 4m and n ≥ 256: on a 2-vCPU Xeon (`cargo bench --features
/// threading --bench gemm -- 'split/.*/input/1'`, 2026-12-01) 128 × 1024 × 1024 took
/// 1.4–1.9× less time, 128 × 512 × 784 1.1–1.5× and 64 × 256 × 784 1.3–1.4×; with fewer
/// columns of B per row of C, copying C back costs about what the packing saved. Decided once
/// for the whole product, so that its parts, on however many threads, take the same path.
fn by_columns<T>(b: &ArrayView2<'_, T>, c: &ArrayViewMut2<'_, T>) -> bool {
    let ((m, n), k) = (c.dim(), b.nrows());
    let (b_columns, c_rows) = (b.strides()[0] == 1 && b.ncols() > 1, c.strides()[1] == 1 && m > 1);
    b_columns && c_rows && k >= 4 * m && n >= 256
}

/// `C ← α A B + β C` through the `gemm` crate's packed kernels, by `path`, in `parts` pieces on
/// as many threads: the larger of C's two axes is halved (A's rows with C's, or B's columns),
/// and each half is split again into its share of the parts.
///
/// Every element of C is computed by the same kernel, summed over k in blocks that depend on
/// k alone, so the result does not depend on `parts`.
fn packed<T: Scalar>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    c: ArrayViewMut2<'_, T>,
    parts: usize,
    path: Path,
) {
    let ((m, n), k) = (c.dim(), a.ncols());
    if parts > 1 {
        let (first, second) = (parts / 2, parts - parts / 2);
        let (axis, length) = if m >= n { (Axis(0), m) } else { (Axis(1), n) };
        let at = length * first / parts;
        let halves = if axis == Axis(0) {
            [(at, n), (m - at, n)]
        } else {
            [(m, at), (m, n - at)]
        };
        if own_kernel() || halves.iter().all(|&(rows, cols)| same_kernel(m, n, k, rows, cols)) {
            let (c0, c1) = c.split_at(axis, at);
            let ((a0, a1), (b0, b1)) = if axis == Axis(0) {
                (a.split_at(axis, at), (b, b))
            } else {
                ((a, a), b.split_at(axis, at))
            };
            join(
                || packed(alpha, a0, b0, beta, c0, first, path),
                || packed(alpha, a1, b1, beta, c1, second, path),
            );
            return;
        }
    }
    match path {
        Path::Direct => crate_gemm(alpha, a, b, beta, c),
        Path::Columns => T::with_scratch(m * n, |scratch| {
            let mut p = ArrayViewMut2::from_shape((m, n).f(), scratch).expect("m·n values");
            crate_gemm(T::ONE, a, b, T::ZERO, p.view_mut());
            add_scaled(alpha, p.view(), beta, c);
        }),
    }
}

/// `C ← α A B + β C` by one call of the `gemm` crate on this thread.
fn crate_gemm<T: Scalar>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
    let [rsa, csa] = strides(&a);
    let [rsb, csb] = strides(&b);
    let [rsc, csc] = [c.strides()[0], c.strides()[1]];
    // SAFETY: the shapes were checked by `gemm` (and a split keeps them matched), the strides
    // are the views' own, and `c` is a unique borrow, so it cannot alias `a` or `b`.
    unsafe {
        T::gemm(
            c.nrows(),
            a.ncols(),
            c.ncols(),
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        );
    }
}

/// `C ← α P + β C` (C not read when β = 0), for P stored column by column and C row by row:
/// sixteen columns of P at a time, so that the cache lines they are read from serve sixteen
/// rows of C. A plain walk in C's order (`Zip`) made the input gradients 4–17 % slower
/// (`cargo bench --features threading --bench gemm -- 'split/.*/input/1'`, 2026-12-01).
fn add_scaled<T: Scalar>(alpha: T, p: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
    const COLUMNS: usize = 16;
    for j in (0..c.ncols()).step_by(COLUMNS) {
        let block = j..(j + COLUMNS).min(c.ncols());
        let p = p.slice(ndarray::s![.., block.clone()]);
        for (mut row, from) in c.slice_mut(ndarray::s![.., block]).rows_mut().into_iter().zip(p.rows()) {
            if beta == T::ZERO {
                row.zip_mut_with(&from, |out, &v| *out = alpha * v);
            } else {
                row.zip_mut_with(&from, |out, &v| *out = alpha * v + beta * *out);
            }
        }
    }
}

/// Whether the `gemm` crate (0.19) computes a `rows × cols` part of an `m × n` product C over
/// `k` with the kernel and the blocks of k it would use for the whole, so that a split leaves
/// every element's sum as it was. The crate chooses by shape: dot-product kernels for a C of
/// at most 256 elements, matrix-vector ones for a single row or column, and, where k > 512,
/// blocks of 512 for a C of at most 64 × 64 but blocks from its cache model for larger ones.
/// (`tests/threads.rs` multiplies shapes on both sides of each of these bounds.)
fn same_kernel(m: usize, n: usize, k: usize, rows: usize, cols: usize) -> bool {
    let dots = |r: usize, c: usize| r * c <= 256;
    let vector = |r: usize, c: usize| r <= 1 || c <= 1;
    let small = |r: usize, c: usize| k > 512 && r <= 64 && c <= 64;
    dots(m, n) == dots(rows, cols) && vector(m, n) == vector(rows, cols) && small(m, n) == small(rows, cols)
}

/// The fewest multiply-adds `m·k·n` of a product split across threads by default: 2²³, about
/// 8.4 million, a product of about 100 µs on one core. On a 2-vCPU Xeon with AVX-512
/// (2026-12-01), products run back to back, the helper awake, were 1.4–1.8× faster on two
/// threads from 2.1 million multiply-adds on and 1.7–2.0× from 12.8 million (`cargo bench
/// --features threading --bench gemm -- split`); in the training steps of `benches/step.rs`
/// on two threads (with a `set_split_size` call added for the trial), splitting from 2²¹ or
/// 10⁶ on instead changed no step beyond the noise. The
/// larger bound keeps small products off a helper that may have parked.
pub const DEFAULT_SPLIT_SIZE: usize = 1 << 23;

/// Products of at least this many multiply-adds are split across threads; see
/// [`set_split_size`].
static SPLIT_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_SPLIT_SIZE);

/// Sets the fewest multiply-adds `m·k·n` of a product that is split across threads (with the
/// `threading` feature and [`threads`] above one), for the whole process; smaller products run
/// on the calling thread. The default is [`DEFAULT_SPLIT_SIZE`]; 0 splits every product the
/// `gemm` crate computes. It changes only the time a product takes, never its result.
pub fn set_split_size(multiply_adds: usize) {
    SPLIT_SIZE.store(multiply_adds, Ordering::Relaxed);
}

/// The fewest multiply-adds of a product split across threads, as [`set_split_size`] left it.
pub fn split_size() -> usize {
    SPLIT_SIZE.load(Ordering::Relaxed)
}

/// Threads a large product may use; 0 for one per core.
static THREADS: AtomicUsize = AtomicUsize::new(if cfg!(feature = "threading") { 0 } else { 1 });

/// Sets how many threads each large product may use, for the whole process: 1 runs every
/// product on the calling thread.
///
/// Without the `threading` feature only 1 is possible; asking for more is an
/// [`Error::Config`], as is 0. With it, the default is one thread per core the process may
/// run on (`std::thread::available_parallelism`), and more threads than that are not
/// started.
pub fn set_threads(threads: usize) -> Result<()> {
    let error = |message: &str| Error::Config {
        setting: "gemm::set_threads".into(),
        message: message.into(),
    };
    if threads == 0 {
        return Err(error("at least one thread is needed"));
    }
    if threads > 1 && !cfg!(feature = "threading") {
        return Err(error(
            "this build has no `threading` feature, so products run on one thread; \
             build with `--features threading` for more",
        ));
    }
    THREADS.store(threads, Ordering::Relaxed);
    Ok(())
}

/// The threads each large product may use, as [`set_threads`] left it: `None` for one per
/// core (the default with the `threading` feature).
pub fn threads() -> Option<usize> {
    match THREADS.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Runs `a` and `b`, `b` on a helper thread when the `threading` feature is on, [`threads`]
/// allows more than one and a helper is idle, else one after the other on this thread; what
/// they compute does not depend on which.
/// The products inside `a` and `b` run on their task's thread: the two tasks already
/// occupy the threads there are, and splitting their (medium) products further costs more
/// than it gains.
pub fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    #[cfg(feature = "threading")]
    {
        let helpers = thread_count() - 1;
        if helpers > 0 {
            return crate::pool::join(|| joined::run(a), || joined::run(b), helpers);
        }
    }
    (a(), b())
}

/// Whether this thread runs a task of [`join`] (its products then stay on it).
#[cfg(feature = "threading")]
pub(crate) fn in_join() -> bool {
    joined::IN_JOIN.with(std::cell::Cell::get)
}

#[cfg(feature = "threading")]
mod joined {
    use std::cell::Cell;

    thread_local! {
        pub(super) static IN_JOIN: Cell<bool> = const { Cell::new(false) };
    }

    /// `task()`, marked as a task of `join` on this thread while it runs.
    pub(super) fn run<R>(task: impl FnOnce() -> R) -> R {
        let outer = IN_JOIN.with(|flag| flag.replace(true));
        let result = task();
        IN_JOIN.with(|flag| flag.set(outer));
        result
    }
}

/// The largest product, in multiply-adds `m·k·n`, computed by the direct loops.
pub const SMALL_GEMM: usize = 32 * 1024;

fn strides<T>(view: &ArrayView2<'_, T>) -> [isize; 2] {
    [view.strides()[0], view.strides()[1]]
}

fn shape_error(lhs_name: &'static str, lhs: &[usize], rhs_name: &'static str, rhs: &[usize]) -> Error {
    Error::Shape {
        op: "gemm",
        lhs_name,
        lhs: lhs.to_vec(),
        rhs_name,
        rhs: rhs.to_vec(),
    }
}

/// Direct loops for small products: no packing buffer on the heap, no allocation.
mod small {
    use std::mem::MaybeUninit;

    use ndarray::{ArrayView2, ArrayViewMut2};

    use crate::scalar::Scalar;

    /// The most elements of a transposed B copied to the stack to make its rows contiguous.
    const PACKED: usize = 4096;

    /// A matrix as a pointer and two strides (in elements).
    #[derive(Clone, Copy)]
    struct Raw<P> {
        ptr: P,
        rows: isize,
        cols: isize,
    }

    impl<P> Raw<P> {
        /// The offset of element `(row, col)`.
        #[inline(always)]
        fn at(&self, row: usize, col: usize) -> isize {
            row as isize * self.rows + col as isize * self.cols
        }
    }

    /// `C ← α A B + β C`, shapes already checked. On x86-64 processors with AVX2 the same loops
    /// run compiled for 256-bit vectors.
    ///
    /// A C of fewer than 16 columns and at least 16 rows (a layer with few outputs, or the
    /// weight gradient of one) is computed as `Cᵀ ← α BᵀAᵀ + β Cᵀ`, three stride swaps: the
    /// loops keep blocks of 16 columns of C in registers, which a narrow C leaves mostly empty.
    /// Each element is the same sum over k in the same order either way. The products of the
    /// 2-16-16-2 and 64-32-10 steps went from 3.38–3.40 to 3.09–3.10 µs and from 5.71–5.81 to
    /// 4.97–5.10 µs (`cargo bench --bench step`, `gemm_floor`, one pinned core, 2026-12-01).
    pub(super) fn gemm<T: Scalar>(
        alpha: T,
        a: ArrayView2<'_, T>,
        b: ArrayView2<'_, T>,
        beta: T,
        c: ArrayViewMut2<'_, T>,
    ) {
        if c.ncols() < 16 && c.nrows() >= 16 {
            return gemm(alpha, b.reversed_axes(), a.reversed_axes(), beta, c.reversed_axes());
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            return unsafe { gemm_avx2(alpha, a, b, beta, c) };
        }
        loops(alpha, a, b, beta, c);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn gemm_avx2<T: Scalar>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: ArrayViewMut2<'_, T>) {
        loops(alpha, a, b, beta, c);
    }

    #[inline(always)]
    fn loops<T: Scalar>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, mut c: ArrayViewMut2<'_, T>) {
        let (m, k) = a.dim();
        let n = b.ncols();
        if beta == T::ZERO {
            c.fill(T::ZERO);
        } else if beta != T::ONE {
            c.map_inplace(|x| *x *= beta);
        }
        let a_raw = Raw {
            ptr: a.as_ptr(),
            rows: a.strides()[0],
            cols: a.strides()[1],
        };
        let c_raw = Raw {
            ptr: c.as_mut_ptr(),
            rows: c.strides()[0],
            cols: c.strides()[1],
        };
        let b_raw = Raw {
            ptr: b.as_ptr(),
            rows: b.strides()[0],
            cols: b.strides()[1],
        };
        if b_raw.cols == 1 || n == 1 {
            // SAFETY: the views' own pointers and strides, shapes checked by the caller; `c` is
            // a unique borrow, distinct from `a` and `b`.
            unsafe { rows_of_b(alpha, (m, k, n), a_raw, Raw { cols: 1, ..b_raw }, c_raw) };
        } else if k * n <= PACKED {
            // B read with strided rows (a transpose): copy it to the stack with contiguous rows,
            // then as above. Only the first k·n elements are written, and only they are read.
            let mut packed = [const { MaybeUninit::<T>::uninit() }; PACKED];
            for p in 0..k {
                for j in 0..n {
                    // SAFETY: (p, j) is in bounds of B.
                    packed[p * n + j].write(unsafe { *b_raw.ptr.offset(b_raw.at(p, j)) });
                }
            }
            let packed = Raw {
                ptr: packed.as_ptr().cast::<T>(),
                rows: n as isize,
                cols: 1,
            };
            // SAFETY: as above; `packed` holds B as a contiguous, fully written k × n matrix.
            unsafe { rows_of_b(alpha, (m, k, n), a_raw, packed, c_raw) };
        } else {
            for i in 0..m {
                for j in 0..n {
                    let sum: T = (0..k).map(|p| a[(i, p)] * b[(p, j)]).sum();
                    c[(i, j)] += alpha * sum;
                }
            }
        }
    }

    /// Rows of C computed together: their sums are independent, so the additions of one row
    /// overlap those of the other instead of waiting on their own previous result, and each
    /// row of B loaded serves both. Two rows took the products of the 2-16-16-2 and 64-32-10
    /// steps (batch 32) from 3.87 to 3.31–3.42 µs and from 6.6–6.7 to 5.7–6.0 µs (`cargo bench
    /// --bench step`, `gemm_floor`, one pinned core, 2026-12-01); four rows were slower than one.
    const ROWS: usize = 2;

    /// `C += α A B` for a B whose rows are contiguous, [`ROWS`] rows of C at a time (then single
    /// rows) in column blocks of 16, then 8, then 1: `C[i, j..j+W] += α Σₚ A[i, p] · B[p, j..j+W]`,
    /// the sums held in registers while p runs.
    ///
    /// # Safety
    /// The pointers and strides must address `m × k`, `k × n` and `m × n` matrices, B with
    /// column stride 1, and C must not alias A or B.
    #[inline(always)]
    unsafe fn rows_of_b<T: Scalar>(
        alpha: T,
        (m, k, n): (usize, usize, usize),
        a: Raw<*const T>,
        b: Raw<*const T>,
        c: Raw<*mut T>,
    ) {
        let mut i = 0;
        // SAFETY (both): the caller's contract, with i + R ≤ m.
        while i + ROWS <= m {
            unsafe { columns::<T, ROWS>(alpha, (i, k, n), a, b, c) };
            i += ROWS;
        }
        while i < m {
            unsafe { columns::<T, 1>(alpha, (i, k, n), a, b, c) };
            i += 1;
        }
    }

    /// Rows `i..i + R` of C, in column blocks of 16, then 8, then 1.
    ///
    /// # Safety
    /// As [`rows_of_b`], with `i + R ≤ m`.
    #[inline(always)]
    unsafe fn columns<T: Scalar, const R: usize>(
        alpha: T,
        (i, k, n): (usize, usize, usize),
        a: Raw<*const T>,
        b: Raw<*const T>,
        c: Raw<*mut T>,
    ) {
        let mut j = 0;
        // SAFETY (all three): the caller's contract, with j + W ≤ n for each block.
        while j + 16 <= n {
            unsafe { block::<T, R, 16>(alpha, (i, j, k), a, b, c) };
            j += 16;
        }
        if j + 8 <= n {
            unsafe { block::<T, R, 8>(alpha, (i, j, k), a, b, c) };
            j += 8;
        }
        while j < n {
            unsafe { block::<T, R, 1>(alpha, (i, j, k), a, b, c) };
            j += 1;
        }
    }

    /// `C[i + r, j..j+W] += α Σₚ A[i + r, p] · B[p, j..j+W]` over `p < k`, for `r < R`.
    ///
    /// # Safety
    /// As [`rows_of_b`], with `i + R ≤ m` and `j + W ≤ n`.
    #[inline(always)]
    unsafe fn block<T: Scalar, const R: usize, const W: usize>(
        alpha: T,
        (i, j, k): (usize, usize, usize),
        a: Raw<*const T>,
        b: Raw<*const T>,
        c: Raw<*mut T>,
    ) {
        let mut acc = [[T::ZERO; W]; R];
        // SAFETY: every offset is that of an in-bounds element, by the caller's contract.
        unsafe {
            for p in 0..k {
                let b_row = &*(b.ptr.offset(b.at(p, j)) as *const [T; W]);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let a_ip = *a.ptr.offset(a.at(i + r, p));
                    for (acc, &b) in acc.iter_mut().zip(b_row) {
                        *acc += a_ip * b;
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                for (l, &sum) in acc.iter().enumerate() {
                    *c.ptr.offset(c.at(i + r, j + l)) += alpha * sum;
                }
            }
        }
    }
}
