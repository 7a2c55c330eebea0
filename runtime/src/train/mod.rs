//! Mini-batch training and full-batch gradient descent, with metrics, progress output, stopping
//! rules and a divergence guard.
//!
//! Each epoch draws a fresh permutation of the training set from the run's seeded RNG and cuts
//! it into batches (the last one smaller when the size does not divide); each batch is gathered
//! into preallocated buffers, so a step allocates nothing, except that the channel and exchange
//! corruptions draw a permutation (a small vector) per row. Dropout is on while training and off
//! while evaluating. A non-finite loss or gradient stops the run with an error naming the epoch
//! and step, or, if so configured, rolls the parameters back to the start of the epoch and
//! shrinks the step size.

mod descent;
mod evaluate;
mod history;
mod progress;
mod state;
mod workers;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

use ndarray::{Array2, ArrayViewD, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::checkpoint;
use crate::data::FromExamples;
use crate::data::{Corruption, Dataset, Examples};
use crate::error::{Error, Result};
use crate::optim::{Optim, Optimizer, Schedule, grad_norm};
use crate::scalar::Scalar;

pub use descent::{DescentStep, gradient_descent};
pub use evaluate::{Evaluation, confusion_matrix, confusion_table, evaluate, outputs, predict};
pub use history::{EpochRecord, History, Stop};
use progress::Progress;
use state::{Run, TrainingState};
#[cfg(feature = "mpi")]
pub use workers::Mpi;
pub use workers::{Alone, Parts, Workers, share};
use workers::{Reduction, agree, pack, reduce_step, unpack, zero};

/// What to do when the loss or a gradient stops being finite.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum OnDivergence {
    /// Stop with an [`Error::NonFinite`] naming the epoch and step.
    Stop,
    /// Restore the parameters of the epoch's start, multiply the step size by `factor` and
    /// run the epoch again (at most `retries` times in a row).
    RollBack {
        /// What each roll-back multiplies the step size by.
        factor: f64,
        /// The most roll-backs in a row before the run stops with the error.
        retries: usize,
    },
}

/// How much the run prints (to standard error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verbosity {
    /// Nothing.
    Quiet,
    /// On a terminal, the progress bar alone; nothing elsewhere (for programs that print their
    /// own summary of several runs).
    Bar,
    /// A line per epoch; on a terminal also the progress bar.
    Progress,
}

/// The settings of a run. As JSON (serde), a missing field takes its [default](Self::default).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// The most epochs to run.
    pub epochs: usize,
    /// Samples per batch.
    pub batch_size: usize,
    /// The base step size `α`.
    pub learning_rate: f64,
    /// How `α` changes with the epoch.
    pub schedule: Schedule,
    /// The update rule.
    pub optimizer: Optimizer,
    /// `λ` of the L2 penalty.
    pub weight_decay: f64,
    /// Seeds the shuffling and the dropout masks.
    pub seed: u64,
    /// Stop after this many epochs without a better validation accuracy (early stopping).
    pub patience: Option<usize>,
    /// Stop once the validation accuracy reaches this.
    pub target_accuracy: Option<f64>,
    /// Stop once the mean gradient norm of an epoch falls to this.
    pub min_grad_norm: Option<f64>,
    /// Keep the parameters of the epoch with the best validation accuracy at the end.
    pub keep_best: bool,
    /// The divergence guard.
    pub on_divergence: OnDivergence,
    /// Output.
    pub verbosity: Verbosity,
    /// Save the whole training state here after every epoch (atomically). An existing file
    /// is replaced only by a run that resumes from it or is told to overwrite it.
    pub checkpoint: Option<PathBuf>,
    /// Continue from `checkpoint` if it exists, exactly as if the run had never stopped; a
    /// checkpoint of another seed, data set, network or optimiser is refused.
    pub resume: bool,
    /// Replace an existing `checkpoint` with a fresh run.
    pub overwrite: bool,
    /// Corrupt each training batch (a denoising autoencoder); the clean rows are the target.
    pub corruption: Option<Corruption>,
    /// Over several processes, sum the gradient in buckets of at least this many elements
    /// (whole parameters' gradients, from the last layer's), each started as soon as the
    /// backward pass has finished its gradients, while it computes the others; `None` (the
    /// default): the whole gradient in one all-reduce after the pass. The same results either
    /// way; which is faster depends on the MPI library and the network (README.md has this
    /// machine's figures, where overlap was slower).
    pub overlap: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 64,
            learning_rate: 1e-3,
            schedule: Schedule::Constant,
            optimizer: Optimizer::ADAM,
            weight_decay: 0.0,
            seed: 0,
            patience: None,
            target_accuracy: None,
            min_grad_norm: None,
            keep_best: true,
            on_divergence: OnDivergence::Stop,
            verbosity: Verbosity::Progress,
            checkpoint: None,
            resume: false,
            overwrite: false,
            corruption: None,
            overlap: None,
        }
    }
}

/// Gathers permuted rows into contiguous batch buffers without allocating, corrupting them
/// if the run asks for it (the clean rows are kept as the target).
struct Batcher<T> {
    features: Array2<T>,
    clean: Option<Array2<T>>,
    targets: Option<Array2<T>>,
    labels: Vec<usize>,
}

impl<T: Scalar> Batcher<T> {
    /// Buffers for batches of `data`, corrupted or not.
    fn new(batch_size: usize, data: &Dataset<T>, corrupted: bool) -> Self {
        let width = data.width();
        Batcher {
            features: Array2::zeros((batch_size, width)),
            clean: corrupted.then(|| Array2::zeros((batch_size, width))),
            targets: data.targets.as_ref().map(|t| Array2::zeros((batch_size, t.ncols()))),
            labels: vec![0; if data.labels.is_empty() { 0 } else { batch_size }],
        }
    }

    fn gather<R: rand::Rng>(
        &mut self,
        data: &Dataset<T>,
        indices: &[usize],
        corruption: Option<(&Corruption, &mut R)>,
    ) -> Examples<'_, T> {
        for (row, &i) in indices.iter().enumerate() {
            self.features.row_mut(row).assign(&data.features.row(i));
            if let Some(label) = self.labels.get_mut(row) {
                *label = data.labels[i];
            }
            if let (Some(targets), Some(all)) = (self.targets.as_mut(), data.targets.as_ref()) {
                targets.row_mut(row).assign(&all.row(i));
            }
        }
        let n = indices.len();
        if let (Some((corruption, rng)), Some(clean)) = (corruption, self.clean.as_mut()) {
            clean.slice_mut(s![..n, ..]).assign(&self.features.slice(s![..n, ..]));
            corruption.apply(rng, self.features.slice_mut(s![..n, ..]));
        }
        let features = self.features.slice(s![..n, ..]);
        let clean = self.clean.as_ref().map_or(features, |c| c.slice(s![..n, ..]));
        Examples {
            features,
            labels: &self.labels[..n.min(self.labels.len())],
            clean,
            targets: self.targets.as_ref().map(|t| t.slice(s![..n, ..])),
        }
    }
}

/// Checks the settings that do not depend on the data: at least one sample per batch, `resume`
/// only with a checkpoint, an existing checkpoint replaced only when resuming or
/// told to, and a checkpoint path that can be written (checked now, not after the first epoch).
fn check_config(config: &TrainConfig) -> Result<()> {
    let error = |setting: &str, message: &str| {
        Err(Error::Config {
            setting: setting.into(),
            message: message.into(),
        })
    };
    if config.batch_size == 0 {
        return error("batch_size", "must be at least 1");
    }
    match &config.checkpoint {
        None if config.resume => error("resume", "needs a checkpoint to resume from"),
        Some(path) if path.exists() && !config.resume && !config.overwrite => error(
            &path.display().to_string(),
            "exists; resume from it, or overwrite it to start afresh",
        ),
        Some(path) => checkpoint::check_writable(path),
        None => Ok(()),
    }
}

/// Trains `model` on `train` with mini-batches, validating on `val` after every epoch.
///
/// Settings that cannot work are errors before the first step (see [`TrainConfig`]); so are
/// data sets with a non-finite feature or a label out of range, and a set without labels for
/// a network whose target is class labels. The `symgrad` crate's front page trains a network
/// defined with `network!` this way.
pub fn fit<T: Scalar, M: FromExamples<T>>(
    model: &mut M,
    train: &Dataset<T>,
    val: &Dataset<T>,
    config: &TrainConfig,
) -> Result<History> {
    fit_on(&Alone, model, train, val, config)
}

/// [`fit`] spread over the processes of `workers`, each called with the same arguments (see
/// [`Workers`]). Process 0's initial parameters are copied to the others; each global batch of
/// `batch_size` samples is split into contiguous shares ([`share`]), one per process; the
/// gradients of the shares, weighted by their sizes, are summed by one all-reduce into the
/// gradient of the batch, and every process takes the same step. The shuffling is one
/// permutation from the seed; dropout masks and corruptions come from a stream of their own
/// per process and epoch. Process 0 alone prints progress and writes the checkpoint; a resume
/// reads it on every process, with any number of processes.
///
/// Processes that disagree on the seed, the data, the network, the optimiser or the batch size
/// are an error on every process, as is a batch smaller than the number of processes; a process
/// whose step fails stops the others with an error naming it.
pub fn fit_on<T: Scalar, M: FromExamples<T>, W: Workers + ?Sized>(
    workers: &W,
    model: &mut M,
    train: &Dataset<T>,
    val: &Dataset<T>,
    config: &TrainConfig,
) -> Result<History> {
    let (rank, size) = (workers.rank(), workers.size());
    check_config(config)?;
    if config.batch_size < size {
        return Err(Error::Config {
            setting: "batch_size".into(),
            message: format!(
                "is {}, fewer samples than the {size} processes: each needs a share of every batch",
                config.batch_size
            ),
        });
    }
    evaluate::check_feeds::<T, M>(train, "fit: the training set")?;
    evaluate::check_feeds::<T, M>(val, "fit: the validation set")?;
    if train.is_empty() || val.is_empty() {
        return Err(Error::Empty {
            op: "fit",
            what: if train.is_empty() {
                "training set"
            } else {
                "validation set"
            },
        });
    }
    let batch_size = config.batch_size.min(train.len());
    let run =
        (config.checkpoint.is_some() || size > 1).then(|| Run::new(model, config.seed, config.optimizer, train, val));
    if let (Some(run), true) = (&run, size > 1) {
        agree(workers, run.fingerprint(batch_size, config.overlap))?;
        let mut values = Vec::new();
        pack(&*model, &mut values);
        workers.broadcast(&mut values);
        unpack(&values, model);
    }
    let main = rank == 0;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut ws = model.workspace(batch_size);
    let mut grads = M::zeros();
    let mut optim = Optim::new(config.optimizer, config.weight_decay);
    let mut batcher = Batcher::new(batch_size, train, config.corruption.is_some());
    let mut order: Vec<usize> = (0..train.len()).collect();
    let verbosity = if main { config.verbosity } else { Verbosity::Quiet };
    let progress = Progress::new(verbosity, config.epochs, train.len());
    let mut reduction = Reduction::default();
    let mut history = History {
        epochs: Vec::new(),
        stop: Stop::Epochs,
        best_epoch: 0,
    };
    let (mut best_score, mut best_model) = (f64::NEG_INFINITY, None::<M>);
    let mut rate_scale = 1.0;
    let mut epoch = 0;
    let mut retries = 0;
    if let (Some(path), Some(run)) = (config.checkpoint.as_ref().filter(|p| config.resume && p.exists()), &run) {
        let state = TrainingState::load(path, model, &mut optim, run)?;
        (epoch, rate_scale, rng, order) = (state.epoch, state.rate_scale, state.rng, state.order);
        (history.epochs, history.best_epoch, best_score, best_model) =
            (state.records, state.best_epoch, state.best_score, state.best_model);
        progress.message(&format!("resumed from {} after epoch {epoch}", path.display()));
    }
    while epoch < config.epochs {
        let rate = config.schedule.rate(config.learning_rate, epoch) * rate_scale;
        let snapshot =
            matches!(config.on_divergence, OnDivergence::RollBack { .. }).then(|| (model.clone(), optim.clone()));
        let started = Instant::now();
        order.shuffle(&mut rng);
        // Alone, masks and corruptions come from the run's generator, as they always have; spread
        // over processes, from a stream of this process and epoch, so a resume with any number of
        // processes draws them afresh.
        let mut own_rng = (size > 1).then(|| {
            let mut own = ChaCha8Rng::seed_from_u64(config.seed);
            own.set_stream(((epoch as u64) << 20) | (rank as u64 + 1));
            own
        });
        let (mut loss_sum, mut norm_sum, mut steps) = (0.0, 0.0, 0usize);
        let mut diverged = None;
        for (step, indices) in order.chunks(batch_size).enumerate() {
            let local = own_rng.as_mut().unwrap_or(&mut rng);
            let mine = &indices[share(indices.len(), rank, size)];
            let mut compute = |grads: &mut M, on_final: &mut dyn FnMut(usize, ArrayViewD<'_, T>)| {
                if mine.is_empty() {
                    // No rows here (a last batch smaller than the processes): a zero gradient.
                    zero(grads);
                    (0..grads.count()).for_each(|i| on_final(i, grads.param(i)));
                    return Ok(0.0);
                }
                let corruption = config.corruption.as_ref().map(|c| (c, &mut *local));
                M::batch(batcher.gather(train, mine, corruption))
                    .and_then(|batch| model.loss_and_grad_with_hook(&mut ws, &batch, local, grads, on_final))
                    .map(|loss| loss.to_f64())
            };
            let loss = if size > 1 {
                let weight = mine.len() as f64 / indices.len() as f64;
                let at = || format!("epoch {}, step {}", epoch + 1, step + 1);
                let bucket = config.overlap.unwrap_or(usize::MAX);
                reduce_step(workers, &mut reduction, bucket, weight, &mut grads, compute, at)
            } else {
                compute(&mut grads, &mut |_, _| {})
            };
            let loss = match loss {
                Ok(loss) => loss,
                Err(error) => {
                    progress.finish();
                    return Err(error);
                }
            };
            let norm = grad_norm(&grads);
            if !loss.is_finite() || !norm.is_finite() {
                let what = if loss.is_finite() {
                    "gradient norm"
                } else {
                    "training loss"
                };
                let value = if loss.is_finite() { norm } else { loss };
                diverged = Some(Error::NonFinite {
                    what: what.into(),
                    location: format!("epoch {}, step {}", epoch + 1, step + 1),
                    value,
                });
                break;
            }
            optim.step(model, &grads, rate);
            loss_sum += loss;
            norm_sum += norm;
            steps += 1;
            progress.step(epoch, steps * batch_size, train.len(), loss_sum / steps as f64, started);
        }
        if let Some(error) = diverged {
            match (config.on_divergence, snapshot) {
                (OnDivergence::RollBack { factor, retries: max }, Some((good_model, good_optim))) if retries < max => {
                    *model = good_model;
                    optim = good_optim;
                    rate_scale *= factor;
                    retries += 1;
                    progress.message(&format!("{error}; rolled back, step size now {:.3e}", rate * factor));
                    continue;
                }
                _ => {
                    progress.finish();
                    return Err(error);
                }
            }
        }
        retries = 0;
        let seconds = started.elapsed().as_secs_f64();
        let eval = evaluate::evaluate_checked(model, &mut ws, val, batch_size)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: loss_sum / steps as f64,
            val_loss: eval.loss,
            val_accuracy: eval.accuracy,
            rate,
            grad_norm: norm_sum / steps as f64,
            samples_per_second: train.len() as f64 / seconds.max(1e-9),
        };
        progress.epoch(&record);
        history.epochs.push(record);
        epoch += 1;
        // The best epoch: the highest accuracy, or the lowest loss where there is no accuracy.
        let score = if eval.accuracy.is_nan() {
            -eval.loss
        } else {
            eval.accuracy
        };
        if score > best_score {
            best_score = score;
            history.best_epoch = epoch;
            if config.keep_best {
                best_model = Some(model.clone());
            }
        }
        if let (Some(path), Some(run), true) = (&config.checkpoint, &run, main) {
            let state = TrainingState {
                epoch,
                rate_scale,
                rng: rng.clone(),
                order: order.clone(),
                records: history.epochs.clone(),
                best_epoch: history.best_epoch,
                best_score,
                best_model: best_model.clone(),
            };
            state.save(path, model, &optim, run)?;
        }
        if config.target_accuracy.is_some_and(|t| eval.accuracy >= t) {
            history.stop = Stop::Target;
            break;
        }
        if config.min_grad_norm.is_some_and(|g| record.grad_norm <= g) {
            history.stop = Stop::GradientNorm;
            break;
        }
        if config.patience.is_some_and(|p| epoch - history.best_epoch >= p) {
            history.stop = Stop::Patience;
            break;
        }
    }
    progress.finish();
    if let Some(best) = best_model {
        *model = best;
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;

    #[test]
    fn configurations_read_from_json_take_defaults_for_missing_fields() {
        let config = TrainConfig {
            epochs: 3,
            optimizer: Optimizer::Momentum {
                momentum: 0.9,
                nesterov: true,
            },
            schedule: Schedule::Cosine { epochs: 3, floor: 1e-5 },
            checkpoint: Some("run.safetensors".into()),
            corruption: Some(Corruption::Masking { fraction: 0.25 }),
            on_divergence: OnDivergence::RollBack {
                factor: 0.5,
                retries: 2,
            },
            ..TrainConfig::default()
        };
        let text = serde_json::to_string(&config).unwrap();
        let back: TrainConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{config:?}"));
        let partial: TrainConfig = serde_json::from_str(r#"{"epochs": 7, "optimizer": "Sgd"}"#).unwrap();
        assert_eq!((partial.epochs, partial.optimizer), (7, Optimizer::Sgd));
        assert_eq!(partial.batch_size, TrainConfig::default().batch_size);
        let error = serde_json::from_str::<TrainConfig>(r#"{"epochs": -1}"#).unwrap_err();
        assert!(error.to_string().contains("invalid value"), "{error}");
    }

    #[test]
    fn corrupted_batches_keep_clean_targets() {
        let features = Array2::from_shape_fn((6, 4), |(i, j)| 1.0 + (i * 4 + j) as f64);
        let data = Dataset::new(features, vec![0, 1, 0, 1, 0, 1], 2).unwrap();
        let mut batcher = Batcher::new(4, &data, true);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let masking = Corruption::Masking { fraction: 0.5 };
        let examples = batcher.gather(&data, &[5, 2, 0], Some((&masking, &mut rng)));
        assert_eq!(examples.clean, data.features.select(Axis(0), &[5, 2, 0]));
        assert_ne!(examples.features, examples.clean);
        assert!(
            examples
                .features
                .iter()
                .zip(&examples.clean)
                .all(|(&x, &c)| x == 0.0 || x == c)
        );
        assert_eq!(examples.labels, &[1, 0, 0]);
    }
}
