//! The packed kernels side by side, call by call: each product of the benchmark networks'
//! steps (as `benches/gemm.rs`, `kernels`) computed through `symgrad::gemm` under the
//! processor's default kernel and under the runtime's own kernel compiled for AVX2
//! (`gemm::Kernel::Avx2`), alternating one call of each, so that both see the same state of a
//! noisy machine; prints the 10th percentile and the median of each and their ratios. One
//! thread; pin it (`taskset -c 1 cargo bench --bench kernel_pairs [-- FILTER]`). Criterion's
//! medians of whole runs, one kernel after the other, moved by up to 40 % between runs on a
//! shared 2-vCPU machine; pairs of calls do not.

use std::hint::black_box;
use std::time::Instant;

use symgrad::gemm::{self, Kernel};

#[path = "support/step_products.rs"]
mod step_products;

fn main() {
    gemm::set_threads(1).unwrap();
    let default = gemm::kernel();
    if default == Kernel::Avx2 || gemm::set_kernel(Kernel::Avx2).is_err() {
        eprintln!("the AVX2 kernel is the default or does not run here: nothing to compare");
        return;
    }
    gemm::set_kernel(default).unwrap();
    // `cargo bench` passes `--bench`; the first other argument filters the products.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    println!("µs, {default:?} (default) against Avx2, one call of each in turn");
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
            let mut times = [Vec::with_capacity(calls), Vec::with_capacity(calls)];
            for _ in 0..calls {
                for (kernel, times) in [default, Kernel::Avx2].into_iter().zip(&mut times) {
                    gemm::set_kernel(kernel).unwrap();
                    let start = Instant::now();
                    gemm::gemm(alpha, black_box(a), b, beta, out.view_mut()).unwrap();
                    times.push(start.elapsed().as_secs_f64() * 1e6);
                }
            }
            let [first, avx2] = times.map(|mut t| {
                t.sort_by(f64::total_cmp);
                (t[t.len() / 10], t[t.len() / 2])
            });
            println!(
                "{name:>22}  p10 {:9.1} / {:9.1} = {:.2}   median {:9.1} / {:9.1} = {:.2}",
                first.0,
                avx2.0,
                avx2.0 / first.0,
                first.1,
                avx2.1,
                avx2.1 / first.1
            );
        }
    }
    gemm::set_kernel(default).unwrap();
}
