//! Once a workspace exists, a training step (forward, backward, SGD update) allocates nothing:
//! counted by a global allocator. Products above `symgrad::gemm::SMALL_GEMM` multiply-adds go
//! to the runtime's own kernel where the processor has AVX-512, or AVX2 with FMA once chosen
//! with `gemm::set_kernel` (it allocates nothing once warm), and otherwise to the `gemm` crate,
//! which allocates one or two small vectors per call; that count is pinned too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use symgrad::gemm::Kernel;
use symgrad::ndarray::Array2;
use symgrad::network;
use symgrad::optim::Optim;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run on several threads at once).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

network! {
    struct Small {
        input x: [16];
        target y: classes[4];
        h1 = relu(dense(x, 32));
        h2 = dropout(tanh(dense(h1, 32)), 0.2);
        z = dense(h1 + h2, 4);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    struct Large {
        input x: [784];
        target y: classes[10];
        h1 = relu(dense(x, 256));
        h2 = relu(dense(h1, 128));
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

/// Allocations made by ten steps after a warm-up step.
fn allocations_in_ten_steps(mut step: impl FnMut()) -> usize {
    step(); // warm-up: thread-locals and lazily initialised state
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..10 {
        step();
    }
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn a_training_step_allocates_nothing() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Small::<f32>::new(&mut rng);
    let mut grads = Small::zeros();
    let mut ws = net.workspace(24);
    let x = Array2::from_shape_fn((24, 16), |(i, j)| ((i * 7 + j) % 5) as f32 * 0.2);
    let y: Vec<usize> = (0..24).map(|i| i % 4).collect();
    let mut sgd = Optim::new(Optimizer::Sgd, 0.0);
    let allocations = allocations_in_ten_steps(|| {
        let batch = SmallBatch { x: x.view(), y: &y };
        net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap();
        sgd.step(&mut net, &grads, 0.1);
        // A smaller last batch reuses the same buffers.
        let batch = SmallBatch {
            x: x.slice(symgrad::ndarray::s![..5, ..]),
            y: &y[..5],
        };
        net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap();
    });
    assert_eq!(allocations, 0);
}

network! {
    /// Images with a per-channel bias, flattened into a dense layer, and a rank-4 parameter
    /// with the bias broadcast over it: every parameter is computed on as a matrix view.
    struct Channels {
        input x: [2, 4, 4];
        target y: classes[4];
        param bias: [2, 1, 1];
        param k: [2, 2, 2, 2];
        h = tanh(x + bias);
        z = dense(flatten(h), 4);
        output softmax(z);
        loss cross_entropy(softmax(z), y) + 0.01 * sum(square(k + bias));
    }
}

#[test]
fn a_step_on_images_and_kernels_allocates_nothing() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Channels::<f32>::new(&mut rng);
    let mut grads = Channels::zeros();
    let mut ws = net.workspace(8);
    let x = Array2::from_shape_fn((8, 32), |(i, j)| ((i * 3 + j) % 7) as f32 * 0.1);
    let y: Vec<usize> = (0..8).map(|i| i % 4).collect();
    let mut adam = Optim::new(Optimizer::ADAM, 0.0);
    let allocations = allocations_in_ten_steps(|| {
        let batch = ChannelsBatch { x: x.view(), y: &y };
        net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap();
        adam.step(&mut net, &grads, 0.01);
    });
    assert_eq!(allocations, 0);
}

network! {
    /// Convolutions (declared and declaring, strided), max and average pooling, upsampling
    /// and global average pooling: patch, arg-max and every other buffer in the workspace.
    /// Each product here is below `SMALL_GEMM`.
    struct Convolutional {
        input x: [1, 6, 6];
        target y: classes[3];
        param k: [3, 4, 3, 3];
        c1 = max_pool2d(relu(conv2d(x, 4, 3, padding = same)), 2);
        c2 = upsample2d(tanh(conv2d(c1, k, padding = 1)), 2);
        c3 = avg_pool2d(conv2d(c2, 2, 3, stride = 3), 2);
        z = dense(global_avg_pool(c2), 3) + dense(flatten(c3), 3);
        output softmax(z);
        loss softmax_cross_entropy(z, y);
    }
}

#[test]
fn a_convolutional_step_allocates_nothing() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Convolutional::<f32>::new(&mut rng);
    let mut grads = Convolutional::zeros();
    let mut ws = net.workspace(16);
    let x = Array2::from_shape_fn((16, 36), |(i, j)| ((i * 5 + j) % 7) as f32 * 0.1);
    let y: Vec<usize> = (0..16).map(|i| i % 3).collect();
    let allocations = allocations_in_ten_steps(|| {
        let batch = ConvolutionalBatch { x: x.view(), y: &y };
        net.sgd_step(&mut ws, &batch, &mut rng, &mut grads, 0.01, 0.0).unwrap();
        let batch = ConvolutionalBatch {
            x: x.slice(symgrad::ndarray::s![..3, ..]),
            y: &y[..3],
        };
        net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap();
    });
    assert_eq!(allocations, 0);
}

#[test]
fn hessian_and_gauss_newton_products_allocate_nothing() {
    let mut rng = StdRng::seed_from_u64(0);
    let net = Small::<f32>::new(&mut rng);
    let v = Small::<f32>::new(&mut rng);
    let mut out = Small::zeros();
    let (mut ws, mut gws) = (net.hvp_workspace(24), net.gnvp_workspace(24));
    let x = Array2::from_shape_fn((24, 16), |(i, j)| ((i * 7 + j) % 5) as f32 * 0.2);
    let y: Vec<usize> = (0..24).map(|i| i % 4).collect();
    let allocations = allocations_in_ten_steps(|| {
        let batch = SmallBatch { x: x.view(), y: &y };
        net.hvp(&mut ws, &batch, &mut rng, &v, &mut out).unwrap();
        net.gnvp(&mut gws, &batch, &mut rng, &v, &mut out).unwrap();
    });
    assert_eq!(allocations, 0);
}

network! {
    struct Wide {
        input x: [784];
        target y: classes[10];
        h1 = relu(dense(x, 1024));
        h2 = relu(dense(h1, 1024));
        z = dense(h2, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

/// Chooses the own kernel where the processor runs it (AVX-512, else AVX2 with FMA, which is
/// not the default): every test here that counts large products calls this first, so that
/// they agree while they run side by side.
fn choose_the_own_kernel() {
    let _ = symgrad::gemm::set_kernel(Kernel::Avx512).or_else(|_| symgrad::gemm::set_kernel(Kernel::Avx2));
}

/// Checks the allocations of ten steps of a network with `products` products per step, every
/// one above `SMALL_GEMM` multiply-adds. The runtime's own kernel keeps its packing buffer per
/// thread: nothing. The `gemm` crate allocates one vector per call, and a second for some
/// shapes and layouts (its blocking follows the CPU's caches; for `Large` on an AVX2 machine,
/// 13 per step): at most two per product, nothing else.
fn assert_large_products_allocate(allocations: usize, products: usize) {
    match symgrad::gemm::kernel() {
        Kernel::Avx512 | Kernel::Avx2 => assert_eq!(allocations, 0),
        Kernel::GemmCrate => assert!(
            (10 * products..=10 * 2 * products).contains(&allocations),
            "{allocations} in ten steps of {products} products"
        ),
    }
}

#[test]
fn a_784_256_128_10_step_at_batch_64_allocates_nothing_in_the_own_kernel() {
    choose_the_own_kernel();
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Large::<f32>::new(&mut rng);
    let mut grads = Large::zeros();
    let mut ws = net.workspace(64);
    let x = Array2::from_shape_fn((64, 784), |(i, j)| ((i + j) % 3) as f32 * 0.3);
    let y: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let mut sgd = Optim::new(Optimizer::Sgd, 0.0);
    let allocations = allocations_in_ten_steps(|| {
        let batch = LargeBatch { x: x.view(), y: &y };
        net.loss_and_grad(&mut ws, &batch, &mut rng, &mut grads).unwrap();
        sgd.step(&mut net, &grads, 0.01);
    });
    // 3 forward, 3 weight gradients, 2 input gradients (none for X).
    assert_large_products_allocate(allocations, 8);
}

#[test]
fn a_784_1024_1024_10_step_at_batch_128_allocates_nothing_in_the_own_kernel() {
    choose_the_own_kernel();
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Wide::<f32>::new(&mut rng);
    let mut grads = Wide::zeros();
    let mut ws = net.workspace(128);
    let x = Array2::from_shape_fn((128, 784), |(i, j)| ((i + 2 * j) % 5) as f32 * 0.2);
    let y: Vec<usize> = (0..128).map(|i| i % 10).collect();
    let allocations = allocations_in_ten_steps(|| {
        let batch = WideBatch { x: x.view(), y: &y };
        net.sgd_step(&mut ws, &batch, &mut rng, &mut grads, 0.01, 0.0).unwrap();
    });
    assert_large_products_allocate(allocations, 8);
}

network! {
    /// Eight tanh layers: every activation is read again by the backward pass (for its
    /// derivative and its weight's gradient), the other values are not.
    struct Deep {
        input x: [16];
        target y: classes[4];
        h1 = tanh(dense(x, 16));
        h2 = tanh(dense(h1, 16));
        h3 = tanh(dense(h2, 16));
        h4 = tanh(dense(h3, 16));
        h5 = tanh(dense(h4, 16));
        h6 = tanh(dense(h5, 16));
        h7 = tanh(dense(h6, 16));
        h8 = tanh(dense(h7, 16));
        z = dense(h8, 4);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

#[test]
fn buffers_are_shared_and_backward_keeps_only_what_it_reads() {
    // The eight activations live until the backward pass reads them; the pre-activations are
    // overwritten in place by tanh; the adjoints of successive layers take turns in a few
    // buffers. Without reuse every computed matrix would need its own.
    let (values, buffers) = std::hint::black_box((Deep::<f32>::COMPUTED_VALUES, Deep::<f32>::WORKSPACE_BUFFERS));
    assert!(values > 40, "{values} computed values");
    assert!(buffers <= 8 + 4, "{buffers} buffers for {values} values");
}

network! {
    /// The convolutions of the `lenet` example at full size (28×28 images, 16 and 32 filters of
    /// 5×5), with a dense head small enough at batch 2 for the direct loops.
    struct LeNetConvolutions {
        input x: [1, 28, 28];
        target y: classes[10];
        c1 = max_pool2d(relu(conv2d(x, 16, 5, padding = same, init = he)), 2);
        c2 = max_pool2d(relu(conv2d(c1, 32, 5, padding = same, init = he)), 2);
        z = dense(flatten(c2), 10);
        output softmax(z);
        loss softmax_cross_entropy(z, y);
    }
}

/// Where the direct convolution kernels run (stride 1, AVX-512), a convolution's three passes
/// at LeNet's sizes allocate nothing; elsewhere they are products per sample, and those above
/// `SMALL_GEMM` go to the `gemm` crate, which allocates.
#[test]
fn lenet_sized_convolutions_allocate_nothing_where_they_run_direct() {
    #[cfg(target_arch = "x86_64")]
    let direct = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let direct = false;
    if !direct {
        eprintln!("no AVX-512 here: the convolutions run as products, which allocate");
        return;
    }
    const { assert!(2 * 1568 * 10 <= symgrad::gemm::SMALL_GEMM) };
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = LeNetConvolutions::<f32>::new(&mut rng);
    let mut grads = LeNetConvolutions::zeros();
    let mut ws = net.workspace(2);
    let x = Array2::from_shape_fn((2, 784), |(i, j)| ((i * 5 + j) % 7) as f32 * 0.1);
    let y = [3, 7];
    let allocations = allocations_in_ten_steps(|| {
        let batch = LeNetConvolutionsBatch { x: x.view(), y: &y };
        net.sgd_step(&mut ws, &batch, &mut rng, &mut grads, 0.01, 0.0).unwrap();
    });
    assert_eq!(allocations, 0);
}
