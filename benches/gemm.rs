//! The roofline: f32 gemm throughput at the shapes the networks use.
//!
//! Throughput is reported as FLOP/s (2·m·k·n per product). Thread count: build with
//! `--features threading` and set `RAYON_NUM_THREADS` (see `benches/README.md`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use std::hint::black_box;
use symgrad::gemm;

fn gemm_f32(c: &mut Criterion) {
    // Without the feature gemm is single-threaded; with it, rayon's pool reads
    // RAYON_NUM_THREADS and otherwise uses every core.
    let threads = match (cfg!(feature = "threading"), std::env::var("RAYON_NUM_THREADS")) {
        (false, _) => "1".to_owned(),
        (true, Ok(n)) => n,
        (true, Err(_)) => "all".to_owned(),
    };
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

criterion_group!(benches, gemm_f32);
criterion_main!(benches);
