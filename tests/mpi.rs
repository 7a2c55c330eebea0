//! Data-parallel training on MPI (`cargo test --features mpi --test mpi`, with Open MPI's
//! `mpirun` on the path). Each test starts `mpirun -np 2` on the ignored `worker` test of this
//! file, which trains as the case it is given says and writes what it got; the test compares
//! that with a run in one process. Built only with the feature (`required-features`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use symgrad::checkpoint;
use symgrad::data::{self, Dataset};
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, Mpi, TrainConfig, Verbosity};

network! {
    /// No dropout: one process and two see the same function.
    struct Net {
        input x: [64];
        target y: classes[10];
        h = tanh(dense(x, 16));
        z = dense(h, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

/// 400 training and 100 validation digits.
fn digits() -> (Dataset<f32>, Dataset<f32>) {
    let mut all = data::digits::<f32>().unwrap();
    all.scale_by(16.0);
    (all.first(400), all.subset(&(400..500).collect::<Vec<_>>()))
}

fn config(epochs: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        optimizer: Optimizer::Sgd,
        learning_rate: 0.2,
        keep_best: false,
        seed: 3,
        verbosity: Verbosity::Quiet,
        ..TrainConfig::default()
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("symgrad-mpi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs the worker on `processes` processes for `case`, writing under `out`.
fn mpirun(processes: usize, case: &str, out: &Path) -> Output {
    Command::new("mpirun")
        .args(["-np", &processes.to_string(), "--oversubscribe"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SYMGRAD_MPI_CASE", case)
        .env("SYMGRAD_MPI_OUT", out)
        // Containers and CI machines often run tests as root; Open MPI refuses that unless told.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun is installed (Open MPI: apt-get install openmpi-bin)")
}

/// What each case does on every process. Process 0 writes the parameters it ends with to
/// `OUT.safetensors` and its losses to `OUT.losses`; every process writes its error, if any,
/// to `OUT.RANK.error`.
#[test]
#[ignore = "started by the other tests under mpirun"]
fn worker() {
    let (case, out) = match (std::env::var("SYMGRAD_MPI_CASE"), std::env::var("SYMGRAD_MPI_OUT")) {
        (Ok(case), Ok(out)) => (case, PathBuf::from(out)),
        _ => return,
    };
    let mpi = Mpi::initialize().expect("MPI initialises once");
    let rank = symgrad::train::Workers::rank(&mpi);
    let (train_set, val) = digits();
    let mut model = Net::<f32>::new(&mut StdRng::seed_from_u64(u64::try_from(rank).unwrap() + 1));
    let outcome = match case.as_str() {
        "one step" => train::fit_on(&mpi, &mut model, &train_set, &val, &config(1, 400)),
        "three epochs" => train::fit_on(&mpi, &mut model, &train_set, &val, &config(3, 40)),
        // 400 = 3 · 133 + 1: the last batch has one row, so process 0's share of it is empty.
        "a last batch of one" => train::fit_on(&mpi, &mut model, &train_set, &val, &config(1, 133)),
        "three epochs, overlapped" => {
            let config = TrainConfig {
                overlap: Some(0),
                ..config(3, 40)
            };
            train::fit_on(&mpi, &mut model, &train_set, &val, &config)
        }
        "checkpointed" => {
            let config = TrainConfig {
                checkpoint: Some(out.with_extension("checkpoint")),
                overwrite: true,
                ..config(1, 40)
            };
            train::fit_on(&mpi, &mut model, &train_set, &val, &config)
        }
        "another seed" => {
            let config = TrainConfig {
                seed: 3 + u64::try_from(rank).unwrap(),
                ..config(1, 40)
            };
            train::fit_on(&mpi, &mut model, &train_set, &val, &config)
        }
        "another overlap" => {
            let config = TrainConfig {
                overlap: Some(rank),
                ..config(1, 40)
            };
            train::fit_on(&mpi, &mut model, &train_set, &val, &config)
        }
        "batch of one" => train::fit_on(&mpi, &mut model, &train_set, &val, &config(1, 1)),
        "a process dies" => {
            if rank == 1 {
                std::process::exit(3);
            }
            train::fit_on(&mpi, &mut model, &train_set, &val, &config(1, 40))
        }
        other => panic!("unknown case {other}"),
    };
    match outcome {
        Ok(history) if rank == 0 => {
            checkpoint::save(&out, &checkpoint::named("", &model), &Default::default()).unwrap();
            let losses: Vec<String> = history.epochs.iter().map(|r| r.train_loss.to_string()).collect();
            std::fs::write(out.with_extension("losses"), losses.join(" ")).unwrap();
        }
        Ok(_) => {}
        Err(error) => std::fs::write(out.with_extension(format!("{rank}.error")), error.to_string()).unwrap(),
    }
}

/// The parameters process 0 wrote.
fn written(out: &Path) -> Net<f32> {
    let mut net = Net::<f32>::zeros();
    checkpoint::load::<f32>(out)
        .unwrap()
        .restore("", &mut net, out)
        .unwrap();
    net
}

/// The largest difference between two networks' parameters, relative to the largest parameter.
fn relative_difference(a: &Net<f32>, b: &Net<f32>) -> f32 {
    let pairs = [(&a.h_w, &b.h_w), (&a.z_w, &b.z_w)];
    let scale = pairs
        .iter()
        .flat_map(|(x, _)| x.iter())
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let diff = pairs
        .iter()
        .flat_map(|(x, y)| x.iter().zip(y.iter()))
        .chain(a.h_b.iter().zip(&b.h_b))
        .chain(a.z_b.iter().zip(&b.z_b))
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

/// One process trains as the workers did (process 0's initialisation, which they start from).
fn alone(config: &TrainConfig) -> (Net<f32>, train::History) {
    let (train_set, val) = digits();
    let mut model = Net::<f32>::new(&mut StdRng::seed_from_u64(1));
    let history = train::fit(&mut model, &train_set, &val, config).unwrap();
    (model, history)
}

fn assert_ran(output: &Output) {
    assert!(
        output.status.success(),
        "mpirun failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn one_step_on_two_processes_is_one_step_on_the_whole_batch() {
    let out = scratch("one-step.safetensors");
    assert_ran(&mpirun(2, "one step", &out));
    let (model, _) = alone(&config(1, 400));
    // Each process's share is 200 rows summed in f32; the two shares are added in f32 (one
    // more rounding). The whole batch sums 400 rows in f32: the two differ by the rounding of
    // f32 sums, a few units in the 7th digit of a gradient, times the step size.
    let difference = relative_difference(&written(&out), &model);
    assert!(difference < 1e-6, "{difference}");
    // The worker's second process started from another initialisation: had process 0's not
    // been copied to it, the difference would be of the order of the parameters themselves.
}

#[test]
fn a_short_run_on_two_processes_follows_the_same_loss_curve() {
    let out = scratch("three-epochs.safetensors");
    assert_ran(&mpirun(2, "three epochs", &out));
    let (model, history) = alone(&config(3, 40));
    let losses: Vec<f64> = std::fs::read_to_string(out.with_extension("losses"))
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(losses.len(), 3);
    for (two, one) in losses.iter().zip(&history.epochs) {
        // f32 rounding of the shares' sums, compounded over 30 steps.
        assert!(
            (two - one.train_loss).abs() <= 1e-5 * one.train_loss,
            "{two} vs {}",
            one.train_loss
        );
    }
    assert!(relative_difference(&written(&out), &model) < 1e-5);
}

/// A process with no rows in a batch (the last one, smaller than the number of processes)
/// contributes zeros, and the run is the run on one process.
#[test]
fn a_process_without_rows_in_the_last_batch_contributes_nothing() {
    let out = scratch("last-batch-of-one.safetensors");
    assert_ran(&mpirun(2, "a last batch of one", &out));
    assert_eq!(errors(&out), [String::new(), String::new()]);
    let (model, _) = alone(&config(1, 133));
    // As for one step: shares summed in f32, four steps.
    assert!(relative_difference(&written(&out), &model) < 1e-5);
}

/// Summing each gradient as the backward pass finishes it, or all of them after it, adds the
/// same two numbers for every element: the same run, bit for bit.
#[test]
fn overlapping_the_sums_with_the_backward_pass_changes_nothing() {
    let (overlapped, whole) = (scratch("overlapped.safetensors"), scratch("whole.safetensors"));
    assert_ran(&mpirun(2, "three epochs, overlapped", &overlapped));
    assert_ran(&mpirun(2, "three epochs", &whole));
    assert_eq!(written(&overlapped), written(&whole));
    let losses = |out: &Path| std::fs::read_to_string(out.with_extension("losses")).unwrap();
    assert_eq!(losses(&overlapped), losses(&whole));
}

#[test]
fn a_run_checkpointed_on_two_processes_resumes_on_one() {
    let out = scratch("checkpointed.safetensors");
    assert_ran(&mpirun(2, "checkpointed", &out));
    let (train_set, val) = digits();
    let mut model = Net::<f32>::zeros();
    let config = TrainConfig {
        checkpoint: Some(out.with_extension("checkpoint")),
        resume: true,
        ..config(2, 40)
    };
    let history = train::fit(&mut model, &train_set, &val, &config).unwrap();
    assert_eq!(history.epochs.len(), 2, "one epoch resumed, one trained");
    let (straight, _) = alone(&self::config(2, 40));
    assert!(relative_difference(&model, &straight) < 1e-5);
}

/// The error each process wrote.
fn errors(out: &Path) -> [String; 2] {
    [0, 1].map(|rank| std::fs::read_to_string(out.with_extension(format!("{rank}.error"))).unwrap_or_default())
}

/// Runs `scenario` on two processes, which must both end with an error saying `expected`.
fn both_report(scenario: &str, file: &str, expected: &str) {
    let out = scratch(file);
    assert_ran(&mpirun(2, scenario, &out));
    for error in errors(&out) {
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn processes_that_disagree_stop_with_an_error_naming_the_one_that_differs() {
    both_report("another seed", "another-seed.safetensors", "process 1 has another seed");
    // Their all-reduces would not match: one process would wait for the other for ever.
    both_report(
        "another overlap",
        "another-overlap.safetensors",
        "process 1 has another seed",
    );
}

#[test]
fn a_batch_smaller_than_the_processes_is_an_error() {
    both_report(
        "batch of one",
        "batch-of-one.safetensors",
        "fewer samples than the 2 processes",
    );
}

#[test]
fn a_process_that_dies_stops_the_run_with_a_message_naming_it() {
    let out = scratch("dies.safetensors");
    let output = mpirun(2, "a process dies", &out);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Open MPI's launcher ends the others and names the process (`[[job, 1], rank]`) and its
    // exit status.
    assert!(
        stderr.contains("Process name: [[") && stderr.contains(",1],1]"),
        "{stderr}"
    );
    assert!(stderr.contains("Exit code:    3"), "{stderr}");
}
