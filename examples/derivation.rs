//! Prints the backward pass the compiler derived for a small classifier, as chain-rule
//! equations in Markdown with LaTeX math.
//!
//! ```text
//! cargo run --example derivation
//! ```

use symgrad::network;

network! {
    /// Two dense layers, ReLU, softmax with cross-entropy.
    pub struct Classifier {
        input x: [64];
        target y: classes[10];
        h1 = relu(dense(x, 32));
        z = dense(h1, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

fn main() {
    symgrad::cli::example_without_options(
        "Prints the backward pass the compiler derived for a small classifier, as chain-rule equations in Markdown with LaTeX math.",
    );
    println!("{}", Classifier::<f32>::derivation());
}
