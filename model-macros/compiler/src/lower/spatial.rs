//! Calls on batches of maps `[batch, c, h, w]`: `conv2d`, `max_pool2d`, `avg_pool2d`,
//! `global_avg_pool` and `upsample2d`, their named options, the spatial arithmetic and its
//! errors in words, and the kernel and bias `conv2d` declares.

use proc_macro2::Span;
use syn::Ident;

use super::{Lowering, Value};
use crate::ast::Expr;
use crate::graph::NodeId;
use crate::ops::{Conv, Init, MAX_ELEMENTS, MAX_ELEMENTS_WORDS, Op, Pool, Shape};

/// The calls this module lowers.
pub(super) const CALLS: &[&str] = &["conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool", "upsample2d"];

/// A convolution's padding: `valid` (none), `same` (the output as large as the input at
/// stride 1), or a number of zeros on every side.
#[derive(Clone, Copy)]
enum Padding {
    Valid,
    Same(Span),
    Zeros(usize),
}

/// The named options of a call, as given.
struct Options {
    stride: Option<usize>,
    padding: Padding,
    dilation: usize,
    init: Option<(Init, Span)>,
}

impl Lowering {
    pub(super) fn spatial(
        &mut self,
        func: &Ident,
        args: &[Expr],
        options: &[(Ident, Expr)],
        line: &str,
    ) -> Option<Value> {
        let name = func.to_string();
        let (arities, usage, allowed): (&[usize], &str, &[&str]) = match name.as_str() {
            "conv2d" => (
                &[2, 3],
                "2 or 3 arguments: `conv2d(x, kernel)` or `conv2d(x, filters, size)`",
                &["stride", "padding", "dilation", "init"],
            ),
            "max_pool2d" | "avg_pool2d" => (&[2], "2 arguments: `(x, size)`", &["stride"]),
            "global_avg_pool" => (&[1], "1 argument", &[]),
            _ => (&[2], "2 arguments: `upsample2d(x, factor)`", &[]),
        };
        if !arities.contains(&args.len()) {
            self.error(
                func.span(),
                format!("`{name}` takes {usage}, but {} given", counted(args.len())),
            );
            return None;
        }
        let options = self.options(&name, options, allowed)?;
        let x = self.expr(&args[0], line);
        let x = self.operand(x?, args[0].span(), &format!("the input of `{name}`"))?;
        let maps = self.maps(x, &args[0], &name)?;
        let node = match name.as_str() {
            "conv2d" => return self.conv(func, args, &options, x, maps, line).map(Value::Node),
            "max_pool2d" | "avg_pool2d" => {
                let size = self.count(&args[1], "the window size")?;
                let stride = options.stride.unwrap_or(size);
                let pool = self.pool(func, maps, (size, size), stride)?;
                let out = self.sized(func.span(), pool.output_shape()?)?;
                let op = if name == "max_pool2d" {
                    let argmax = self.argmaxes.len();
                    self.argmaxes.push(out);
                    Op::MaxPool { pool, argmax }
                } else {
                    Op::WindowSum {
                        pool,
                        scale: 1.0 / pool.window() as f64,
                    }
                };
                self.graph.add(op, vec![x], out, func.span())
            }
            "global_avg_pool" => {
                let (c, h, w) = maps;
                let pool = Pool {
                    channels: c,
                    height: h,
                    width: w,
                    size: (h, w),
                    stride: 1,
                };
                let scale = 1.0 / pool.window() as f64;
                self.graph
                    .add(Op::WindowSum { pool, scale }, vec![x], Shape::batch(c), func.span())
            }
            _ => {
                let (c, h, w) = maps;
                let factor = self.count(&args[1], "the upsampling factor")?;
                // The output's maps, each pixel the window of `factor × factor` it spreads to.
                let pool = Pool {
                    channels: c,
                    height: h.saturating_mul(factor),
                    width: w.saturating_mul(factor),
                    size: (factor, factor),
                    stride: factor,
                };
                let out = self.sized(func.span(), pool.input_shape()?)?;
                self.graph
                    .add(Op::WindowSpread { pool, scale: 1.0 }, vec![x], out, func.span())
            }
        };
        Some(Value::Node(node))
    }

    /// The named options of a call to `name`, each in `allowed` and given once.
    fn options(&mut self, name: &str, given: &[(Ident, Expr)], allowed: &[&str]) -> Option<Options> {
        let mut options = Options {
            stride: None,
            padding: Padding::Valid,
            dilation: 1,
            init: None,
        };
        let mut ok = true;
        for (index, (option, value)) in given.iter().enumerate() {
            let key = option.to_string();
            if !allowed.contains(&key.as_str()) {
                let expected = if allowed.is_empty() {
                    "it takes none".to_owned()
                } else {
                    format!("expected {}", symgrad_ops::list(allowed))
                };
                self.error(option.span(), format!("`{name}` has no option `{key}`: {expected}"));
                ok = false;
                continue;
            }
            if given[..index].iter().any(|(earlier, _)| *earlier == key) {
                self.error(option.span(), format!("the option `{key}` is given twice"));
                ok = false;
                continue;
            }
            let parsed = match key.as_str() {
                "stride" => self.count(value, "the stride").map(|s| options.stride = Some(s)),
                "dilation" => self.count(value, "the dilation").map(|d| options.dilation = d),
                "init" => self.init_name(value).map(|i| options.init = Some((i, option.span()))),
                _ => self.padding(value).map(|p| options.padding = p),
            };
            ok &= parsed.is_some();
        }
        ok.then_some(options)
    }

    /// `padding = valid`, `same` or a number of zeros.
    fn padding(&mut self, value: &Expr) -> Option<Padding> {
        match value {
            Expr::Name(ident) if ident == "valid" => Some(Padding::Valid),
            Expr::Name(ident) if ident == "same" => Some(Padding::Same(ident.span())),
            Expr::Number(n, _) if *n >= 0.0 && n.fract() == 0.0 && *n <= MAX_ELEMENTS as f64 => {
                Some(Padding::Zeros(*n as usize))
            }
            other => {
                self.error(
                    other.span(),
                    "the padding is `valid` (none), `same` (as many pixels out as in, at stride 1) or a number of zeros",
                );
                None
            }
        }
    }

    /// A positive whole number given as a literal: a size, a count, a stride.
    fn count(&mut self, value: &Expr, what: &str) -> Option<usize> {
        match value {
            Expr::Number(n, _) if *n >= 1.0 && n.fract() == 0.0 && *n <= MAX_ELEMENTS as f64 => Some(*n as usize),
            other => {
                self.error(other.span(), format!("{what} must be a positive whole number"));
                None
            }
        }
    }

    /// The channels, height and width of a batch of maps `[batch, c, h, w]`.
    fn maps(&mut self, x: NodeId, arg: &Expr, name: &str) -> Option<(usize, usize, usize)> {
        let shape = self.graph.shape(x);
        match (shape.is_batch(), shape.dims()) {
            (true, &[c, h, w]) => Some((c, h, w)),
            _ => {
                self.error(
                    arg.span(),
                    format!(
                        "`{name}` takes a batch of maps `[batch, channels, height, width]`, but this is {shape}; \
                         declare the input with its maps (`input x: [1, 28, 28];`) or `reshape` it"
                    ),
                );
                None
            }
        }
    }

    /// `shape`, or an error at `span` if a sample of it is too large.
    fn sized(&mut self, span: Span, shape: Shape) -> Option<Shape> {
        if shape.size() > MAX_ELEMENTS {
            self.error(
                span,
                format!("this gives {shape}, too large: a value has {MAX_ELEMENTS_WORDS}"),
            );
            return None;
        }
        Some(shape)
    }

    /// A pooling of `maps` by windows of `size` at `stride`, which must tile the maps: a
    /// window that does not fit, or pixels no window covers (they would get no gradient), is
    /// an error.
    fn pool(&mut self, func: &Ident, maps: (usize, usize, usize), size: (usize, usize), stride: usize) -> Option<Pool> {
        let (channels, height, width) = maps;
        let pool = Pool {
            channels,
            height,
            width,
            size,
            stride,
        };
        if size.0 > height || size.1 > width {
            self.error(
                func.span(),
                format!(
                    "a window of {} × {} does not fit in maps of {height} × {width}",
                    size.0, size.1
                ),
            );
            return None;
        }
        let left = ((height - size.0) % stride, (width - size.1) % stride);
        if left != (0, 0) {
            self.error(
                func.span(),
                format!(
                    "{} × {} windows at stride {stride} do not tile maps of {height} × {width}: the last {} \
                     row(s) and {} column(s) would be left out (a pooling covers (n − size) / stride + 1 \
                     windows exactly); pad the maps before or choose a window and stride that fit",
                    size.0, size.1, left.0, left.1
                ),
            );
            return None;
        }
        Some(pool)
    }

    /// `conv2d(x, k)` with a declared kernel `k: [o, c, kh, kw]`, or `conv2d(x, filters, size)`
    /// declaring `{line}_k: [filters, c, size, size]` and a per-channel bias
    /// `{line}_b: [filters, 1, 1]` added to the result.
    fn conv(
        &mut self,
        func: &Ident,
        args: &[Expr],
        options: &Options,
        x: NodeId,
        maps: (usize, usize, usize),
        line: &str,
    ) -> Option<NodeId> {
        let (channels, height, width) = maps;
        // The kernel: declared, or the sizes of the one to declare.
        let declared = if args.len() == 2 {
            if let Expr::Number(..) = &args[1] {
                self.error(
                    args[1].span(),
                    "a number of filters needs a kernel size too: `conv2d(x, filters, size)` declares the \
                     kernel, `conv2d(x, k)` takes a declared one",
                );
                return None;
            }
            let value = self.expr(&args[1], line)?;
            let k = self.operand(value, args[1].span(), "the kernel of `conv2d`")?;
            let shape = self.graph.shape(k);
            let &[filters, c, kh, kw] = shape.dims() else {
                self.error(
                    args[1].span(),
                    format!("a convolution kernel is `[filters, channels, height, width]` (OIHW), but this is {shape}"),
                );
                return None;
            };
            if shape.is_batch() || c != channels {
                let why = if shape.is_batch() {
                    "it must be a parameter, not a batch".to_owned()
                } else {
                    format!("it takes {c} input channel(s), but the maps have {channels}")
                };
                self.error(args[1].span(), format!("the kernel is {shape} (OIHW): {why}"));
                return None;
            }
            if let Some((_, span)) = options.init {
                self.error(
                    span,
                    "a declared kernel's initialiser is set where it is declared, by its `param`",
                );
                return None;
            }
            Some((k, filters, (kh, kw)))
        } else {
            None
        };
        let (filters, kernel) = match declared {
            Some((_, filters, kernel)) => (filters, kernel),
            None => {
                let filters = self.count(&args[1], "the number of filters of `conv2d`")?;
                let size = self.count(&args[2], "the kernel size of `conv2d`")?;
                (filters, (size, size))
            }
        };
        let mut conv = Conv {
            channels,
            height,
            width,
            filters,
            kernel,
            stride: options.stride.unwrap_or(1),
            padding: 0,
            dilation: options.dilation,
        };
        conv.padding = match options.padding {
            Padding::Valid => 0,
            Padding::Zeros(p) => p,
            Padding::Same(span) => {
                let (span_h, span_w) = conv.span();
                if span_h != span_w || span_h % 2 == 0 {
                    self.error(
                        span,
                        format!(
                            "`same` padding pads every side equally, so it needs a square kernel of odd size, \
                             but this one covers {span_h} × {span_w} pixels; give the padding as a number"
                        ),
                    );
                    return None;
                }
                (span_h - 1) / 2
            }
        };
        let Some(out) = conv.output_shape() else {
            let (span_h, span_w) = conv.span();
            self.error(
                func.span(),
                format!(
                    "a {} × {} kernel{} covers {span_h} × {span_w} pixels, more than the maps of {height} × {width}{}",
                    kernel.0,
                    kernel.1,
                    if conv.dilation > 1 {
                        format!(" at dilation {}", conv.dilation)
                    } else {
                        String::new()
                    },
                    if conv.padding > 0 {
                        format!(" padded by {} on every side", conv.padding)
                    } else {
                        String::new()
                    }
                ),
            );
            return None;
        };
        let out = self.sized(func.span(), out)?;
        if conv.columns_len() > MAX_ELEMENTS {
            self.error(
                func.span(),
                format!("this convolution's patches of one sample are too many: a buffer has {MAX_ELEMENTS_WORDS}"),
            );
            return None;
        }
        let kernel_shape = self.sized(func.span(), conv.kernel_shape()?)?;
        if let Some((k, ..)) = declared {
            return Some(self.graph.add(Op::Conv(conv), vec![x, k], out, func.span()));
        }
        let (k_name, b_name, suffix) = self.generated_names(func, line, ["k", "b"])?;
        let init = options.init.map_or(Init::XavierNormal, |(init, _)| init);
        let k = self.push_param(k_name, kernel_shape, init)?;
        let b = self.push_param(b_name, Shape::of(&[filters, 1, 1])?, Init::Zeros)?;
        let y = self.graph.add(Op::Conv(conv), vec![x, k], out, func.span());
        let inner = out.broadcast(self.graph.shape(b))?;
        let biased = self.graph.add(Op::AddBroadcast { inner }, vec![y, b], out, func.span());
        self.graph.nodes[biased].label = Some(format!("{}_pre{suffix}", super::calls::stem(line)));
        Some(biased)
    }
}

/// "1 was" or "3 were", for arity errors.
fn counted(n: usize) -> String {
    format!("{n} argument{}", if n == 1 { " was" } else { "s were" })
}
