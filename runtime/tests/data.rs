//! Readers and data-set operations, including every kind of bad file: each is a clear error,
//! never a panic or a huge allocation.

use std::io::Write;

use symgrad_runtime::data::{self, Dataset};
use symgrad_runtime::rand::{SeedableRng, rngs::StdRng};
use symgrad_runtime::{Error, ndarray::Array2};

fn idx_images(count: u32, rows: u32, cols: u32, data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3];
    for d in [count, rows, cols] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 1];
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn message(error: Error) -> String {
    error.to_string()
}

#[test]
fn the_embedded_digits_load() {
    let digits = data::digits::<f32>().unwrap();
    assert_eq!(digits.features.dim(), (1797, 64));
    assert_eq!(digits.classes, 10);
    assert_eq!(digits.image, Some((8, 8)));
    assert!(digits.features.iter().all(|&v| (0.0..=16.0).contains(&v)));
    for class in 0..10 {
        let count = digits.labels.iter().filter(|&&l| l == class).count();
        assert!((170..=190).contains(&count), "class {class}: {count}");
    }
}

#[test]
fn idx_reads_plain_and_gzipped() {
    let images = idx_images(2, 2, 3, &[0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    for bytes in [images.clone(), gzip(&images)] {
        let (features, shape) = data::read_idx_images::<f32>(&bytes, "images").unwrap();
        assert_eq!(shape, (2, 3));
        assert_eq!(features.row(1).to_vec(), vec![250.0, 251.0, 252.0, 253.0, 254.0, 255.0]);
    }
    assert_eq!(
        data::read_idx_labels(&gzip(&idx_labels(&[3, 1, 4])), "labels").unwrap(),
        vec![3, 1, 4]
    );
}

#[test]
fn idx_wrong_magic_is_an_error() {
    let mut bytes = idx_images(1, 1, 1, &[7]);
    bytes[3] = 1;
    let error = message(data::read_idx_images::<f32>(&bytes, "x.idx").unwrap_err());
    assert!(error.contains("x.idx") && error.contains("magic"), "{error}");
    let error = message(data::read_idx_labels(&idx_images(1, 1, 1, &[7]), "y.idx").unwrap_err());
    assert!(error.contains("magic"), "{error}");
}

#[test]
fn idx_truncated_data_is_an_error() {
    let error = message(data::read_idx_images::<f32>(&idx_images(2, 2, 2, &[1, 2, 3, 4, 5]), "x").unwrap_err());
    assert!(
        error.contains("truncated") && error.contains("8 bytes") && error.contains("holds 5"),
        "{error}"
    );
    let error = message(data::read_idx_labels(&[0, 0, 8, 1, 0, 0], "y").unwrap_err());
    assert!(error.contains("truncated"), "{error}");
}

#[test]
fn a_header_claiming_more_than_the_file_holds_allocates_nothing_and_fails() {
    // 4 billion images of 65,535 × 65,535 pixels: the size overflows or exceeds the data.
    let error =
        message(data::read_idx_images::<f32>(&idx_images(u32::MAX, u32::MAX, u32::MAX, &[1, 2]), "x").unwrap_err());
    assert!(error.contains("overflow") || error.contains("truncated"), "{error}");
    let error = message(data::read_idx_images::<f32>(&idx_images(1_000_000, 28, 28, &[1; 100]), "x").unwrap_err());
    assert!(error.contains("truncated"), "{error}");
    let error = message(data::read_idx_labels(&idx_labels(&[1; 3])[..10], "y").unwrap_err());
    assert!(error.contains("truncated"), "{error}");
}

#[test]
fn trailing_bytes_and_corrupt_gzip_are_errors() {
    let error = message(data::read_idx_labels(&[idx_labels(&[1, 2]), vec![9, 9]].concat(), "y").unwrap_err());
    assert!(error.contains("2 bytes after"), "{error}");
    let mut gz = gzip(&idx_labels(&[1, 2, 3]));
    let middle = gz.len() / 2;
    gz[middle] ^= 0xff;
    gz.truncate(gz.len() - 4);
    assert!(matches!(data::read_idx_labels(&gz, "y.gz"), Err(Error::Format { .. })));
}

#[test]
fn fashion_mnist_checks_counts_and_labels() {
    let dir = std::env::temp_dir().join(format!("symgrad-fashion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), gzip(bytes)).unwrap();
    write("train-images-idx3-ubyte.gz", &idx_images(3, 2, 2, &[0; 12]));
    write("train-labels-idx1-ubyte.gz", &idx_labels(&[1, 2, 3]));
    write("t10k-images-idx3-ubyte.gz", &idx_images(2, 2, 2, &[0; 8]));
    write("t10k-labels-idx1-ubyte.gz", &idx_labels(&[4, 5]));
    let (train, test) = data::fashion_mnist::<f32>(&dir).unwrap();
    assert_eq!((train.len(), test.len(), train.image), (3, 2, Some((2, 2))));

    write("t10k-labels-idx1-ubyte.gz", &idx_labels(&[4, 5, 6]));
    let error = message(data::fashion_mnist::<f32>(&dir).unwrap_err());
    assert!(error.contains("2 images") && error.contains("3 labels"), "{error}");

    write("t10k-labels-idx1-ubyte.gz", &idx_labels(&[4, 12]));
    let error = message(data::fashion_mnist::<f32>(&dir).unwrap_err());
    assert!(
        error.contains("t10k-labels-idx1-ubyte") && error.contains("label 12 of sample 1"),
        "{error}"
    );
    write("t10k-labels-idx1-ubyte.gz", &idx_labels(&[4, 5]));

    // A missing directory, a file given as the directory, a directory given as a file.
    let missing = dir.join("nowhere");
    let error = message(data::fashion_mnist::<f32>(&missing).unwrap_err());
    assert!(
        error.contains("nowhere") && error.contains("does not exist") && error.contains("apt-get"),
        "{error}"
    );
    let file = dir.join("train-images-idx3-ubyte.gz");
    let error = message(data::fashion_mnist::<f32>(&file).unwrap_err());
    assert!(error.contains("is not a directory"), "{error}");
    std::fs::create_dir(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let error = message(data::fashion_mnist::<f32>(&dir).unwrap_err());
    assert!(
        error.contains("t10k-images-idx3-ubyte")
            && error.contains("is a directory, not an IDX file")
            && !error.contains("apt-get"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_csv_rows_name_their_line() {
    let cases = [
        ("1,2,0\n3,4\n", 2, "expected 3 fields"),
        ("1,2,0\n\n3,x,1\n", 3, "field 2 is not a finite f64 number: \"x\""),
        ("1,2,0\n3,4,-1\n", 2, "label"),
        ("5\n", 1, "features and a label"),
        // Non-finite features, also one that only overflows f64 (1e400) or f32 (1e39), and a
        // label too large to be a class.
        ("1,2,0\n1,NaN,0\n", 2, "field 2 is not a finite"),
        ("1,2,0\ninf,1,0\n", 2, "field 1 is not a finite"),
        ("1,2,0\n1,-1e400,0\n", 2, "field 2 is not a finite"),
        ("1,2,0\n1,2,4000000000\n", 2, "not a class index below 65536"),
    ];
    for (text, line, expected) in cases {
        match data::read_csv::<f64>(text, "table.csv") {
            Err(Error::Format {
                source_name,
                line: Some(l),
                message,
            }) => {
                assert_eq!((source_name.as_str(), l), ("table.csv", line), "{message}");
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert!(matches!(
        data::read_csv::<f64>("\n\n", "empty.csv"),
        Err(Error::Format { .. })
    ));
    let error = message(data::read_csv::<f32>("1e39,0\n", "wide.csv").unwrap_err());
    assert!(
        error.contains("line 1") && error.contains("not a finite f32"),
        "{error}"
    );
    assert!(data::read_csv::<f64>("1e39,0\n", "wide.csv").is_ok());
}

#[test]
fn stratified_splits_keep_class_proportions_and_are_seeded() {
    let digits = data::digits::<f32>().unwrap();
    let (train, test) = digits.split_stratified(0.2, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(train.len() + test.len(), digits.len());
    for class in 0..10 {
        let all = digits.labels.iter().filter(|&&l| l == class).count() as f64;
        let held = test.labels.iter().filter(|&&l| l == class).count() as f64;
        assert!((held - 0.2 * all).abs() <= 0.5, "class {class}: {held} of {all}");
    }
    let (_, again) = digits.split_stratified(0.2, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(test, again);
    let (_, other) = digits.split_stratified(0.2, &mut StdRng::seed_from_u64(1)).unwrap();
    assert_ne!(test, other);
}

#[test]
fn scaling_and_standardisation() {
    let features: Array2<f64> = Array2::from_shape_vec((3, 2), vec![0.0, 2.0, 8.0, 2.0, 16.0, 2.0]).unwrap();
    let mut data = Dataset::new(features, vec![0, 1, 0], 2).unwrap();
    let fitted = data.standardisation();
    assert_eq!(fitted.mean.to_vec(), vec![8.0, 2.0]);
    // A constant feature keeps σ = 1 instead of dividing by zero.
    assert_eq!(fitted.std[1], 1.0);
    fitted.apply(&mut data).unwrap();
    assert!((data.features.column(0).sum()).abs() < 1e-12);
    assert_eq!(data.features.column(1).to_vec(), vec![0.0, 0.0, 0.0]);
    let mut scaled = data::digits::<f64>().unwrap();
    scaled.scale_by(16.0);
    assert!(scaled.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
}

#[test]
fn inconsistent_data_sets_are_rejected() {
    assert!(matches!(
        Dataset::new(Array2::<f32>::zeros((2, 3)), vec![0], 2),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        Dataset::new(Array2::<f32>::zeros((2, 3)), vec![0, 2], 2),
        Err(Error::Label { row: 1, label: 2, .. })
    ));
    let mut features = Array2::<f32>::zeros((2, 3));
    features[(1, 2)] = f32::NAN;
    let error = message(Dataset::new(features.clone(), vec![0, 1], 2).unwrap_err());
    assert!(error.contains("row 1, column 2"), "{error}");
    assert!(matches!(
        Dataset::new(Array2::<f32>::zeros((1, 1)), vec![0], data::MAX_CLASSES + 1),
        Err(Error::Config { .. })
    ));
    // The fields are public: a NaN put in after construction is caught by `check`, which
    // training and evaluation call.
    let mut data = Dataset::new(Array2::<f32>::zeros((2, 3)), vec![0, 1], 2).unwrap();
    data.features = features;
    assert!(matches!(data.check("here"), Err(Error::NonFinite { .. })));
}

#[test]
fn regression_sets_check_their_targets_and_split_as_one_class() {
    let features = Array2::from_shape_fn((10, 2), |(i, j)| (i * 2 + j) as f32);
    let targets = Array2::from_shape_fn((10, 1), |(i, _)| i as f32);
    assert!(matches!(
        Dataset::regression(features.clone(), Array2::zeros((9, 1))),
        Err(Error::Shape { .. })
    ));
    let mut bad = targets.clone();
    bad[(4, 0)] = f32::INFINITY;
    let error = message(Dataset::regression(features.clone(), bad).unwrap_err());
    assert!(
        error.contains("a target") && error.contains("row 4, column 0"),
        "{error}"
    );

    let data = Dataset::regression(features, targets).unwrap();
    assert!(!data.has_labels());
    assert_eq!(data.len(), 10);
    let (rest, split) = data.split_stratified(0.3, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!((rest.len(), split.len()), (7, 3));
    // Each part keeps its rows' targets: feature `2i` goes with target `i`.
    for part in [&rest, &split] {
        let targets = part.targets.as_ref().unwrap();
        for (row, target) in part.features.rows().into_iter().zip(targets.rows()) {
            assert_eq!(row[0], 2.0 * target[0]);
        }
    }
}
