//! The roofline: f32 gemm throughput at the shapes the networks use.
//!
//! Throughput is reported as FLOP/s (2·m·k·n per product). Thread count: one, or with
//! `--features threading` one per core the process may use (pin with `taskset`; see
//! `benches/README.md`); with the feature, `split` times each product of the benchmark
//! networks on one thread and on two.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use std::hint::black_box;
use symgrad::gemm;

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

#[cfg(feature = "threading")]
criterion_group!(benches, gemm_f32, split);
#[cfg(not(feature = "threading"))]
criterion_group!(benches, gemm_f32);
criterion_main!(benches);
