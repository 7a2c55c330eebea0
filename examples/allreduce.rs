//! The cost of the all-reduce a data-parallel training step makes, and how much of it
//! overlapping with the backward pass hides, for 784-256-128-10 (235,146 parameters, with the
//! loss and a flag per process) over the processes `mpirun` started. Needs the `mpi` feature.
//!
//! First the all-reduce alone: one buffer, of f32 as an f32 network sends it and of f64 for
//! comparison. Then the gradient of this process's share of a global batch of 256, timed three
//! ways in turn: the gradient alone; the gradient, then one all-reduce of the whole buffer; the
//! gradient with each parameter's part of the buffer summed as soon as the backward pass has
//! finished it (as training does). What a way adds to the gradient alone is the communication
//! it leaves exposed.
//!
//! ```text
//! cargo build --release --features mpi --example allreduce
//! mpirun --bind-to core -np 2 target/release/examples/allreduce
//! ```

use std::time::Instant;

use symgrad::ndarray::{Array2, ArrayViewD};
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{Rng, SeedableRng, rngs::StdRng};
use symgrad::train::{Mpi, Workers};

network! {
    /// The Fashion-MNIST MLP of the main job, without its dropout.
    struct Mlp {
        input x: [784];
        target y: classes[10];
        h1 = relu(dense(x, 256, he));
        h2 = relu(dense(h1, 128, he));
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// A wider MLP, 784-1024-1024-10 (1,863,690 parameters).
    struct Wide {
        input x: [784];
        target y: classes[10];
        h1 = relu(dense(x, 1024, he));
        h2 = relu(dense(h1, 1024, he));
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

/// The bucket sizes timed: every parameter's gradient on its own, and buckets of 1 MiB of f32.
const BUCKETS: [usize; 2] = [0, 1 << 18];
const REPETITIONS: usize = 300;
const GLOBAL_BATCH: usize = 256;

fn main() {
    symgrad::cli::example_without_options(
        "Times the all-reduce of one data-parallel training step of 784-256-128-10 over the processes \
         mpirun started, alone and overlapped with the backward pass.",
    );
    let Some(mpi) = Mpi::initialize() else {
        eprintln!("error: MPI was initialised already");
        std::process::exit(1);
    };
    let size = mpi.size();
    let mut rng = StdRng::seed_from_u64(mpi.rank() as u64);
    let net = Mlp::<f32>::new(&mut rng);
    let len: usize = parts(&net, size).iter().sum();

    // Zeros, so that the sums stay zero however often they are taken.
    let (mut narrow, mut wide) = (vec![0.0_f32; len], vec![0.0_f64; len]);
    let times = timed(
        &mpi,
        &mut [&mut || mpi.sum_f32(&mut narrow), &mut || mpi.sum(&mut wide)],
    );
    report(
        &mpi,
        &format!("all-reduce of {len} f32 ({:.2} MB)", (len * 4) as f64 / 1e6),
        times[0],
    );
    report(
        &mpi,
        &format!("all-reduce of {len} f64 ({:.2} MB)", (len * 8) as f64 / 1e6),
        times[1],
    );

    let rows = GLOBAL_BATCH / size;
    let x = Array2::from_shape_simple_fn((rows, 784), || rng.random::<f32>());
    let y: Vec<usize> = (0..rows).map(|_| rng.random_range(0..10)).collect();
    step(&mpi, &net, &MlpBatch { x: x.view(), y: &y }, rows);
    let wide = Wide::<f32>::new(&mut rng);
    step(&mpi, &wide, &WideBatch { x: x.view(), y: &y }, rows);
}

/// Times the gradient of `net` on `batch` alone, then followed by one all-reduce, then
/// overlapped with all-reduces of buckets of each size in `BUCKETS`.
fn step<M: Model<f32>>(mpi: &Mpi, net: &M, batch: &M::Batch<'_>, rows: usize) {
    let size = mpi.size();
    let lens = parts(net, size);
    let len: usize = lens.iter().sum();
    // Each way has its own buffers, so that the ways can take turns.
    let state = || {
        (
            net.workspace(rows),
            M::zeros(),
            vec![0.0_f32; len],
            StdRng::seed_from_u64(0),
        )
    };
    let mut states = [(); 2 + BUCKETS.len()].map(|_| state());
    let [alone, whole, buckets @ ..] = &mut states;
    let mut alone = || {
        let (ws, grads, _, masks) = alone;
        net.loss_and_grad(ws, batch, masks, grads).unwrap();
    };
    let mut whole = || {
        let (ws, grads, values, masks) = whole;
        values[size] = net.loss_and_grad(ws, batch, masks, grads).unwrap();
        let mut rest = &mut values[size + 1..];
        for i in 0..grads.count() {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(grads.param(i).len());
            copy(grads.param(i), part);
            rest = tail;
        }
        mpi.sum_f32(values);
    };
    let mut overlapped: Vec<_> = buckets
        .iter_mut()
        .zip(BUCKETS)
        .map(|((ws, grads, values, masks), bucket)| {
            let lens = &lens;
            move || {
                mpi.sum_parts_f32(values, lens, bucket, &mut |parts| {
                    let announce = |i: usize, g: ArrayViewD<'_, f32>| parts.ready(i + 1, |part| copy(g, part));
                    let loss = net.loss_and_grad_with_hook(ws, batch, masks, grads, announce).unwrap();
                    parts.ready(0, |part| part[size] = loss);
                });
            }
        })
        .collect();
    let mut ways: Vec<&mut dyn FnMut()> = vec![&mut alone, &mut whole];
    ways.extend(overlapped.iter_mut().map(|way| way as &mut dyn FnMut()));
    let times = timed(mpi, &mut ways);
    let what = format!("gradient of {} parameters on {rows} rows alone", len - size - 1);
    report(mpi, &what, times[0]);
    let exposed = |[median, ..]: [f64; 3]| median - times[0][0];
    report(
        mpi,
        &format!("  then one all-reduce (+{:.0} µs)", exposed(times[1])),
        times[1],
    );
    for (bucket, &time) in BUCKETS.iter().zip(&times[2..]) {
        let what = format!(
            "  overlapped, buckets of ≥ {bucket} elements (+{:.0} µs)",
            exposed(time)
        );
        report(mpi, &what, time);
    }
}

/// The lengths of the all-reduce buffer's parts, as training lays it out: the failure flags
/// and the loss, then each parameter's gradient.
fn parts<M: Model<f32>>(net: &M, processes: usize) -> Vec<usize> {
    let mut lens = vec![processes + 1];
    lens.extend((0..net.count()).map(|i| net.param(i).len()));
    lens
}

/// Copies a gradient into its part of the buffer.
fn copy(gradient: ArrayViewD<'_, f32>, part: &mut [f32]) {
    part.iter_mut().zip(gradient.iter()).for_each(|(v, &g)| *v = g);
}

/// The median and quartiles of `REPETITIONS` timed calls of each of `calls`, in µs, after 20
/// untimed rounds; the calls take turns, and the processes start each call together.
fn timed(mpi: &Mpi, calls: &mut [&mut dyn FnMut()]) -> Vec<[f64; 3]> {
    let mut times = vec![Vec::with_capacity(REPETITIONS); calls.len()];
    for round in 0..REPETITIONS + 20 {
        for (call, times) in calls.iter_mut().zip(&mut times) {
            mpi.sum(&mut [0.0]);
            let started = Instant::now();
            call();
            if round >= 20 {
                times.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    times
        .into_iter()
        .map(|mut times| {
            times.sort_by(f64::total_cmp);
            [
                times[REPETITIONS / 2],
                times[REPETITIONS / 4],
                times[3 * REPETITIONS / 4],
            ]
        })
        .collect()
}

/// Process 0 prints one timing.
fn report(mpi: &Mpi, what: &str, [median, low, high]: [f64; 3]) {
    if mpi.rank() == 0 {
        println!(
            "{} processes, {what}: median {median:.0} µs (quartiles {low:.0}–{high:.0} µs) over {REPETITIONS}",
            mpi.size()
        );
    }
}
