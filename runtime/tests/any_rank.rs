//! Parameters of any rank: initialisers take their fans from the shape, and the optimisers,
//! checkpoints and the gradient checker walk a convolution kernel as they walk a matrix.

use std::collections::BTreeMap;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};
use symgrad_runtime::checkpoint::{self, Checkpoint};
use symgrad_runtime::gradcheck::{self, Options};
use symgrad_runtime::rand::{SeedableRng, rngs::StdRng};
use symgrad_runtime::{Fill, Init, Optim, Optimizer, Parameters, as_matrix};

/// A kernel `[out, in, h, w]` and a bias `[out]`.
#[derive(Clone, Debug, PartialEq)]
struct Conv {
    k: ArrayD<f64>,
    b: ArrayD<f64>,
}

impl Conv {
    fn zeros() -> Self {
        Conv {
            k: ArrayD::zeros(IxDyn(&[4, 3, 2, 2])),
            b: ArrayD::zeros(IxDyn(&[4])),
        }
    }

    fn new(seed: u64) -> Self {
        let mut conv = Conv::zeros();
        let rng = &mut StdRng::seed_from_u64(seed);
        Init::He.fill(rng, conv.k.view_mut());
        Init::StandardNormal.fill(rng, conv.b.view_mut());
        conv
    }

    /// `L = Σ k⁴/4 + Σ b²`, whose gradient is `(k³, 2b)`.
    fn loss(&self) -> f64 {
        self.k.iter().map(|v| v.powi(4) / 4.0).sum::<f64>() + self.b.iter().map(|v| v * v).sum::<f64>()
    }

    fn grad(&self) -> Conv {
        Conv {
            k: self.k.mapv(|v| v.powi(3)),
            b: self.b.mapv(|v| 2.0 * v),
        }
    }
}

impl Parameters<f64> for Conv {
    fn count(&self) -> usize {
        2
    }
    fn name(&self, index: usize) -> &str {
        ["k", "b"][index]
    }
    fn param(&self, index: usize) -> ArrayViewD<'_, f64> {
        [&self.k, &self.b][index].view()
    }
    fn param_mut(&mut self, index: usize) -> ArrayViewMutD<'_, f64> {
        match index {
            0 => self.k.view_mut(),
            _ => self.b.view_mut(),
        }
    }
}

#[test]
fn he_takes_its_fans_from_a_kernel_shape() {
    // A [64, 16, 3, 3] kernel sees fan_in = 16·3·3 = 144 inputs: He draws N(0, 2/144).
    let mut k = ArrayD::<f64>::zeros(IxDyn(&[64, 16, 3, 3]));
    Init::He.fill(&mut StdRng::seed_from_u64(3), k.view_mut());
    let variance = k.iter().map(|v| v * v).sum::<f64>() / k.len() as f64;
    // 9,216 draws: the sample variance is within 5 % of 2/144 with overwhelming probability
    // (its relative standard deviation is √(2/9216) ≈ 1.5 %).
    assert!((variance / (2.0 / 144.0) - 1.0).abs() < 0.05, "variance {variance}");
    assert_eq!(Init::fans(&[64, 16, 3, 3]), (144, 576));
    assert_eq!(Init::fans(&[10]), (1, 10));
    assert_eq!(Init::fans(&[784, 256]), (784, 256));
}

#[test]
fn the_gradient_checker_and_the_optimiser_walk_a_kernel() {
    let mut conv = Conv::new(1);
    let grads = conv.grad();
    let report = gradcheck::check(&mut conv, &grads, |c| Ok(c.loss()), Options::default()).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.checked(), 4 * 3 * 2 * 2 + 4);
    // A wrong element is found and named by its four indices.
    let mut wrong = grads.clone();
    wrong.k[[2, 1, 0, 1]] += 0.5;
    let report = gradcheck::check(&mut conv, &wrong, |c| Ok(c.loss()), Options::default()).unwrap();
    assert!(!report.passed());
    assert_eq!(report.params[0].worst_relative.1, vec![2, 1, 0, 1]);
    // One step of SGD moves every element against its gradient.
    let before = conv.clone();
    Optim::new(Optimizer::Sgd, 0.0).step(&mut conv, &grads, 0.1);
    let expected = &before.k - &(0.1 * &grads.k);
    assert!(conv.k.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-15));
}

#[test]
fn a_kernel_survives_a_checkpoint() {
    let dir = std::env::temp_dir().join(format!("symgrad-any-rank-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conv.safetensors");
    let conv = Conv::new(2);
    checkpoint::save(&path, &checkpoint::named("", &conv), &BTreeMap::new()).unwrap();
    let loaded: Checkpoint<f64> = checkpoint::load(&path).unwrap();
    assert_eq!(loaded.tensors["k"].shape(), &[4, 3, 2, 2]);
    let mut restored = Conv::zeros();
    loaded.restore("", &mut restored, &path).unwrap();
    assert_eq!(restored, conv);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_parameter_of_any_rank_is_computed_on_as_a_matrix_view() {
    let conv = Conv::new(3);
    // [4, 3, 2, 2] is the matrix [4, 12]: each output channel's weights in one row.
    let k = as_matrix(conv.k.view(), "k").unwrap();
    assert_eq!(k.shape(), [4, 12]);
    assert_eq!(k[(1, 5)], conv.k[[1, 1, 0, 1]]);
    // A vector is a row, of any stride.
    let b = as_matrix(conv.b.slice(ndarray::s![..;2]), "b").unwrap();
    assert_eq!(b.shape(), [1, 2]);
    assert_eq!(b[(0, 1)], conv.b[[2]]);
    // A kernel whose axes were permuted is not one matrix in memory: an error naming it.
    let permuted = conv.k.view().permuted_axes(IxDyn(&[1, 0, 2, 3]));
    let error = as_matrix(permuted, "k").unwrap_err().to_string();
    assert!(
        error.contains("k of shape [3, 4, 2, 2] is not in standard (row-major) layout"),
        "{error}"
    );
}
