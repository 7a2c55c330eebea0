//! Convolutional networks' gradients against the same oracles as every other network (see
//! `gradients.rs` for the tolerances): central finite differences in f64, the tape twin,
//! the Hessian-vector product's differences, the hooked and the gradient-descent passes.
//! Strides, paddings, dilations, channel counts and map sizes vary between the networks and
//! are odd where they can be.

mod common;

use common::{Kinks, check, labels, network, random};
use proptest::prelude::*;
use symgrad::network;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    /// Two convolution and pooling stages and a dense layer: a small LeNet.
    struct LeNet {
        input x: [1, 8, 8];
        target y: classes[3];
        c1 = relu(conv2d(x, 3, 3, padding = same));
        p1 = max_pool2d(c1, 2);
        c2 = tanh(conv2d(p1, 4, 3));
        p2 = avg_pool2d(c2, 2);
        z = dense(flatten(p2), 3);
        output softmax(z);
        loss softmax_cross_entropy(z, y);
    }
}

network! {
    /// A declared kernel and per-channel bias at stride 2 with padding 1 over odd maps, whole
    /// maps dropped, an upsampling and a dilated convolution decoding back, global average
    /// pooling, and overlapping max pooling windows; losses at two depths.
    struct Strided {
        input x: [2, 7, 5];
        target t: [2, 8, 6];
        target y: classes[2];
        param k: [3, 2, 2, 3] = he;
        param b: [3, 1, 1];
        c = tanh(conv2d(x, k, stride = 2, padding = 1) + b);
        u = upsample2d(dropout2d(c, 0.3), 2);
        d = conv2d(u, 2, 3, dilation = 2, padding = same);
        m = max_pool2d(d, 3, stride = 1);
        z = dense(global_avg_pool(c), 2) + dense(flatten(m), 2);
        output d;
        loss mse(d, t) + softmax_cross_entropy(z, y);
    }
}

network! {
    /// One kernel used twice (tied), a residual sum of maps, whole maps dropped and a
    /// penalty on a kernel.
    struct Tied {
        input x: [2, 5, 5];
        target t: [2, 5, 5];
        param k: [2, 2, 3, 3];
        h = tanh(conv2d(x, k, padding = 1));
        r = h + tanh(conv2d(dropout(h, 0.2), k, padding = 1));
        output r;
        loss mse(r, t) + 0.01 * sum(square(k));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn lenet(seed in any::<u64>(), rows in 1usize..5) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: LeNet<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 64, 1.0), labels(&mut rng, rows, 3));
        let batch = LeNetBatch { x: x.view(), y: &y };
        // ReLU and max pooling have kinks.
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn strided(seed in any::<u64>(), rows in 1usize..5) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Strided<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 70, 1.0), random(&mut rng, rows, 96, 1.0));
        let y = labels(&mut rng, rows, 2);
        let batch = StridedBatch { x: x.view(), t: t.view(), y: &y };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn tied(seed in any::<u64>(), rows in 1usize..5) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Tied<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 50, 1.0), random(&mut rng, rows, 50, 1.0));
        let batch = TiedBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }
}
