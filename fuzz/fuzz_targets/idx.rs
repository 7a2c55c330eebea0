//! The IDX reader (images and labels, gzipped or not) on arbitrary bytes: data or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use symgrad::data::{read_idx_images, read_idx_labels};

fuzz_target!(|data: &[u8]| {
    let _ = read_idx_images::<f32>(data, "fuzz");
    let _ = read_idx_labels(data, "fuzz");
});
