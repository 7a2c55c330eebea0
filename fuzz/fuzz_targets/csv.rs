//! The CSV reader on arbitrary text: a data set or an error naming the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use symgrad::data::read_csv;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = read_csv::<f32>(text, "fuzz");
        let _ = read_csv::<f64>(text, "fuzz");
    }
});
