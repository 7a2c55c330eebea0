//! The convolution and pooling kernels at LeNet's sizes on 28×28 images (conv 1→6 of 5×5 with
//! padding 2, max pooling 2×2, conv 6→16 of 5×5, max pooling 2×2), batch 64, f32, one thread:
//! each pass against its floor, the same gemm calls on matrices already laid out (no im2col or
//! col2im), so that what lowering to products costs is visible.
//!
//! `cargo bench --bench conv`; the figures are in `benches/README.md`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use symgrad::gemm;
use symgrad::kernels::{Conv2d, Pool2d};
use symgrad::ndarray::Array2;
use symgrad::rand::rngs::StdRng;
use symgrad::rand::{Rng, SeedableRng};

const BATCH: usize = 64;

fn filled(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 7 + j * 3) % 11) as f32 * 0.1 - 0.5)
}

/// Forward, input gradient and kernel gradient of one convolution, and their gemm floors.
fn conv(c: &mut Criterion, name: &str, g: Conv2d) {
    g.check().unwrap();
    let mut group = c.benchmark_group(name);
    let (x, k) = (filled(BATCH, g.input_features()), filled(g.filters, g.patch_len()));
    let dy = filled(BATCH, g.output_features());
    let (mut y, mut dx, mut dk) = (dy.clone(), x.clone(), k.clone());
    let mut cols = vec![0.0; g.columns_len()];
    group.bench_function("forward", |b| {
        b.iter(|| {
            g.forward(black_box(x.view()), k.view(), y.view_mut(), &mut cols)
                .unwrap()
        })
    });
    group.bench_function("backward_input", |b| {
        b.iter(|| {
            g.backward_input(black_box(dy.view()), k.view(), dx.view_mut(), &mut cols)
                .unwrap()
        })
    });
    group.bench_function("backward_kernel", |b| {
        b.iter(|| {
            g.backward_kernel(black_box(x.view()), dy.view(), 0.0, dk.view_mut(), &mut cols)
                .unwrap()
        })
    });
    // The same products per sample on ready matrices: K·cols, Kᵀ·Ȳ_s, Ȳ_s·colsᵀ.
    let (oh, ow) = g.output_size();
    let patches = filled(g.patch_len(), oh * ow);
    let (mut out, mut back) = (filled(g.filters, oh * ow), patches.clone());
    group.bench_function("gemm_floor", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                gemm(1.0, k.view(), black_box(patches.view()), 0.0, out.view_mut()).unwrap();
                gemm(1.0, k.t(), out.view(), 0.0, back.view_mut()).unwrap();
                gemm(1.0, out.view(), patches.t(), 1.0, dk.view_mut()).unwrap();
            }
        })
    });
    group.finish();
}

/// Max pooling forward and backward, of maps as a ReLU leaves them: half zeros, half random
/// (which pixel wins is then as unpredictable as in training).
fn pool(c: &mut Criterion, name: &str, g: Pool2d) {
    g.check().unwrap();
    let mut group = c.benchmark_group(name);
    let mut rng = StdRng::seed_from_u64(0);
    let x = Array2::from_shape_fn((BATCH, g.input_features()), |_| rng.random_range(-1.0f32..1.0).max(0.0));
    let (mut y, mut dx) = (filled(BATCH, g.output_features()), x.clone());
    let mut argmax = vec![0; y.len()];
    group.bench_function("max_forward", |b| {
        b.iter(|| g.max_forward(black_box(x.view()), y.view_mut(), &mut argmax).unwrap())
    });
    let dy = y.clone();
    group.bench_function("max_backward", |b| {
        b.iter(|| g.max_backward(black_box(dy.view()), &argmax, dx.view_mut()).unwrap())
    });
    group.finish();
}

fn lenet(c: &mut Criterion) {
    let conv1 = Conv2d {
        channels: 1,
        height: 28,
        width: 28,
        filters: 6,
        kernel: (5, 5),
        stride: 1,
        padding: 2,
        dilation: 1,
    };
    conv(c, "conv 1x28x28 -> 6 (5x5, pad 2)", conv1);
    let pool1 = Pool2d {
        channels: 6,
        height: 28,
        width: 28,
        size: (2, 2),
        stride: 2,
    };
    pool(c, "max pool 6x28x28 (2x2)", pool1);
    let conv2 = Conv2d {
        channels: 6,
        height: 14,
        width: 14,
        filters: 16,
        padding: 0,
        ..conv1
    };
    conv(c, "conv 6x14x14 -> 16 (5x5)", conv2);
    let pool2 = Pool2d {
        channels: 16,
        height: 10,
        width: 10,
        ..pool1
    };
    pool(c, "max pool 16x10x10 (2x2)", pool2);
}

criterion_group!(benches, lenet);
criterion_main!(benches);
