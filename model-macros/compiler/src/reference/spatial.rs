//! Convolution and pooling from their definitions, sample by sample and tap by tap: no
//! patch buffer, no product, nothing shared with the runtime's kernels.

use super::{Bindings, Evaluation, Mat};
use crate::graph::{Graph, NodeId};
use crate::ops::{Conv, Op, Pool};

/// Calls `tap(f, out, c, u, v, pixel)` for every term `k[f, c, u, v] · x[pixel]` of output
/// `out = (f, i, j)` of a sample (indices into the sample's row), as the definition
/// `y[f, i, j] = Σ_{c, u, v} k[f, c, u, v] · x[c, s·i + d·u − p, s·j + d·v − p]` has them,
/// pixels outside the map left out (they are the padding's zeros).
fn taps(conv: Conv, mut tap: impl FnMut(usize, usize, usize, usize, usize, usize)) {
    let Some((oh, ow)) = conv.output_size() else { return };
    let (h, w) = (conv.height as isize, conv.width as isize);
    let at = |o: usize, k: usize| (conv.stride * o + conv.dilation * k) as isize - conv.padding as isize;
    for f in 0..conv.filters {
        for (i, j) in (0..oh).flat_map(|i| (0..ow).map(move |j| (i, j))) {
            for c in 0..conv.channels {
                for (u, v) in (0..conv.kernel.0).flat_map(|u| (0..conv.kernel.1).map(move |v| (u, v))) {
                    let (row, col) = (at(i, u), at(j, v));
                    if (0..h).contains(&row) && (0..w).contains(&col) {
                        let pixel = (c * conv.height + row as usize) * conv.width + col as usize;
                        tap(f, (f * oh + i) * ow + j, c, u, v, pixel);
                    }
                }
            }
        }
    }
}

/// The index of kernel element `k[f, c, u, v]` in the kernel's row-major data.
fn kernel_index(conv: Conv, f: usize, c: usize, u: usize, v: usize) -> usize {
    ((f * conv.channels + c) * conv.kernel.0 + u) * conv.kernel.1 + v
}

/// Calls `each(output, pixels)` for every window of a sample, its pixels row by row.
fn windows(pool: Pool, mut each: impl FnMut(usize, Vec<usize>)) {
    let Some((oh, ow)) = pool.output_size() else { return };
    for c in 0..pool.channels {
        for (i, j) in (0..oh).flat_map(|i| (0..ow).map(move |j| (i, j))) {
            let pixels = (0..pool.size.0)
                .flat_map(|u| (0..pool.size.1).map(move |v| (u, v)))
                .map(|(u, v)| (c * pool.height + pool.stride * i + u) * pool.width + pool.stride * j + v)
                .collect();
            each((c * oh + i) * ow + j, pixels);
        }
    }
}

pub(super) fn node(graph: &Graph, b: &Bindings, eval: &mut Evaluation, id: NodeId) -> Result<Mat, String> {
    let n = &graph.nodes[id];
    let v = |i: usize| &eval.values[n.inputs[i]];
    let (rows, cols) = b.dims(n.shape);
    let mut out = Mat::from_fn(rows, cols, |_, _| 0.0);
    let row = |m: &Mat, s: usize| m.data[s * m.cols..(s + 1) * m.cols].to_vec();
    match n.op {
        // y = k ⋆ x, tap by tap.
        Op::Conv(conv) => {
            let (x, k) = (v(0), v(1));
            for s in 0..b.batch {
                let image = row(x, s);
                taps(conv, |f, o, c, u, v, pixel| {
                    out.data[s * cols + o] += k.data[kernel_index(conv, f, c, u, v)] * image[pixel];
                });
            }
        }
        // x̄[pixel] = Σ over the taps reading it of k · ȳ[out].
        Op::ConvInput(conv) => {
            let (g, k) = (v(0), v(1));
            for s in 0..b.batch {
                let grad = row(g, s);
                taps(conv, |f, o, c, u, v, pixel| {
                    out.data[s * cols + pixel] += k.data[kernel_index(conv, f, c, u, v)] * grad[o];
                });
            }
        }
        // k̄[f, c, u, v] = Σ over samples and the taps it is in of x[pixel] · ȳ[out].
        Op::ConvKernel(conv) => {
            let (x, g) = (v(0), v(1));
            for s in 0..b.batch {
                let (image, grad) = (row(x, s), row(g, s));
                taps(conv, |f, o, c, u, v, pixel| {
                    out.data[kernel_index(conv, f, c, u, v)] += image[pixel] * grad[o];
                });
            }
        }
        // The largest value of each window, the first pixel holding it its arg-max; which
        // pixels tie with the maximum is the side of the kink.
        Op::MaxPool { pool, argmax } => {
            let x = v(0);
            let mut taken = Vec::with_capacity(b.batch);
            for s in 0..b.batch {
                let image = row(x, s);
                let mut sample = vec![0; cols];
                windows(pool, |o, pixels| {
                    let max = pixels.iter().map(|&p| image[p]).fold(f64::NEG_INFINITY, f64::max);
                    eval.sides.extend(pixels.iter().map(|&p| image[p] == max));
                    sample[o] = pixels.iter().copied().find(|&p| image[p] == max).unwrap_or(pixels[0]);
                    out.data[s * cols + o] = max;
                });
                taken.push(sample);
            }
            eval.argmaxes.insert(argmax, taken);
        }
        Op::PoolScatter { argmax, .. } | Op::PoolGather { argmax, .. } => {
            let taken = eval
                .argmaxes
                .get(&argmax)
                .ok_or("arg-maxes read before their max pooling")?;
            let g = v(0);
            for (s, sample) in taken.iter().enumerate() {
                for (o, &pixel) in sample.iter().enumerate() {
                    if matches!(n.op, Op::PoolScatter { .. }) {
                        out.data[s * cols + pixel] += g.data[s * g.cols + o];
                    } else {
                        out.data[s * cols + o] = g.data[s * g.cols + pixel];
                    }
                }
            }
        }
        Op::WindowSum { pool, scale } => {
            let x = v(0);
            for s in 0..b.batch {
                windows(pool, |o, pixels| {
                    out.data[s * cols + o] = scale * pixels.iter().map(|&p| x.data[s * x.cols + p]).sum::<f64>();
                });
            }
        }
        Op::WindowSpread { pool, scale } => {
            let g = v(0);
            for s in 0..b.batch {
                windows(pool, |o, pixels| {
                    for p in pixels {
                        out.data[s * cols + p] += scale * g.data[s * g.cols + o];
                    }
                });
            }
        }
        _ => return Err("not a spatial operation".to_owned()),
    }
    Ok(out)
}
