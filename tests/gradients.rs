//! Every generated gradient against two oracles, in f64, for random parameters, inputs and
//! targets: central finite differences (relative error below 1e-6 outside kinks, see
//! `symgrad::gradcheck` for the error measure) and the tape twin recorded from the same
//! definition (below 1e-10 relative to the largest gradient element of each parameter: both
//! evaluate the same formulas in f64 and differ only in summation order, a few ulps per
//! operation, so 1e-10 leaves five orders of magnitude of margin).

mod common;

use common::{Kinks, check, labels, network, probabilities, random};
use proptest::prelude::*;
use symgrad::network;
use symgrad::rand::{SeedableRng, rngs::StdRng};

network! {
    /// The classifier of the course: ReLU hidden layer, softmax with cross-entropy.
    struct Mlp {
        input x: [5];
        target y: classes[3];
        h = relu(dense(x, 6));
        z = dense(h, 3);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// Five layers, a different activation in each, cross-entropy on logits.
    struct Deep5 {
        input x: [4];
        target y: classes[3];
        h1 = tanh(dense(x, 5));
        h2 = sigmoid(dense(h1, 5));
        h3 = softplus(dense(h2, 4));
        h4 = leaky_relu(dense(h3, 4), 0.1);
        z = dense(h4, 3);
        output z;
        loss softmax_cross_entropy(z, y);
    }
}

network! {
    /// A residual connection and a real-valued target.
    struct Residual {
        input x: [4];
        target t: [3];
        h1 = relu(dense(x, 5));
        h2 = h1 + relu(dense(h1, 5));
        out = dense(h2, 3);
        output out;
        loss mse(out, t);
    }
}

network! {
    /// A value used three times (fan-out), squared error on probabilities (the "LSE" loss).
    struct FanOut {
        input x: [4];
        target y: classes[3];
        h = tanh(dense(x, 5));
        v = h - h * h;
        p = softmax(dense(v, 3));
        output p;
        loss squared_error(p, y);
    }
}

network! {
    /// An autoencoder whose decoder is the transpose of its encoder weight (tied weights),
    /// with binary cross-entropy on a sigmoid output (fused to the logits form).
    struct Tied {
        input x: [6];
        param w: [6, 3];
        param b_enc: [3];
        param b_dec: [6];
        code = sigmoid(x @ w + b_enc);
        recon = sigmoid(code @ transpose(w) + b_dec);
        output recon;
        loss bce(recon, x);
    }
}

network! {
    /// Reconstruction at two depths sharing the encoder: a two-term loss.
    struct TwoDepths {
        input x: [5];
        param w1: [5, 4];
        param w2: [4, 2];
        e1 = relu(x @ w1);
        e2 = tanh(e1 @ w2);
        shallow = e1 @ transpose(w1);
        deep = relu(e2 @ transpose(w2)) @ transpose(w1);
        output deep;
        loss mse(deep, x) + 0.5 * mse(shallow, x);
    }
}

network! {
    /// Dropout between the layers (the mask comes from the seeded RNG).
    struct Dropped {
        input x: [5];
        target y: classes[4];
        h = dropout(relu(dense(x, 8)), 0.3);
        z = dense(h, 4);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

network! {
    /// exp, log, square and abs, mean absolute error.
    struct Elementwise {
        input x: [3];
        target t: [2];
        h = dense(x, 4);
        s = exp(0.5 * tanh(h)) + log(softplus(h)) + square(h) - abs(h);
        out = dense(s, 2);
        output out;
        loss mae(out, t);
    }
}

network! {
    /// Explicit parameters, `@`, a subtracted bias, and an L2 penalty through sum and mean.
    struct Penalised {
        input x: [4];
        target t: [2];
        param w: [4, 2] = xavier_uniform;
        param b: [2] = 0.1;
        out = matmul(x, w) - b;
        output out;
        loss mean(square(out - t)) + 0.01 * sum(square(w)) - 0.5 * mse(out, t);
    }
}

network! {
    /// Cross-entropy against probability targets, and binary cross-entropy not fused.
    struct SoftTargets {
        input x: [4];
        target q: [3];
        target t: [3];
        z = dense(x, 3);
        a = sigmoid(dense(x, 3)) * sigmoid(z);
        output a;
        loss cross_entropy(softmax(z), q) + bce(a, t) + bce_with_logits(z, t);
    }
}

network! {
    /// A weight used in two places, He initialisation, and a mean over a batch value.
    struct Shared {
        input x: [4];
        target y: classes[4];
        param w: [4, 4] = he;
        h1 = tanh(x @ w);
        h2 = tanh(h1 @ w);
        output h2;
        loss softmax_cross_entropy(h2, y) + mean(h1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mlp(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Mlp<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 5, 1.0), labels(&mut rng, rows, 3));
        let batch = MlpBatch { x: x.view(), y: &y };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn deep5(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Deep5<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 4, 1.0), labels(&mut rng, rows, 3));
        let batch = Deep5Batch { x: x.view(), y: &y };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn residual(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Residual<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 4, 1.0), random(&mut rng, rows, 3, 1.0));
        let batch = ResidualBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn fan_out(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: FanOut<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 4, 1.0), labels(&mut rng, rows, 3));
        let batch = FanOutBatch { x: x.view(), y: &y };
        check(&mut net, &batch, seed, Kinks::None)?;
    }

    #[test]
    fn tied(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Tied<f64> = network(&mut rng);
        let x = probabilities(&mut rng, rows, 6, false);
        let batch = TiedBatch { x: x.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }

    #[test]
    fn two_depths(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: TwoDepths<f64> = network(&mut rng);
        let x = random(&mut rng, rows, 5, 1.0);
        let batch = TwoDepthsBatch { x: x.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn dropped(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Dropped<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 5, 1.0), labels(&mut rng, rows, 4));
        let batch = DroppedBatch { x: x.view(), y: &y };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn elementwise(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Elementwise<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 3, 1.0), random(&mut rng, rows, 2, 1.0));
        let batch = ElementwiseBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn penalised(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Penalised<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 4, 1.0), random(&mut rng, rows, 2, 1.0));
        let batch = PenalisedBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }

    #[test]
    fn soft_targets(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: SoftTargets<f64> = network(&mut rng);
        let x = random(&mut rng, rows, 4, 1.0);
        let (q, t) = (probabilities(&mut rng, rows, 3, true), probabilities(&mut rng, rows, 3, false));
        let batch = SoftTargetsBatch { x: x.view(), q: q.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }

    #[test]
    fn shared(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Shared<f64> = network(&mut rng);
        let (x, y) = (random(&mut rng, rows, 4, 1.0), labels(&mut rng, rows, 4));
        let batch = SharedBatch { x: x.view(), y: &y };
        check(&mut net, &batch, seed, Kinks::None)?;
    }
}

network! {
    /// The output is read once more by the loss, through an elementwise op that could
    /// otherwise overwrite it in place.
    struct OutputReused {
        input x: [4];
        target t: [3];
        h = dense(x, 3);
        output h;
        loss mse(sigmoid(h), t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn output_reused(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: OutputReused<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 4, 1.0), random(&mut rng, rows, 3, 1.0));
        let batch = OutputReusedBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }
}

/// A parameter's name and shape.
type Shape = (&'static str, &'static [usize]);

/// The derivation, the graph drawing and the parameters of twelve networks that cover the ops.
fn described() -> [(&'static str, &'static str, &'static [Shape]); 12] {
    [
        (
            Images::<f64>::derivation(),
            Images::<f64>::graph_dot(),
            &Images::<f64>::PARAMETERS,
        ),
        (
            Mlp::<f64>::derivation(),
            Mlp::<f64>::graph_dot(),
            &Mlp::<f64>::PARAMETERS,
        ),
        (
            Deep5::<f64>::derivation(),
            Deep5::<f64>::graph_dot(),
            &Deep5::<f64>::PARAMETERS,
        ),
        (
            Residual::<f64>::derivation(),
            Residual::<f64>::graph_dot(),
            &Residual::<f64>::PARAMETERS,
        ),
        (
            FanOut::<f64>::derivation(),
            FanOut::<f64>::graph_dot(),
            &FanOut::<f64>::PARAMETERS,
        ),
        (
            Tied::<f64>::derivation(),
            Tied::<f64>::graph_dot(),
            &Tied::<f64>::PARAMETERS,
        ),
        (
            TwoDepths::<f64>::derivation(),
            TwoDepths::<f64>::graph_dot(),
            &TwoDepths::<f64>::PARAMETERS,
        ),
        (
            Dropped::<f64>::derivation(),
            Dropped::<f64>::graph_dot(),
            &Dropped::<f64>::PARAMETERS,
        ),
        (
            Elementwise::<f64>::derivation(),
            Elementwise::<f64>::graph_dot(),
            &Elementwise::<f64>::PARAMETERS,
        ),
        (
            Penalised::<f64>::derivation(),
            Penalised::<f64>::graph_dot(),
            &Penalised::<f64>::PARAMETERS,
        ),
        (
            SoftTargets::<f64>::derivation(),
            SoftTargets::<f64>::graph_dot(),
            &SoftTargets::<f64>::PARAMETERS,
        ),
        (
            Shared::<f64>::derivation(),
            Shared::<f64>::graph_dot(),
            &Shared::<f64>::PARAMETERS,
        ),
    ]
}

#[test]
fn every_derivation_mentions_every_parameter() {
    for (text, _, params) in described() {
        for (name, _) in params {
            let latex = format!("\\mathrm{{{}}}", name.replace('_', "\\_"));
            let equation = format!("$$ \\overline{{{latex}}} = ");
            assert!(text.contains(&equation), "no chain-rule equation for {name} in\n{text}");
        }
    }
}

/// Checks that `text` is a DOT digraph a parser accepts: quotes closed, braces balanced outside
/// them, every node declared once and every edge between declared nodes. Returns the node
/// declarations' lines.
fn check_dot(text: &str) -> Vec<&str> {
    assert!(
        text.starts_with("digraph \"") && text.trim_end().ends_with('}'),
        "{text}"
    );
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for c in text.chars() {
        match (in_string, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (true, _, _) => escaped = false,
            (false, _, '"') => in_string = true,
            (false, _, '{') => depth += 1,
            (false, _, '}') => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0, "a brace closes before it opens in\n{text}");
    }
    assert!(!in_string && depth == 0, "unbalanced quotes or braces in\n{text}");
    let declarations: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('n') && l.contains(" ["))
        .collect();
    let mut declared: Vec<&str> = declarations.iter().map(|l| &l[..l.find(' ').unwrap()]).collect();
    let count = declared.len();
    declared.sort_unstable();
    declared.dedup();
    assert_eq!(declared.len(), count, "a node declared twice in\n{text}");
    for edge in text.lines().map(str::trim).filter(|l| l.contains(" -> ")) {
        let (from, to) = edge.trim_end_matches(';').split_once(" -> ").unwrap();
        assert!(
            declared.binary_search(&from).is_ok() && declared.binary_search(&to).is_ok(),
            "edge {edge} between undeclared nodes"
        );
    }
    declarations
}

#[test]
fn graph_drawings_are_valid_dot_and_mark_every_gradient_and_fusion() {
    for (_, text, params) in described() {
        let nodes = check_dot(text);
        for (name, _) in params {
            let marked = nodes.iter().filter(|l| l.contains(&format!("∂L/∂{name}\""))).count()
                + nodes.iter().filter(|l| l.contains(&format!("∂L/∂{name},"))).count();
            assert_eq!(marked, 1, "the gradient of {name} is not marked once in\n{text}");
            assert!(
                nodes.iter().any(|l| l.contains(&format!("\"param {name}\\n"))),
                "{name}: {text}"
            );
        }
        assert!(text.contains("subgraph cluster_forward {") && text.contains("subgraph cluster_backward {"));
        // Where Graphviz is installed, it must draw the graph too.
        if let Ok(mut dot) = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            use std::io::Write;
            dot.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            assert!(dot.wait().unwrap().success(), "dot refused\n{text}");
        }
    }
    // The classifier's matmuls carry their bias adds, and its loss is fused with the softmax.
    let mlp = Mlp::<f64>::graph_dot();
    assert!(
        mlp.contains("X W + b\\n[batch, 6]\\nfused") && mlp.contains("softmax_cross_entropy backward"),
        "{mlp}"
    );
}

#[test]
fn a_scaled_operand_of_a_product_is_the_gemms_factor() {
    // z = b − x·w: the adjoint of x·w is −z̄, which the weight's gradient xᵀ(−z̄) takes as α = −1.
    let text = Quotients::<f32>::derivation();
    assert!(text.contains("matmul with a scaled operand"), "{text}");
}

#[test]
fn products_are_added_onto_sums_of_adjoints() {
    // e1 feeds two products, so its adjoint is a sum of two products; the tied weight w's
    // gradient is a sum of two products written straight into the gradient.
    for text in [TwoDepths::<f32>::derivation(), Tied::<f32>::derivation()] {
        assert!(!text.contains(" 0 products added onto a sum"), "{text}");
        assert!(text.contains("products added onto a sum of adjoints"), "{text}");
    }
    assert!(Mlp::<f32>::derivation().contains(" 0 products added onto a sum"));
}

#[test]
fn softmax_cross_entropy_is_fused_and_transposes_are_strides() {
    let text = Mlp::<f32>::derivation();
    assert!(text.contains("softmax with cross-entropy"), "{text}");
    assert!(text.contains("matmul with bias add"), "{text}");
    // The derivation of the classifier's output layer: W̄ = Hᵀ Z̄, the fused CE gradient.
    assert!(
        text.contains("\\overline{\\mathrm{z\\_w}} = \\mathrm{h}^\\top\\,\\overline{\\mathrm{z}}"),
        "{text}"
    );
    assert!(
        text.contains("\\operatorname{softmax}(\\mathrm{z}) - \\mathrm{onehot}(\\mathrm{y})"),
        "{text}"
    );
}

network! {
    /// Two penalties whose backward fills come from one scalar adjoint but have different
    /// shapes: equal op and inputs, different nodes.
    struct PenaltiesOfTwoShapes {
        input x: [4];
        target t: [3];
        param w1: [4, 5];
        param w2: [5, 3];
        z = tanh(x @ w1) @ w2;
        output z;
        loss mse(z, t) + 0.01 * sum(square(w1)) + 0.01 * sum(square(w2));
    }
}

network! {
    /// Means over a row and over a matrix: the same fill of the same adjoint, divided by 3
    /// for one and by 6 for the other.
    struct MeansOfTwoShapes {
        input x: [2];
        target t: [3];
        param a: [3];
        param m: [2, 3];
        z = x @ m + a;
        output z;
        loss mse(z, t) + mean(a) + mean(m);
    }
}

network! {
    /// Batches of two-channel 3×3 images: a per-channel bias `[2, 1, 1]`, a plane `[3, 3]`
    /// (on the left of `-`), one element `[1]` and an offset of a whole image `[2, 3, 3]`
    /// broadcast over them, dropout, a flatten into a dense layer reshaped back, and a rank-4
    /// parameter in the loss alone, with an element broadcast over it.
    struct Images {
        input x: [2, 3, 3];
        target t: [2, 3, 3];
        param offset: [2, 3, 3];
        param bias: [2, 1, 1];
        param plane: [3, 3];
        param shift: [1];
        param k: [2, 1, 2, 2];
        h = tanh(x - offset + bias);
        g = softplus(plane - h) + shift;
        d = reshape(dense(flatten(dropout(g, 0.2)), 18), 2, 3, 3);
        out = d - bias;
        output out;
        loss mse(out, t) + 0.1 * mean(tanh(k + shift)) + 0.01 * sum(square(k));
    }
}

network! {
    /// GELU, SiLU, ELU, softsign, sqrt, and max and min with a number.
    struct Smooth {
        input x: [4];
        target t: [2];
        h = gelu(dense(x, 5));
        g = silu(dense(h, 5)) + elu(dense(x, 5), 0.7) - softsign(dense(x, 5));
        r = sqrt(softplus(dense(g, 3))) + max(dense(x, 3), 0.1) * min(dense(x, 3), -0.2);
        out = dense(r, 2);
        output out;
        loss mse(out, t);
    }
}

network! {
    /// Elementwise division, a bias row on the left of `-`, and a quotient of losses.
    struct Quotients {
        input x: [3];
        target t: [2];
        param w: [3, 2];
        param b: [2] = 0.5;
        z = b - x @ w;
        q = z / exp(tanh(dense(x, 2)));
        output q;
        loss mse(q, t) / mse(z, t) + mse(q, t);
    }
}

network! {
    /// Log-softmax with cross-entropy written out, and the row reductions.
    struct RowWise {
        input x: [4];
        target y: classes[3];
        target t: [1];
        z = dense(tanh(dense(x, 5)), 3);
        output log_softmax(z);
        loss mean(sum_rows(log_softmax(z))) + mse(max_rows(z) - mean_rows(z) * sum_rows(z), t)
            + softmax_cross_entropy(z, y);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn row_wise(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: RowWise<f64> = network(&mut rng);
        let x = random(&mut rng, rows, 4, 1.0);
        let (y, t) = (labels(&mut rng, rows, 3), random(&mut rng, rows, 1, 1.0));
        let batch = RowWiseBatch { x: x.view(), y: &y, t: t.view() };
        // max_rows has a kink where two columns tie.
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn quotients(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Quotients<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 3, 1.0), random(&mut rng, rows, 2, 1.0));
        let batch = QuotientsBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }

    #[test]
    fn smooth(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Smooth<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 4, 1.0), random(&mut rng, rows, 2, 1.0));
        let batch = SmoothBatch { x: x.view(), t: t.view() };
        // ELU with α ≠ 1, max and min have kinks.
        check(&mut net, &batch, seed, Kinks::Possible)?;
    }

    #[test]
    fn penalties_of_two_shapes(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: PenaltiesOfTwoShapes<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 4, 1.0), random(&mut rng, rows, 3, 1.0));
        let batch = PenaltiesOfTwoShapesBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }

    #[test]
    fn images(seed in any::<u64>(), rows in 1usize..5) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: Images<f64> = network(&mut rng);
        // Each sample's [2, 3, 3] values in row-major order.
        let (x, t) = (random(&mut rng, rows, 18, 1.0), random(&mut rng, rows, 18, 1.0));
        let batch = ImagesBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }

    #[test]
    fn means_of_two_shapes(seed in any::<u64>(), rows in 1usize..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net: MeansOfTwoShapes<f64> = network(&mut rng);
        let (x, t) = (random(&mut rng, rows, 2, 1.0), random(&mut rng, rows, 3, 1.0));
        let batch = MeansOfTwoShapesBatch { x: x.view(), t: t.view() };
        check(&mut net, &batch, seed, Kinks::None)?;
    }
}
