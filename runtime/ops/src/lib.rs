//! The op table of symgrad. Each activation, loss, row reduction and initialiser is described
//! here once:
//! its name in a network definition, its arguments and their limits, its forward function
//! and derivative on one element, which saved value the derivative reads, its LaTeX, and
//! the words of the errors about it. The `network!` compiler reads the table to parse,
//! check, differentiate and document a definition; the runtime reads it to run the kernels.
//! Because both read the same entry, the compiler's idea of which value a derivative needs
//! and the kernel's cannot disagree.
//!
//! The crate has no dependencies, so that the procedural macro can depend on it without the
//! runtime's.

#![warn(missing_docs)]

mod activation;
mod expr;
mod init;
mod loss;
mod real;
mod reduction;

pub use activation::{Activation, Arg, Domain, Entry, Saved, sigmoid, sign, softplus};
pub use expr::Expr;
pub use init::{Distribution, Init};
pub use loss::{Loss, LossEntry, Normaliser};
pub use real::{Real, erf};
pub use reduction::RowReduction;

/// `names` as a list in words: "`a`, `b` or `c`".
pub fn list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|n| format!("`{n}`")).collect();
            format!("{} or `{last}`", init.join(", "))
        }
    }
}
