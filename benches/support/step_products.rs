//! The products of the benchmark networks' training steps, layer by layer, for
//! `benches/gemm.rs` and `benches/kernel_pairs.rs`.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// (batch, inputs, outputs) of a layer: 784-256-128-10 at 64 and 256, 784-1024-1024-10 at
/// 128, the autoencoder's 256-64 and 256-784 layers at 64.
pub const LAYERS: [(usize, usize, usize); 11] = [
    (64, 784, 256),
    (64, 256, 128),
    (64, 128, 10),
    (256, 784, 256),
    (256, 256, 128),
    (256, 128, 10),
    (128, 784, 1024),
    (128, 1024, 1024),
    (128, 1024, 10),
    (64, 256, 64),
    (64, 256, 784),
];

/// One product: its name, α, A, B, β and C of `C ← α A B + β C`.
pub type Product<'a> = (
    &'static str,
    f32,
    ArrayView2<'a, f32>,
    ArrayView2<'a, f32>,
    f32,
    ArrayViewMut2<'a, f32>,
);

/// A layer's operands (`H`, `W`, `Z̄`) and the outputs of its three products.
pub struct Layer {
    h: Array2<f32>,
    w: Array2<f32>,
    z: Array2<f32>,
    out: Array2<f32>,
    w_grad: Array2<f32>,
    h_grad: Array2<f32>,
}

impl Layer {
    pub fn new((rows, inputs, outputs): (usize, usize, usize)) -> Self {
        let h = Array2::from_shape_fn((rows, inputs), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.1);
        let w = Array2::from_shape_fn((inputs, outputs), |(i, j)| ((i + 3 * j) % 11) as f32 * 0.1);
        let z = Array2::from_shape_fn((rows, outputs), |(i, j)| ((i + j) % 5) as f32 * 0.1);
        let (out, w_grad, h_grad) = (z.clone(), w.clone(), h.clone());
        Layer {
            h,
            w,
            z,
            out,
            w_grad,
            h_grad,
        }
    }

    /// As a step calls them: the forward product onto the broadcast bias, the weight's
    /// gradient folded into its SGD update (α = −lr, β = 1), the input gradient written.
    pub fn products(&mut self) -> [Product<'_>; 3] {
        let Layer {
            h,
            w,
            z,
            out,
            w_grad,
            h_grad,
        } = self;
        [
            ("forward", 1.0, h.view(), w.view(), 1.0, out.view_mut()),
            ("weight", -1e-3, h.t(), z.view(), 1.0, w_grad.view_mut()),
            ("input", 1.0, z.view(), w.t(), 0.0, h_grad.view_mut()),
        ]
    }
}
