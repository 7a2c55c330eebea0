//! Products split across threads give the same gradients as on one thread, bit for bit, and
//! the same parameters after `sgd_step`, whose updates are products with β ≠ 0: the `gemm`
//! crate splits C into blocks and sums each element over k in the same order whatever the
//! thread count. So do convolutions, whose two halves of a batch run on two threads or one
//! after the other with the same arithmetic. Run with
//! `cargo test --features threading --test threads`.

use symgrad::gemm;
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    struct Mlp {
        input x: [784];
        target y: classes[10];
        h1 = relu(dense(x, 256));
        h2 = relu(dense(h1, 128));
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    struct Autoencoder {
        input x: [784];
        h = sigmoid(dense(x, 64));
        r = sigmoid(dense(h, 784));
        output r;
        loss mse(r, x);
    }
}

network! {
    struct LeNet {
        input x: [1, 28, 28];
        target y: classes[10];
        c1 = max_pool2d(relu(conv2d(x, 6, 5, padding = same)), 2);
        c2 = avg_pool2d(tanh(conv2d(c1, 8, 3, stride = 2)), 2);
        z = dense(flatten(c2), 10);
        output softmax(z);
        loss softmax_cross_entropy(z, y);
    }
}

/// The loss and gradient of `M` (initialised from a fixed seed) on `batch`, with products on
/// `threads` threads, and the parameters after one `sgd_step` (updates folded into products).
fn grads<T: Scalar, M: Model<T>>(threads: usize, batch: &M::Batch<'_>, rows: usize) -> (T, M, M) {
    gemm::set_threads(threads).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let net = M::init(&mut rng);
    let mut grads = M::zeros();
    let mut ws = net.workspace(rows);
    let loss = net.loss_and_grad(&mut ws, batch, &mut rng, &mut grads).unwrap();
    let mut stepped = net.clone();
    let (rate, decay) = (T::from_f64(0.1), T::from_f64(0.01));
    stepped
        .sgd_step(
            &mut ws,
            batch,
            &mut StdRng::seed_from_u64(8),
            &mut M::zeros(),
            rate,
            decay,
        )
        .unwrap();
    (loss, grads, stepped)
}

/// `rows` samples of 784 features, small multiples of 1/17, and labels cycling through 0..10.
fn inputs<T: Scalar>(rows: usize) -> (Array2<T>, Vec<usize>) {
    let x = Array2::from_shape_fn((rows, 784), |(i, j)| {
        T::from_usize((i * 13 + j * 7) % 17) / T::from_usize(17)
    });
    (x, (0..rows).map(|i| i % 10).collect())
}

/// Every parameter's gradient, flattened, for comparison.
fn flat<T: Scalar, P: Parameters<T>>(params: &P) -> Vec<T> {
    (0..params.count())
        .flat_map(|i| params.param(i).iter().copied().collect::<Vec<_>>())
        .collect()
}

/// The MLP's loss and gradients on `rows` samples with one thread and with two.
fn mlp_agrees<T: Scalar>(rows: usize) {
    let (x, y) = inputs::<T>(rows);
    let batch = MlpBatch { x: x.view(), y: &y };
    let (loss1, grads1, stepped1) = grads::<T, Mlp<T>>(1, &batch, rows);
    let (loss2, grads2, stepped2) = grads::<T, Mlp<T>>(2, &batch, rows);
    assert!(loss1 == loss2, "MLP loss in {}, batch {rows}", T::NAME);
    assert!(
        flat(&grads1) == flat(&grads2),
        "MLP gradients in {}, batch {rows}",
        T::NAME
    );
    assert!(
        flat(&stepped1) == flat(&stepped2),
        "MLP after sgd_step in {}, batch {rows}",
        T::NAME
    );
}

// One test: the thread count is a setting of the whole process.
#[test]
fn gradients_do_not_depend_on_the_thread_count() {
    for rows in [64, 256] {
        mlp_agrees::<f32>(rows);
        mlp_agrees::<f64>(rows);
    }
    let (x, _) = inputs::<f32>(64);
    let batch = AutoencoderBatch { x: x.view() };
    let (loss1, grads1, stepped1) = grads::<f32, Autoencoder<f32>>(1, &batch, 64);
    let (loss2, grads2, stepped2) = grads::<f32, Autoencoder<f32>>(2, &batch, 64);
    assert!(loss1 == loss2, "autoencoder loss");
    assert!(flat(&grads1) == flat(&grads2), "autoencoder gradients in f32");
    assert!(flat(&stepped1) == flat(&stepped2), "autoencoder after sgd_step in f32");
    let (x, y) = inputs::<f32>(9);
    let batch = LeNetBatch { x: x.view(), y: &y };
    let (loss1, grads1, stepped1) = grads::<f32, LeNet<f32>>(1, &batch, 9);
    let (loss2, grads2, stepped2) = grads::<f32, LeNet<f32>>(2, &batch, 9);
    assert!(loss1 == loss2, "LeNet loss");
    assert!(flat(&grads1) == flat(&grads2), "LeNet gradients in f32");
    assert!(flat(&stepped1) == flat(&stepped2), "LeNet after sgd_step in f32");
    // The first layer's products are large enough to be split: above the direct loops' limit
    // and the `gemm` crate's own threshold for threads, 48 · 48 · 256 multiply-adds.
    const { assert!(64 * 784 * 256 > gemm::SMALL_GEMM && 64 * 784 * 256 > 48 * 48 * 256) };
    assert_eq!(gemm::threads(), Some(2));
    assert!(gemm::set_threads(0).is_err());
}
