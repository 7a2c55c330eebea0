//! The roofline: f32 gemm throughput at the shapes the networks use.
//!
//! Throughput is reported as FLOP/s (2·m·k·n per product). Thread count: one, or with
//! `--features threading` one per core the process may use (pin with `taskset`; see
//! `benches/README.md`); with the feature, `split` times each product of the benchmark
//! networks on one thread and on two. `kernels` times each product of the benchmark
//! networks' steps through `symgrad::gemm` (the runtime's AVX-512 kernel where the processor
//! has it) beside the `gemm` crate called directly and the runtime's kernel compiled for AVX2
//! (`own_avx2`, where the processor has AVX2 and it is not the default), on one thread.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use std::hint::black_box;
use symgrad::gemm;

#[path = "support/step_products.rs"]
mod step_products;

fn gemm_f32(c: &mut Criterion) {
    // Without the feature gemm is single-threaded; with it, large products use every core.
    let threads = gemm::threads().map_or("all".to_owned(), |n| n.to_string());
    let mut group = c.benchmark_group(format!("gemm_f32_threads_{threads}"));
    for (m, k, n) in [(64, 784, 256), (256, 784, 256), (512, 512, 512), (1024, 1024, 1024)] {
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.1);
        let b = Array2::from_shape_fn((k, n), |(i, j)| ((i + 3 * j) % 11) as f32 * 0.1);
        let mut out = Array2::<f32>::zeros((m, n));
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        if m * k * n > 100_000_000 {
            group.sample_size(10);
        }
        group.bench_function(format!("{m}x{k}x{n}"), |bench| {
            bench.iter(|| gemm(1.0, black_box(a.view()), black_box(b.view()), 0.0, out.view_mut()).unwrap())
        });
    }
    group.finish();
}

/// One thread against two on the products of the benchmark networks' steps (forward `H·W`,
/// weight gradient `Hᵀ·Z̄`, input gradient `Z̄·Wᵀ`), every product split (`set_split_size(0)`):
/// where the default [`gemm::DEFAULT_SPLIT_SIZE`] comes from. Only with `--features threading`.
#[cfg(feature = "threading")]
fn split(c: &mut Criterion) {
    use symgrad::gemm::{DEFAULT_SPLIT_SIZE, set_split_size, set_threads};
    set_split_size(0);
    let mut group = c.benchmark_group("split");
    // (batch, inputs, outputs) of a layer.
    for (rows, inputs, outputs) in [
        (64, 256, 128),
        (64, 784, 256),
        (256, 784, 256),
        (128, 784, 512),
        (256, 1024, 256),
        (128, 1024, 1024),
    ] {
        let h = Array2::from_shape_fn((rows, inputs), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.1);
        let w = Array2::from_shape_fn((inputs, outputs), |(i, j)| ((i + 3 * j) % 11) as f32 * 0.1);
        let z = Array2::from_shape_fn((rows, outputs), |(i, j)| ((i + j) % 5) as f32 * 0.1);
        let (mut out, mut w_grad, mut h_grad) = (z.clone(), w.clone(), h.clone());
        for threads in [1, 2] {
            set_threads(threads).unwrap();
            let name = |pass: &str| format!("{rows}x{inputs}x{outputs}/{pass}/{threads}");
            group.bench_function(name("forward"), |bench| {
                bench.iter(|| gemm(1.0, black_box(h.view()), w.view(), 0.0, out.view_mut()).unwrap())
            });
            group.bench_function(name("weight"), |bench| {
                bench.iter(|| gemm(1.0, black_box(h.t()), z.view(), 0.0, w_grad.view_mut()).unwrap())
            });
            group.bench_function(name("input"), |bench| {
                bench.iter(|| gemm(1.0, black_box(z.view()), w.t(), 0.0, h_grad.view_mut()).unwrap())
            });
        }
    }
    group.finish();
    set_split_size(DEFAULT_SPLIT_SIZE);
}

/// `C ← α A B + β C` by the `gemm` crate on this thread, any strides (the crate names the
/// factors the other way round: its `alpha` scales C).
fn crate_gemm(
    alpha: f32,
    a: ndarray::ArrayView2<'_, f32>,
    b: ndarray::ArrayView2<'_, f32>,
    beta: f32,
    mut c: ndarray::ArrayViewMut2<'_, f32>,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (sa, sb, sc) = (a.strides(), b.strides(), c.strides().to_vec());
    // SAFETY: the views' own pointers, shapes and strides; `c` is a unique borrow.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            sc[1],
            sc[0],
            beta != 0.0,
            a.as_ptr(),
            sa[1],
            sa[0],
            b.as_ptr(),
            sb[1],
            sb[0],
            beta,
            alpha,
            false,
            false,
            false,
            ::gemm::Parallelism::None,
        )
    }
}

/// Each product of the benchmark networks' steps (forward `H·W`, weight gradient `Hᵀ·Z̄`, input
/// gradient `Z̄·Wᵀ`) through `symgrad::gemm` and through the `gemm` crate, one thread.
fn kernels(c: &mut Criterion) {
    gemm::set_threads(1).unwrap();
    let mut group = c.benchmark_group("kernels");
    group.warm_up_time(std::time::Duration::from_millis(500));
    group.measurement_time(std::time::Duration::from_secs(1));
    for shape in step_products::LAYERS {
        let (rows, inputs, outputs) = shape;
        let mut layer = step_products::Layer::new(shape);
        for (pass, alpha, a, b, beta, mut out) in layer.products() {
            let name = |by: &str| format!("{rows}x{inputs}x{outputs}/{pass}/{by}");
            group.bench_function(name("symgrad"), |bench| {
                bench.iter(|| gemm(alpha, black_box(a), b, beta, out.view_mut()).unwrap())
            });
            group.bench_function(name("crate"), |bench| {
                bench.iter(|| crate_gemm(alpha, black_box(a), b, beta, out.view_mut()))
            });
            // The own kernel compiled for AVX2, where it is not the default.
            let default = gemm::kernel();
            if default != gemm::Kernel::Avx2 && gemm::set_kernel(gemm::Kernel::Avx2).is_ok() {
                group.bench_function(name("own_avx2"), |bench| {
                    bench.iter(|| gemm(alpha, black_box(a), b, beta, out.view_mut()).unwrap())
                });
                gemm::set_kernel(default).unwrap();
            }
        }
    }
    group.finish();
}

#[cfg(feature = "threading")]
criterion_group!(benches, gemm_f32, split, kernels);
#[cfg(not(feature = "threading"))]
criterion_group!(benches, gemm_f32, kernels);
criterion_main!(benches);
