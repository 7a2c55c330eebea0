//! What autoencoders are compared with and judged by: principal component analysis (the best a
//! linear autoencoder can do), k-means clustering, and the purity and normalised mutual
//! information of a clustering against the classes.
//!
//! Hand-written: a few dozen lines each on ndarray, against a machine-learning crate's tree.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;

use crate::init::normal;

/// The top principal components of a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// The per-feature mean that was subtracted.
    pub mean: Array1<f64>,
    /// `k × d`: orthonormal rows, by decreasing variance.
    pub components: Array2<f64>,
}

impl Pca {
    /// The top `k` components of `data` (one sample per row), by subspace iteration on the
    /// covariance `C = XᵀX/n` of the centred data: `Q ← orth(C Q)`, repeated until the
    /// subspace settles, converges to the span of the top `k` eigenvectors (Golub and Van Loan,
    /// §8.2.4); a final Rayleigh–Ritz step orders them.
    pub fn fit<R: Rng + ?Sized>(data: ArrayView2<'_, f64>, k: usize, rng: &mut R) -> Pca {
        let (n, d) = data.dim();
        let k = k.min(d);
        let mean = data.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
        let centred = &data - &mean;
        let covariance = centred.t().dot(&centred) / n.max(1) as f64;
        let mut q = Array2::from_shape_fn((d, k), |_| normal(rng));
        orthonormalise(&mut q);
        for _ in 0..300 {
            let mut next = covariance.dot(&q);
            orthonormalise(&mut next);
            let change = (&next - &q).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            q = next;
            if change < 1e-10 {
                break;
            }
        }
        // Rayleigh–Ritz: order the basis by the variance along each direction.
        let projected = q.t().dot(&covariance).dot(&q);
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| projected[(b, b)].total_cmp(&projected[(a, a)]));
        let components = Array2::from_shape_fn((k, d), |(i, j)| q[(j, order[i])]);
        Pca { mean, components }
    }

    /// The codes `(x − μ) Vᵀ`, one row per sample.
    pub fn encode(&self, data: ArrayView2<'_, f64>) -> Array2<f64> {
        (&data - &self.mean).dot(&self.components.t())
    }

    /// The reconstructions `μ + (x − μ) Vᵀ V`.
    pub fn reconstruct(&self, data: ArrayView2<'_, f64>) -> Array2<f64> {
        self.encode(data).dot(&self.components) + &self.mean
    }
}

/// Modified Gram–Schmidt on the columns of `q`.
fn orthonormalise(q: &mut Array2<f64>) {
    for j in 0..q.ncols() {
        for i in 0..j {
            let dot = q.column(i).dot(&q.column(j));
            let qi = q.column(i).to_owned();
            q.column_mut(j).scaled_add(-dot, &qi);
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        if norm > 0.0 {
            q.column_mut(j).mapv_inplace(|v| v / norm);
        }
    }
}

/// The result of k-means.
#[derive(Clone, Debug, PartialEq)]
pub struct Clusters {
    /// `k × d` centroids.
    pub centroids: Array2<f64>,
    /// The cluster of every sample.
    pub assignment: Vec<usize>,
}

/// Lloyd's k-means with k-means++ seeding (Arthur and Vassilvitskii, 2007), at most
/// `iterations` rounds or until no assignment changes.
pub fn kmeans<R: Rng + ?Sized>(data: ArrayView2<'_, f64>, k: usize, iterations: usize, rng: &mut R) -> Clusters {
    let (n, d) = data.dim();
    let k = k.clamp(1, n.max(1));
    let distance = |a: ndarray::ArrayView1<'_, f64>, b: ndarray::ArrayView1<'_, f64>| {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>()
    };
    let mut centroids = Array2::zeros((k, d));
    if n == 0 {
        return Clusters {
            centroids,
            assignment: Vec::new(),
        };
    }
    centroids.row_mut(0).assign(&data.row(rng.random_range(0..n)));
    let mut nearest: Vec<f64> = (0..n).map(|i| distance(data.row(i), centroids.row(0))).collect();
    for c in 1..k {
        let total: f64 = nearest.iter().sum();
        let mut target = rng.random::<f64>() * total;
        let chosen = nearest.iter().position(|&w| {
            target -= w;
            target <= 0.0
        });
        centroids.row_mut(c).assign(&data.row(chosen.unwrap_or(n - 1)));
        for (i, best) in nearest.iter_mut().enumerate() {
            *best = best.min(distance(data.row(i), centroids.row(c)));
        }
    }
    let mut assignment = vec![usize::MAX; n];
    for _ in 0..iterations {
        let mut changed = false;
        for (i, slot) in assignment.iter_mut().enumerate() {
            let best = (0..k)
                .min_by(|&a, &b| {
                    distance(data.row(i), centroids.row(a)).total_cmp(&distance(data.row(i), centroids.row(b)))
                })
                .unwrap_or(0);
            changed |= *slot != best;
            *slot = best;
        }
        if !changed {
            break;
        }
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut counts = vec![0usize; k];
        for (i, &c) in assignment.iter().enumerate() {
            sums.row_mut(c).scaled_add(1.0, &data.row(i));
            counts[c] += 1;
        }
        for (c, &count) in counts.iter().enumerate() {
            if count > 0 {
                centroids.row_mut(c).assign(&(&sums.row(c) / count as f64));
            }
        }
    }
    Clusters { centroids, assignment }
}

/// The fraction of samples whose cluster's most common class is their own class.
pub fn purity(labels: &[usize], clusters: &[usize]) -> f64 {
    let table = contingency(labels, clusters);
    let majority: usize = table.iter().map(|row| row.iter().copied().max().unwrap_or(0)).sum();
    majority as f64 / labels.len().max(1) as f64
}

/// Normalised mutual information `I(C; K) / √(H(C) H(K))` between classes and clusters: 1 for
/// a perfect match, near 0 for unrelated ones.
pub fn nmi(labels: &[usize], clusters: &[usize]) -> f64 {
    let table = contingency(labels, clusters);
    let n = labels.len() as f64;
    let cluster_sizes: Vec<f64> = table.iter().map(|row| row.iter().sum::<usize>() as f64).collect();
    let classes = table.first().map_or(0, Vec::len);
    let class_sizes: Vec<f64> = (0..classes)
        .map(|c| table.iter().map(|row| row[c]).sum::<usize>() as f64)
        .collect();
    let entropy = |sizes: &[f64]| {
        -sizes
            .iter()
            .filter(|&&s| s > 0.0)
            .map(|&s| s / n * (s / n).ln())
            .sum::<f64>()
    };
    let mut information = 0.0;
    for (k, row) in table.iter().enumerate() {
        for (c, &count) in row.iter().enumerate() {
            if count > 0 {
                let p = count as f64 / n;
                information += p * (p / (cluster_sizes[k] / n * class_sizes[c] / n)).ln();
            }
        }
    }
    let denominator = (entropy(&cluster_sizes) * entropy(&class_sizes)).sqrt();
    if denominator > 0.0 {
        information / denominator
    } else {
        0.0
    }
}

/// `table[cluster][class]` counts.
fn contingency(labels: &[usize], clusters: &[usize]) -> Vec<Vec<usize>> {
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let k = clusters.iter().max().map_or(0, |&m| m + 1);
    let mut table = vec![vec![0; classes]; k];
    for (&label, &cluster) in labels.iter().zip(clusters) {
        table[cluster][label] += 1;
    }
    table
}
