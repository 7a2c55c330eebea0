//! The blocked training step of small dense chains (`symgrad::kernels::rows`), in f64: it is
//! the step `loss_and_grad` and `sgd_step` take for these networks, and it passes every check
//! the batch-wide step passes (`common::check`: the tape twin, finite differences, the hook,
//! `sgd_step`), on batches that fill blocks of 16 samples exactly, leave the last one
//! partial, or fit in one; with rows read through strides, and with labels out of range.

mod common;

use common::{Kinks, check, labels, network, random};
use proptest::prelude::*;
use symgrad::network;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    /// Every activation whose derivative is written in its output, softmax on logits.
    struct Smooth {
        input x: [5];
        target y: classes[4];
        h1 = tanh(dense(x, 7));
        h2 = sigmoid(dense(h1, 6));
        h3 = softplus(dense(h2, 5));
        z = dense(h3, 4);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// Kinked activations: ReLU and leaky ReLU.
    struct Kinked {
        input x: [6];
        target y: classes[3];
        h1 = relu(dense(x, 9));
        h2 = leaky_relu(dense(h1, 8), 0.1);
        z = dense(h2, 3);
        output z;
        loss softmax_cross_entropy(z, y);
    }
}

network! {
    /// Hidden layers of whole rows (16 and 32 wide), whose parameters and gradients the loop
    /// reads and sums in place, with no padded copies.
    struct Whole {
        input x: [5];
        target y: classes[3];
        h1 = tanh(dense(x, 16));
        h2 = relu(dense(h1, 32));
        z = dense(h2, 3);
        output z;
        loss softmax_cross_entropy(z, y);
    }
}

network! {
    /// Logistic regression: one layer, two classes.
    struct Logistic {
        input x: [3];
        target y: classes[2];
        z = dense(x, 2);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

/// The blocked step runs for `batch` (bit for bit what `loss_and_grad` returns), and then
/// every check of the batch-wide step.
macro_rules! blocked_and_checked {
    ($net:ident, $batch:expr, $seed:expr, $kinks:expr) => {{
        let (net, batch): (&mut $net<f64>, _) = $batch;
        let mut ws = net.workspace(1);
        let (mut blocked, mut grads) = ($net::<f64>::zeros(), $net::<f64>::zeros());
        let loss = net.__blocked_gradient(&mut ws, batch.x, batch.y, &mut blocked);
        prop_assert!(loss.is_some(), "the blocked step declined");
        let mut rng = StdRng::seed_from_u64($seed);
        prop_assert_eq!(
            loss,
            Some(net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap())
        );
        prop_assert_eq!(&blocked, &grads);
        check(net, &batch, $seed, $kinks)?;
    }};
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn smooth(seed in any::<u64>(), rows in prop_oneof![1usize..4, 15usize..18, 31usize..34, Just(48)]) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Smooth<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 5, 1.0), labels(&mut rng, rows, 4));
        blocked_and_checked!(Smooth, (&mut net, SmoothBatch { x: x.view(), y: &y }), seed, Kinks::None);
    }

    #[test]
    fn kinked(seed in any::<u64>(), rows in prop_oneof![1usize..4, 15usize..18, 31usize..34]) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Kinked<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 6, 1.0), labels(&mut rng, rows, 3));
        blocked_and_checked!(Kinked, (&mut net, KinkedBatch { x: x.view(), y: &y }), seed, Kinks::Possible);
    }

    #[test]
    fn whole_rows(seed in any::<u64>(), rows in prop_oneof![1usize..4, 15usize..18, 31usize..34]) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Whole<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 5, 1.0), labels(&mut rng, rows, 3));
        blocked_and_checked!(Whole, (&mut net, WholeBatch { x: x.view(), y: &y }), seed, Kinks::Possible);
    }

    #[test]
    fn logistic(seed in any::<u64>(), rows in 1usize..40) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Logistic<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 3, 1.0), labels(&mut rng, rows, 2));
        blocked_and_checked!(Logistic, (&mut net, LogisticBatch { x: x.view(), y: &y }), seed, Kinks::None);
    }

    /// Rows read through a stride (every other row of a larger matrix) give the gradient of
    /// the same rows stored contiguously, bit for bit.
    #[test]
    fn strided_rows(seed in any::<u64>(), rows in 1usize..40) {
        let mut rng = StdRng::seed_from_u64(seed);
        let net: Smooth<f64> = network(&mut rng);
        let (wide, y) = (random(&mut rng, 2 * rows, 5, 1.0), labels(&mut rng, rows, 4));
        let strided = wide.slice(symgrad::ndarray::s![..;2, ..]);
        let contiguous = strided.to_owned();
        let mut ws = net.workspace(1);
        let (mut a, mut b) = (Smooth::<f64>::zeros(), Smooth::<f64>::zeros());
        let la = net.__blocked_gradient(&mut ws, strided, &y, &mut a);
        let lb = net.__blocked_gradient(&mut ws, contiguous.view(), &y, &mut b);
        prop_assert!(la.is_some());
        prop_assert_eq!(la, lb);
        prop_assert_eq!(a, b);
    }
}

/// A label out of range is the batch-wide step's error, not a wrong answer; the blocked step
/// declines without touching the gradients.
#[test]
fn a_label_out_of_range_is_an_error() {
    let mut rng = StdRng::seed_from_u64(3);
    let net: Logistic<f64> = network(&mut rng);
    let x = random(&mut rng, 20, 3, 1.0);
    let mut y = labels(&mut rng, 20, 2);
    y[17] = 2;
    let mut ws = net.workspace(1);
    let mut grads = Logistic::<f64>::zeros();
    grads.z_b.fill(7.0);
    assert_eq!(net.__blocked_gradient(&mut ws, x.view(), &y, &mut grads), None);
    assert!(grads.z_b.iter().all(|&g| g == 7.0));
    let batch = LogisticBatch { x: x.view(), y: &y };
    let error = net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Label {
                row: 17,
                label: 2,
                classes: 2,
                ..
            }
        ),
        "{error}"
    );
}

/// In f32 (the vector code training runs) the blocked gradient is the f64 one rounded: each
/// element sums at most 48 samples' products of a few factors, each rounded to a relative
/// 6·10⁻⁸ (tanh and exp to about one ulp), so errors stay below 10⁻⁶ of the gradient's largest
/// element; 10⁻⁵ of it is allowed.
#[test]
fn f32_is_f64_rounded() {
    for (seed, rows) in [(1, 1), (2, 16), (3, 17), (4, 48)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let wide: Smooth<f64> = network(&mut rng);
        let mut narrow = Smooth::<f32>::zeros();
        for i in 0..wide.count() {
            narrow.param_mut(i).assign(&wide.param(i).mapv(|v| v as f32));
        }
        let (x, y) = (random(&mut rng, rows, 5, 1.0), labels(&mut rng, rows, 4));
        let (mut g64, mut g32) = (Smooth::<f64>::zeros(), Smooth::<f32>::zeros());
        let l64 = wide
            .__blocked_gradient(&mut wide.workspace(1), x.view(), &y, &mut g64)
            .unwrap();
        let x32 = x.mapv(|v| v as f32);
        let l32 = narrow
            .__blocked_gradient(&mut narrow.workspace(1), x32.view(), &y, &mut g32)
            .unwrap();
        assert!(
            (f64::from(l32) - l64).abs() <= 1e-5 * l64.abs().max(1.0),
            "loss {l32} vs {l64}"
        );
        for i in 0..g64.count() {
            let largest = g64.param(i).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            for (&a, &b) in g32.param(i).iter().zip(g64.param(i).iter()) {
                assert!(
                    (f64::from(a) - b).abs() <= 1e-5 * largest,
                    "{} with {rows} rows: {a} vs {b}",
                    g64.name(i)
                );
            }
        }
    }
}
