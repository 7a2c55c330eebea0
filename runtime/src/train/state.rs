//! The whole state of a run in a checkpoint, so that a resumed run continues bit for bit, and
//! what the run was trained on, so that a resume that would not continue it is refused.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::EpochRecord;
use crate::checkpoint::{self, Checkpoint};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::{Optim, Optimizer};
use crate::scalar::Scalar;

/// The format name of a training state.
const FORMAT: &str = "symgrad training state 3";

/// What a run trains on and with: a resume must agree on all of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Run {
    /// The configuration's seed (it fixes the shuffling, the dropout masks and, in the main
    /// job, the split of the data).
    seed: u64,
    /// A CRC-32 of the training and validation sets (features, labels, classes, targets).
    data: String,
    /// The network's parameters: names and shapes.
    network: Vec<(String, Vec<usize>)>,
    /// The update rule with its constants.
    optimizer: Optimizer,
    /// The number of training samples (the length of the stored permutation).
    samples: usize,
}

impl Run {
    pub(super) fn new<T: Scalar, M: Model<T>>(
        model: &M,
        seed: u64,
        optimizer: Optimizer,
        train: &Dataset<T>,
        val: &Dataset<T>,
    ) -> Run {
        let mut hasher = crc32fast::Hasher::new();
        let mut buffer = Vec::with_capacity(8 * 1024);
        for data in [train, val] {
            hasher.update(&(data.len() as u64).to_le_bytes());
            hasher.update(&(data.classes as u64).to_le_bytes());
            for values in std::iter::once(&data.features).chain(&data.targets) {
                hasher.update(&(values.ncols() as u64).to_le_bytes());
                for chunk in values
                    .as_standard_layout()
                    .as_slice()
                    .expect("standard layout")
                    .chunks(1024)
                {
                    buffer.clear();
                    buffer.extend(chunk.iter().flat_map(|v| v.to_f64().to_le_bytes()));
                    hasher.update(&buffer);
                }
            }
            for &label in &data.labels {
                hasher.update(&(label as u64).to_le_bytes());
            }
        }
        let network = (0..model.count())
            .map(|i| (model.name(i).to_owned(), model.param(i).shape().to_vec()))
            .collect();
        Run {
            seed,
            data: format!("{:08x}", hasher.finalize()),
            network,
            optimizer,
            samples: train.len(),
        }
    }

    /// A CRC-32 of everything a resume must agree on, the batch size and the overlap bucket:
    /// processes of one data-parallel run must agree on all of it.
    pub(super) fn fingerprint(&self, batch_size: usize, overlap: Option<usize>) -> u32 {
        crc32fast::hash(format!("{} {batch_size} {overlap:?}", json(self)).as_bytes())
    }

    /// The parameters' names and shapes in words.
    fn network_in_words(&self) -> String {
        let each: Vec<String> = self
            .network
            .iter()
            .map(|(name, shape)| format!("{name} {shape:?}"))
            .collect();
        each.join(", ")
    }
}

/// `value` as JSON.
fn json<V: Serialize>(value: &V) -> String {
    serde_json::to_string(value).expect("training state values are plain data")
}

/// Everything a run needs to continue exactly where it stopped.
pub(super) struct TrainingState<M> {
    pub(super) epoch: usize,
    pub(super) rate_scale: f64,
    pub(super) rng: ChaCha8Rng,
    /// The permutation the next epoch shuffles (shuffling permutes it in place).
    pub(super) order: Vec<usize>,
    pub(super) records: Vec<EpochRecord>,
    pub(super) best_epoch: usize,
    pub(super) best_score: f64,
    pub(super) best_model: Option<M>,
}

impl<M> TrainingState<M> {
    pub(super) fn save<T: Scalar>(&self, path: &Path, model: &M, optim: &Optim<T>, run: &Run) -> Result<()>
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
        // One JSON value per field, so that an error can name the field.
        let metadata: BTreeMap<String, String> = [
            ("format", FORMAT.to_owned()),
            ("epoch", json(&self.epoch)),
            ("rate_scale", json(&self.rate_scale)),
            ("optim.steps", json(&optim.steps)),
            ("rng", json(&self.rng)),
            ("order", json(&self.order)),
            ("best_epoch", json(&self.best_epoch)),
            ("best_score", json(&self.best_score)),
            ("history", json(&self.records)),
            ("run", json(run)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        checkpoint::save(path, &tensors, &metadata)
    }

    /// Reads the state saved at `path` into `model` and `optim`, after checking that it was
    /// saved by a run like `run` and that every field is whole and consistent: an error names
    /// the field (or the setting that differs) and what was expected.
    pub(super) fn load<T: Scalar>(path: &Path, model: &mut M, optim: &mut Optim<T>, run: &Run) -> Result<Self>
    where
        M: Model<T>,
    {
        let file: Checkpoint<T> = checkpoint::load(path)?;
        let source = path.display().to_string();
        let bad = |what: &str, why: String| Error::format(source.clone(), format!("training state: {what} {why}"));
        let meta = |key: &str| {
            file.metadata
                .get(key)
                .map(String::as_str)
                .ok_or_else(|| bad(key, "is missing".into()))
        };
        fn parsed<V: DeserializeOwned>(text: &str, key: &str, bad: impl Fn(&str, String) -> Error) -> Result<V> {
            serde_json::from_str(text).map_err(|e| bad(key, format!("is malformed ({e}): {text:?}")))
        }
        let field = |key: &str| meta(key).and_then(|text| parsed::<usize>(text, key, bad));
        let format = meta("format")?;
        if format != FORMAT {
            return Err(bad("format", format!("is {format:?}, expected {FORMAT:?}")));
        }
        let saved: Run = parsed(meta("run")?, "run", bad)?;
        let refuse = |setting: &str, message: String| {
            Err(Error::Config {
                setting: format!("resuming from {source}"),
                message: format!(
                    "{message}; {setting}, or start a new run (overwrite the checkpoint, or name another)"
                ),
            })
        };
        if saved.seed != run.seed {
            return refuse(
                "resume with the same seed",
                format!(
                    "the run was trained with seed {}, this one has seed {} (the seed fixes the shuffling and the data's split)",
                    saved.seed, run.seed
                ),
            );
        }
        if saved.data != run.data || saved.samples != run.samples {
            return refuse(
                "resume on the same data",
                format!(
                    "the run was trained on other data (fingerprint {}, now {})",
                    saved.data, run.data
                ),
            );
        }
        if saved.network != run.network {
            return refuse(
                "resume with the same network",
                format!(
                    "the run trained another network ({}; now {})",
                    saved.network_in_words(),
                    run.network_in_words()
                ),
            );
        }
        if saved.optimizer != run.optimizer {
            return refuse(
                "resume with the same optimiser",
                format!(
                    "the run used the optimiser {:?}, this one {:?}",
                    saved.optimizer, run.optimizer
                ),
            );
        }

        let mut restored = model.clone();
        file.restore("model.", &mut restored, path)?;
        let moments = |kind: &str| -> Result<Vec<ArrayD<T>>> {
            let found: Vec<_> = (0..model.count())
                .map(|i| {
                    let name = format!("optim.{kind}.{}", model.name(i));
                    let tensor = file.tensors.get(&name);
                    (name, tensor)
                })
                .collect();
            if found.iter().all(|(_, t)| t.is_none()) {
                return Ok(Vec::new());
            }
            found
                .into_iter()
                .enumerate()
                .map(|(i, (name, tensor))| match tensor {
                    None => Err(bad(&format!("tensor `{name}`"), "is missing".into())),
                    Some(t) if t.shape() != model.param(i).shape() => Err(bad(
                        &format!("tensor `{name}`"),
                        format!("is {:?}, its parameter {:?}", t.shape(), model.param(i).shape()),
                    )),
                    Some(t) => Ok(t.clone()),
                })
                .collect()
        };
        // Every `optim.*` tensor is `optim.first.NAME` or `optim.second.NAME` of a parameter.
        let of_a_parameter = |rest: &str| match rest.split_once('.') {
            Some(("first" | "second", name)) => (0..model.count()).any(|i| model.name(i) == name),
            _ => false,
        };
        if let Some(stray) = file
            .tensors
            .keys()
            .chain(file.unread.keys())
            .find(|k| k.strip_prefix("optim.").is_some_and(|rest| !of_a_parameter(rest)))
        {
            return Err(bad(
                &format!("tensor `{stray}`"),
                "belongs to no parameter of the network".into(),
            ));
        }
        let steps: u64 = parsed(meta("optim.steps")?, "optim.steps", bad)?;
        let (first, second) = (moments("first")?, moments("second")?);
        let (needs_first, needs_second) = match optim.kind {
            Optimizer::Sgd => (false, false),
            Optimizer::Momentum { .. } => (true, false),
            Optimizer::Adam { .. } => (true, true),
        };
        for (kind, needed, present) in [
            ("first", needs_first, !first.is_empty()),
            ("second", needs_second, !second.is_empty()),
        ] {
            if present != (needed && steps > 0) {
                let why = if present { "are present" } else { "are missing" };
                return Err(bad(
                    &format!("the optimiser's {kind} moments"),
                    format!("{why} after {steps} steps of {:?}", run.optimizer),
                ));
            }
        }

        let rng: ChaCha8Rng = parsed(meta("rng")?, "rng", bad)?;
        let order: Vec<usize> = parsed(meta("order")?, "order", bad)?;
        let mut seen = vec![false; run.samples];
        for &i in &order {
            match seen.get_mut(i) {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(bad(
                        "order",
                        format!("is not a permutation of the {} training samples (at {i})", run.samples),
                    ));
                }
            }
        }
        if order.len() != run.samples {
            return Err(bad(
                "order",
                format!("holds {} samples, the training set {}", order.len(), run.samples),
            ));
        }

        let epoch = field("epoch")?;
        let records: Vec<EpochRecord> = parsed(meta("history")?, "history", bad)?;
        if records.len() != epoch || records.iter().enumerate().any(|(i, r)| r.epoch != i + 1) {
            return Err(bad("history", format!("does not hold epochs 1 to {epoch}")));
        }
        let best_epoch = field("best_epoch")?;
        if best_epoch > epoch || (best_epoch == 0) != (epoch == 0) {
            return Err(bad(
                "best_epoch",
                format!("is {best_epoch}, not one of the {epoch} epochs"),
            ));
        }
        let rate_scale: f64 = parsed(meta("rate_scale")?, "rate_scale", bad)?;
        if !(rate_scale.is_finite() && rate_scale > 0.0) {
            return Err(bad("rate_scale", format!("is {rate_scale}, not a positive factor")));
        }
        let best_model = if file.tensors.keys().any(|k| k.starts_with("best.")) {
            let mut best = model.clone();
            file.restore("best.", &mut best, path)?;
            Some(best)
        } else {
            None
        };
        *model = restored;
        (optim.first, optim.second, optim.steps) = (first, second, steps);
        Ok(TrainingState {
            epoch,
            rate_scale,
            rng,
            order,
            records,
            best_epoch,
            best_score: parsed(meta("best_score")?, "best_score", bad)?,
            best_model,
        })
    }
}
