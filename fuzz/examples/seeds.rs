//! Writes the seed corpora of the fuzz targets into `corpus/<target>/`:
//! `cargo run --example seeds` (in `fuzz/`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use symgrad::checkpoint;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad_fuzz::{Net, fit};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn main() {
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = Path::new("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    // IDX: three 2×2 images and their labels, plain and gzipped.
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2];
    images.extend(0..12u8);
    let labels = [0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3];
    write("idx", "images", &images);
    write("idx", "images.gz", &gzip(&images));
    write("idx", "labels", &labels);
    write("idx", "labels.gz", &gzip(&labels));
    // CSV: the digits' format, and blank lines and spaces.
    write("csv", "rows", b"0,1.5,16,3\n4,5e-1,0,9\n");
    write("csv", "spaced", b" 1, 2 ,0\n\n3,4,1\n");
    // The macro: definitions using every kind of statement.
    write(
        "expand",
        "mlp",
        b"pub struct Net { input x: [4]; target y: classes[3]; h = dropout(relu(dense(x, 5, he)), 0.5); \
          z = dense(h, 3); output softmax(z); loss cross_entropy(softmax(z), y) + 0.01 * mean(square(h)); }",
    );
    write(
        "expand",
        "images",
        b"struct Ae<T> { input x: [2, 3, 3]; target t: [2, 3, 3]; param c: [2, 1, 1]; param k: [4, 18] = he; \
          let h = tanh(flatten(x - c) @ k); r = sigmoid(reshape(h @ transpose(k), 2, 3, 3)); output r; \
          loss mse(r, t) + bce(r, t); }",
    );
    // Checkpoints: the parameters alone, and a whole training state after two epochs.
    let net = Net::<f32>::new(&mut StdRng::seed_from_u64(0));
    let params = std::env::temp_dir().join("symgrad-fuzz-seed-params.safetensors");
    checkpoint::save(&params, &checkpoint::named("", &net), &BTreeMap::new()).unwrap();
    write("checkpoint", "params", &std::fs::read(&params).unwrap());
    let state = std::env::temp_dir().join("symgrad-fuzz-seed-state.safetensors");
    fit(&state, 2, false).unwrap();
    write("checkpoint", "state", &std::fs::read(&state).unwrap());
    for file in [params, state] {
        std::fs::remove_file(file).unwrap();
    }
}
