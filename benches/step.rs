//! One training step (forward, backward, plain SGD update) in f32 on one thread, four ways on
//! the same model: the code `network!` generated, as the gradient followed by `Optim::step`
//! (`generated`) and as `sgd_step`, the updates folded into the weight-gradient products
//! (`generated_sgd`); its tape twin; and the floor — the same step's gemm calls alone (forward
//! H·W, weight gradients Hᵀ·Z̄, input gradients Z̄·Wᵀ). Then the main job's step: its
//! classifier with dropout, the gradient followed by Adam's update.
//!
//! `cargo bench --bench step`; the ratios are in `benches/README.md`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::optim::Optim;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

#[path = "../src/nets.rs"]
mod nets;
use nets::{DigitsNet, DigitsNetBatch, FashionNet, FashionNetBatch};

network! {
    struct Tiny {
        input x: [2];
        target y: classes[2];
        h1 = tanh(dense(x, 16));
        h2 = tanh(dense(h1, 16));
        z = dense(h2, 2);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    struct Digits {
        input x: [64];
        target y: classes[10];
        h = relu(dense(x, 32));
        z = dense(h, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    struct Fashion {
        input x: [784];
        target y: classes[10];
        h1 = relu(dense(x, 256));
        h2 = relu(dense(h1, 128));
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    struct Wide {
        input x: [784];
        target y: classes[10];
        h1 = relu(dense(x, 1024));
        h2 = relu(dense(h1, 1024));
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    struct Autoencoder {
        input x: [784];
        e1 = relu(dense(x, 256));
        code = relu(dense(e1, 64));
        d1 = relu(dense(code, 256));
        recon = sigmoid(dense(d1, 784));
        output recon;
        loss mse(recon, x);
    }
}

/// The gemm calls of one step of a dense chain with these layer widths, alone.
struct Floor {
    activations: Vec<Array2<f32>>,
    weights: Vec<Array2<f32>>,
    weight_grads: Vec<Array2<f32>>,
    adjoints: Vec<Array2<f32>>,
}

impl Floor {
    fn new(widths: &[usize], batch: usize) -> Floor {
        let fill = |r: usize, c: usize| Array2::from_shape_fn((r, c), |(i, j)| ((i * 3 + j) % 7) as f32 * 0.01);
        Floor {
            activations: widths.iter().map(|&w| fill(batch, w)).collect(),
            weights: widths.windows(2).map(|w| fill(w[0], w[1])).collect(),
            weight_grads: widths.windows(2).map(|w| fill(w[0], w[1])).collect(),
            adjoints: widths.iter().map(|&w| fill(batch, w)).collect(),
        }
    }

    fn step(&mut self) {
        for l in 0..self.weights.len() {
            let (before, after) = self.activations.split_at_mut(l + 1);
            gemm(1.0, before[l].view(), self.weights[l].view(), 0.0, after[0].view_mut()).unwrap();
        }
        for l in (0..self.weights.len()).rev() {
            let g = &self.adjoints[l + 1];
            gemm(
                1.0,
                self.activations[l].t(),
                g.view(),
                0.0,
                self.weight_grads[l].view_mut(),
            )
            .unwrap();
            if l > 0 {
                let (before, after) = self.adjoints.split_at_mut(l + 1);
                gemm(1.0, after[0].view(), self.weights[l].t(), 0.0, before[l].view_mut()).unwrap();
            }
        }
    }
}

fn inputs(batch: usize, width: usize, classes: usize) -> (Array2<f32>, Vec<usize>) {
    let x = Array2::from_shape_fn((batch, width), |(i, j)| ((i * 13 + j * 7) % 17) as f32 / 17.0);
    (x, (0..batch).map(|i| i % classes).collect())
}

/// Benchmarks one network at one batch size: generated, tape, floor, and one generated
/// Hessian- and Gauss-Newton-vector product (no update: the same parameters each time).
macro_rules! bench_network {
    ($c:expr, $net:ident, $batch_ty:ident, $label:expr, $widths:expr, $batch:expr, |$x:ident, $y:ident| $make:expr) => {{
        let mut group = $c.benchmark_group($label);
        let widths: &[usize] = &$widths;
        let (data, labels) = inputs($batch, widths[0], *widths.last().unwrap());
        let ($x, $y) = (data.view(), &labels[..]);
        let batch: $batch_ty<'_, f32> = $make;
        let mut rng = StdRng::seed_from_u64(0);
        let mut net = $net::<f32>::new(&mut rng);
        let mut grads = $net::<f32>::zeros();
        let mut ws = net.workspace($batch);
        let mut sgd = Optim::new(Optimizer::Sgd, 0.0);
        group.bench_function(BenchmarkId::new("generated", $batch), |b| {
            b.iter(|| {
                black_box(net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap());
                sgd.step(&mut net, &grads, 1e-3);
            })
        });
        group.bench_function(BenchmarkId::new("generated_sgd", $batch), |b| {
            b.iter(|| black_box(net.sgd_step(&mut ws, &batch, &mut rng, &mut grads, 1e-3, 0.0).unwrap()))
        });
        let mut tape = Tape::new();
        group.bench_function(BenchmarkId::new("tape", $batch), |b| {
            b.iter(|| {
                black_box(net.tape_loss_and_grad(&mut tape, &batch, &mut rng, &mut grads).unwrap());
                sgd.step(&mut net, &grads, 1e-3);
            })
        });
        let mut floor = Floor::new(widths, $batch);
        group.bench_function(BenchmarkId::new("gemm_floor", $batch), |b| b.iter(|| floor.step()));
        let (v, mut hv) = (net.clone(), $net::<f32>::zeros());
        let mut hws = net.hvp_workspace($batch);
        group.bench_function(BenchmarkId::new("hvp", $batch), |b| {
            b.iter(|| black_box(net.hvp(&mut hws, &batch, &mut rng, &v, &mut hv).unwrap()))
        });
        let mut gws = net.gnvp_workspace($batch);
        group.bench_function(BenchmarkId::new("gnvp", $batch), |b| {
            b.iter(|| black_box(net.gnvp(&mut gws, &batch, &mut rng, &v, &mut hv).unwrap()))
        });
        group.finish();
    }};
}

fn steps(c: &mut Criterion) {
    bench_network!(c, Tiny, TinyBatch, "2-16-16-2 tanh", [2, 16, 16, 2], 32, |x, y| {
        TinyBatch { x, y }
    });
    bench_network!(c, Digits, DigitsBatch, "64-32-10 relu", [64, 32, 10], 32, |x, y| {
        DigitsBatch { x, y }
    });
    bench_network!(
        c,
        Fashion,
        FashionBatch,
        "784-256-128-10 relu",
        [784, 256, 128, 10],
        64,
        |x, y| FashionBatch { x, y }
    );
    bench_network!(
        c,
        Fashion,
        FashionBatch,
        "784-256-128-10 relu",
        [784, 256, 128, 10],
        256,
        |x, y| FashionBatch { x, y }
    );
    bench_network!(
        c,
        Wide,
        WideBatch,
        "784-1024-1024-10 relu",
        [784, 1024, 1024, 10],
        128,
        |x, y| WideBatch { x, y }
    );
    bench_network!(
        c,
        Autoencoder,
        AutoencoderBatch,
        "autoencoder 784-256-64-256-784",
        [784, 256, 64, 256, 784],
        64,
        |x, y| {
            let _ = y;
            AutoencoderBatch { x }
        }
    );
}

/// The main job's step (`src/main.rs`) at its batch sizes: the gradient with its two dropout
/// masks drawn, then Adam's update.
fn main_job(c: &mut Criterion) {
    macro_rules! main_step {
        ($net:ident, $batch_ty:ident, $label:expr, $width:expr, $batch:expr) => {{
            let (data, labels) = inputs($batch, $width, 10);
            let batch = $batch_ty {
                x: data.view(),
                y: &labels[..],
            };
            let mut rng = StdRng::seed_from_u64(0);
            let mut net = $net::<f32>::new(&mut rng);
            let mut grads = $net::<f32>::zeros();
            let mut ws = net.workspace($batch);
            let mut adam = Optim::new(Optimizer::ADAM, 0.0);
            c.bench_function(&format!("main job {}/dropout_adam/{}", $label, $batch), |b| {
                b.iter(|| {
                    black_box(net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap());
                    adam.step(&mut net, &grads, 1e-3);
                })
            });
        }};
    }
    main_step!(DigitsNet, DigitsNetBatch, "digits 64-256-128-10", 64, 32);
    main_step!(FashionNet, FashionNetBatch, "fashion 784-256-128-10", 784, 128);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = steps, main_job
}
criterion_main!(benches);
