//! The macro's expansion of arbitrary text: code or `compile_error!`s, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Text that is not Rust tokens never reaches the macro (rustc's lexer stops it first).
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(tokens) = text.parse::<proc_macro2::TokenStream>()
    {
        let _ = symgrad_compiler::expand(tokens);
    }
});
