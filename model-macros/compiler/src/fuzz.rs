//! The macro never panics, whatever tokens it is given: random token trees built from the
//! language's own words (and some it does not have), and valid definitions with tokens
//! dropped, repeated or replaced, all expand to code or to `compile_error!`s.

use std::str::FromStr;

use proc_macro2::TokenStream;
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "struct",
    "pub",
    "Net",
    "input",
    "target",
    "param",
    "output",
    "loss",
    "let",
    "classes",
    "x",
    "y",
    "h",
    "w",
    "dense",
    "relu",
    "leaky_relu",
    "softmax",
    "sum",
    "mean",
    "dropout",
    "transpose",
    "matmul",
    "gelu",
    "silu",
    "elu",
    "sqrt",
    "max",
    "min",
    "log_softmax",
    "sum_rows",
    "max_rows",
    "identity",
    "flatten",
    "reshape",
    "7",
    "mse",
    "mae",
    "cross_entropy",
    "bce",
    "he",
    "zeros",
    "constant",
    "=",
    ":",
    ";",
    ",",
    "+",
    "-",
    "*",
    "/",
    "@",
    "0",
    "1",
    "3",
    "0.5",
    "-2",
    "1e400",
    "18446744073709551616",
    "4294967296",
    "#",
    "!",
    "'a",
    "\"s\"",
    "_",
    "..",
    "::",
    "fn",
    "r#fn",
    "r#type",
];

const VALID: &str = "pub struct Net { input x: [4]; input m: [2, 2, 3]; target y: classes[3]; \
    param w: [4, 5] = he; param b: [5]; param c: [2, 1, 1]; param k: [3, 2, 1, 1] = he; \
    h = relu(b - x @ w); g = dropout(h, 0.5) + h * h / exp(gelu(h)); i = tanh(m - c); \
    z = dense(elu(g, 0.5), 3) + dense(flatten(i), 3); output log_softmax(z); \
    loss cross_entropy(softmax(z), y) + 0.1 * mean(square(w)) / mean(sum_rows(max(g, 0.1))) \
    + mean(reshape(i, 12)) + sum(k + c); }";

fn tree() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(WORDS).prop_map(str::to_owned);
    leaf.prop_recursive(4, 64, 8, |inner| {
        (prop::collection::vec(inner, 0..8), 0..4usize).prop_map(|(items, delimiter)| {
            let body = items.join(" ");
            match delimiter {
                0 => format!("({body})"),
                1 => format!("[{body}]"),
                2 => format!("{{{body}}}"),
                _ => body,
            }
        })
    })
}

fn expands_without_panic(source: &str) {
    if let Ok(tokens) = TokenStream::from_str(source) {
        let _ = crate::expand(tokens);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_token_trees(trees in prop::collection::vec(tree(), 0..12)) {
        expands_without_panic(&trees.join(" "));
        expands_without_panic(&format!("struct Net {{ {} }}", trees.join(" ")));
    }

    #[test]
    fn mutated_definitions(edits in prop::collection::vec((0..64usize, 0..3usize, prop::sample::select(WORDS)), 1..6)) {
        let spaced: String = VALID
            .chars()
            .map(|c| if "()[]{};,".contains(c) { format!(" {c} ") } else { c.to_string() })
            .collect();
        let mut tokens: Vec<String> = spaced.split_whitespace().map(str::to_owned).collect();
        for (at, kind, word) in edits {
            let at = at % tokens.len();
            match kind {
                0 => { tokens.remove(at); }
                1 => tokens.insert(at, word.to_owned()),
                _ => tokens[at] = word.to_owned(),
            }
        }
        expands_without_panic(&tokens.join(" "));
    }
}

/// Raw identifiers name values, inputs, targets and parameters like any other name: the
/// generated names derived from them (`fn_w`, `in_type`, ...) drop the `r#`.
#[test]
fn raw_identifiers_are_names_like_any_other() {
    let source = "struct Net { input r#type: [2]; target r#loop: classes[2]; param r#match: [2]; \
        r#fn = dense(r#type + r#match, 2); r#let = relu(r#fn); output softmax(r#let); \
        loss cross_entropy(softmax(r#let), r#loop); }";
    let tokens = crate::expand(TokenStream::from_str(source).unwrap()).to_string();
    assert!(!tokens.contains("compile_error"), "{tokens}");
    assert!(tokens.contains("fn_w") && tokens.contains("fn_b"), "{tokens}");
}

/// A definition too large for rustc is refused with its size, quickly (before differentiation).
#[test]
fn definitions_beyond_the_operation_limit_are_refused() {
    let terms = vec!["dense(x, 2)"; crate::lower::MAX_OPERATIONS / 5 + 1].join(" + ");
    let source = format!(
        "struct Net {{ input x: [2]; target y: classes[2]; z = {terms}; output softmax(z); \
         loss cross_entropy(softmax(z), y); }}"
    );
    let tokens = crate::expand(TokenStream::from_str(&source).unwrap()).to_string();
    assert!(
        tokens.contains("operations; at most 6000 are supported"),
        "{}",
        &tokens[..300.min(tokens.len())]
    );
}

#[test]
fn the_valid_definition_expands_to_code() {
    let tokens = crate::expand(TokenStream::from_str(VALID).unwrap()).to_string();
    assert!(!tokens.contains("compile_error"), "{tokens}");
    assert!(tokens.contains("fn loss_and_grad"));
}

#[test]
fn the_generated_code_reads_like_the_derivation() {
    let tokens = crate::expand(TokenStream::from_str(VALID).unwrap()).to_string();
    let backward = &tokens[tokens.find("pub fn loss_and_grad").expect("loss_and_grad")..];
    // Each backward step carries its chain-rule equation, and buffers are named after values.
    assert!(
        backward.contains(r#"# [doc = " \\overline{\\mathrm{z}} = "#),
        "{backward}"
    );
    assert!(backward.contains("ws . grad_z"), "{backward}");
    assert!(tokens.contains("ws . h "), "{tokens}");
    // The forward body exists once in the function every first-order entry point calls, and
    // once more in `hvp` and in `gnvp`, each over its own workspace.
    assert_eq!(tokens.matches("dropout_mask").count(), 3, "{tokens}");
    assert_eq!(tokens.matches("fn __forward").count(), 1, "{tokens}");
}

#[test]
fn sizes_beyond_the_element_limit_are_errors() {
    // Each shape has 2³² elements or more (some overflow usize), or a product of two valid ones
    // does.
    for definition in [
        "struct Net { input x: [4294967296, 4294967296]; target t: [1]; output x; loss mse(x, t); }",
        "struct Net { input x: [4]; target t: [4]; param w: [65536, 65536, 65536, 65536]; \
         output x * 2; loss mse(x, t) + sum(w); }",
        "struct Net { input x: [4]; target t: [4]; param a: [4294967296, 1]; param b: [1, 4294967296]; \
         output x * 2; loss mse(x, t) + sum(a @ b); }",
        "struct Net { input x: [4]; target t: [4]; h = reshape(x, 4294967296, 4294967296, 4); \
         output h; loss sum(h); }",
    ] {
        let tokens = crate::expand(TokenStream::from_str(definition).unwrap()).to_string();
        assert!(
            tokens.contains("compile_error") && tokens.contains("too large"),
            "{definition}: {tokens}"
        );
    }
}
