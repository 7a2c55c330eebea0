//! The compiler behind symgrad's `network!` macro, on `proc_macro2` token streams: the
//! `symgrad-macros` crate is a one-line wrapper around [`expand`]. See the `symgrad` crate for
//! the language and examples.
//!
//! `network! { ... }` = parse → lower (names, shapes) → fuse → differentiate → plan → schedule
//! → emit.

#![warn(missing_docs)]

mod ast;
mod chain;
mod derivation;
mod diff;
mod dot;
mod emit;
mod fuse;
#[cfg(test)]
mod fuzz;
mod graph;
mod lower;
mod ops;
mod plan;
#[cfg(test)]
mod random_graphs;
#[cfg(test)]
mod reference;
mod schedule;
mod second;
mod spatial;
mod stub;

use proc_macro2::TokenStream;

use crate::derivation::Order;
use crate::second::Curvature;

/// The whole pipeline on token streams: the definition inside `network! { ... }` in, the
/// generated items out. It never panics: every failure becomes `compile_error!`s at the
/// offending tokens.
pub fn expand(input: TokenStream) -> TokenStream {
    match compile(input.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(stub::stub(input));
            tokens
        }
    }
}

fn compile(input: TokenStream) -> syn::Result<TokenStream> {
    let network: ast::Network = syn::parse2(input)?;
    let lowered = lower::lower(network)?;
    let (mut graph, map) = fuse::fuse(&lowered.graph);
    let params: Vec<graph::NodeId> = lowered.params.iter().map(|p| map[p.node]).collect();
    let labels: Vec<String> = lowered.targets.iter().map(|t| t.name.to_string()).collect();
    let (output, loss) = (map[lowered.output], map[lowered.loss]);
    let chain = chain::chain(&graph, loss, lowered.inputs.len(), lowered.params.len());
    let mut derivative = diff::differentiate(&mut graph, loss, &params, &labels);
    // Fusion again, on the nodes the backward pass created.
    let (graph, map) = fuse::fuse(&graph);
    derivative.remap(&map);
    let (output, loss) = (map[output], map[loss]);
    let plan = plan::plan(&graph, output, loss, &derivative.param_grads);
    let schedule = schedule::schedule(&graph, &plan);
    let text = derivation::derivation(&lowered, &graph, &derivative, &plan, &schedule, Order::Gradient);
    let dot = dot::graph_dot(&lowered, &graph, output, loss, &derivative);
    let first = emit::Pass {
        graph: &graph,
        plan: &plan,
        schedule: &schedule,
        derivative: &derivative,
        earlier_adjoints: &[],
        derivation: &text,
    };
    // The second-order passes, `H·v` and `G·v`, from the gradient's graph.
    let params: Vec<graph::NodeId> = params.iter().map(|&p| map[p]).collect();
    let names: Vec<String> = lowered.params.iter().map(|p| p.name.to_string()).collect();
    let passes = [Curvature::Hessian, Curvature::GaussNewton].map(|curvature| {
        let product = second::hessian_vector(&graph, loss, &params, &derivative, &labels, &names, curvature);
        let loss = product.map[loss];
        let plan = plan::plan(&product.graph, loss, loss, &product.derivative.param_grads);
        let schedule = schedule::schedule(&product.graph, &plan);
        let order = match curvature {
            Curvature::Hessian => Order::HessianVector,
            Curvature::GaussNewton => Order::GaussNewtonVector,
        };
        let text = derivation::derivation(&lowered, &product.graph, &product.derivative, &plan, &schedule, order);
        (product, plan, schedule, text)
    });
    let [hessian, gauss_newton] = passes.each_ref().map(|(product, plan, schedule, text)| emit::Pass {
        graph: &product.graph,
        plan,
        schedule,
        derivative: &product.derivative,
        earlier_adjoints: &product.first_adjoints,
        derivation: text,
    });
    Ok(emit::emit(
        &lowered,
        &first,
        &hessian,
        &gauss_newton,
        &dot,
        chain.as_ref(),
    ))
}
