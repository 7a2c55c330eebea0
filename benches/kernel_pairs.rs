//! The packed kernels side by side, call by call: each product of the benchmark networks'
//! steps (as `benches/gemm.rs`, `kernels`) computed through `symgrad::gemm` under the
//! processor's default kernel and under every other kernel it runs (`gemm::Kernel`: the
//! runtime's own for AVX-512 or AVX2, the `gemm` crate's), one call of each in turn, so that
//! all see the same state of a noisy machine; prints the 10th percentile and the median of
//! each and their ratios to the default's. One thread; pin it (`taskset -c 1 cargo bench
//! --bench kernel_pairs [-- FILTER]`). Criterion's medians of whole runs, one kernel after the
//! other, moved by up to 40 % between runs on a shared 2-vCPU machine; turns of calls do not.

use std::hint::black_box;
use std::time::Instant;

use symgrad::gemm::{self, Kernel};

#[path = "support/step_products.rs"]
mod step_products;

fn main() {
    gemm::set_threads(1).unwrap();
    let default = gemm::kernel();
    let others: Vec<Kernel> = [Kernel::Avx512, Kernel::Avx2, Kernel::GemmCrate]
        .into_iter()
        .filter(|&k| k != default && gemm::set_kernel(k).is_ok())
        .collect();
    gemm::set_kernel(default).unwrap();
    if others.is_empty() {
        eprintln!("no kernel but the default runs here: nothing to compare");
        return;
    }
    let kernels: Vec<Kernel> = std::iter::once(default).chain(others).collect();
    // `cargo bench` passes `--bench`; the first other argument filters the products.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    println!(
        "µs, p10 and median of each of {kernels:?} (the first the default), one call of each in turn; ratios to the default"
    );
    for shape in step_products::LAYERS {
        let (rows, inputs, outputs) = shape;
        let mut layer = step_products::Layer::new(shape);
        for (pass, alpha, a, b, beta, mut out) in layer.products() {
            let name = format!("{rows}x{inputs}x{outputs}/{pass}");
            if !name.contains(&filter) {
                continue;
            }
            // About 0.2 s of multiply-adds at 10 GFLOP/s, at least 200 calls of each.
            let calls = (100_000_000 / (rows * inputs * outputs)).clamp(200, 3000);
            let mut times = vec![Vec::with_capacity(calls); kernels.len()];
            for _ in 0..calls {
                for (&kernel, times) in kernels.iter().zip(&mut times) {
                    gemm::set_kernel(kernel).unwrap();
                    let start = Instant::now();
                    gemm::gemm(alpha, black_box(a), b, beta, out.view_mut()).unwrap();
                    times.push(start.elapsed().as_secs_f64() * 1e6);
                }
            }
            let figures: Vec<(f64, f64)> = times
                .into_iter()
                .map(|mut t| {
                    t.sort_by(f64::total_cmp);
                    (t[t.len() / 10], t[t.len() / 2])
                })
                .collect();
            let (p10, median) = figures[0];
            let mut line = format!("{name:>22}  {p10:9.1} {median:9.1}");
            for &(p, m) in &figures[1..] {
                line += &format!("  |  {p:9.1} {m:9.1} = {:.2} {:.2}", p / p10, m / median);
            }
            println!("{line}");
        }
    }
    gemm::set_kernel(default).unwrap();
}
