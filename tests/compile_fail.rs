//! Every compile error `network!` can give, pinned with its message: one file per mistake in
//! `tests/ui/`, named after it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
