//! gemm needs no reference implementation: with integer-valued floats every product is exact,
//! so `C ← AB; C ← 2AB + C` must equal `3AB` bit for bit in every layout, and `C` starts as NaN
//! to prove that `β = 0` never reads it.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, ShapeBuilder, s};
use symgrad_runtime::gemm::{Kernel, set_kernel};
use symgrad_runtime::{Error, Scalar, gemm};

#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor,
    ColumnMajor,
    /// Every second row and third column of a larger array.
    Strided,
    /// Both strides negative.
    Reversed,
    /// The transpose of a row-major array: a stride swap.
    Transposed,
}

const LAYOUTS: [Layout; 5] = [
    Layout::RowMajor,
    Layout::ColumnMajor,
    Layout::Strided,
    Layout::Reversed,
    Layout::Transposed,
];

fn storage<T: Scalar>(layout: Layout, rows: usize, cols: usize) -> Array2<T> {
    let nan = T::from_f64(f64::NAN);
    match layout {
        Layout::RowMajor | Layout::Reversed => Array2::from_elem((rows, cols), nan),
        Layout::ColumnMajor => Array2::from_elem((rows, cols).f(), nan),
        Layout::Strided => Array2::from_elem((2 * rows, 3 * cols), nan),
        Layout::Transposed => Array2::from_elem((cols, rows), nan),
    }
}

fn view<T: Scalar>(layout: Layout, st: &Array2<T>) -> ArrayView2<'_, T> {
    match layout {
        Layout::RowMajor | Layout::ColumnMajor => st.view(),
        Layout::Strided => st.slice(s![..;2, ..;3]),
        Layout::Reversed => st.slice(s![..;-1, ..;-1]),
        Layout::Transposed => st.t(),
    }
}

fn view_mut<T: Scalar>(layout: Layout, st: &mut Array2<T>) -> ArrayViewMut2<'_, T> {
    match layout {
        Layout::RowMajor | Layout::ColumnMajor => st.view_mut(),
        Layout::Strided => st.slice_mut(s![..;2, ..;3]),
        Layout::Reversed => st.slice_mut(s![..;-1, ..;-1]),
        Layout::Transposed => st.view_mut().reversed_axes(),
    }
}

/// A matrix in `layout` whose element `(i, j)` is a small integer.
fn filled<T: Scalar>(layout: Layout, rows: usize, cols: usize, salt: usize) -> Array2<T> {
    let mut st = storage(layout, rows, cols);
    view_mut(layout, &mut st)
        .indexed_iter_mut()
        .for_each(|((i, j), x)| *x = T::from_usize((i * 7 + j * 3 + salt) % 11) - T::from_f64(5.0));
    st
}

fn check_identity<T: Scalar>(m: usize, k: usize, n: usize) {
    for la in LAYOUTS {
        for lb in LAYOUTS {
            for lc in LAYOUTS {
                let a = filled::<T>(la, m, k, 1);
                let b = filled::<T>(lb, k, n, 2);
                let (a, b) = (view(la, &a), view(lb, &b));
                let mut c1 = storage::<T>(lc, m, n);
                gemm(T::ONE, a, b, T::ZERO, view_mut(lc, &mut c1)).unwrap();
                gemm(T::from_f64(2.0), a, b, T::ONE, view_mut(lc, &mut c1)).unwrap();
                let mut c3 = storage::<T>(lc, m, n);
                gemm(T::from_f64(3.0), a, b, T::ZERO, view_mut(lc, &mut c3)).unwrap();
                let (c1, c3) = (view(lc, &c1), view(lc, &c3));
                assert_eq!(c1, c3, "{} m={m} k={k} n={n} A {la:?} B {lb:?} C {lc:?}", T::NAME);
                assert!(c1.iter().all(|x| x.is_finite()), "NaN leaked from C with beta = 0");
                // Against the definition, (AB)ᵢⱼ = Σₗ AᵢₗBₗⱼ, on every element: the entries are
                // small integers, so every sum is exact and the order of additions cannot matter.
                for ((i, j), &got) in c3.indexed_iter() {
                    let direct: T = (0..k).map(|l| a[(i, l)] * b[(l, j)]).sum();
                    assert_eq!(got, T::from_f64(3.0) * direct, "({i}, {j}) of m={m} k={k} n={n}");
                }
            }
        }
    }
}

#[test]
fn identities_hold_in_every_layout_f32() {
    // Column counts around the small path's blocks of 16 and 8 and its single columns; then
    // large products: with k ≥ 4m and n ≥ 256 (for the `gemm` crate, a column-major C where B
    // is column-major and C row-major), and, for the own kernel, rows and columns that leave
    // its tiles part-filled (AVX-512: 6 × 64, or 24 × 16 for at most 16 columns; AVX2: 6 × 16,
    // or 12 × 8 for at most 8), k in three blocks (at most 256 each), n in two (at most 512),
    // and a B stored by columns in blocks of 16 × 16 (transposed in registers) and the rest.
    for (m, k, n) in [
        (1, 1, 1),
        (3, 5, 2),
        (8, 8, 8),
        (5, 3, 25),
        (4, 16, 31),
        (17, 33, 9),
        (67, 35, 129),
        (9, 40, 260),
        (13, 600, 70),
        (30, 40, 530),
        (100, 400, 10),
        (100, 400, 7),
    ] {
        check_identity::<f32>(m, k, n);
    }
}

/// Every kernel this processor runs, chosen in turn (the other tests of this file may run
/// meanwhile under any of them: each computes these exact sums exactly).
#[test]
fn identities_hold_under_every_kernel_here() {
    for kernel in [Kernel::Avx512, Kernel::Avx2, Kernel::GemmCrate] {
        if set_kernel(kernel).is_err() {
            eprintln!("{kernel:?}: not on this processor");
            continue;
        }
        for (m, k, n) in [(67, 35, 129), (9, 40, 260), (100, 400, 7), (30, 40, 530)] {
            check_identity::<f32>(m, k, n);
        }
        for (m, k, n) in [(65, 70, 33), (40, 300, 3)] {
            check_identity::<f64>(m, k, n);
        }
    }
}

#[test]
fn identities_hold_in_every_layout_f64() {
    for (m, k, n) in [
        (1, 1, 1),
        (2, 7, 3),
        (13, 4, 31),
        (65, 70, 33),
        (9, 40, 260),
        (25, 300, 17),
        (40, 300, 5),
        (40, 300, 3),
    ] {
        check_identity::<f64>(m, k, n);
    }
}

#[test]
fn empty_inner_dimension_scales_c() {
    let a = Array2::<f64>::zeros((3, 0));
    let b = Array2::<f64>::zeros((0, 2));
    let mut c = Array2::from_elem((3, 2), f64::NAN);
    gemm(1.0, a.view(), b.view(), 0.0, c.view_mut()).unwrap();
    assert_eq!(c, Array2::<f64>::zeros((3, 2)));
    let mut c = Array2::from_elem((3, 2), 2.0);
    gemm(1.0, a.view(), b.view(), 0.5, c.view_mut()).unwrap();
    assert_eq!(c, Array2::from_elem((3, 2), 1.0));
}

#[test]
fn empty_outer_dimensions_are_no_ops() {
    let a = Array2::<f32>::zeros((0, 4));
    let b = Array2::<f32>::zeros((4, 3));
    let mut c = Array2::<f32>::zeros((0, 3));
    assert!(gemm(1.0, a.view(), b.view(), 0.0, c.view_mut()).is_ok());
}

#[test]
fn mismatched_shapes_are_errors_and_write_nothing() {
    let a = Array2::<f32>::ones((2, 3));
    let b = Array2::<f32>::ones((4, 5));
    let mut c = Array2::<f32>::from_elem((2, 5), 7.0);
    let err = gemm(1.0, a.view(), b.view(), 0.0, c.view_mut()).unwrap_err();
    assert!(matches!(err, Error::Shape { op: "gemm", .. }), "{err}");
    assert!(
        err.to_string().contains("[2, 3]") && err.to_string().contains("[4, 5]"),
        "{err}"
    );
    let b = Array2::<f32>::ones((3, 5));
    let mut wrong_c = Array2::<f32>::from_elem((5, 2), 7.0);
    assert!(gemm(1.0, a.view(), b.view(), 0.0, wrong_c.view_mut()).is_err());
    assert!(c.iter().chain(wrong_c.iter()).all(|&x| x == 7.0));
}
