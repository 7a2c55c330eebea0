//! The `network!` macro of symgrad. See the `symgrad` crate for the language and examples.
//!
//! `network! { ... }` = parse → lower (names, shapes) → fuse → differentiate → plan → emit.

mod ast;
mod derivation;
mod diff;
mod emit;
mod fuse;
mod graph;
mod lower;
mod ops;
mod plan;

use proc_macro2::TokenStream;

/// Defines a network whose backward pass is derived at compile time. The language is
/// documented on `symgrad::network`.
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand(input.into()).into()
}

/// The whole pipeline on token streams; every failure becomes `compile_error!`s at the
/// offending tokens.
fn expand(input: TokenStream) -> TokenStream {
    match compile(input) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

fn compile(input: TokenStream) -> syn::Result<TokenStream> {
    let network: ast::Network = syn::parse2(input)?;
    let lowered = lower::lower(network)?;
    let (mut graph, map) = fuse::fuse(&lowered.graph);
    let params: Vec<graph::NodeId> = lowered.params.iter().map(|p| map[p.node]).collect();
    let labels: Vec<String> = lowered.targets.iter().map(|t| t.name.to_string()).collect();
    let (output, loss) = (map[lowered.output], map[lowered.loss]);
    let derivative = diff::differentiate(&mut graph, loss, &params, &labels);
    let plan = plan::plan(&graph, output, loss, &derivative.param_grads);
    let text = derivation::derivation(&lowered, &graph, &derivative, &plan);
    Ok(emit::emit(&lowered, &graph, &plan, &text))
}
