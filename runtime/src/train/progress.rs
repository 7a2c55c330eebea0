//! Progress output on standard error: a live line on a terminal, a line per epoch.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use super::{EpochRecord, Verbosity};

/// Progress output on standard error.
pub(super) struct Progress {
    verbosity: Verbosity,
    terminal: bool,
    epochs: usize,
    last: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    pub(super) fn new(verbosity: Verbosity, epochs: usize) -> Self {
        Progress {
            verbosity,
            terminal: std::io::stderr().is_terminal(),
            epochs,
            last: Default::default(),
        }
    }

    /// A live line, at most ten times a second, on a terminal only.
    pub(super) fn step(&self, epoch: usize, done: usize, total: usize, loss: f64, started: Instant) {
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

    pub(super) fn epoch(&self, r: &EpochRecord) {
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

    pub(super) fn message(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{}{text}", if self.terminal { "\r\x1b[2K" } else { "" });
        }
    }

    pub(super) fn finish(&self) {
        if self.verbosity != Verbosity::Quiet && self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}
