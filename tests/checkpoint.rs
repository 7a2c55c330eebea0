//! Checkpoints: safetensors round trips, errors for the wrong network or a corrupt file, no
//! NaN saved, a resumed run identical to an uninterrupted one, and atomic saves that survive a
//! process killed mid-write.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use symgrad::checkpoint::{self, Checkpoint};
use symgrad::data::{self, Dataset};
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{Rng, SeedableRng, rngs::StdRng};
use symgrad::train::{self, TrainConfig, Verbosity};

network! {
    struct Net {
        input x: [64];
        target y: classes[10];
        h = dropout(relu(dense(x, 24)), 0.2);
        z = dense(h, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    struct Other {
        input x: [64];
        target y: classes[10];
        h = relu(dense(x, 16));
        z = dense(h, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("symgrad-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn digits() -> (Dataset<f32>, Dataset<f32>) {
    let mut all = data::digits::<f32>().unwrap();
    all.scale_by(16.0);
    all.split_stratified(0.2, &mut StdRng::seed_from_u64(0)).unwrap()
}

#[test]
fn parameters_round_trip_exactly() {
    let path = scratch("round-trip.safetensors");
    let net = Net::<f64>::new(&mut StdRng::seed_from_u64(1));
    let metadata = BTreeMap::from([("note".to_owned(), "a \"quoted\" \\ value\n".to_owned())]);
    checkpoint::save(&path, &checkpoint::named("", &net), &metadata).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(header_len % 8, 0, "the header is padded to 8 bytes");
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header.contains("\"h_w\":{\"dtype\":\"F64\",\"shape\":[64,24],\"data_offsets\":[0,12288]}"),
        "{header}"
    );
    let loaded: Checkpoint<f64> = checkpoint::load(&path).unwrap();
    assert_eq!(loaded.metadata, metadata);
    let mut restored = Net::<f64>::zeros();
    loaded.restore("", &mut restored, &path).unwrap();
    assert_eq!(restored, net);
}

network! {
    /// Parameters of rank 1, 3 and 4.
    struct Kernels {
        input x: [4, 2, 2];
        target t: [4, 2, 2];
        param bias: [4, 1, 1];
        param k: [4, 1, 2, 2];
        out = tanh(x + bias);
        output out;
        loss mse(out, t) + 0.01 * sum(square(k)) + mean(dense(flatten(out), 3));
    }
}

#[test]
fn parameters_of_any_rank_round_trip_with_their_shapes() {
    let path = scratch("kernels.safetensors");
    let net = Kernels::<f32>::new(&mut StdRng::seed_from_u64(2));
    checkpoint::save(&path, &checkpoint::named("", &net), &BTreeMap::new()).unwrap();
    let header = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    for shape in [
        "\"bias\":{\"dtype\":\"F32\",\"shape\":[4,1,1]",
        "\"k\":{\"dtype\":\"F32\",\"shape\":[4,1,2,2]",
        "\"loss_b\":{\"dtype\":\"F32\",\"shape\":[3]",
    ] {
        assert!(header.contains(shape), "no {shape} in {header}");
    }
    let reload = || {
        let mut restored = Kernels::<f32>::zeros();
        checkpoint::load(&path)
            .unwrap()
            .restore("", &mut restored, &path)
            .unwrap();
        restored
    };
    assert_eq!(reload(), net);

    // A bias written as a row `[1, n]` (by matrix-only code) fills the vector `[n]`.
    let as_rows: Vec<_> = checkpoint::named("", &net)
        .into_iter()
        .map(|(name, tensor)| match *tensor.shape() {
            [n] => (name, tensor.into_shape_with_order(vec![1, n]).unwrap()),
            _ => (name, tensor),
        })
        .collect();
    checkpoint::save(&path, &as_rows, &BTreeMap::new()).unwrap();
    assert_eq!(reload(), net);
}

#[test]
fn loading_into_another_network_names_the_tensor_and_both_shapes() {
    let path = scratch("other.safetensors");
    let net = Net::<f32>::new(&mut StdRng::seed_from_u64(1));
    checkpoint::save(&path, &checkpoint::named("", &net), &BTreeMap::new()).unwrap();
    let loaded: Checkpoint<f32> = checkpoint::load(&path).unwrap();
    let mut other = Other::<f32>::zeros();
    let error = loaded.restore("", &mut other, &path).unwrap_err().to_string();
    assert!(
        error.contains("h_w") && error.contains("[64, 24]") && error.contains("[64, 16]"),
        "{error}"
    );
    let error = loaded.restore("model.", &mut other, &path).unwrap_err().to_string();
    assert!(error.contains("no tensor `model.h_w`"), "{error}");
}

#[test]
fn corrupt_files_are_errors() {
    let path = scratch("corrupt.safetensors");
    let net = Net::<f32>::new(&mut StdRng::seed_from_u64(1));
    checkpoint::save(&path, &checkpoint::named("", &net), &BTreeMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for (name, corrupt) in [
        ("truncated data", bytes[..bytes.len() - 10].to_vec()),
        (
            "header longer than the file",
            [u64::MAX.to_le_bytes().to_vec(), bytes[8..].to_vec()].concat(),
        ),
        (
            "broken JSON",
            [bytes[..9].to_vec(), b"]".to_vec(), bytes[10..].to_vec()].concat(),
        ),
        ("empty", Vec::new()),
    ] {
        std::fs::write(&path, corrupt).unwrap();
        match checkpoint::load::<f32>(&path) {
            Err(Error::Format { source_name, .. }) => assert!(source_name.contains("corrupt"), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn non_finite_values_are_never_saved() {
    let path = scratch("nan.safetensors");
    let mut net = Net::<f32>::new(&mut StdRng::seed_from_u64(1));
    checkpoint::save(&path, &checkpoint::named("", &net), &BTreeMap::new()).unwrap();
    net.z_b[3] = f32::NAN;
    let error = checkpoint::save(&path, &checkpoint::named("", &net), &BTreeMap::new()).unwrap_err();
    assert!(
        matches!(&error, Error::NonFinite { what, .. } if what.contains("z_b")),
        "{error}"
    );
    // The previous checkpoint is untouched.
    assert!(
        checkpoint::load::<f32>(&path).unwrap().tensors["z_b"]
            .iter()
            .all(|v| v.is_finite())
    );
}

#[test]
fn a_resumed_run_continues_bit_for_bit() {
    let (train_set, val) = digits();
    let config = |epochs, path: &PathBuf, resume| TrainConfig {
        epochs,
        batch_size: 64,
        verbosity: Verbosity::Quiet,
        checkpoint: Some(path.clone()),
        resume,
        seed: 5,
        ..TrainConfig::default()
    };
    let straight_path = scratch("straight.safetensors");
    let mut straight = Net::<f32>::new(&mut StdRng::seed_from_u64(3));
    let full = train::fit(&mut straight, &train_set, &val, &config(4, &straight_path, false)).unwrap();

    let resumed_path = scratch("resumed.safetensors");
    let _ = std::fs::remove_file(&resumed_path);
    let mut first = Net::<f32>::new(&mut StdRng::seed_from_u64(3));
    train::fit(&mut first, &train_set, &val, &config(2, &resumed_path, false)).unwrap();
    // A new process would start from scratch: a different initialisation, overwritten by the
    // checkpoint.
    let mut resumed = Net::<f32>::new(&mut StdRng::seed_from_u64(99));
    let rest = train::fit(&mut resumed, &train_set, &val, &config(4, &resumed_path, true)).unwrap();

    assert_eq!(resumed, straight);
    let losses = |h: &train::History| {
        h.epochs
            .iter()
            .map(|r| (r.epoch, r.train_loss, r.val_loss, r.val_accuracy, r.grad_norm))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&rest), losses(&full));
    assert_eq!(rest.best_epoch, full.best_epoch);
}

/// Run by [`a_process_killed_while_saving_leaves_a_valid_checkpoint`] as a child process: saves
/// checkpoints whose every element is the save's number, as fast as it can, until killed.
#[test]
#[ignore = "the child side of the kill test"]
fn child_saving_checkpoints_forever() {
    let Ok(path) = std::env::var("SYMGRAD_KILL_TEST_PATH") else {
        return;
    };
    let mut net = Net::<f32>::zeros();
    for generation in 1.. {
        for i in 0..net.count() {
            net.param_mut(i).fill(generation as f32);
        }
        checkpoint::save(&PathBuf::from(&path), &checkpoint::named("", &net), &BTreeMap::new()).unwrap();
    }
}

#[test]
fn a_process_killed_while_saving_leaves_a_valid_checkpoint() {
    let path = scratch("killed.safetensors");
    checkpoint::save(&path, &checkpoint::named("", &Net::<f32>::zeros()), &BTreeMap::new()).unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut generations = Vec::new();
    for _ in 0..8 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_saving_checkpoints_forever",
                "--test-threads",
                "1",
            ])
            .env("SYMGRAD_KILL_TEST_PATH", &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(20..120)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Whatever moment the kill hit, the file is one whole checkpoint.
        let loaded: Checkpoint<f32> = checkpoint::load(&path).unwrap();
        let mut net = Net::<f32>::zeros();
        loaded.restore("", &mut net, &path).unwrap();
        let generation = net.h_w[(0, 0)];
        assert!(
            (0..net.count()).all(|i| net.param(i).iter().all(|&v| v == generation)),
            "a torn checkpoint"
        );
        generations.push(generation);
    }
    assert!(
        generations.iter().any(|&g| g > 0.0),
        "the child never saved: {generations:?}"
    );
}
