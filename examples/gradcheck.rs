//! Checks the tape's gradients of a small tanh MLP with softmax cross-entropy against finite
//! differences, and prints the per-parameter report.
//!
//! ```text
//! cargo run --release --example gradcheck
//! ```

use symgrad::gradcheck::{self, Options};
use symgrad::ndarray::Array2;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};

fn main() -> Result<()> {
    symgrad::cli::example_without_options(
        "Checks the tape's gradients of a small tanh MLP with softmax cross-entropy against finite differences, and prints the per-parameter report.",
    );
    let mut rng = StdRng::seed_from_u64(42);
    let (batch, inputs, hidden, classes) = (16, 8, 12, 4);
    let mut x = Array2::zeros((batch, inputs));
    Init::StandardNormal.fill(&mut rng, x.view_mut());
    let labels: Vec<usize> = (0..batch).map(|i| i % classes).collect();

    let mut params = ParamList::new();
    for (name, rows, cols, init) in [
        ("w1", inputs, hidden, Init::XavierNormal),
        ("b1", 1, hidden, Init::Constant(0.1)),
        ("w2", hidden, classes, Init::XavierNormal),
        ("b2", 1, classes, Init::Zeros),
    ] {
        let mut value = Array2::zeros((rows, cols));
        init.fill(&mut rng, value.view_mut());
        params.push(name, value);
    }

    // L = CE(softmax(tanh(x W1 + b1) W2 + b2), y)
    let run = |params: &ParamList<f64>| -> Result<(f64, ParamList<f64>)> {
        let mut tape = Tape::new();
        let p: Vec<Var> = params.values().iter().map(|v| tape.param(v.clone())).collect();
        let x = tape.input(x.clone());
        let z1 = tape.matmul(x, p[0])?;
        let a1 = tape.add_row(z1, p[1])?;
        let h = tape.activation(Activation::Tanh, a1);
        let z2 = tape.matmul(h, p[2])?;
        let logits = tape.add_row(z2, p[3])?;
        let loss = tape.loss_labels(Loss::SoftmaxCrossEntropy, logits, &labels)?;
        let grads = tape.backward(loss)?;
        let mut out = params.zeros_like();
        grads.write_into(&p, &mut out)?;
        Ok((tape.scalar(loss), out))
    };

    let (loss, grads) = run(&params)?;
    println!("loss {loss:.6} on a batch of {batch}\n");
    let report = gradcheck::check(&mut params, &grads, |p| run(p).map(|(l, _)| l), Options::default())?;
    println!("{report}");
    Ok(())
}
