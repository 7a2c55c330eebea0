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
    let metadata = BTreeMap::from([("note".to_owned(), "a \"quoted\" \\ value\r\n\t😀\u{1}".to_owned())]);
    checkpoint::save(&path, &checkpoint::named("", &net), &metadata).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(header_len % 8, 0, "the header is padded to 8 bytes");
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header.contains("\"h_w\":{\"dtype\":\"F64\",\"shape\":[64,24],\"data_offsets\":["),
        "{header}"
    );
    let loaded: Checkpoint<f64> = checkpoint::load(&path).unwrap();
    // The caller's metadata, and the format every file written here names (the checksum is
    // checked on loading and not handed back).
    let mut expected = metadata.clone();
    expected.insert("format".into(), "symgrad checkpoint".into());
    assert_eq!(loaded.metadata, expected);
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

/// Run by [`a_process_killed_while_saving_leaves_a_valid_checkpoint_and_no_leftovers`] as a child process: saves
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
fn a_process_killed_while_saving_leaves_a_valid_checkpoint_and_no_leftovers() {
    let path = scratch("killed.safetensors");
    checkpoint::save(&path, &checkpoint::named("", &Net::<f32>::zeros()), &BTreeMap::new()).unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut generations = Vec::new();
    // 100 kills at random moments: a save takes about a millisecond and the child saves
    // back to back, so most kills land inside one (while the temporary file is written,
    // flushed or renamed).
    for _ in 0..100 {
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
        std::thread::sleep(Duration::from_millis(rng.random_range(5..60)));
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
        generations.iter().filter(|&&g| g > 0.0).count() > 50,
        "the child rarely saved: {generations:?}"
    );
    // Temporary files of killed saves are removed by the next save.
    checkpoint::save(&path, &checkpoint::named("", &Net::<f32>::zeros()), &BTreeMap::new()).unwrap();
    assert_eq!(temporaries(&path), Vec::<String>::new());
}

/// The temporary files beside `path`.
fn temporaries(path: &std::path::Path) -> Vec<String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(&format!(".{name}.")) && f.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_failed_save_leaves_no_temporary_file() {
    // The target is a directory: the rename fails after the temporary file was written.
    let path = scratch("a-directory.safetensors");
    std::fs::create_dir_all(&path).unwrap();
    let error = checkpoint::save(&path, &checkpoint::named("", &Net::<f32>::zeros()), &BTreeMap::new()).unwrap_err();
    assert!(error.to_string().contains("a-directory.safetensors"), "{error}");
    assert_eq!(temporaries(&path), Vec::<String>::new());
}

#[test]
fn every_single_bit_flip_is_detected() {
    let path = scratch("flips.safetensors");
    let net = Pair::<f32>::new(&mut StdRng::seed_from_u64(1));
    let metadata = BTreeMap::from([("note".to_owned(), "small".to_owned())]);
    let flipped = scratch("flipped.safetensors");
    // The order of the metadata entries in the header varies from save to save (a hash map in
    // the safetensors crate): several saves put the checksum, the format and the data at
    // different offsets.
    for _ in 0..4 {
        checkpoint::save(&path, &checkpoint::named("", &net), &metadata).unwrap();
        every_flip_fails(&std::fs::read(&path).unwrap(), &flipped);
    }
}

fn every_flip_fails(bytes: &[u8], flipped: &std::path::Path) {
    for bit in 0..bytes.len() * 8 {
        let mut corrupt = bytes.to_vec();
        corrupt[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(flipped, &corrupt).unwrap();
        assert!(
            checkpoint::load::<f32>(flipped).is_err(),
            "a flip of bit {} of byte {} of {} went unnoticed",
            bit % 8,
            bit / 8,
            bytes.len()
        );
    }
}

/// Trains `Net` on the digits for `epochs` with a checkpoint at `path`.
fn train_with(path: &std::path::Path, epochs: usize, edit: impl Fn(&mut TrainConfig)) -> Result<train::History> {
    let (train_set, val) = digits();
    let mut config = TrainConfig {
        epochs,
        batch_size: 128,
        verbosity: Verbosity::Quiet,
        checkpoint: Some(path.to_path_buf()),
        seed: 5,
        ..TrainConfig::default()
    };
    edit(&mut config);
    train::fit(
        &mut Net::<f32>::new(&mut StdRng::seed_from_u64(3)),
        &train_set,
        &val,
        &config,
    )
}

#[test]
fn a_checkpoint_is_replaced_only_by_a_run_that_resumes_or_overwrites_it() {
    let path = scratch("kept.safetensors");
    let _ = std::fs::remove_file(&path);
    train_with(&path, 1, |_| {}).unwrap();
    let before = std::fs::read(&path).unwrap();
    let error = train_with(&path, 2, |_| {}).unwrap_err().to_string();
    assert!(error.contains("exists") && error.contains("overwrite"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    train_with(&path, 1, |c| c.overwrite = true).unwrap();
    train_with(&path, 2, |c| c.resume = true).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn settings_that_cannot_work_are_errors_before_training() {
    let path = scratch("settings.safetensors");
    let _ = std::fs::remove_file(&path);
    // No epochs is a no-op: nothing trained, nothing written.
    assert!(train_with(&path, 0, |_| {}).unwrap().epochs.is_empty());
    let error = train_with(&path, 1, |c| c.batch_size = 0).unwrap_err().to_string();
    assert!(error.contains("batch_size") && error.contains("at least 1"), "{error}");
    let error = train_with(&path, 1, |c| {
        c.checkpoint = None;
        c.resume = true;
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("resume") && error.contains("checkpoint"), "{error}");
    let nowhere = std::env::temp_dir()
        .join("symgrad-no-such-directory")
        .join("x.safetensors");
    let error = train_with(&nowhere, 1, |_| {}).unwrap_err().to_string();
    assert!(error.contains("does not exist"), "{error}");
    assert!(!path.exists());
}

#[test]
fn a_resume_that_would_not_continue_the_run_is_refused() {
    let path = scratch("refused.safetensors");
    let _ = std::fs::remove_file(&path);
    train_with(&path, 1, |_| {}).unwrap();
    let before = std::fs::read(&path).unwrap();
    let refused = |what: &str, error: Error| {
        let text = error.to_string();
        assert!(
            matches!(error, Error::Config { .. }) && text.contains(what),
            "{what}: {text}"
        );
    };
    refused(
        "seed 6",
        train_with(&path, 2, |c| (c.resume, c.seed) = (true, 6)).unwrap_err(),
    );
    refused(
        "optimiser",
        train_with(&path, 2, |c| (c.resume, c.optimizer) = (true, Optimizer::Sgd)).unwrap_err(),
    );
    // Other data: a smaller training set (as from a smaller data directory).
    let (train_set, val) = digits();
    let fewer = Dataset::new(
        train_set.features.slice(symgrad::ndarray::s![..500, ..]).to_owned(),
        train_set.labels[..500].to_vec(),
        10,
    )
    .unwrap();
    let config = TrainConfig {
        epochs: 2,
        batch_size: 128,
        verbosity: Verbosity::Quiet,
        checkpoint: Some(path.clone()),
        resume: true,
        seed: 5,
        ..TrainConfig::default()
    };
    let mut net = Net::<f32>::new(&mut StdRng::seed_from_u64(3));
    refused("other data", train::fit(&mut net, &fewer, &val, &config).unwrap_err());
    // Another network.
    let mut other = Other::<f32>::new(&mut StdRng::seed_from_u64(3));
    refused(
        "another network",
        train::fit(&mut other, &train_set, &val, &config).unwrap_err(),
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a refused resume changed the checkpoint"
    );
}

#[test]
fn every_field_of_a_training_state_is_checked() {
    let path = scratch("fields.safetensors");
    let _ = std::fs::remove_file(&path);
    train_with(&path, 1, |_| {}).unwrap();
    let good: Checkpoint<f32> = checkpoint::load(&path).unwrap();
    let edited = scratch("fields-edited.safetensors");
    // Each edit is saved with a valid checksum, as a careless tool (or a bug) would write it.
    let check = |what: &str, edit: &dyn Fn(&mut Checkpoint<f32>)| {
        let mut state = good.clone();
        edit(&mut state);
        let tensors: Vec<_> = state.tensors.iter().map(|(n, t)| (n.clone(), t.view())).collect();
        let _ = std::fs::remove_file(&edited);
        checkpoint::save(&edited, &tensors, &state.metadata).unwrap();
        let error = train_with(&edited, 2, |c| c.resume = true).unwrap_err().to_string();
        assert!(error.contains(what), "{what}: {error}");
    };
    let order = good.metadata["order"].clone();
    let set = |key: &'static str, value: String| {
        move |s: &mut Checkpoint<f32>| {
            s.metadata.insert(key.into(), value.clone());
        }
    };
    // Each field is one JSON value (the order a JSON array).
    check("order", &set("order", order.replacen(',', ",99999,", 1)));
    check("order", &set("order", format!("[{}", order.split_once(',').unwrap().1)));
    check("order", &set("order", order.replacen(',', " ", 1)));
    check("epoch", &set("epoch", "x".into()));
    check("history", &set("epoch", "2".into()));
    check("history", &set("history", "[{\"epoch\": 1}]".into()));
    check("best_epoch", &set("best_epoch", "7".into()));
    check("rate_scale", &set("rate_scale", "-1".into()));
    check("rng", &set("rng", "{\"seed\": [0]}".into()));
    check("run", &set("run", "{}".into()));
    check("format", &set("format", "symgrad training state 0".into()));
    check("optim.steps", &|s| {
        s.metadata.remove("optim.steps");
    });
    check("`optim.first.h_w` is missing", &|s| {
        s.tensors.remove("optim.first.h_w");
    });
    check("second moments are missing", &|s| {
        s.tensors.retain(|n, _| !n.starts_with("optim.second."));
    });
    check("`optim.first.h_wx` belongs to no parameter", &|s| {
        let t = s.tensors.remove("optim.first.h_w").unwrap();
        s.tensors.insert("optim.first.h_wx".into(), t);
    });
    check("`optim.second.h_w` is [24, 64]", &|s| {
        let t = s.tensors["optim.second.h_w"].t().to_owned();
        s.tensors.insert("optim.second.h_w".into(), t);
    });
}

network! {
    struct Pair {
        input x: [2];
        target y: classes[2];
        z = dense(x, 2);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

/// A safetensors file as another tool writes it: no checksum, tensors of any dtype.
fn foreign(path: &std::path::Path, tensors: &[(&str, &str, &[usize], Vec<u8>)]) {
    let (mut entries, mut data) = (Vec::new(), Vec::new());
    for (name, dtype, shape, bytes) in tensors {
        let shape: Vec<String> = shape.iter().map(usize::to_string).collect();
        entries.push(format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            shape.join(","),
            data.len(),
            data.len() + bytes.len()
        ));
        data.extend_from_slice(bytes);
    }
    let header = format!("{{{}}}", entries.join(","));
    let file = [&(header.len() as u64).to_le_bytes()[..], header.as_bytes(), &data].concat();
    std::fs::write(path, file).unwrap();
}

#[test]
fn half_precision_tensors_are_converted_and_unneeded_ones_ignored() {
    let path = scratch("foreign.safetensors");
    let halves = |bits: &[u16]| bits.iter().flat_map(|b| b.to_le_bytes()).collect::<Vec<u8>>();
    // Python's json escapes what is not ASCII, a character beyond the BMP as a surrogate pair.
    let header = "{\"__metadata__\":{\"note\":\"\\uD83D\\uDE00 \\r\"}}";
    std::fs::write(
        &path,
        [&(header.len() as u64).to_le_bytes()[..], header.as_bytes()].concat(),
    )
    .unwrap();
    assert_eq!(checkpoint::load::<f32>(&path).unwrap().metadata["note"], "😀 \r");
    // F16 1, −2, 2⁻²⁴ (the smallest subnormal), 65504 (the largest finite); BF16 1.5, −0.25;
    // and a tensor of integers the network does not need.
    foreign(
        &path,
        &[
            ("z_w", "F16", &[2, 2], halves(&[0x3c00, 0xc000, 0x0001, 0x7bff])),
            ("z_b", "BF16", &[2], halves(&[0x3fc0, 0xbe80])),
            ("step", "I64", &[1], 7i64.to_le_bytes().to_vec()),
        ],
    );
    let loaded: Checkpoint<f64> = checkpoint::load(&path).unwrap();
    let mut net = Pair::<f64>::zeros();
    loaded.restore("", &mut net, &path).unwrap();
    assert_eq!(
        net.z_w.iter().copied().collect::<Vec<_>>(),
        [1.0, -2.0, 2f64.powi(-24), 65504.0]
    );
    assert_eq!(net.z_b.to_vec(), [1.5, -0.25]);

    // A needed tensor in a dtype that is not read is named, with its dtype in words.
    foreign(
        &path,
        &[("z_w", "F32", &[2, 2], vec![0; 16]), ("z_b", "I32", &[2], vec![0; 8])],
    );
    let error = checkpoint::load::<f32>(&path)
        .unwrap()
        .restore("", &mut Pair::<f32>::zeros(), &path)
        .unwrap_err()
        .to_string();
    assert!(error.contains("`z_b` holds 32-bit signed integers"), "{error}");
}

/// `nn.Sequential(nn.Linear(64, 24), nn.ReLU(), nn.Dropout(0.2), nn.Linear(24, 10))`.
fn torch_names() -> checkpoint::torch::NameMap {
    checkpoint::torch::NameMap::sequential(&[("h", 0), ("z", 3)])
}

#[test]
fn exports_for_pytorch_lay_weights_out_by_in_and_import_back_exactly() {
    let path = scratch("torch-export.safetensors");
    let net = Net::<f32>::new(&mut StdRng::seed_from_u64(3));
    checkpoint::torch::export(&net, &torch_names(), &path).unwrap();
    let file = checkpoint::load::<f32>(&path).unwrap();
    let shapes: Vec<(&str, &[usize])> = file.tensors.iter().map(|(n, t)| (n.as_str(), t.shape())).collect();
    assert_eq!(
        shapes,
        [
            ("0.bias", &[24][..]),
            ("0.weight", &[24, 64]),
            ("3.bias", &[10]),
            ("3.weight", &[10, 24])
        ]
    );
    assert_eq!(file.tensors["0.weight"][[5, 7]], net.h_w[[7, 5]]);
    assert_eq!(file.tensors["3.bias"][[4]], net.z_b[4]);

    let mut back = Net::<f32>::zeros();
    checkpoint::torch::import(&mut back, &torch_names(), &path).unwrap();
    assert_eq!(
        (back.h_w, back.h_b, back.z_w, back.z_b),
        (net.h_w, net.h_b, net.z_w, net.z_b)
    );
}

#[test]
fn imports_from_pytorch_name_what_does_not_fit_and_change_nothing() {
    let path = scratch("torch-import.safetensors");
    let rng = &mut StdRng::seed_from_u64(4);
    let mut random = |shape: &[usize]| symgrad::ndarray::ArrayD::from_shape_simple_fn(shape, || rng.random::<f64>());
    let (w0, b0, w3, b3) = (random(&[24, 64]), random(&[24]), random(&[10, 24]), random(&[10]));
    let extra = random(&[3]);
    let tensors = [
        ("0.weight", &w0),
        ("0.bias", &b0),
        ("3.weight", &w3),
        ("3.bias", &b3),
        ("step", &extra),
    ];
    let write = |tensors: &[(&str, &symgrad::ndarray::ArrayD<f64>)]| {
        let named: Vec<_> = tensors.iter().map(|(n, t)| (n.to_string(), t.view())).collect();
        checkpoint::save(&path, &named, &BTreeMap::new()).unwrap();
    };
    write(&tensors);
    let mut net = Net::<f64>::zeros();
    checkpoint::torch::import(&mut net, &torch_names(), &path).unwrap();
    assert_eq!(net.h_w, w0.t().into_dimensionality().unwrap());
    assert_eq!(net.z_b, b3.view().into_dimensionality().unwrap());

    let start = Net::<f64>::new(&mut StdRng::seed_from_u64(5));
    let refused = |names: &checkpoint::torch::NameMap| {
        let mut net = start.clone();
        let error = checkpoint::torch::import(&mut net, names, &path)
            .unwrap_err()
            .to_string();
        assert_eq!((&net.h_w, &net.z_w), (&start.h_w, &start.z_w), "{error}");
        error
    };
    // A weight stored as ours is, `[in, out]`, is the wrong shape for a PyTorch file.
    let w3_ours = w3.t().to_owned();
    write(&[
        ("0.weight", &w0),
        ("0.bias", &b0),
        ("3.weight", &w3_ours),
        ("3.bias", &b3),
    ]);
    let error = refused(&torch_names());
    assert!(
        error.contains("`3.weight` is [24, 10]") && error.contains("`z_w` [24, 10] needs [10, 24]"),
        "{error}"
    );
    write(&tensors[1..]);
    assert!(refused(&torch_names()).contains("no tensor `0.weight`"));
    let partial = checkpoint::torch::NameMap::sequential(&[("h", 0)]);
    assert!(refused(&partial).contains("parameter `z_w` has no name"));
    let unknown = checkpoint::torch::NameMap::new([("h_w", "0.weight"), ("q", "1.weight")]);
    assert!(refused(&unknown).contains("names `q`, which is no parameter"));
}
