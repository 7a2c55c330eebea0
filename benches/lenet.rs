//! One training step (forward, backward, plain SGD update) of the LeNet-style network of
//! `examples/lenet.rs` on 28×28 images, batch 64, f32: the code `network!` generated, as the
//! gradient followed by `Optim::step` (`generated`) and as `sgd_step` (`generated_sgd`); its
//! tape twin (`tape`); and the floor, the step's gemm calls alone on matrices already laid out
//! (each convolution's three products per sample, no im2col, col2im or pooling; the dense
//! layers' products).
//!
//! `cargo bench --bench lenet` (one thread; `--features threading` on two pinned cores for
//! two); `python3 benches/peers/lenet.py` runs it beside PyTorch and JAX. The figures are
//! in `benches/README.md`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use symgrad::gemm;
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::optim::Optim;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    struct LeNet {
        input x: [1, 28, 28];
        target y: classes[10];
        c1 = max_pool2d(relu(conv2d(x, 16, 5, padding = same, init = he)), 2);
        c2 = max_pool2d(relu(conv2d(c1, 32, 5, padding = same, init = he)), 2);
        h = relu(dense(flatten(c2), 128, he));
        z = dense(h, 10);
        output softmax(z);
        loss softmax_cross_entropy(z, y);
    }
}

const BATCH: usize = 64;

fn filled(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 13 + j * 7) % 17) as f32 / 17.0)
}

/// The products of one step: per sample, each convolution's forward `K·cols`, kernel
/// gradient `Ȳ·colsᵀ` and (the second's) input gradient `Kᵀ·Ȳ`; then the dense layers' forward,
/// weight-gradient and input-gradient products for the batch.
struct Floor {
    /// Per convolution: kernel `[o, c·k·k]`, patches `[c·k·k, h·w]`, output `[o, h·w]`,
    /// kernel gradient, patch gradient.
    convs: Vec<[Array2<f32>; 5]>,
    /// Per dense layer: input `[batch, n]`, weight, output, weight gradient, output gradient,
    /// input gradient.
    dense: Vec<[Array2<f32>; 6]>,
}

impl Floor {
    fn new() -> Floor {
        let conv = |o: usize, patch: usize, pixels: usize| {
            [
                filled(o, patch),
                filled(patch, pixels),
                filled(o, pixels),
                filled(o, patch),
                filled(patch, pixels),
            ]
        };
        let dense = |n: usize, m: usize| {
            [
                filled(BATCH, n),
                filled(n, m),
                filled(BATCH, m),
                filled(n, m),
                filled(BATCH, m),
                filled(BATCH, n),
            ]
        };
        Floor {
            convs: vec![conv(16, 25, 784), conv(32, 400, 196)],
            dense: vec![dense(1568, 128), dense(128, 10)],
        }
    }

    fn step(&mut self) {
        for (index, [k, cols, y, dk, dcols]) in self.convs.iter_mut().enumerate() {
            for _ in 0..BATCH {
                gemm(1.0, k.view(), cols.view(), 0.0, y.view_mut()).unwrap();
                gemm(1.0, y.view(), cols.t(), 1.0, dk.view_mut()).unwrap();
                // The first convolution reads the images, which need no gradient.
                if index > 0 {
                    gemm(1.0, k.t(), y.view(), 0.0, dcols.view_mut()).unwrap();
                }
            }
        }
        for [x, w, y, dw, dy, dx] in &mut self.dense {
            gemm(1.0, x.view(), w.view(), 0.0, y.view_mut()).unwrap();
            gemm(1.0, x.t(), dy.view(), 0.0, dw.view_mut()).unwrap();
            gemm(1.0, dy.view(), w.t(), 0.0, dx.view_mut()).unwrap();
        }
    }
}

fn step(c: &mut Criterion) {
    let mut group = c.benchmark_group("lenet 1x28x28 16c5-p2-32c5-p2-128-10");
    let x = filled(BATCH, 784);
    let labels: Vec<usize> = (0..BATCH).map(|i| i % 10).collect();
    let batch = LeNetBatch {
        x: x.view(),
        y: &labels,
    };
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = LeNet::<f32>::new(&mut rng);
    let mut grads = LeNet::<f32>::zeros();
    let mut ws = net.workspace(BATCH);
    let mut sgd = Optim::new(Optimizer::Sgd, 0.0);
    group.bench_function("generated/64", |b| {
        b.iter(|| {
            black_box(net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap());
            sgd.step(&mut net, &grads, 1e-3);
        })
    });
    group.bench_function("generated_sgd/64", |b| {
        b.iter(|| black_box(net.sgd_step(&mut ws, &batch, &mut rng, &mut grads, 1e-3, 0.0).unwrap()))
    });
    let mut tape = Tape::new();
    group.bench_function("tape/64", |b| {
        b.iter(|| {
            black_box(net.tape_loss_and_grad(&mut tape, &batch, &mut rng, &mut grads).unwrap());
            sgd.step(&mut net, &grads, 1e-3);
        })
    });
    let mut floor = Floor::new();
    group.bench_function("gemm_floor/64", |b| b.iter(|| floor.step()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(3));
    targets = step
}
criterion_main!(benches);
