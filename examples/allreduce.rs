//! The cost of the one all-reduce a data-parallel training step makes: the gradient of
//! 784-256-128-10 (235,146 parameters, with the loss and a flag per process: one buffer, of
//! f32 as an f32 network sends it and of f64 for comparison), summed over the processes
//! `mpirun` started, timed over many repetitions. Needs the `mpi` feature.
//!
//! ```text
//! cargo build --release --features mpi --example allreduce
//! mpirun -np 2 target/release/examples/allreduce
//! ```

use std::time::Instant;

use symgrad::train::{Mpi, Workers};

fn main() {
    symgrad::cli::example_without_options(
        "Times the all-reduce of one data-parallel training step of 784-256-128-10 over the processes mpirun started.",
    );
    let Some(mpi) = Mpi::initialize() else {
        eprintln!("error: MPI was initialised already");
        std::process::exit(1);
    };
    let parameters = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10;
    let len = parameters + 1 + mpi.size();
    // Zeros, so that the sums stay zero however often they are taken.
    let (mut narrow, mut wide) = (vec![0.0_f32; len], vec![0.0_f64; len]);
    let f32 = median_and_quartiles(|| mpi.sum_f32(&mut narrow), &mpi);
    let f64 = median_and_quartiles(|| mpi.sum(&mut wide), &mpi);
    if mpi.rank() == 0 {
        for (name, bytes, [median, low, high]) in [("f32", 4, f32), ("f64", 8, f64)] {
            println!(
                "{} processes, {len} {name} ({:.2} MB): all-reduce median {median:.0} µs (quartiles {low:.0}–{high:.0} µs) over {REPETITIONS} repetitions",
                mpi.size(),
                (len * bytes) as f64 / 1e6,
            );
        }
    }
}

const REPETITIONS: usize = 500;

/// The median and quartiles of `REPETITIONS` timed calls of `reduce`, after 20 untimed ones, in
/// µs; the processes start each call together.
fn median_and_quartiles(mut reduce: impl FnMut(), mpi: &Mpi) -> [f64; 3] {
    for _ in 0..20 {
        reduce();
    }
    let mut times: Vec<f64> = (0..REPETITIONS)
        .map(|_| {
            mpi.sum(&mut [0.0]);
            let started = Instant::now();
            reduce();
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    [
        times[REPETITIONS / 2],
        times[REPETITIONS / 4],
        times[3 * REPETITIONS / 4],
    ]
}
