//! The syntax tree of a network definition and its parser.
//!
//! ```text
//! network   := attr* vis "struct" Ident "{" item* "}"
//! item      := "input" Ident ":" "[" width "]" ";"
//!            | "target" Ident ":" ("classes" "[" width "]" | "[" width "]") ";"
//!            | "param" Ident ":" "[" width ("," width)? "]" ("=" init)? ";"
//!            | "let"? Ident "=" expr ";"
//!            | "output" expr ";"
//!            | "loss" expr ";"
//! init      := Ident | Ident "(" number ")" | number
//! expr      := term (("+" | "-") term)*
//! term      := unary (("*" | "/" | "@") unary)*
//! unary     := "-" unary | primary
//! primary   := number | Ident | Ident "(" (expr ("," expr)*)? ")" | "(" expr ")"
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Token, Visibility, bracketed, parenthesized};

mod kw {
    syn::custom_keyword!(input);
    syn::custom_keyword!(target);
    syn::custom_keyword!(param);
    syn::custom_keyword!(output);
    syn::custom_keyword!(loss);
    syn::custom_keyword!(classes);
}

/// How deeply expressions may nest: far beyond any real network, and a bound on recursion.
const MAX_DEPTH: usize = 128;

/// A whole `network! { ... }` invocation.
pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub items: Vec<Item>,
}

/// A size written in the definition.
#[derive(Clone, Copy)]
pub struct Width {
    pub value: usize,
}

/// The sizes of a declared shape, `[d1, …, dk]`, with the span of its brackets.
pub struct Dims {
    pub sizes: Vec<usize>,
    pub span: Span,
}

/// What a target holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// One class index per row (`classes[n]`).
    Classes,
    /// Real values of a shape per sample (`[n]`, `[c, h, w]`).
    Dense,
}

/// How a parameter is initialised.
#[derive(Clone)]
pub enum InitSpec {
    /// `xavier_normal`, `he`, `zeros`, ...
    Named(Ident),
    /// `constant(c)` or a bare number.
    Constant(f64),
}

/// One statement of the definition.
pub enum Item {
    Input {
        name: Ident,
        dims: Dims,
    },
    Target {
        name: Ident,
        kind: TargetKind,
        dims: Dims,
    },
    Param {
        name: Ident,
        dims: Dims,
        init: Option<InitSpec>,
    },
    Let {
        name: Ident,
        expr: Expr,
    },
    Output {
        keyword: Span,
        expr: Expr,
    },
    Loss {
        keyword: Span,
        expr: Expr,
    },
}

/// Binary operators.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    MatMul,
}

/// An expression.
pub enum Expr {
    Number(f64, Span),
    Name(Ident),
    Call {
        func: Ident,
        args: Vec<Expr>,
        /// Named arguments, `name = value`, after the positional ones.
        options: Vec<(Ident, Expr)>,
    },
    Binary {
        op: BinOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Neg {
        span: Span,
        arg: Box<Expr>,
    },
}

impl Expr {
    /// The span to point at when the expression as a whole is wrong.
    pub fn span(&self) -> Span {
        match self {
            Expr::Number(_, span) | Expr::Neg { span, .. } => *span,
            Expr::Name(ident) | Expr::Call { func: ident, .. } => ident.span(),
            Expr::Binary { op_span, .. } => *op_span,
        }
    }
}

impl Parse for Network {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![struct]) {
            return Err(input.error("expected `struct Name { ... }`: a network is declared like a struct"));
        }
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input.error(format!(
                "a network takes no generic parameters: `{name}` is generic over its float type \
                 already (`{name}<f32>`, `{name}<f64>`); write `struct {name} {{ ... }}`"
            )));
        }
        let body;
        syn::braced!(body in input);
        let mut items = Vec::new();
        while !body.is_empty() {
            items.push(body.parse()?);
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's closing brace"));
        }
        Ok(Network {
            attrs,
            vis,
            name,
            items,
        })
    }
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        let item = if lookahead.peek(kw::input) {
            input.parse::<kw::input>()?;
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            let dims = parse_dims(input, "an input")?;
            no_initialiser(input, "an input")?;
            Item::Input { name, dims }
        } else if lookahead.peek(kw::target) {
            input.parse::<kw::target>()?;
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            let kind = if input.peek(kw::classes) {
                input.parse::<kw::classes>()?;
                TargetKind::Classes
            } else {
                TargetKind::Dense
            };
            let dims = parse_dims(input, "a target")?;
            if kind == TargetKind::Classes && dims.sizes.len() != 1 {
                return Err(syn::Error::new(
                    dims.span,
                    "class labels have one size, the number of classes: `classes[n]`",
                ));
            }
            no_initialiser(input, "a target")?;
            Item::Target { name, kind, dims }
        } else if lookahead.peek(kw::param) {
            input.parse::<kw::param>()?;
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            let dims = parse_dims(input, "a parameter")?;
            let init = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                Some(parse_init(input)?)
            } else {
                None
            };
            Item::Param { name, dims, init }
        } else if lookahead.peek(kw::output) {
            let keyword = input.parse::<kw::output>()?.span;
            Item::Output {
                keyword,
                expr: parse_expr(input, 0)?,
            }
        } else if lookahead.peek(kw::loss) {
            let keyword = input.parse::<kw::loss>()?.span;
            Item::Loss {
                keyword,
                expr: parse_expr(input, 0)?,
            }
        } else if lookahead.peek(Token![let]) || lookahead.peek(Ident) {
            if input.peek(Token![let]) {
                input.parse::<Token![let]>()?;
            }
            let name: Ident = input.parse()?;
            if !input.peek(Token![=]) && (input.peek(Ident) || input.peek(Token![:])) {
                // `inptu x: [4];`, `outptu z;`: a statement keyword misspelt.
                let word = name.to_string();
                let hint = nearest(&word, STATEMENTS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "unknown statement `{word}`: a statement is `input`, `target`, `param`, `output`, \
                         `loss` or `name = expression;`{hint}"
                    ),
                ));
            }
            if !input.peek(Token![=]) {
                return Err(input.error(format!(
                    "expected `=` after `{name}`: a value is defined as `{name} = expression;`"
                )));
            }
            input.parse::<Token![=]>()?;
            Item::Let {
                name,
                expr: parse_expr(input, 0)?,
            }
        } else {
            return Err(lookahead.error());
        };
        if !input.peek(Token![;]) {
            return Err(input.error("expected `;` at the end of the statement"));
        }
        input.parse::<Token![;]>()?;
        Ok(item)
    }
}

/// `[d1, …, dk]`, at least one size.
/// An error at a `=` after the declaration of `what`, which takes no initialiser.
fn no_initialiser(input: ParseStream, what: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        return Err(input.error(format!(
            "{what} is data fed with each batch and takes no initialiser; only a `param` has one"
        )));
    }
    Ok(())
}

/// The statements that begin with a keyword.
const STATEMENTS: &[&str] = &["input", "target", "param", "output", "loss"];

/// The word of `words` nearest to `word` in edit distance, if it is at most 2 edits away
/// (with a swap of neighbours counting as one).
pub(crate) fn nearest<'a>(word: &str, words: &[&'a str]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        // d[i][j]: edits between a[..i] and b[..j] (optimal string alignment).
        let mut d: Vec<Vec<usize>> = (0..=a.len())
            .map(|i| {
                (0..=b.len())
                    .map(|j| {
                        if i == 0 {
                            j
                        } else if j == 0 {
                            i
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    };
    words
        .iter()
        .map(|w| (distance(word, w), *w))
        .filter(|&(d, _)| d <= 2)
        .min()
        .map(|(_, w)| w)
}

fn parse_dims(input: ParseStream, what: &str) -> syn::Result<Dims> {
    let content;
    let brackets = bracketed!(content in input);
    let sizes = Punctuated::<Width, Token![,]>::parse_terminated_with(&content, parse_width)?;
    let span = brackets.span.join();
    if sizes.is_empty() {
        return Err(syn::Error::new(
            span,
            format!("{what} needs at least one size, e.g. `[n]`"),
        ));
    }
    Ok(Dims {
        sizes: sizes.into_iter().map(|w| w.value).collect(),
        span,
    })
}

fn parse_width(input: ParseStream) -> syn::Result<Width> {
    if input.peek(Token![-]) {
        return Err(input.error("a size is a positive integer, not a negative one"));
    }
    let lit: syn::LitInt = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), "expected a size: a positive integer"))?;
    if lit.base10_digits().starts_with('-') {
        return Err(syn::Error::new(
            lit.span(),
            "a size is a positive integer, not a negative one",
        ));
    }
    let value: usize = lit
        .base10_parse()
        .map_err(|_| syn::Error::new(lit.span(), "a size is a positive integer below 2³²"))?;
    if value == 0 {
        return Err(syn::Error::new(lit.span(), "a size must be at least 1"));
    }
    Ok(Width { value })
}

fn parse_init(input: ParseStream) -> syn::Result<InitSpec> {
    if input.peek(syn::LitFloat) || input.peek(syn::LitInt) || input.peek(Token![-]) {
        let (value, _) = parse_number(input)?;
        return Ok(InitSpec::Constant(value));
    }
    let name: Ident = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected an initialiser: xavier_normal, xavier_uniform, he, normal, zeros, constant(c) or a number",
        )
    })?;
    if name == "constant" && input.peek(syn::token::Paren) {
        let content;
        parenthesized!(content in input);
        let (value, _) = parse_number(&content)?;
        if !content.is_empty() {
            return Err(content.error("`constant` takes one number"));
        }
        return Ok(InitSpec::Constant(value));
    }
    if input.peek(syn::token::Paren) {
        return Err(input.error(format!(
            "`{name}` takes no arguments (only `constant(c)` does); write `= {name}`"
        )));
    }
    Ok(InitSpec::Named(name))
}

fn parse_number(input: ParseStream) -> syn::Result<(f64, Span)> {
    let negative = if input.peek(Token![-]) {
        input.parse::<Token![-]>()?;
        true
    } else {
        false
    };
    let (value, span) = if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        (lit.base10_parse::<f64>()?, lit.span())
    } else {
        let lit: syn::LitInt = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), "expected a number"))?;
        (lit.base10_parse::<f64>()?, lit.span())
    };
    if !value.is_finite() {
        return Err(syn::Error::new(span, "this number is too large for an f64"));
    }
    Ok((if negative { -value } else { value }, span))
}

fn parse_expr(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    let mut lhs = parse_term(input, depth)?;
    loop {
        let op = if input.peek(Token![+]) {
            BinOp::Add
        } else if input.peek(Token![-]) {
            BinOp::Sub
        } else {
            return Ok(lhs);
        };
        let op_span = if op == BinOp::Add {
            input.parse::<Token![+]>()?.span()
        } else {
            input.parse::<Token![-]>()?.span()
        };
        let rhs = parse_term(input, depth)?;
        lhs = Expr::Binary {
            op,
            op_span,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        };
    }
}

fn parse_term(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    let mut lhs = parse_unary(input, depth)?;
    loop {
        let (op, op_span) = if input.peek(Token![*]) {
            (BinOp::Mul, input.parse::<Token![*]>()?.span())
        } else if input.peek(Token![/]) {
            (BinOp::Div, input.parse::<Token![/]>()?.span())
        } else if input.peek(Token![@]) {
            (BinOp::MatMul, input.parse::<Token![@]>()?.span())
        } else {
            return Ok(lhs);
        };
        let rhs = parse_unary(input, depth)?;
        lhs = Expr::Binary {
            op,
            op_span,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        };
    }
}

fn parse_unary(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    if depth > MAX_DEPTH {
        return Err(input.error("expression nested too deeply"));
    }
    if input.peek(Token![-]) {
        let span = input.parse::<Token![-]>()?.span();
        let arg = parse_unary(input, depth + 1)?;
        return Ok(Expr::Neg {
            span,
            arg: Box::new(arg),
        });
    }
    parse_primary(input, depth + 1)
}

fn parse_primary(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    if input.peek(syn::LitFloat) || input.peek(syn::LitInt) {
        let (value, span) = parse_number(input)?;
        return Ok(Expr::Number(value, span));
    }
    if input.peek(syn::token::Paren) {
        let content;
        parenthesized!(content in input);
        let expr = parse_expr(&content, depth + 1)?;
        if !content.is_empty() {
            return Err(content.error("expected `)`"));
        }
        return Ok(expr);
    }
    if input.peek(Ident) {
        let name: Ident = input.parse()?;
        if !input.peek(syn::token::Paren) {
            return Ok(Expr::Name(name));
        }
        let content;
        parenthesized!(content in input);
        let (mut args, mut options) = (Vec::new(), Vec::new());
        while !content.is_empty() {
            if content.peek(Ident) && content.peek2(Token![=]) {
                let option: Ident = content.parse()?;
                content.parse::<Token![=]>()?;
                options.push((option, parse_expr(&content, depth + 1)?));
            } else if let Some((option, _)) = options.last() {
                return Err(content.error(format!(
                    "a positional argument after the named argument `{option}`: named arguments come last"
                )));
            } else {
                args.push(parse_expr(&content, depth + 1)?);
            }
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Expr::Call {
            func: name,
            args,
            options,
        });
    }
    Err(input.error("expected an expression: a name, a number, a call like `relu(x)` or `( ... )`"))
}

/// The declaration line alone (`attrs vis struct Name`), read when the full definition fails,
/// so that a stub type can still be emitted and one mistake gives one error.
pub struct Header {
    pub vis: Visibility,
    pub name: Ident,
}

impl Parse for Header {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        input.parse::<proc_macro2::TokenStream>()?;
        Ok(Header { vis, name })
    }
}

#[cfg(test)]
mod tests {
    use super::{STATEMENTS, nearest};

    #[test]
    fn misspelt_keywords_find_their_nearest() {
        for (typo, meant) in [
            ("inptu", "input"),
            ("lsos", "loss"),
            ("outptu", "output"),
            ("parm", "param"),
        ] {
            assert_eq!(nearest(typo, STATEMENTS), Some(meant), "{typo}");
        }
        assert_eq!(nearest("banana", STATEMENTS), None);
    }
}
