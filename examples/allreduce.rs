//! The cost of the one all-reduce a data-parallel training step makes: the gradient of
//! 784-256-128-10 (235,146 parameters, with the loss and a flag per process: one buffer of
//! f64), summed over the processes `mpirun` started, timed over many repetitions. Needs the
//! `mpi` feature.
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
    let mut buffer = vec![1.0; parameters + 1 + mpi.size()];
    for _ in 0..20 {
        mpi.sum(&mut buffer);
    }
    let repetitions = 500;
    let mut times: Vec<f64> = (0..repetitions)
        .map(|_| {
            let started = Instant::now();
            mpi.sum(&mut buffer);
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    if mpi.rank() == 0 {
        println!(
            "{} processes, {} f64 ({:.2} MB): all-reduce median {:.0} µs (quartiles {:.0}–{:.0} µs) over {repetitions} repetitions",
            mpi.size(),
            buffer.len(),
            buffer.len() as f64 * 8.0 / 1e6,
            times[repetitions / 2],
            times[repetitions / 4],
            times[3 * repetitions / 4]
        );
    }
}
