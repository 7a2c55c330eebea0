//! The main job: trains a classifier defined with `network!` and reports its test accuracy.
//!
//! ```text
//! cargo run --release                       # the embedded 8×8 digits, in seconds
//! cargo run --release -- --fashion          # Fashion-MNIST from /usr/share/datasets/fashion-mnist
//! cargo run --release -- --fashion DIR      # ... or from DIR
//! ```
//! Options: `--epochs N`, `--batch-size B`, `--seed S`, `--history FILE.csv` (and its PNG plots),
//! `--checkpoint FILE.safetensors` (saved after every epoch; with `--resume`, continued from;
//! an existing one is replaced only with `--overwrite`), `--quiet`, `--threads N` (threads per
//! large product; more than one needs the `threading` feature). Output paths are checked
//! before training starts.
//!
//! Built with the `mpi` feature, `mpirun -np N target/release/symgrad [OPTIONS]` trains
//! data-parallel over N processes (`train::fit_on`); process 0 prints and writes the files.
//! `--overlap ELEMENTS` sums the gradient in buckets of at least that many elements, each as
//! soon as the backward pass has finished it, instead of the whole gradient after the pass.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use symgrad::data::{Dataset, Source};
use symgrad::prelude::*;
use symgrad::rand::SeedableRng;
use symgrad::rand::rngs::StdRng;
use symgrad::train::{self, Alone, TrainConfig, Verbosity, Workers};

mod nets;
use nets::{DigitsNet, FashionNet};

struct Args {
    source: Source,
    epochs: Option<usize>,
    seed: u64,
    history: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    resume: bool,
    overwrite: bool,
    quiet: bool,
    batch_size: Option<usize>,
    threads: Option<usize>,
    overlap: Option<usize>,
}

const USAGE: &str = "usage: symgrad [--fashion [DIR]] [--epochs N] [--batch-size B] [--seed S] \
                     [--history FILE.csv] [--checkpoint FILE.safetensors [--resume | --overwrite]] [--quiet] \
                     [--threads N] [--overlap ELEMENTS]";

/// The command line; `--flag value` and `--flag=value` both work.
fn parse_args() -> Result<Args, String> {
    use symgrad::cli::lexopt::prelude::*;
    let mut args = Args {
        source: Source::Digits,
        epochs: None,
        seed: 0,
        history: None,
        checkpoint: None,
        resume: false,
        overwrite: false,
        quiet: false,
        batch_size: None,
        threads: None,
        overlap: None,
    };
    let mut parser = symgrad::cli::lexopt::Parser::from_env();
    let words = |e: symgrad::cli::lexopt::Error| e.to_string();
    while let Some(arg) = parser.next().map_err(words)? {
        match arg {
            Long("fashion") => args.source = symgrad::cli::fashion(&mut parser).map_err(words)?,
            Long("epochs") => args.epochs = Some(parser.value().and_then(|v| v.parse()).map_err(words)?),
            Long("batch-size") => args.batch_size = Some(parser.value().and_then(|v| v.parse()).map_err(words)?),
            Long("seed") => args.seed = parser.value().and_then(|v| v.parse()).map_err(words)?,
            Long("history") => args.history = Some(parser.value().map_err(words)?.into()),
            Long("checkpoint") => args.checkpoint = Some(parser.value().map_err(words)?.into()),
            Long("resume") => args.resume = true,
            Long("overwrite") => args.overwrite = true,
            Long("quiet") => args.quiet = true,
            Long("threads") => args.threads = Some(parser.value().and_then(|v| v.parse()).map_err(words)?),
            Long("overlap") => args.overlap = Some(parser.value().and_then(|v| v.parse()).map_err(words)?),
            Short('h') | Long("help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("{}; try --help", other.unexpected())),
        }
    }
    if args.batch_size == Some(0) {
        return Err("--batch-size must be at least 1".into());
    }
    if let Some(threads) = args.threads {
        symgrad::gemm::set_threads(threads).map_err(|e| format!("--threads {threads}: {e}"))?;
    }
    if args.epochs == Some(0) {
        return Err("--epochs must be at least 1".into());
    }
    if (args.resume || args.overwrite) && args.checkpoint.is_none() {
        return Err("--resume and --overwrite need --checkpoint FILE".into());
    }
    if args.resume && args.overwrite {
        return Err("--resume and --overwrite exclude each other".into());
    }
    Ok(args)
}

/// Trains `M` on `train` (holding out a stratified tenth for validation) and tests it.
fn run<M: FromExamples<f32>>(
    workers: &dyn Workers,
    (train, test): (Dataset<f32>, Dataset<f32>),
    config: TrainConfig,
    args: &Args,
) -> Result<f64> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (train, val) = train.split_stratified(0.1, &mut rng)?;
    let main = workers.rank() == 0;
    if !args.quiet && main {
        eprintln!(
            "training on {} samples ({} validation, {} test), {} features, {} classes",
            train.len(),
            val.len(),
            test.len(),
            train.width(),
            train.classes
        );
    }
    if let (Some(path), true) = (&args.history, main) {
        for file in train::History::files(path) {
            symgrad::checkpoint::check_writable(&file)?;
        }
    }
    let mut model = M::init(&mut rng);
    let started = Instant::now();
    let history = train::fit_on(workers, &mut model, &train, &val, &config)?;
    let seconds = started.elapsed().as_secs_f64();
    if !main {
        return Ok(f64::NAN);
    }
    if let Some(path) = &args.history {
        history.write_csv(path)?;
        for file in history.write_plots(path)? {
            eprintln!("wrote {}", file.display());
        }
    }
    let mut ws = model.workspace(config.batch_size);
    let result = train::evaluate(&model, &mut ws, &test, 256)?;
    let best = &history.epochs[history.best_epoch - 1];
    println!(
        "test accuracy {:.4}  (test loss {:.4}; best validation accuracy {:.4} at epoch {} of {}; {:.1} s, {:.0} samples/s)",
        result.accuracy,
        result.loss,
        best.val_accuracy,
        history.best_epoch,
        history.epochs.len(),
        seconds,
        history.epochs.iter().map(|r| r.samples_per_second).sum::<f64>() / history.epochs.len() as f64
    );
    Ok(result.accuracy)
}

/// Adam with a cosine schedule, keeping the last epoch's parameters; the defaults given here
/// are the data set's, the command line overrides the epochs and the batch size.
fn config(args: &Args, epochs: usize, batch_size: usize, learning_rate: f64) -> TrainConfig {
    let epochs = args.epochs.unwrap_or(epochs);
    TrainConfig {
        epochs,
        batch_size: args.batch_size.unwrap_or(batch_size),
        learning_rate,
        schedule: Schedule::Cosine { epochs, floor: 1e-5 },
        keep_best: false,
        seed: args.seed,
        verbosity: if args.quiet {
            Verbosity::Quiet
        } else {
            Verbosity::Progress
        },
        checkpoint: args.checkpoint.clone(),
        resume: args.resume,
        overwrite: args.overwrite,
        overlap: args.overlap,
        ..TrainConfig::default()
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    #[cfg(feature = "mpi")]
    let mpi = train::Mpi::initialize();
    #[cfg(feature = "mpi")]
    let workers: &dyn Workers = match &mpi {
        Some(mpi) => mpi,
        None => &Alone,
    };
    #[cfg(not(feature = "mpi"))]
    let workers: &dyn Workers = &Alone;
    let outcome = args.source.load::<f32>(args.seed).and_then(|data| match args.source {
        Source::Digits => run::<DigitsNet>(workers, data, config(&args, 60, 32, 2e-3), &args),
        Source::FashionMnist(_) => run::<FashionNet>(workers, data, config(&args, 30, 128, 1e-3), &args),
    });
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) if workers.size() > 1 => {
            eprintln!("error (process {} of {}): {error}", workers.rank(), workers.size());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
