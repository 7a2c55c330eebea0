//! Products split across threads give the same gradients as on one thread, bit for bit, and
//! the same parameters after `sgd_step`, whose updates are products with β ≠ 0: a split
//! product computes each element of C with the same kernel, summed over k in the same order,
//! whatever the thread count. So do convolutions, whose two halves of a batch run on two
//! threads or one after the other with the same arithmetic. Run with
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
    // The first layer's products are large enough to be split.
    const { assert!(64 * 784 * 256 > gemm::SMALL_GEMM && 64 * 784 * 256 >= gemm::DEFAULT_SPLIT_SIZE) };
    assert_eq!(gemm::threads(), Some(2));
    assert!(gemm::set_threads(0).is_err());
    products_do_not_depend_on_the_split::<f32>();
    products_do_not_depend_on_the_split::<f64>();
    joins_pass_panics_on();
}

/// Products of many shapes and layouts, every one split (split size 0) into up to four parts
/// along rows or columns, against the same product on one thread, bit for bit.
fn products_do_not_depend_on_the_split<T: Scalar>() {
    let fill = |rows: usize, cols: usize, seed: usize| {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            T::from_usize((i * 31 + j * 17 + seed) % 23) / T::from_usize(7) - T::ONE
        })
    };
    gemm::set_split_size(0);
    // Around the bounds where the `gemm` crate changes its kernel or its blocks of k with the
    // shape of C (256 elements; one row or column; 64 × 64 where k > 512), whole and split.
    let shapes = [
        (67, 129, 45),
        (45, 300, 67),
        (200, 33, 5),
        (5, 64, 301),
        (128, 257, 96),
        (24, 40, 20),
        (2, 999, 300),
        (130, 600, 40),
        (100, 700, 128),
        (64, 784, 256),
    ];
    for (m, k, n) in shapes {
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = if a_t { fill(k, m, 1) } else { fill(m, k, 1) };
            let b = if b_t { fill(n, k, 2) } else { fill(k, n, 2) };
            let (a, b) = (if a_t { a.t() } else { a.view() }, if b_t { b.t() } else { b.view() });
            let mut outs = Vec::new();
            for threads in [1, 2, 4] {
                gemm::set_threads(threads).unwrap();
                let mut c = fill(m, n, 3);
                let half = T::from_f64(0.5);
                gemm::gemm(T::from_f64(-0.25), a, b, half, c.view_mut()).unwrap();
                outs.push(c);
            }
            assert!(
                outs[0] == outs[1] && outs[0] == outs[2],
                "{m}×{k}×{n}, transposes {a_t} {b_t}, {}",
                T::NAME
            );
        }
    }
    gemm::set_split_size(gemm::DEFAULT_SPLIT_SIZE);
    gemm::set_threads(2).unwrap();
}

/// A panic in either task of a join reaches the caller, after both tasks have finished.
fn joins_pass_panics_on() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::atomic::{AtomicBool, Ordering};
    for first in [false, true] {
        let other_finished = AtomicBool::new(false);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            gemm::join(
                || {
                    if first {
                        panic!("first task");
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    other_finished.store(true, Ordering::SeqCst);
                },
                || {
                    if !first {
                        panic!("second task");
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    other_finished.store(true, Ordering::SeqCst);
                },
            )
        }));
        assert!(
            outcome.is_err(),
            "the panic of the {} task was lost",
            if first { "first" } else { "second" }
        );
        assert!(
            other_finished.load(Ordering::SeqCst),
            "the join returned before its other task finished"
        );
    }
    // The helper survives a task's panic and runs the next join.
    let (a, b) = gemm::join(|| 1, || 2);
    assert_eq!((a, b), (1, 2));
}
