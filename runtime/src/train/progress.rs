//! Progress output on standard error: an indicatif bar over the whole run on a terminal (the
//! epoch, the running loss, samples per second and the time left), and a line per epoch.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{EpochRecord, Verbosity};

/// Progress output on standard error. The bar draws only on a terminal (indicatif hides it
/// elsewhere); the epoch lines are printed either way unless the run is quiet.
pub(super) struct Progress {
    verbosity: Verbosity,
    epochs: usize,
    bar: ProgressBar,
    /// When the bar's text was last written: it is refreshed at most ten times a second, so
    /// that a training step formats no strings.
    written: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    /// Progress of `epochs` epochs over `samples` training samples each.
    pub(super) fn new(verbosity: Verbosity, epochs: usize, samples: usize) -> Self {
        let target = match verbosity {
            Verbosity::Quiet => ProgressDrawTarget::hidden(),
            Verbosity::Bar | Verbosity::Progress => ProgressDrawTarget::stderr(),
        };
        let bar = ProgressBar::with_draw_target(Some((epochs * samples) as u64), target);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {percent:>3}%  {msg}  ETA {eta}")
                .expect("a valid template")
                .progress_chars("#>-"),
        );
        Progress {
            verbosity,
            epochs,
            bar,
            written: Default::default(),
        }
    }

    /// After `done` of the `total` samples of epoch `epoch` (from 0, begun at `started`), at a
    /// running `loss`.
    pub(super) fn step(&self, epoch: usize, done: usize, total: usize, loss: f64, started: Instant) {
        if self.bar.is_hidden() || self.written.get().is_some_and(|t| t.elapsed().as_millis() < 100) {
            return;
        }
        self.written.set(Some(Instant::now()));
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_prefix(format!("{}/{}", epoch + 1, self.epochs));
        self.bar.set_message(format!("loss {loss:.4}  {rate:.0} samples/s"));
        self.bar.set_position((epoch * total + done.min(total)) as u64);
    }

    pub(super) fn epoch(&self, r: &EpochRecord) {
        self.message(&format!(
            "epoch {:>3}/{}  train loss {:.4}  val loss {:.4}  val acc {:.4}  step {:.2e}  |grad| {:.3e}  {:.0} samples/s",
            r.epoch, self.epochs, r.train_loss, r.val_loss, r.val_accuracy, r.rate, r.grad_norm, r.samples_per_second
        ));
    }

    /// A line above the bar (or alone, where there is no bar).
    pub(super) fn message(&self, text: &str) {
        match self.verbosity {
            Verbosity::Quiet | Verbosity::Bar => {}
            Verbosity::Progress if self.bar.is_hidden() => eprintln!("{text}"),
            Verbosity::Progress => self.bar.println(text),
        }
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
