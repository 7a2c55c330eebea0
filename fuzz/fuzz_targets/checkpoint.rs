//! The checkpoint and training-state loaders on arbitrary bytes: a network restored, a run
//! resumed, or an error; never a panic. Built with `--cfg fuzzing`, the loader accepts a wrong
//! checksum, so that mutations reach the parser and the state's validation behind it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use symgrad::checkpoint;
use symgrad_fuzz::{Net, STATE_PATH, fit};

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = checkpoint::parse::<f32>(data, "fuzz") {
        let _ = file.restore("", &mut Net::<f32>::zeros(), &STATE_PATH);
        let _ = file.restore("model.", &mut Net::<f32>::zeros(), &STATE_PATH);
    }
    std::fs::write(&*STATE_PATH, data).expect("a writable temporary directory");
    // No epochs: the state is loaded and checked, nothing is trained or saved.
    let _ = fit(&STATE_PATH, 0, true);
});
