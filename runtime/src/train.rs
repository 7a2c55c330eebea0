//! Mini-batch training and full-batch gradient descent, with metrics, progress output, stopping
//! rules and a divergence guard.
//!
//! Each epoch draws a fresh permutation of the training set from the run's seeded RNG and cuts
//! it into batches (the last one smaller when the size does not divide); each batch is gathered
//! into preallocated buffers, so a step allocates nothing. Dropout is on while training and off
//! while evaluating. A non-finite loss or gradient stops the run with an error naming the epoch
//! and step, or, if so configured, rolls the parameters back to the start of the epoch and
//! shrinks the step size.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array2, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::checkpoint::{self, Checkpoint};
use crate::data::{Corruption, Dataset, Examples};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::{BoldDriver, Optim, Optimizer, Schedule, grad_norm};
use crate::params::Parameters;
use crate::scalar::Scalar;

/// What to do when the loss or a gradient stops being finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OnDivergence {
    /// Stop with an [`Error::NonFinite`] naming the epoch and step.
    Stop,
    /// Restore the parameters of the epoch's start, multiply the step size by `factor` and
    /// run the epoch again (at most `retries` times in a row).
    RollBack { factor: f64, retries: usize },
}

/// How much the run prints (to standard error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing.
    Quiet,
    /// A line per epoch; on a terminal also a live progress line during the epoch.
    Progress,
}

/// The settings of a run.
#[derive(Clone, Debug)]
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
    /// Save the whole training state here after every epoch (atomically).
    pub checkpoint: Option<PathBuf>,
    /// Continue from `checkpoint` if it exists, exactly as if the run had never stopped.
    pub resume: bool,
    /// Corrupt each training batch (a denoising autoencoder); the clean rows are the target.
    pub corruption: Option<Corruption>,
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
            corruption: None,
        }
    }
}

/// The metrics of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (training mode).
    pub train_loss: f64,
    /// Loss on the validation set (evaluation mode).
    pub val_loss: f64,
    /// Accuracy on the validation set.
    pub val_accuracy: f64,
    /// The step size used.
    pub rate: f64,
    /// Mean gradient norm over the epoch's batches.
    pub grad_norm: f64,
    /// Training throughput.
    pub samples_per_second: f64,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The epoch limit.
    Epochs,
    /// No better validation accuracy for `patience` epochs.
    Patience,
    /// The target accuracy was reached.
    Target,
    /// The gradient norm fell below the threshold.
    GradientNorm,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Why it ended.
    pub stop: Stop,
    /// The epoch (from 1) with the best validation accuracy.
    pub best_epoch: usize,
}

impl History {
    /// The history as CSV, one row per epoch.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("epoch,train_loss,val_loss,val_accuracy,rate,grad_norm,samples_per_second\n");
        for r in &self.epochs {
            out += &format!(
                "{},{},{},{},{},{},{}\n",
                r.epoch, r.train_loss, r.val_loss, r.val_accuracy, r.rate, r.grad_norm, r.samples_per_second
            );
        }
        out
    }

    /// Reads back what [`to_csv`](Self::to_csv) wrote.
    fn records_from_csv(text: &str) -> Option<Vec<EpochRecord>> {
        text.lines()
            .skip(1)
            .map(|line| {
                let f: Vec<f64> = line.split(',').map(|v| v.parse().ok()).collect::<Option<_>>()?;
                let [
                    epoch,
                    train_loss,
                    val_loss,
                    val_accuracy,
                    rate,
                    grad_norm,
                    samples_per_second,
                ] = f[..]
                else {
                    return None;
                };
                Some(EpochRecord {
                    epoch: epoch as usize,
                    train_loss,
                    val_loss,
                    val_accuracy,
                    rate,
                    grad_norm,
                    samples_per_second,
                })
            })
            .collect()
    }

    /// Plots the loss curves (training and validation) and the validation accuracy into
    /// `{stem}-loss.png` and `{stem}-accuracy.png` beside `path`; returns the legends.
    pub fn write_plots(&self, path: &Path) -> Result<Vec<String>> {
        let stem = path.with_extension("");
        let curve = |name: &str, value: fn(&EpochRecord) -> f64| crate::plot::Series {
            name: name.to_owned(),
            points: self.epochs.iter().map(|r| (r.epoch as f64, value(r))).collect(),
        };
        let loss_path = PathBuf::from(format!("{}-loss.png", stem.display()));
        let accuracy_path = PathBuf::from(format!("{}-accuracy.png", stem.display()));
        let mut legend = vec![format!("{}:", loss_path.display())];
        legend.extend(crate::plot::line_chart(
            &loss_path,
            &[
                curve("training loss", |r| r.train_loss),
                curve("validation loss", |r| r.val_loss),
            ],
            true,
            (640, 400),
        )?);
        legend.push(format!("{}:", accuracy_path.display()));
        legend.extend(crate::plot::line_chart(
            &accuracy_path,
            &[curve("validation accuracy", |r| r.val_accuracy)],
            false,
            (640, 400),
        )?);
        Ok(legend)
    }

    /// Writes [`to_csv`](Self::to_csv) to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_csv()).map_err(|e| Error::io(path.display(), &e))
    }
}

/// Loss and accuracy on a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss over the samples (evaluation mode).
    pub loss: f64,
    /// Fraction of samples whose largest output is their label.
    pub accuracy: f64,
}

/// Gathers permuted rows into contiguous batch buffers without allocating, corrupting them
/// if the run asks for it (the clean rows are kept as the target).
struct Batcher<T> {
    features: Array2<T>,
    clean: Option<Array2<T>>,
    labels: Vec<usize>,
}

impl<T: Scalar> Batcher<T> {
    fn new(batch_size: usize, width: usize, corrupted: bool) -> Self {
        Batcher {
            features: Array2::zeros((batch_size, width)),
            clean: corrupted.then(|| Array2::zeros((batch_size, width))),
            labels: vec![0; batch_size],
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
            self.labels[row] = data.labels[i];
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
            labels: &self.labels[..n],
            clean,
        }
    }
}

/// The samples `start..end` of `data`, uncorrupted.
fn examples<T: Scalar>(data: &Dataset<T>, start: usize, end: usize) -> Examples<'_, T> {
    Examples::new(data.features.slice(s![start..end, ..]), &data.labels[start..end])
}

/// `(start, end)` of consecutive batches covering `len` samples.
fn spans(len: usize, batch_size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len)
        .step_by(batch_size.max(1))
        .map(move |start| (start, (start + batch_size.max(1)).min(len)))
}

/// Loss and accuracy of `model` on `data`, in batches of `batch_size`, in evaluation mode.
/// The accuracy is NaN for a network without class labels (an autoencoder).
pub fn evaluate<T: Scalar, M: Model<T>>(
    model: &M,
    ws: &mut M::Workspace,
    data: &Dataset<T>,
    batch_size: usize,
) -> Result<Evaluation> {
    let (mut loss, mut correct) = (0.0, 0usize);
    for (start, end) in spans(data.len(), batch_size) {
        let batch = M::batch(examples(data, start, end))?;
        loss += model.loss(ws, &batch)?.to_f64() * (end - start) as f64;
        let output = model.output(ws, &batch)?;
        correct += output
            .rows()
            .into_iter()
            .zip(&data.labels[start..end])
            .filter(|(row, label)| argmax(row.iter().copied()) == Some(**label))
            .count();
    }
    let n = data.len().max(1) as f64;
    Ok(Evaluation {
        loss: loss / n,
        accuracy: if M::classifies() { correct as f64 / n } else { f64::NAN },
    })
}

/// The predicted class (the largest output) of every sample of `data`, in evaluation mode.
pub fn predict<T: Scalar, M: Model<T>>(
    model: &M,
    ws: &mut M::Workspace,
    data: &Dataset<T>,
    batch_size: usize,
) -> Result<Vec<usize>> {
    let mut predictions = Vec::with_capacity(data.len());
    for (start, end) in spans(data.len(), batch_size) {
        let output = model.output(ws, &M::batch(examples(data, start, end))?)?;
        predictions.extend(
            output
                .rows()
                .into_iter()
                .map(|row| argmax(row.iter().copied()).unwrap_or(0)),
        );
    }
    Ok(predictions)
}

/// The outputs of `model` for every sample of `data`, in evaluation mode, one row each (an
/// autoencoder's reconstructions, an encoder's codes).
pub fn outputs<T: Scalar, M: Model<T>>(
    model: &M,
    ws: &mut M::Workspace,
    data: &Dataset<T>,
    batch_size: usize,
) -> Result<Array2<T>> {
    let mut rows: Option<Array2<T>> = None;
    for (start, end) in spans(data.len(), batch_size) {
        let output = model.output(ws, &M::batch(examples(data, start, end))?)?;
        let all = rows.get_or_insert_with(|| Array2::zeros((data.len(), output.ncols())));
        all.slice_mut(s![start..end, ..]).assign(&output);
    }
    Ok(rows.unwrap_or_else(|| Array2::zeros((0, 0))))
}

/// `counts[true class][predicted class]`.
pub fn confusion_matrix(labels: &[usize], predictions: &[usize], classes: usize) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0; classes]; classes];
    for (&label, &predicted) in labels.iter().zip(predictions) {
        if label < classes && predicted < classes {
            counts[label][predicted] += 1;
        }
    }
    counts
}

fn argmax<T: Scalar>(values: impl Iterator<Item = T>) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, v) in values.enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// Trains `model` on `train` with mini-batches, validating on `val` after every epoch.
pub fn fit<T: Scalar, M: Model<T>>(
    model: &mut M,
    train: &Dataset<T>,
    val: &Dataset<T>,
    config: &TrainConfig,
) -> Result<History> {
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
    let batch_size = config.batch_size.clamp(1, train.len());
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut ws = model.workspace(batch_size);
    let mut grads = M::zeros();
    let mut optim = Optim::new(config.optimizer, config.weight_decay);
    let mut batcher = Batcher::new(batch_size, train.width(), config.corruption.is_some());
    let mut order: Vec<usize> = (0..train.len()).collect();
    let progress = Progress::new(config.verbosity, config.epochs);
    let mut history = History {
        epochs: Vec::new(),
        stop: Stop::Epochs,
        best_epoch: 0,
    };
    let (mut best_score, mut best_model) = (f64::NEG_INFINITY, None::<M>);
    let mut rate_scale = 1.0;
    let mut epoch = 0;
    let mut retries = 0;
    if let Some(path) = config.checkpoint.as_ref().filter(|p| config.resume && p.exists()) {
        let state = TrainingState::load(path, model, &mut optim)?;
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
        let (mut loss_sum, mut norm_sum, mut steps) = (0.0, 0.0, 0usize);
        let mut diverged = None;
        for (step, indices) in order.chunks(batch_size).enumerate() {
            let corruption = config.corruption.as_ref().map(|c| (c, &mut rng));
            let batch = M::batch(batcher.gather(train, indices, corruption))?;
            let loss = model.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads)?.to_f64();
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
        let eval = evaluate(model, &mut ws, val, batch_size)?;
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
        if let Some(path) = &config.checkpoint {
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
            state.save(path, model, &optim)?;
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

/// Everything a run needs to continue exactly where it stopped.
struct TrainingState<M> {
    epoch: usize,
    rate_scale: f64,
    rng: ChaCha8Rng,
    /// The permutation the next epoch shuffles (shuffling permutes it in place).
    order: Vec<usize>,
    records: Vec<EpochRecord>,
    best_epoch: usize,
    best_score: f64,
    best_model: Option<M>,
}

impl<M> TrainingState<M> {
    fn save<T: Scalar>(&self, path: &Path, model: &M, optim: &Optim<T>) -> Result<()>
    where
        M: Model<T>,
    {
        let mut tensors = checkpoint::named("model.", model);
        let names: Vec<String> = (0..model.count()).map(|i| model.name(i).to_owned()).collect();
        for (kind, moments) in [("first", &optim.first), ("second", &optim.second)] {
            for (name, m) in names.iter().zip(moments.iter()) {
                tensors.push((format!("optim.{kind}.{name}"), m.view()));
            }
        }
        if let Some(best) = &self.best_model {
            tensors.extend(checkpoint::named("best.", best));
        }
        let mut metadata = BTreeMap::new();
        let seed: String = self.rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
        for (key, value) in [
            ("format", "symgrad training state 1".to_owned()),
            ("epoch", self.epoch.to_string()),
            ("rate_scale", format!("{:e}", self.rate_scale)),
            ("optim.steps", optim.steps.to_string()),
            ("rng.seed", seed),
            ("rng.stream", self.rng.get_stream().to_string()),
            ("rng.word_pos", self.rng.get_word_pos().to_string()),
            (
                "order",
                self.order.iter().map(usize::to_string).collect::<Vec<_>>().join(" "),
            ),
            ("best_epoch", self.best_epoch.to_string()),
            ("best_score", format!("{:e}", self.best_score)),
            (
                "history",
                History {
                    epochs: self.records.clone(),
                    stop: Stop::Epochs,
                    best_epoch: 0,
                }
                .to_csv(),
            ),
        ] {
            metadata.insert(key.to_owned(), value);
        }
        checkpoint::save(path, &tensors, &metadata)
    }

    fn load<T: Scalar>(path: &Path, model: &mut M, optim: &mut Optim<T>) -> Result<Self>
    where
        M: Model<T>,
    {
        let file: Checkpoint<T> = checkpoint::load(path)?;
        let bad = |what: &str| {
            Error::format(
                path.display().to_string(),
                format!("training state: missing or malformed {what}"),
            )
        };
        let meta = |key: &str| file.metadata.get(key).ok_or_else(|| bad(key));
        let number = |key: &str| -> Result<f64> { meta(key)?.parse().map_err(|_| bad(key)) };
        file.restore("model.", model, path)?;
        let moments = |kind: &str| -> Vec<Array2<T>> {
            (0..model.count())
                .filter_map(|i| file.tensors.get(&format!("optim.{kind}.{}", model.name(i))).cloned())
                .collect()
        };
        optim.first = moments("first");
        optim.second = moments("second");
        optim.steps = meta("optim.steps")?.parse().map_err(|_| bad("optim.steps"))?;
        let best_model = if file.tensors.keys().any(|k| k.starts_with("best.")) {
            let mut best = model.clone();
            file.restore("best.", &mut best, path)?;
            Some(best)
        } else {
            None
        };
        let seed_hex = meta("rng.seed")?;
        let mut seed = [0u8; 32];
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = seed_hex
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("rng.seed"))?;
        }
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(meta("rng.stream")?.parse().map_err(|_| bad("rng.stream"))?);
        rng.set_word_pos(meta("rng.word_pos")?.parse().map_err(|_| bad("rng.word_pos"))?);
        let order = meta("order")?
            .split(' ')
            .map(|v| v.parse().map_err(|_| bad("order")))
            .collect::<Result<_>>()?;
        Ok(TrainingState {
            epoch: number("epoch")? as usize,
            rate_scale: number("rate_scale")?,
            rng,
            order,
            records: History::records_from_csv(meta("history")?).ok_or_else(|| bad("history"))?,
            best_epoch: number("best_epoch")? as usize,
            best_score: number("best_score")?,
            best_model,
        })
    }
}

/// One step of [`gradient_descent`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DescentStep {
    /// The step, from 1.
    pub step: usize,
    /// The loss after the step (or before it, if it was undone).
    pub loss: f64,
    /// The step size the step used.
    pub rate: f64,
    /// `‖∇f‖` at the point reached.
    pub grad_norm: f64,
    /// Whether the step lowered the loss and was kept.
    pub accepted: bool,
}

/// Full-batch gradient descent `w ← w − α∇f(w)` with the bold-driver rule: a step that raises
/// the loss is undone and `α` shrunk, a step that lowers it is kept and `α` grown; it stops
/// when `‖∇f‖ ≤ tolerance` or after `max_steps` steps. `on_step` sees every step.
pub fn gradient_descent<T: Scalar, M: Model<T>>(
    model: &mut M,
    batch: &M::Batch<'_>,
    driver: &mut BoldDriver,
    tolerance: f64,
    max_steps: usize,
    mut on_step: impl FnMut(&DescentStep),
) -> Result<Vec<DescentStep>> {
    let mut ws = model.workspace(1);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut grads = M::zeros();
    let mut loss = model.loss_and_grad(&mut ws, batch, &mut rng, &mut grads)?.to_f64();
    let mut norm = grad_norm(&grads);
    let (mut previous, mut previous_grads) = (model.clone(), grads.clone());
    let mut steps = Vec::new();
    for step in 1..=max_steps {
        if norm <= tolerance {
            break;
        }
        copy_params(&mut previous, model);
        copy_params(&mut previous_grads, &grads);
        Optim::new(Optimizer::Sgd, 0.0).step(model, &grads, driver.rate);
        let rate = driver.rate;
        let new_loss = model.loss_and_grad(&mut ws, batch, &mut rng, &mut grads)?.to_f64();
        let accepted = new_loss.is_finite() && new_loss < loss;
        if accepted {
            loss = new_loss;
            norm = grad_norm(&grads);
        } else {
            copy_params(model, &previous);
            copy_params(&mut grads, &previous_grads);
        }
        driver.after(accepted);
        let record = DescentStep {
            step,
            loss,
            rate,
            grad_norm: norm,
            accepted,
        };
        on_step(&record);
        steps.push(record);
    }
    Ok(steps)
}

fn copy_params<T: Scalar, P: Parameters<T>>(to: &mut P, from: &P) {
    for i in 0..from.count() {
        to.param_mut(i).assign(&from.param(i));
    }
}

/// Progress output on standard error.
struct Progress {
    verbosity: Verbosity,
    terminal: bool,
    epochs: usize,
    last: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    fn new(verbosity: Verbosity, epochs: usize) -> Self {
        Progress {
            verbosity,
            terminal: std::io::stderr().is_terminal(),
            epochs,
            last: Default::default(),
        }
    }

    /// A live line, at most ten times a second, on a terminal only.
    fn step(&self, epoch: usize, done: usize, total: usize, loss: f64, started: Instant) {
        if self.verbosity == Verbosity::Quiet || !self.terminal {
            return;
        }
        if self.last.get().is_some_and(|t| t.elapsed().as_millis() < 100) {
            return;
        }
        self.last.set(Some(Instant::now()));
        let done = done.min(total);
        let width = 30;
        let filled = width * done / total.max(1);
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\repoch {:>3}/{} [{}{}] loss {loss:.4}  {rate:>9.0} samples/s",
            epoch + 1,
            self.epochs,
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
        let _ = std::io::stderr().flush();
    }

    fn epoch(&self, r: &EpochRecord) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
        eprintln!(
            "epoch {:>3}/{}  train loss {:.4}  val loss {:.4}  val acc {:.4}  step {:.2e}  |grad| {:.3e}  {:.0} samples/s",
            r.epoch, self.epochs, r.train_loss, r.val_loss, r.val_accuracy, r.rate, r.grad_norm, r.samples_per_second
        );
    }

    fn message(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{}{text}", if self.terminal { "\r\x1b[2K" } else { "" });
        }
    }

    fn finish(&self) {
        if self.verbosity != Verbosity::Quiet && self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;

    #[test]
    fn corrupted_batches_keep_clean_targets() {
        let features = Array2::from_shape_fn((6, 4), |(i, j)| 1.0 + (i * 4 + j) as f64);
        let data = Dataset::new(features, vec![0, 1, 0, 1, 0, 1], 2).unwrap();
        let mut batcher = Batcher::new(4, 4, true);
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
