//! Weights across to PyTorch and back, through safetensors files and a name map.
//!
//! Without options: trains a 64-32-10 ReLU classifier on the embedded digits, exports it for
//! `nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))` and writes the test digits
//! with this network's logits beside it, in `torch_interop/`. Then
//! `python3 examples/torch_interop.py` (needs `pip install torch safetensors`) loads the
//! weights into PyTorch and compares its logits with these, trains a PyTorch network of the
//! same shape and saves its `state_dict` and logits; and `--import` reads that network back
//! and compares logits the other way.
//!
//! ```text
//! cargo run --release --example torch_interop
//! python3 examples/torch_interop.py
//! cargo run --release --example torch_interop -- --import
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use symgrad::Dataset;
use symgrad::checkpoint::{self, torch::NameMap};
use symgrad::data::Source;
use symgrad::ndarray::{Array2, ArrayViewD, Ix2};
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

network! {
    /// Its output is the logits, as a PyTorch classifier's is.
    pub struct Mlp {
        input x: [64];
        target y: classes[10];
        h = relu(dense(x, 32));
        z = dense(h, 10);
        output z;
        loss softmax_cross_entropy(z, y);
    }
}

/// Where the files go.
const DIR: &str = "torch_interop";

/// Dense layer `h` is module 0 of the `nn.Sequential`, `z` is module 2 (the ReLU is 1).
fn names() -> NameMap {
    NameMap::sequential(&[("h", 0), ("z", 2)])
}

/// The largest absolute difference between two arrays of one shape, and the largest
/// magnitude in the second.
fn difference(a: &Array2<f32>, b: &Array2<f32>) -> (f32, f32) {
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    (diff, b.iter().map(|v| v.abs()).fold(0.0, f32::max))
}

/// Trains the network, exports it and writes the test digits with its logits.
fn export(dir: &Path) -> Result<()> {
    let (train_all, test) = Source::Digits.load::<f32>(0)?;
    let mut rng = StdRng::seed_from_u64(0);
    let (train_set, val) = train_all.split_stratified(0.1, &mut rng)?;
    let mut model = Mlp::<f32>::new(&mut rng);
    let config = TrainConfig {
        epochs: 30,
        learning_rate: 3e-3,
        verbosity: Verbosity::Bar,
        ..TrainConfig::default()
    };
    train::fit(&mut model, &train_set, &val, &config)?;
    let mut ws = model.workspace(256);
    let accuracy = train::evaluate(&model, &mut ws, &test, 256)?.accuracy;
    let logits = train::outputs(&model, &mut ws, &test, 256)?;
    let labels = Array2::from_shape_fn((test.len(), 1), |(i, _)| test.labels[i] as f32);

    std::fs::create_dir_all(dir).map_err(|e| symgrad::Error::io(dir.display(), &e))?;
    let weights = dir.join("mlp.safetensors");
    checkpoint::torch::export(&model, &names(), &weights)?;
    let tensors: Vec<(String, ArrayViewD<'_, f32>)> =
        [("features", &test.features), ("labels", &labels), ("logits", &logits)]
            .into_iter()
            .map(|(name, array)| (name.to_owned(), array.view().into_dyn()))
            .collect();
    checkpoint::save(&dir.join("digits_test.safetensors"), &tensors, &BTreeMap::new())?;
    println!(
        "test accuracy {accuracy:.4}; wrote {} (the network, PyTorch names and layout) and {} \
         (the {} test digits, their labels and this network's logits)\nnext: python3 examples/torch_interop.py",
        weights.display(),
        dir.join("digits_test.safetensors").display(),
        test.len()
    );
    Ok(())
}

/// Imports the network PyTorch trained and compares logits on the same test digits.
fn import(dir: &Path) -> Result<()> {
    let mut model = Mlp::<f32>::zeros();
    checkpoint::torch::import(&mut model, &names(), &dir.join("torch_mlp.safetensors"))?;
    let test = checkpoint::load::<f32>(&dir.join("digits_test.safetensors"))?;
    let theirs = checkpoint::load::<f32>(&dir.join("torch_logits.safetensors"))?;
    let matrix = |file: &checkpoint::Checkpoint<f32>, name: &str, source: &str| -> Result<Array2<f32>> {
        let tensor = file.tensor(name, Path::new(source))?.clone();
        tensor
            .into_dimensionality::<Ix2>()
            .map_err(|e| symgrad::Error::format(source, format!("`{name}`: {e}")))
    };
    let features = matrix(&test, "features", "digits_test.safetensors")?;
    let torch_logits = matrix(&theirs, "logits", "torch_logits.safetensors")?;
    let labels = vec![0; features.nrows()];
    let data = Dataset::new(features, labels, 10)?;
    let mut ws = model.workspace(256);
    let ours = train::outputs(&model, &mut ws, &data, 256)?;
    let (diff, scale) = difference(&ours, &torch_logits);
    println!(
        "PyTorch's network imported: logits on {} test digits agree to {diff:.2e} (largest logit {scale:.2})",
        data.len()
    );
    Ok(())
}

fn main() -> Result<()> {
    use symgrad::cli::lexopt::prelude::*;
    let about = "Weights across to PyTorch and back: without options, train and export (then run \
                 examples/torch_interop.py); with --import, read back the network PyTorch trained.";
    let mut parser = symgrad::cli::lexopt::Parser::from_env();
    let mut importing = false;
    let parsed = (|| {
        while let Some(arg) = parser.next()? {
            match arg {
                Long("import") => importing = true,
                Short('h') | Long("help") => return Ok(None),
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some(()))
    })();
    symgrad::cli::answer(
        about,
        "[--import]\n\n  --import    read back torch_interop/torch_mlp.safetensors\n  -h, --help  this text",
        parsed,
    );
    let dir = Path::new(DIR);
    if importing { import(dir) } else { export(dir) }
}
