//! Draws the compiled training step of a small classifier: its forward pass and the backward
//! pass the compiler derived, in Graphviz DOT (`graph_drawing.dot`), and as SVG
//! (`graph_drawing.svg`) where Graphviz's `dot` is installed (`apt-get install graphviz`).
//!
//! Fused kernels are filled yellow (the matmul with its bias add, softmax with cross-entropy),
//! the nodes holding parameter gradients are red, parameters blue.
//!
//! ```text
//! cargo run --example graph_drawing
//! ```

use std::path::Path;
use std::process::Command;

use symgrad::network;

network! {
    /// Two dense layers with dropout, ReLU, softmax with cross-entropy.
    pub struct Classifier {
        input x: [64];
        target y: classes[10];
        h1 = dropout(relu(dense(x, 32)), 0.1);
        z = dense(h1, 10);
        output softmax(z);
        loss cross_entropy(softmax(z), y);
    }
}

fn main() -> symgrad::Result<()> {
    symgrad::cli::example_without_options(
        "Draws the compiled training step of a small classifier (forward pass and derived backward pass) in Graphviz DOT, and as SVG where Graphviz is installed.",
    );
    let (dot_path, svg_path) = (Path::new("graph_drawing.dot"), Path::new("graph_drawing.svg"));
    std::fs::write(dot_path, Classifier::<f32>::graph_dot()).map_err(|e| symgrad::Error::io(dot_path.display(), &e))?;
    println!("wrote {}", dot_path.display());
    match Command::new("dot")
        .arg("-Tsvg")
        .arg(dot_path)
        .arg("-o")
        .arg(svg_path)
        .status()
    {
        Ok(status) if status.success() => println!("wrote {}", svg_path.display()),
        Ok(status) => println!("dot failed ({status}); the DOT file is still there"),
        Err(_) => println!(
            "Graphviz's `dot` is not installed (`apt-get install graphviz`); draw it with \
             `dot -Tsvg {} -o {}`, or paste it into any Graphviz viewer",
            dot_path.display(),
            svg_path.display()
        ),
    }
    Ok(())
}
