//! The derivative of random well-typed graphs against finite differences.
//!
//! Each seed builds a graph as lowering would (random ops, fan-out, parameters used several
//! times and transposed, batch values, parameter-only values and rows of mixed shapes, sums
//! and means of any value, several loss terms combined by scalar arithmetic), runs fusion and
//! differentiation on it, evaluates every parameter's derivative node with the reference
//! interpreter in f64 and compares it with fourth-order central differences of the loss.
//! Sharing a node it should not, a wrong backward rule or a fusion that changes the value is
//! caught here whatever network exposes it. Seeds are reproducible: a failure names its seed,
//! and `SYMGRAD_GRAPH_SEEDS=start..end` reruns any range.

use proc_macro2::Span;

use crate::diff::{Derivative, differentiate};
use crate::fuse::fuse;
use crate::graph::{Graph, NodeId};
use crate::ops::{Activation, Conv, Loss, Op, Pool, RowReduction, Saved, Shape, TargetRef};
use crate::reference::{Bindings, Mat, evaluate};
use crate::second::{Curvature, hessian_vector};
use symgrad_ops::Domain;

/// SplitMix64: a small generator, enough for test data and reproducible on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A draw from N(0, σ²) (Box–Muller).
    fn normal(&mut self, sigma: f64) -> f64 {
        let u = 1.0 - self.unit();
        sigma * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// A random graph under construction, with the values bound to its leaves.
struct Builder {
    rng: Rng,
    graph: Graph,
    bindings: Bindings,
    /// Every matrix value built so far (inputs, parameters and what is computed from them).
    values: Vec<NodeId>,
    /// How many max poolings there are (each has its arg-max buffer).
    argmaxes: usize,
}

impl Builder {
    fn new(seed: u64) -> Builder {
        let mut rng = Rng(seed);
        let batch = 1 + rng.below(4);
        Builder {
            rng,
            graph: Graph::default(),
            bindings: Bindings {
                batch,
                inputs: Vec::new(),
                targets: Vec::new(),
                params: Vec::new(),
                labels: Vec::new(),
                masks: Vec::new(),
                directions: Vec::new(),
            },
            values: Vec::new(),
            argmaxes: 0,
        }
    }

    fn add(&mut self, op: Op, inputs: Vec<NodeId>, shape: Shape) -> NodeId {
        self.graph.add(op, inputs, shape, Span::call_site())
    }

    fn random(&mut self, rows: usize, cols: usize, sigma: f64) -> Mat {
        Mat::from_fn(rows, cols, |_, _| self.rng.normal(sigma))
    }

    /// An input `[batch, dims…]`.
    fn input(&mut self, dims: &[usize]) -> NodeId {
        let shape = Shape::of_batch(dims).expect("a few axes");
        let value = self.random(self.bindings.batch, shape.size(), 1.0);
        self.bindings.inputs.push(value);
        let node = self.add(Op::Input(self.bindings.inputs.len() - 1), vec![], shape);
        self.values.push(node);
        node
    }

    fn param(&mut self, shape: Shape) -> NodeId {
        let (rows, cols) = self.bindings.dims(shape);
        let value = self.random(rows, cols, 0.5);
        self.bindings.params.push(value);
        let node = self.add(Op::Param(self.bindings.params.len() - 1), vec![], shape);
        self.values.push(node);
        node
    }

    /// An existing parameter of this shape (shared weights) or a new one.
    fn param_like(&mut self, shape: Shape) -> NodeId {
        let existing: Vec<NodeId> = (0..self.graph.nodes.len())
            .filter(|&id| matches!(self.graph.op(id), Op::Param(_)) && self.graph.shape(id) == shape)
            .collect();
        if !existing.is_empty() && self.rng.below(2) == 0 {
            self.rng.pick(&existing)
        } else {
            self.param(shape)
        }
    }

    /// A random value among those `keep` accepts (the builder always holds an input, so the
    /// filters below never come up empty).
    fn value_where(&mut self, keep: impl Fn(&Graph, NodeId) -> bool) -> NodeId {
        let candidates: Vec<NodeId> = self.values.iter().copied().filter(|&v| keep(&self.graph, v)).collect();
        self.rng.pick(&candidates)
    }

    fn any_value(&mut self) -> NodeId {
        self.value_where(|_, _| true)
    }

    fn batch_value(&mut self) -> NodeId {
        self.value_where(|g, v| g.shape(v).is_batch())
    }

    /// A batch of vectors, `[batch, n]` (the first input is one).
    fn vectors(&mut self) -> NodeId {
        self.value_where(|g, v| g.shape(v).is_batch_of_vectors())
    }

    /// A batch value (a batch of vectors if `vectors`) that depends on a parameter, if there
    /// is one.
    fn tracked_batch_value(&mut self, vectors: bool) -> NodeId {
        let tracked = |g: &Graph, v: NodeId| {
            let shape = g.shape(v);
            g.nodes[v].tracked && shape.is_batch() && (!vectors || shape.is_batch_of_vectors())
        };
        if self.values.iter().any(|&v| tracked(&self.graph, v)) {
            self.value_where(tracked)
        } else if vectors {
            self.vectors()
        } else {
            self.batch_value()
        }
    }

    /// The last axis of a value.
    fn cols(&self, id: NodeId) -> usize {
        self.graph.shape(id).last().expect("not a scalar")
    }

    /// A shape that broadcasts over `shape` (see [`Shape::broadcast`]): a row of its last
    /// axis, a vector along its first axis (per channel) or a trailing block, sometimes with
    /// leading 1s, or a single element.
    fn broadcast_shape(&mut self, shape: Shape) -> Shape {
        let dims = shape.dims();
        let k = dims.len();
        let first = self.rng.below(k);
        let last = first + self.rng.below(k - first);
        let mut small: Vec<usize> = (0..k)
            .map(|a| if (first..=last).contains(&a) { dims[a] } else { 1 })
            .collect();
        // Leading 1s may be dropped (numpy aligns from the right) or one more added.
        let leading = small.iter().take_while(|&&d| d == 1).count();
        match self.rng.below(3) {
            0 => small.drain(..leading).for_each(drop),
            1 if !shape.is_batch() || small.len() < k => small.insert(0, 1),
            _ => {}
        }
        if self.rng.below(8) == 0 {
            small = vec![1];
        }
        Shape::of(&small).expect("a few axes")
    }

    fn act(&mut self, act: Activation, x: NodeId) -> NodeId {
        let shape = self.graph.shape(x);
        self.add(Op::Act(act), vec![x], shape)
    }

    /// One random forward op on existing values; its result joins the values.
    fn step(&mut self, op: usize) {
        let node = match op {
            0 => {
                // X·W or X·Wᵀ, X a batch of vectors or a parameter product.
                let a = self.value_where(|g, v| g.shape(v).is_batch_of_vectors() || g.shape(v).is_fixed_matrix());
                let (k, n) = (self.graph.shape(a).matrix().1, 2 + self.rng.below(3));
                let b = if self.rng.below(3) == 0 {
                    let w = self.param_like(Shape::fixed(n, k));
                    self.graph.transpose(w)
                } else {
                    self.param_like(Shape::fixed(k, n))
                };
                self.graph.matmul(a, false, b, false)
            }
            1 => {
                // X ± b, b broadcast: a bias row, a per-channel vector, a block, an element.
                let a = self.value_where(|g, v| g.shape(v) != Shape::SCALAR);
                let shape = self.graph.shape(a);
                let small = self.broadcast_shape(shape);
                let inner = shape.broadcast(small).unwrap_or_else(|| panic!("{small} over {shape}"));
                let b = self.param_like(small);
                let b = if self.rng.below(2) == 0 {
                    self.graph.scale(-1.0, b)
                } else {
                    b
                };
                self.add(Op::AddBroadcast { inner }, vec![a, b], shape)
            }
            2 => {
                // A + B, A − B, A ⊙ B or A ⊘ B; B another value of A's shape, or a function of A.
                let a = self.any_value();
                let shape = self.graph.shape(a);
                let same: Vec<NodeId> = self
                    .values
                    .iter()
                    .copied()
                    .filter(|&v| self.graph.shape(v) == shape)
                    .collect();
                let b = if same.len() > 1 && self.rng.below(3) > 0 {
                    self.rng.pick(&same)
                } else {
                    self.act(Activation::Tanh, a)
                };
                match self.rng.pick(&[Op::Add, Op::Sub, Op::Mul, Op::Div]) {
                    // A quotient by a value kept within [1/e, e].
                    Op::Div => {
                        let bounded = self.act(Activation::Tanh, b);
                        let positive = self.act(Activation::Exp, bounded);
                        self.add(Op::Div, vec![a, positive], shape)
                    }
                    op => self.add(op, vec![a, b], shape),
                }
            }
            3 => {
                let a = self.any_value();
                let c = self.rng.pick(&[-1.0, 0.5, 2.0, -0.3]);
                self.graph.scale(c, a)
            }
            4 => {
                let a = self.any_value();
                let act = self.rng.pick(&Activation::ALL);
                let act = act.with_arg(self.rng.pick(&[0.0, 0.1, 1.0, -0.5, 2.0]));
                let act = if act.check_arg(act.arg().unwrap_or(0.0)).is_ok() {
                    act
                } else {
                    act.with_arg(0.3)
                };
                if act.entry().domain == Domain::Positive {
                    // log and sqrt of a positive value.
                    let positive = self
                        .rng
                        .pick(&[Activation::Softplus, Activation::Sigmoid, Activation::Exp]);
                    let p = self.act(positive, a);
                    self.act(act, p)
                } else {
                    self.act(act, a)
                }
            }
            5 => {
                let a = self.vectors();
                let shape = self.graph.shape(a);
                let op = self.rng.pick(&[Op::Softmax, Op::LogSoftmax]);
                self.add(op, vec![a], shape)
            }
            8 => {
                // A row reduction of a batch of vectors or a matrix, to a column.
                let a = self.value_where(|g, v| g.shape(v).is_batch_of_vectors() || g.shape(v).is_fixed_matrix());
                let kind = self.rng.pick(&RowReduction::ALL);
                let shape = self.graph.shape(a).with_last(1);
                self.add(Op::RowReduce(kind), vec![a], shape)
            }
            6 => {
                // Dropout of single values, or of whole maps of a batch of maps.
                let a = self.batch_value();
                let shape = self.graph.shape(a);
                let block = match shape.dims() {
                    &[_, h, w] if self.rng.below(2) == 0 => h * w,
                    _ => 1,
                };
                let (p, runs) = (0.3, self.bindings.batch * shape.size() / block);
                let draws: Vec<f64> = (0..runs)
                    .map(|_| if self.rng.unit() < p { 0.0 } else { 1.0 / (1.0 - p) })
                    .collect();
                let mask = Mat::from_fn(self.bindings.batch, shape.size(), |r, c| {
                    draws[(r * shape.size() + c) / block]
                });
                self.bindings.masks.push(mask);
                let mask = self.bindings.masks.len() - 1;
                self.add(Op::Dropout { p, mask, block }, vec![a], shape)
            }
            9 => {
                // A batch flattened to vectors, or its samples reshaped to `[a, size/a]`.
                let a = self.batch_value();
                let shape = self.graph.shape(a);
                let size = shape.size();
                let rows = self.rng.pick(&[1, 2, 3]);
                let dims: &[usize] = if size.is_multiple_of(rows) && self.rng.below(2) == 0 {
                    &[rows, size / rows]
                } else {
                    &[size]
                };
                let out = Shape::of_batch(dims).expect("two axes");
                self.add(Op::Reshape, vec![a], out)
            }
            10 => {
                let maps: Vec<NodeId> = self
                    .values
                    .iter()
                    .copied()
                    .filter(|&v| self.graph.shape(v).is_batch() && self.graph.shape(v).dims().len() == 3)
                    .collect();
                if maps.is_empty() {
                    return;
                }
                let x = self.rng.pick(&maps);
                self.spatial(x)
            }
            _ => {
                // A materialised transpose of a parameter value.
                let fixed: Vec<NodeId> = self
                    .values
                    .iter()
                    .copied()
                    .filter(|&v| self.graph.shape(v).is_fixed_matrix())
                    .collect();
                if fixed.is_empty() {
                    return;
                }
                let a = self.rng.pick(&fixed);
                self.graph.transpose(a)
            }
        };
        self.values.push(node);
    }

    /// A convolution (a kernel of any size that fits, stride, padding and dilation 1 or 2), a
    /// max or average pooling by windows that tile the maps, a nearest-neighbour upsampling,
    /// or a global average pooling, of the maps `x: [batch, c, h, w]`.
    fn spatial(&mut self, x: NodeId) -> NodeId {
        let &[channels, height, width] = self.graph.shape(x).dims() else {
            unreachable!("maps have three axes")
        };
        let pool = |size: (usize, usize), stride: usize| Pool {
            channels,
            height,
            width,
            size,
            stride,
        };
        match self.rng.below(5) {
            0 | 1 => {
                let (stride, padding, dilation) = (1 + self.rng.below(2), self.rng.below(2), 1 + self.rng.below(2));
                // Each kernel size up to what the padded maps hold at this dilation.
                let fit = |n: usize| (n + 2 * padding - 1) / dilation + 1;
                let kernel = (
                    1 + self.rng.below(fit(height).min(3)),
                    1 + self.rng.below(fit(width).min(3)),
                );
                let conv = Conv {
                    channels,
                    height,
                    width,
                    filters: 1 + self.rng.below(3),
                    kernel,
                    stride,
                    padding,
                    dilation,
                };
                let k = self.param_like(conv.kernel_shape().expect("four axes"));
                let out = conv.output_shape().expect("the kernel fits");
                self.add(Op::Conv(conv), vec![x, k], out)
            }
            2 => {
                let size = (1 + self.rng.below(height.min(3)), 1 + self.rng.below(width.min(3)));
                let stride = if (height - size.0).is_multiple_of(2)
                    && (width - size.1).is_multiple_of(2)
                    && self.rng.below(2) == 0
                {
                    2
                } else {
                    1
                };
                let pool = pool(size, stride);
                let out = pool.output_shape().expect("the window fits");
                if self.rng.below(2) == 0 {
                    let argmax = self.argmaxes;
                    self.argmaxes += 1;
                    self.add(Op::MaxPool { pool, argmax }, vec![x], out)
                } else {
                    let scale = 1.0 / pool.window() as f64;
                    self.add(Op::WindowSum { pool, scale }, vec![x], out)
                }
            }
            3 => {
                let factor = 1 + self.rng.below(2);
                let up = Pool {
                    height: height * factor,
                    width: width * factor,
                    ..pool((factor, factor), factor)
                };
                let out = up.input_shape().expect("three axes");
                self.add(Op::WindowSpread { pool: up, scale: 1.0 }, vec![x], out)
            }
            _ => {
                let whole = pool((height, width), 1);
                let scale = 1.0 / whole.window() as f64;
                self.add(Op::WindowSum { pool: whole, scale }, vec![x], Shape::batch(channels))
            }
        }
    }

    /// A dense target of `x`'s shape: probabilities in (0, 1) or real values.
    fn dense_target(&mut self, x: NodeId, probabilities: bool) -> NodeId {
        let shape = self.graph.shape(x);
        let (rows, cols) = (self.bindings.batch, shape.size());
        let value = Mat::from_fn(rows, cols, |_, _| {
            if probabilities {
                0.05 + 0.9 * self.rng.unit()
            } else {
                self.rng.normal(1.0)
            }
        });
        self.bindings.targets.push(value);
        self.add(Op::Target(self.bindings.targets.len() - 1), vec![], shape)
    }

    fn labels(&mut self, classes: usize) -> TargetRef {
        let labels = (0..self.bindings.batch).map(|_| self.rng.below(classes)).collect();
        self.bindings.labels.push(labels);
        TargetRef::Labels(self.bindings.labels.len() - 1)
    }

    fn loss(&mut self, kind: Loss, x: NodeId, probabilities: bool, labels_allowed: bool) -> NodeId {
        if labels_allowed && self.rng.below(2) == 0 {
            let target = self.labels(self.cols(x));
            self.add(Op::Loss { kind, target }, vec![x], Shape::SCALAR)
        } else {
            let t = self.dense_target(x, probabilities);
            self.add(
                Op::Loss {
                    kind,
                    target: TargetRef::Dense,
                },
                vec![x, t],
                Shape::SCALAR,
            )
        }
    }

    /// One scalar term of the loss.
    fn term(&mut self) -> NodeId {
        let choice = self.rng.below(9);
        // Class losses and softmax read rows of a batch of vectors.
        let x = self.tracked_batch_value(matches!(choice, 2 | 3 | 5));
        let shape = self.graph.shape(x);
        match choice {
            0 => self.loss(Loss::Mse, x, false, false),
            1 => self.loss(Loss::Mae, x, false, false),
            2 => self.loss(Loss::SquaredError, x, false, true),
            3 => self.loss(Loss::SoftmaxCrossEntropy, x, true, true),
            4 => self.loss(Loss::BceWithLogits, x, true, false),
            5 => {
                // Fused with its softmax (or, on a sigmoid, cross-entropy as written).
                let p = if self.rng.below(2) == 0 {
                    self.add(Op::Softmax, vec![x], shape)
                } else {
                    self.act(Activation::Sigmoid, x)
                };
                self.loss(Loss::CrossEntropy, p, true, true)
            }
            6 => {
                // Fused with its sigmoid, or on a product of probabilities as written.
                let mut p = self.act(Activation::Sigmoid, x);
                if self.rng.below(2) == 0 {
                    let q = self.act(Activation::Sigmoid, p);
                    p = self.add(Op::Mul, vec![p, q], shape);
                }
                self.loss(Loss::Bce, p, true, false)
            }
            _ => {
                // A sum or mean of any value, parameters included.
                let v = self.any_value();
                let op = self.rng.pick(&[Op::Sum, Op::Mean]);
                self.add(op, vec![v], Shape::SCALAR)
            }
        }
    }

    /// A random graph and its loss node.
    fn build(mut self) -> (Graph, Bindings, NodeId) {
        // A batch of vectors, sometimes a batch of images `[c, h, w]` or planes besides.
        let cols = 1 + self.rng.below(4);
        self.input(&[cols]);
        if self.rng.below(2) == 0 {
            let rank = 1 + self.rng.below(3);
            let mut dims: Vec<usize> = (0..rank).map(|_| 1 + self.rng.below(3)).collect();
            if rank == 3 {
                // Maps of up to 5 × 5, for convolutions and poolings.
                dims[1..].iter_mut().for_each(|d| *d += self.rng.below(3));
            }
            self.input(&dims);
        }
        // The first layer reads an input; then anything.
        self.step(0);
        for _ in 0..1 + self.rng.below(7) {
            let op = self.rng.below(11);
            self.step(op);
        }
        let mut loss = self.term();
        for _ in 0..self.rng.below(4) {
            let t = self.term();
            loss = match self.rng.below(5) {
                0 => self.add(Op::Add, vec![loss, t], Shape::SCALAR),
                1 => self.add(Op::Sub, vec![loss, t], Shape::SCALAR),
                2 => self.add(Op::Mul, vec![loss, t], Shape::SCALAR),
                3 => {
                    // A quotient by a cross-entropy, which stays near ln(classes) for these
                    // moderate logits.
                    let sum = self.add(Op::Add, vec![loss, t], Shape::SCALAR);
                    let x = self.tracked_batch_value(true);
                    let ce = self.loss(Loss::SoftmaxCrossEntropy, x, true, true);
                    self.add(Op::Div, vec![sum, ce], Shape::SCALAR)
                }
                _ => {
                    let scaled = self.graph.scale(0.1, t);
                    self.add(Op::Add, vec![loss, scaled], Shape::SCALAR)
                }
            };
        }
        (self.graph, self.bindings, loss)
    }
}

/// What one seed gave.
enum Outcome {
    /// Elements compared, and elements whose stencil crossed a kink.
    Checked {
        compared: usize,
        kinked: usize,
        graph: Graph,
    },
    /// Parameters that reach no loss term, or values too large for the differences to mean
    /// anything.
    Skipped(&'static str),
}

/// A random graph after fusion and differentiation: its loss, the parameters that reach it
/// (node and index) and the derivative (the parameters' derivative nodes are its
/// `param_grads`).
struct Case {
    graph: Graph,
    bindings: Bindings,
    loss: NodeId,
    params: Vec<(NodeId, usize)>,
    derivative: Derivative,
    names: Vec<String>,
}

impl Case {
    /// Builds, fuses and differentiates the graph of `seed`, or says why it is skipped.
    fn new(seed: u64) -> Result<Case, &'static str> {
        let (original, bindings, loss) = Builder::new(seed).build();
        let (mut graph, map) = fuse(&original);
        let loss = map[loss];
        // Only parameters that reach the loss have a derivative (lowering rejects the others).
        let reaches = graph.reaches(&[loss]);
        let params: Vec<(NodeId, usize)> = (0..=loss)
            .filter(|&id| reaches[id])
            .filter_map(|id| match graph.op(id) {
                Op::Param(index) => Some((id, index)),
                _ => None,
            })
            .collect();
        if params.is_empty() {
            return Err("no parameter reaches the loss");
        }
        let names: Vec<String> = (0..bindings.labels.len()).map(|i| format!("y{i}")).collect();
        let nodes: Vec<NodeId> = params.iter().map(|&(node, _)| node).collect();
        let mut derivative = differentiate(&mut graph, loss, &nodes, &names);
        // As the compiler does: fusion again, on the nodes the backward pass created.
        let (graph, map) = fuse(&graph);
        derivative.remap(&map);
        let params = params.into_iter().map(|(node, index)| (map[node], index)).collect();
        let loss = map[loss];
        Ok(Case {
            graph,
            bindings,
            loss,
            params,
            derivative,
            names,
        })
    }
}

/// The step of the differences: `h = 10⁻⁴` balances the stencil's truncation error
/// (`h⁴/30 · f⁽⁵⁾`, about 3·10⁻¹⁸ f⁽⁵⁾) against rounding (`18 ε |f| / (12 h)`, about
/// 3·10⁻¹² |f|).
const H: f64 = 1e-4;

/// The fourth-order central difference from `f(x + 2h), f(x + h), f(x − h), f(x − 2h)`.
fn stencil(f: [f64; 4]) -> f64 {
    (-f[0] + 8.0 * f[1] - 8.0 * f[2] + f[3]) / (12.0 * H)
}

const OFFSETS: [f64; 4] = [2.0, 1.0, -1.0, -2.0];

/// Whether a derived value agrees with its differences: 10⁻⁶ relative (the stencil's own
/// error is below 10⁻¹⁰ for these values), plus the rounding of the differenced function
/// through the stencil, 10⁻⁹ of its size (300× the estimate above).
fn agrees(derived: f64, numeric: f64, size: f64) -> bool {
    derived.is_finite() && (derived - numeric).abs() <= 1e-6 * derived.abs().max(1.0) + 1e-9 * size
}

/// The derivative of the graph of `seed` against differences of its loss, element by element;
/// `sabotage` doubles every parameter's derivative, to show that the check sees a wrong one.
fn check(seed: u64, sabotage: bool) -> Result<Outcome, String> {
    let mut case = match Case::new(seed) {
        Ok(case) => case,
        Err(why) => return Ok(Outcome::Skipped(why)),
    };
    let (graph, bindings, loss) = (&mut case.graph, &mut case.bindings, case.loss);
    if sabotage {
        for grad in &mut case.derivative.param_grads {
            *grad = graph.scale(2.0, *grad);
        }
    }
    let at = evaluate(graph, bindings, graph.nodes.len() - 1)?;
    let value = at.values[loss].data[0];
    if !value.is_finite() || value.abs() > 1e6 {
        return Ok(Outcome::Skipped("the loss is not finite or above 10⁶"));
    }
    let (mut compared, mut kinked) = (0, 0);
    for (&(_, index), &grad) in case.params.iter().zip(&case.derivative.param_grads) {
        let derivative = &at.values[grad];
        let p = &bindings.params[index];
        if (derivative.rows, derivative.cols) != (p.rows, p.cols) {
            return Err(format!(
                "∂L/∂param{index} is {}×{}, the parameter {}×{}",
                derivative.rows, derivative.cols, p.rows, p.cols
            ));
        }
        for k in 0..p.data.len() {
            let original = bindings.params[index].data[k];
            let mut values = [0.0; 4];
            let mut smooth = true;
            for (slot, offset) in OFFSETS.into_iter().enumerate() {
                bindings.params[index].data[k] = original + offset * H;
                let shifted = evaluate(graph, bindings, loss)?;
                values[slot] = shifted.values[loss].data[0];
                smooth &= shifted.sides == at.sides;
            }
            bindings.params[index].data[k] = original;
            if !smooth {
                kinked += 1;
                continue;
            }
            let (numeric, derived) = (stencil(values), derivative.data[k]);
            if !agrees(derived, numeric, value.abs()) {
                return Err(format!(
                    "∂L/∂param{index}[{k}]: derived {derived:e}, differences {numeric:e} (loss {value:e})"
                ));
            }
            compared += 1;
        }
    }
    Ok(Outcome::Checked {
        compared,
        kinked,
        graph: case.graph,
    })
}

/// The Hessian-vector product of the graph of `seed`, derived by differentiating
/// `⟨∇L, v⟩` on the graph for a random direction `v`, against differences of the derived
/// gradient along `v`: `(∇L(θ + hv) − ∇L(θ − hv))/2h` and its fourth-order refinement.
fn check_hessian(seed: u64) -> Result<Outcome, String> {
    let mut case = match Case::new(seed) {
        Ok(case) => case,
        Err(why) => return Ok(Outcome::Skipped(why)),
    };
    // The compiler's own second pass, on this graph.
    let nodes: Vec<NodeId> = case.params.iter().map(|&(node, _)| node).collect();
    let names: Vec<String> = case.params.iter().map(|&(_, index)| format!("p{index}")).collect();
    let second = hessian_vector(
        &case.graph,
        case.loss,
        &nodes,
        &case.derivative,
        &case.names,
        &names,
        Curvature::Hessian,
    );
    let (graph, bindings, hv) = (&second.graph, &mut case.bindings, &second.derivative.param_grads);
    let (loss, grads): (NodeId, Vec<NodeId>) = (
        second.map[case.loss],
        case.derivative.param_grads.iter().map(|&g| second.map[g]).collect(),
    );
    let mut rng = Rng(seed ^ 0x5EED);
    let directions: Vec<Mat> = case
        .params
        .iter()
        .map(|&(_, index)| {
            let p = &bindings.params[index];
            Mat::from_fn(p.rows, p.cols, |_, _| rng.normal(1.0))
        })
        .collect();
    bindings.directions = directions.clone();
    let last = graph.nodes.len() - 1;
    let at = evaluate(graph, bindings, last)?;
    let value = at.values[loss].data[0];
    if !value.is_finite() || value.abs() > 1e6 {
        return Ok(Outcome::Skipped("the loss is not finite or above 10⁶"));
    }
    let originals: Vec<Mat> = bindings.params.clone();
    let mut shifted_grads = Vec::new();
    let mut smooth = true;
    for offset in OFFSETS {
        for (&(_, index), v) in case.params.iter().zip(&directions) {
            let p = &mut bindings.params[index];
            for (k, x) in p.data.iter_mut().enumerate() {
                *x = originals[index].data[k] + offset * H * v.data[k];
            }
        }
        let shifted = evaluate(graph, bindings, last)?;
        smooth &= shifted.sides == at.sides;
        shifted_grads.push(grads.iter().map(|&g| shifted.values[g].clone()).collect::<Vec<Mat>>());
    }
    bindings.params = originals;
    if !smooth {
        return Ok(Outcome::Skipped("a kink lies between the shifted points"));
    }
    let mut compared = 0;
    for (i, (&(_, index), &product)) in case.params.iter().zip(hv).enumerate() {
        let derived = &at.values[product];
        let size = at.values[grads[i]].data.iter().fold(1.0_f64, |m, g| m.max(g.abs()));
        for k in 0..derived.data.len() {
            let numeric = stencil([0, 1, 2, 3].map(|slot| shifted_grads[slot][i].data[k]));
            if !agrees(derived.data[k], numeric, size) {
                return Err(format!(
                    "(Hv) of param{index}[{k}]: derived {:e}, differences of the gradient {numeric:e}",
                    derived.data[k]
                ));
            }
            compared += 1;
        }
    }
    Ok(Outcome::Checked {
        compared,
        kinked: 0,
        graph: second.graph,
    })
}

/// The op's kind, for the coverage count: its variant, with the activation or loss it names.
fn kind(op: Op) -> String {
    let debug = format!("{op:?}");
    match op {
        Op::Act(act) | Op::ActGrad(act) => {
            let variant = debug.split('(').next().unwrap_or_default();
            let act = format!("{act:?}");
            format!("{variant}({})", act.split('(').next().unwrap_or_default())
        }
        Op::Loss { kind, .. } | Op::LossGrad { kind, .. } => {
            format!("{}({kind:?})", debug.split(' ').next().unwrap_or_default())
        }
        // A broadcast along axes inside each sample (per channel), not only over rows.
        Op::AddBroadcast { inner } | Op::BroadcastSum { inner } if inner > 1 => {
            format!("{} within samples", debug.split(' ').next().unwrap_or_default())
        }
        _ => debug.split([' ', '(']).next().unwrap_or_default().to_owned(),
    }
}

/// What the survey calls a graph with a batch of rank above 1 (`[batch, c, h, w]`, say).
const IMAGES: &str = "a batch of rank ≥ 2";

fn seeds() -> std::ops::Range<u64> {
    let Ok(range) = std::env::var("SYMGRAD_GRAPH_SEEDS") else {
        return 0..3000;
    };
    let parse = |s: &str| s.trim().parse::<u64>().expect("SYMGRAD_GRAPH_SEEDS=start..end");
    let (start, end) = range.split_once("..").expect("SYMGRAD_GRAPH_SEEDS=start..end");
    parse(start)..parse(end)
}

/// What a check made of the seeds it was given.
#[derive(Default)]
struct Survey {
    cases: u64,
    checked: u64,
    compared: usize,
    kinked: usize,
    kinds: std::collections::BTreeSet<String>,
    skipped: std::collections::BTreeMap<&'static str, usize>,
}

/// Runs `check` on every seed; a failure names its seed.
fn survey(check: impl Fn(u64) -> Result<Outcome, String>) -> Survey {
    let mut survey = Survey::default();
    for seed in seeds() {
        survey.cases += 1;
        match check(seed) {
            Ok(Outcome::Checked {
                compared,
                kinked,
                graph,
            }) => {
                survey.checked += 1;
                survey.compared += compared;
                survey.kinked += kinked;
                survey.kinds.extend(graph.nodes.iter().map(|n| kind(n.op)));
                if graph
                    .nodes
                    .iter()
                    .any(|n| n.shape.is_batch() && n.shape.dims().len() > 1)
                {
                    survey.kinds.insert(IMAGES.to_owned());
                }
            }
            Ok(Outcome::Skipped(why)) => *survey.skipped.entry(why).or_insert(0) += 1,
            Err(e) => panic!(
                "seed {seed}: {e}\n(rerun with SYMGRAD_GRAPH_SEEDS={seed}..{})",
                seed + 1
            ),
        }
    }
    survey
}

impl Survey {
    /// Most graphs were checked, and, on the full default run, every kind of op was in them:
    /// the property is not vacuous.
    /// `also`: kinds only that check's graphs have.
    fn assert_covers(&self, checked_percent: u64, also: &[&str]) {
        let Survey { cases, checked, .. } = *self;
        assert!(
            checked * 100 >= cases * checked_percent,
            "only {checked} of {cases} graphs checked; skipped: {:?}",
            self.skipped
        );
        if cases >= 3000 {
            let missing: Vec<String> = expected_kinds()
                .into_iter()
                .chain(also.iter().map(|k| k.to_string()))
                .filter(|k| !self.kinds.contains(k))
                .collect();
            assert!(
                missing.is_empty(),
                "never generated: {missing:?}; generated: {:?}",
                self.kinds
            );
        }
    }
}

#[test]
fn derivatives_of_random_graphs_match_finite_differences() {
    let survey = survey(|seed| check(seed, false));
    survey.assert_covers(80, &[]);
    // Nearly every element is compared: kinks are rare.
    assert!(
        survey.kinked * 50 <= survey.compared,
        "{} kinked elements against {} compared",
        survey.kinked,
        survey.compared
    );
}

#[test]
fn hessian_vector_products_of_random_graphs_match_differences_of_the_gradient() {
    // The gather at the arg-maxes is the derivative of max pooling's backward scatter.
    survey(check_hessian).assert_covers(80, &["PoolGather"]);
}

/// Every op the generator and the compiler's passes make, forward and backward: the
/// structural ops, and for every entry of the op table its forward op and backward op.
fn expected_kinds() -> Vec<String> {
    let mut kinds: Vec<String> = [
        "Input",
        "Target",
        "Param",
        "Constant",
        "MatMul",
        "Affine",
        "AddBroadcast",
        "AddBroadcast within samples",
        "BroadcastSum within samples",
        IMAGES,
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Scale",
        "Transpose",
        "Reshape",
        "Softmax",
        "LogSoftmax",
        "LogSoftmaxGrad",
        "Dropout",
        "Sum",
        "Mean",
        "AddN",
        "SoftmaxGrad",
        "MaskMul",
        "BroadcastSum",
        "Fill",
        "Conv",
        "ConvInput",
        "ConvKernel",
        "MaxPool",
        "PoolScatter",
        "WindowSum",
        "WindowSpread",
    ]
    .map(str::to_owned)
    .to_vec();
    for act in Activation::ALL {
        kinds.push(kind(Op::Act(act)));
        if act.saved() != Saved::Nothing {
            kinds.push(kind(Op::ActGrad(act)));
        }
    }
    for reduction in RowReduction::ALL {
        kinds.push(kind(Op::RowReduce(reduction)));
        kinds.push(kind(Op::RowReduceGrad(reduction)));
    }
    for loss in Loss::ALL {
        let target = TargetRef::Dense;
        kinds.push(kind(Op::Loss { kind: loss, target }));
        kinds.push(kind(Op::LossGrad { kind: loss, target }));
    }
    kinds
}

#[test]
fn a_wrong_derivative_is_caught() {
    // A doubled derivative is only wrong where it is not zero (behind dead ReLUs, or a
    // softmax of one column, there is none), so nearly all, not all, checked graphs fail.
    let checked = (0..100)
        .filter(|&seed| matches!(check(seed, false), Ok(Outcome::Checked { .. })))
        .count();
    let caught = (0..100).filter(|&seed| check(seed, true).is_err()).count();
    assert!(
        caught * 10 >= checked * 9,
        "a doubled derivative passed: caught in {caught} of {checked} graphs"
    );
}
