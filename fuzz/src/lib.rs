//! What the fuzz targets share: a small network, its data, and the training-state loader
//! driven through `train::fit`; `examples/seeds.rs` writes the seed corpora from the same.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use symgrad::data::Dataset;
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::train::{self, History, TrainConfig, Verbosity};

network! {
    /// The network whose checkpoints and training states are fuzzed.
    pub struct Net {
        input x: [3];
        target y: classes[2];
        h = dropout(relu(dense(x, 4)), 0.5);
        z = dense(h, 2);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

/// Eight samples to train on and four to validate with.
pub static DATA: LazyLock<(Dataset<f32>, Dataset<f32>)> = LazyLock::new(|| {
    let set = |n: usize| {
        let features = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 3 + j) % 5) as f32 / 5.0);
        Dataset::new(features, (0..n).map(|i| i % 2).collect(), 2).expect("a valid data set")
    };
    (set(8), set(4))
});

/// Where the training-state target writes each input: the loader reads a file.
pub static STATE_PATH: LazyLock<PathBuf> =
    LazyLock::new(|| std::env::temp_dir().join(format!("symgrad-fuzz-{}.safetensors", std::process::id())));

/// Trains `Net` for `epochs` on [`DATA`], resuming from (or saving to) `checkpoint`.
pub fn fit(checkpoint: &Path, epochs: usize, resume: bool) -> symgrad::Result<History> {
    let config = TrainConfig {
        epochs,
        batch_size: 4,
        verbosity: Verbosity::Quiet,
        checkpoint: Some(checkpoint.to_path_buf()),
        resume,
        overwrite: !resume,
        ..TrainConfig::default()
    };
    let (train_set, val) = &*DATA;
    train::fit(&mut Net::<f32>::zeros(), train_set, val, &config)
}
