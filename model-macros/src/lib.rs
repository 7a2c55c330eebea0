//! The `network!` macro of symgrad. See the `symgrad` crate for the language and examples;
//! the compiler itself is the `symgrad-compiler` crate, an ordinary library, so that tests and
//! fuzzers can drive it on token streams.

#![warn(missing_docs)]

/// Defines a network whose backward pass is derived at compile time. The language is
/// documented on `symgrad::network`.
#[proc_macro]
pub fn network(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    symgrad_compiler::expand(input.into()).into()
}
