//! The whole state of a run in a checkpoint, so that a resumed run continues bit for bit.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{EpochRecord, History, Stop};
use crate::checkpoint::{self, Checkpoint};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::Optim;
use crate::scalar::Scalar;

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
    pub(super) fn save<T: Scalar>(&self, path: &Path, model: &M, optim: &Optim<T>) -> Result<()>
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

    pub(super) fn load<T: Scalar>(path: &Path, model: &mut M, optim: &mut Optim<T>) -> Result<Self>
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
        let moments = |kind: &str| -> Vec<ArrayD<T>> {
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
