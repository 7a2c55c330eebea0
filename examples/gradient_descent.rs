//! Full-batch gradient descent `w ← w − α∇f(w)` with the step-size rule of the course: when a
//! step raises the loss it is undone and `α` halved; while the loss falls `α` grows by 5 %. It
//! stops once `‖∇f‖ ≤ ε`. Every step's loss, `α` and gradient norm are printed.
//!
//! ```text
//! cargo run --release --example gradient_descent               # 500 embedded digits
//! cargo run --release --example gradient_descent -- --fashion  # 500 Fashion-MNIST images
//! ```

use symgrad::data::Source;
use symgrad::network;
use symgrad::optim::BoldDriver;
use symgrad::prelude::*;
use symgrad::rand::{SeedableRng, rngs::StdRng};
use symgrad::train;

/// Softmax regression with one small tanh layer (no dropout: descent needs a fixed loss).
macro_rules! small {
    ($name:ident, $width:tt) => {
        network! {
            pub struct $name {
                input x: [$width];
                target y: classes[10];
                z = dense(tanh(dense(x, 16)), 10);
                output softmax(z);
                loss cross_entropy(softmax(z), y);
            }
        }
    };
}

small!(SmallDigits, 64);
small!(SmallFashion, 784);

/// Runs the descent on `data` and prints each step.
fn descend<M: FromExamples<f64>>(data: &symgrad::Dataset<f64>) -> symgrad::Result<()> {
    let batch = M::batch(symgrad::Examples::new(data.features.view(), &data.labels))?;
    let mut net = M::init(&mut StdRng::seed_from_u64(0));
    // Start far too boldly: the first steps overshoot and are undone.
    let mut driver = BoldDriver {
        rate: 50.0,
        grow: 1.05,
        shrink: 0.5,
    };
    let epsilon = 1e-2;
    println!("{:>5}  {:>10}  {:>10}  {:>10}  step", "step", "loss", "α", "‖∇f‖");
    let steps = train::gradient_descent(&mut net, &batch, &mut driver, epsilon, 5000, |s| {
        if s.step <= 20 || s.step % 100 == 0 || !s.accepted {
            let verdict = if s.accepted {
                "kept"
            } else {
                "undone: the loss rose, α halved"
            };
            println!(
                "{:>5}  {:>10.6}  {:>10.4}  {:>10.3e}  {verdict}",
                s.step, s.loss, s.rate, s.grad_norm
            );
        }
    })?;
    let last = steps.last().expect("at least one step");
    let rejected = steps.iter().filter(|s| !s.accepted).count();
    println!(
        "\n{} steps ({rejected} undone); final loss {:.6}, ‖∇f‖ = {:.3e} {} ε = {epsilon}",
        steps.len(),
        last.loss,
        last.grad_norm,
        if last.grad_norm <= epsilon { "≤" } else { ">" }
    );
    Ok(())
}

fn main() -> symgrad::Result<()> {
    let source = symgrad::cli::example_source(
        "Full-batch gradient descent `w ← w − α∇f(w)` with the step-size rule of the course: when a step raises the loss it is undone and `α` halved; while the loss falls `α` grows by 5 %.",
    );
    let (train_set, _) = source.load::<f64>(0)?;
    let subset = train_set.first(500);
    match source {
        Source::Digits => descend::<SmallDigits<f64>>(&subset),
        Source::FashionMnist(_) => descend::<SmallFashion<f64>>(&subset),
    }
}
