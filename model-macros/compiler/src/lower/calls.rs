//! Calls: activations, reductions, softmax, dropout, transposes, `dense` and the losses.

use syn::Ident;

use super::{Lowering, Value};
use crate::ast::Expr;
use crate::graph::NodeId;
use crate::ops::{
    Activation, Init, Loss, MAX_ELEMENTS, MAX_ELEMENTS_WORDS, Normaliser, Op, RowReduction, Shape, TargetRef,
};

/// A line's name without the raw prefix: `fn` for `r#fn`.
pub(super) fn stem(line: &str) -> &str {
    line.strip_prefix("r#").unwrap_or(line)
}

impl Lowering {
    pub(super) fn call(&mut self, func: &Ident, args: &[Expr], options: &[(Ident, Expr)], line: &str) -> Option<Value> {
        let name = func.to_string();
        let span = func.span();
        if super::spatial::CALLS.contains(&name.as_str()) {
            return self.spatial(func, args, options, line);
        }
        if let Some((option, _)) = options.first() {
            self.error(option.span(), format!("`{name}` takes no named arguments"));
            return None;
        }
        let arity = |cx: &mut Self, expected: &[usize], usage: &str| -> bool {
            if expected.contains(&args.len()) {
                true
            } else {
                cx.error(
                    span,
                    format!(
                        "`{name}` takes {usage}, but {} argument{} given",
                        args.len(),
                        if args.len() == 1 { " was" } else { "s were" }
                    ),
                );
                false
            }
        };
        if name == "dense" {
            if !arity(
                self,
                &[2, 3],
                "2 or 3 arguments: `dense(x, units)` or `dense(x, units, init)`",
            ) {
                return None;
            }
            return self.dense(func, args, line).map(Value::Node);
        }
        let values: Vec<Option<Value>> = args.iter().map(|a| self.expr(a, line)).collect();
        if let Some(act) = Activation::from_name(&name) {
            let (expected, usage) = match act.entry().arg {
                Some(_) => (2, format!("2 arguments: {}", act.usage())),
                None => (1, "1 argument".to_owned()),
            };
            if !arity(self, &[expected], &usage) {
                return None;
            }
            let x = self.operand(values[0]?, args[0].span(), &format!("the argument of `{name}`"))?;
            let act = match act.entry().arg {
                Some(arg) => match values[1]? {
                    Value::Number(a) => match act.check_arg(a) {
                        Ok(()) => act.with_arg(a),
                        Err(message) => {
                            self.error(args[1].span(), message);
                            return None;
                        }
                    },
                    _ => {
                        self.error(args[1].span(), format!("the {} of {name} must be a number", arg.name));
                        return None;
                    }
                },
                None => act,
            };
            if self.graph.shape(x) == Shape::SCALAR {
                self.error(
                    args[0].span(),
                    format!("`{name}` applies elementwise to an array, not a scalar"),
                );
                return None;
            }
            let shape = self.graph.shape(x);
            return Some(Value::Node(self.graph.add(Op::Act(act), vec![x], shape, span)));
        }
        if let Some(kind) = Loss::from_name(&name) {
            if !arity(self, &[2], "2 arguments: `(prediction, target)`") {
                return None;
            }
            return self.loss(kind, func, args, values[0]?, values[1]?).map(Value::Node);
        }
        match name.as_str() {
            "softmax" | "log_softmax" | "sum" | "mean" | "transpose" | "sum_rows" | "mean_rows" | "max_rows" => {
                if !arity(self, &[1], "1 argument") {
                    return None;
                }
                let x = self.operand(values[0]?, args[0].span(), &format!("the argument of `{name}`"))?;
                let shape = self.graph.shape(x);
                let (op, out) = match name.as_str() {
                    "softmax" if shape.is_batch_of_vectors() => (Op::Softmax, shape),
                    "log_softmax" if shape.is_batch_of_vectors() => (Op::LogSoftmax, shape),
                    "softmax" | "log_softmax" => {
                        self.error(
                            args[0].span(),
                            format!("{name} normalises each row of a batch, `[batch, n]`, but this is {shape}"),
                        );
                        return None;
                    }
                    "transpose" => {
                        if !shape.is_fixed_matrix() {
                            self.error(
                                args[0].span(),
                                format!("only weight-like matrices (`[rows, cols]` or `[n]`) can be transposed; this is {shape}"),
                            );
                            return None;
                        }
                        return Some(Value::Node(self.graph.transpose(x)));
                    }
                    _ if shape == Shape::SCALAR => {
                        self.error(
                            args[0].span(),
                            format!("`{name}` reduces an array, but this is already a scalar"),
                        );
                        return None;
                    }
                    "sum" => (Op::Sum, Shape::SCALAR),
                    "mean" => (Op::Mean, Shape::SCALAR),
                    reduction => {
                        if !shape.is_batch_of_vectors() && !shape.is_fixed_matrix() {
                            self.error(
                                args[0].span(),
                                format!(
                                    "`{name}` reduces each row of `[batch, n]` or `[rows, cols]`, but this is {shape}"
                                ),
                            );
                            return None;
                        }
                        let kind = RowReduction::from_name(reduction)?;
                        (Op::RowReduce(kind), shape.with_last(1))
                    }
                };
                Some(Value::Node(self.graph.add(op, vec![x], out, span)))
            }
            "flatten" | "reshape" => {
                let (expected, usage): (&[usize], _) = if name == "flatten" {
                    (&[1], "1 argument: `flatten(x)`")
                } else {
                    (&[2, 3, 4, 5, 6, 7], "the value and 1 to 6 sizes: `reshape(x, c, h, w)`")
                };
                if !arity(self, expected, usage) {
                    return None;
                }
                let x = self.operand(values[0]?, args[0].span(), &format!("the argument of `{name}`"))?;
                let shape = self.graph.shape(x);
                if !shape.is_batch() {
                    self.error(
                        args[0].span(),
                        format!("`{name}` reshapes each sample of a batch, but this is {shape}"),
                    );
                    return None;
                }
                let mut dims = Vec::new();
                for (value, arg) in values[1..].iter().zip(&args[1..]) {
                    match value {
                        Some(Value::Number(n)) if *n >= 1.0 && n.fract() == 0.0 => dims.push(*n as usize),
                        _ => {
                            self.error(arg.span(), "a size of `reshape` must be a positive integer");
                            return None;
                        }
                    }
                }
                if name == "flatten" {
                    dims.push(shape.size());
                }
                let size = crate::ops::product(&dims);
                if size > MAX_ELEMENTS {
                    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
                    self.error(
                        span,
                        format!(
                            "`reshape` to [batch, {}] is too large: a value has {MAX_ELEMENTS_WORDS}",
                            dims.join(", ")
                        ),
                    );
                    return None;
                }
                if size != shape.size() {
                    self.error(
                        span,
                        format!(
                            "`reshape` to [batch, {}] needs {size} values per sample, but {shape} has {}",
                            dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
                            shape.size()
                        ),
                    );
                    return None;
                }
                let out = Shape::of_batch(&dims)?;
                Some(Value::Node(self.graph.add(Op::Reshape, vec![x], out, span)))
            }
            "matmul" => {
                if !arity(self, &[2], "2 arguments") {
                    return None;
                }
                let a = self.operand(values[0]?, args[0].span(), "the left side of a matrix product")?;
                let b = self.operand(values[1]?, args[1].span(), "the right side of a matrix product")?;
                self.matmul(span, a, b).map(Value::Node)
            }
            "dropout" | "dropout2d" => {
                if !arity(self, &[2], &format!("2 arguments: `{name}(x, p)`")) {
                    return None;
                }
                let x = self.operand(values[0]?, args[0].span(), &format!("the argument of `{name}`"))?;
                let p = match values[1]? {
                    Value::Number(p) if (0.0..1.0).contains(&p) => p,
                    Value::Number(p) => {
                        self.error(
                            args[1].span(),
                            format!("the dropout probability must be in [0, 1), got {p}"),
                        );
                        return None;
                    }
                    _ => {
                        self.error(args[1].span(), "the dropout probability must be a number in [0, 1)");
                        return None;
                    }
                };
                let shape = self.graph.shape(x);
                // `dropout2d` drops whole maps of `[batch, c, h, w]`: runs of `h·w` values.
                let block = match (name.as_str(), shape.is_batch(), shape.dims()) {
                    ("dropout", true, _) => 1,
                    ("dropout2d", true, &[_, h, w]) => h * w,
                    _ => {
                        let takes = if name == "dropout" {
                            "a batch `[batch, …]`"
                        } else {
                            "a batch of maps `[batch, channels, height, width]`, each channel dropped whole"
                        };
                        self.error(
                            args[0].span(),
                            format!("`{name}` applies to {takes}, but this is {shape}"),
                        );
                        return None;
                    }
                };
                let mask = self.masks.len();
                self.masks.push(shape);
                Some(Value::Node(self.graph.add(
                    Op::Dropout { p, mask, block },
                    vec![x],
                    shape,
                    span,
                )))
            }
            _ => {
                self.error(
                    span,
                    format!(
                        "unknown function `{name}`: expected dense, {}, matmul, transpose, flatten, reshape, softmax, log_softmax, sum, mean, sum_rows, mean_rows, max_rows, dropout, dropout2d, an activation ({}) or a loss ({})",
                        super::spatial::CALLS.join(", "),
                        Activation::names().join(", "),
                        Loss::names().join(", ")
                    ),
                );
                None
            }
        }
    }

    /// `dense(x, n[, init])`: declares `{line}_w: [k, n]` and `{line}_b: [n]` and returns
    /// `x · w + b`. Further dense layers on the same line get `_w2`, `_b2`, ... A raw line
    /// name `r#fn` gives `fn_w`; a `param` of the same name as a generated one is an error.
    fn dense(&mut self, func: &Ident, args: &[Expr], line: &str) -> Option<NodeId> {
        let x = self.expr(&args[0], line);
        let units = match &args[1] {
            Expr::Number(n, _) if *n >= 1.0 && n.fract() == 0.0 && *n <= MAX_ELEMENTS as f64 => *n as usize,
            other => {
                self.error(
                    other.span(),
                    "the number of units of `dense` must be a positive integer below 2³² (4,294,967,296)",
                );
                return None;
            }
        };
        let init = match args.get(2) {
            None => Init::XavierNormal,
            Some(expr) => self.init_name(expr)?,
        };
        let x = self.operand(x?, args[0].span(), "the input of `dense`")?;
        let shape = self.graph.shape(x);
        let (true, Some(fan_in)) = (shape.is_batch_of_vectors() || shape.is_fixed_matrix(), shape.last()) else {
            self.error(
                args[0].span(),
                format!("`dense` maps a batch of vectors `[batch, n]` or a matrix, but this is {shape}"),
            );
            return None;
        };
        let weight = Shape::fixed(fan_in, units);
        if weight.size() > MAX_ELEMENTS {
            self.error(
                func.span(),
                format!("this `dense` needs a weight {weight}, too large: a parameter has {MAX_ELEMENTS_WORDS}"),
            );
            return None;
        }
        let (w_name, b_name, suffix) = self.generated_names(func, line, ["w", "b"])?;
        let w = self.push_param(w_name.clone(), weight, init)?;
        let b = self.push_param(b_name.clone(), Shape::of(&[units])?, Init::Zeros)?;
        let xw = self.matmul(func.span(), x, w)?;
        let shape = self.graph.shape(xw);
        let affine = self
            .graph
            .add(Op::AddBroadcast { inner: 1 }, vec![xw, b], shape, func.span());
        self.graph.nodes[affine].label = Some(format!("{}_pre{suffix}", stem(line)));
        Some(affine)
    }

    /// An initialiser given by name (`he`), as a layer call's argument.
    pub(super) fn init_name(&mut self, expr: &Expr) -> Option<Init> {
        let Expr::Name(ident) = expr else {
            self.error(expr.span(), "expected an initialiser name such as `he`");
            return None;
        };
        let init = Init::from_name(&ident.to_string());
        if init.is_none() {
            self.error(
                ident.span(),
                format!(
                    "unknown initialiser `{ident}`: expected {}",
                    symgrad_ops::list(&Init::all_names())
                ),
            );
        }
        init
    }

    /// The names of the parameters a layer call on line `line` declares, `{line}_{kind}`:
    /// `h_w` and `h_b` for `dense` on line `h`, with a suffix from `2` on for further layers
    /// on the same line (`h_w2`), and the suffix. A raw line name `r#fn` gives `fn_w`; a
    /// `param` of the same name as a generated one is an error. The names count as used.
    pub(super) fn generated_names(
        &mut self,
        func: &Ident,
        line: &str,
        kinds: [&str; 2],
    ) -> Option<(Ident, Ident, String)> {
        let stem = stem(line);
        let names = |s: &str| kinds.map(|kind| format!("{stem}_{kind}{s}"));
        let suffix = (1..)
            .map(|i: usize| if i == 1 { String::new() } else { i.to_string() })
            .find(|s| !names(s).iter().any(|n| self.generated.contains(n)))
            .unwrap_or_default();
        let [first, second] = names(&suffix);
        if let Some(taken) = [&first, &second]
            .into_iter()
            .find(|n| self.names.contains_key(n.as_str()))
        {
            self.error(
                func.span(),
                format!(
                    "this `{func}` declares the parameters `{first}` and `{second}`, but `{taken}` is already \
                     declared; rename the `param` or the line `{line}`"
                ),
            );
            return None;
        }
        self.generated.extend([first.clone(), second.clone()]);
        self.used.extend([first.clone(), second.clone()]);
        Some((
            Ident::new(&first, func.span()),
            Ident::new(&second, func.span()),
            suffix,
        ))
    }

    /// Whether `node` is a probability by construction: a softmax, a sigmoid, or a product or
    /// reshaping of such.
    fn is_probability(&self, node: NodeId) -> bool {
        match self.graph.op(node) {
            Op::Softmax | Op::Act(Activation::Sigmoid) => true,
            Op::Mul => self.graph.nodes[node].inputs.iter().all(|&i| self.is_probability(i)),
            Op::Reshape => self.is_probability(self.graph.nodes[node].inputs[0]),
            _ => false,
        }
    }

    fn loss(&mut self, kind: Loss, func: &Ident, args: &[Expr], prediction: Value, target: Value) -> Option<NodeId> {
        let name = kind.name();
        let x = self.operand(prediction, args[0].span(), &format!("the prediction of `{name}`"))?;
        // Probabilities where they are expected, and one squashing, not two.
        let (squash, probability_loss, fused) = match kind {
            Loss::CrossEntropy | Loss::SoftmaxCrossEntropy => ("softmax", "cross_entropy", "softmax_cross_entropy"),
            _ => ("sigmoid", "bce", "bce_with_logits"),
        };
        let misuse = match kind {
            Loss::CrossEntropy | Loss::Bce if !self.is_probability(x) => Some(format!(
                "`{name}` takes probabilities, such as `{squash}(z)`, but this is not one (scores \
                 such as logits give NaN at the first step); write `{name}({squash}(z), …)`, fused \
                 into a stable loss on `z`, or `{fused}(z, …)`"
            )),
            Loss::SoftmaxCrossEntropy | Loss::BceWithLogits if self.is_probability(x) => Some(format!(
                "`{name}` applies the {squash} itself, but this is already a probability, so it \
                 would be squashed twice; write `{name}(z, …)` on the scores, or \
                 `{probability_loss}({squash}(z), …)`"
            )),
            _ => None,
        };
        if let Some(message) = misuse {
            self.error(args[0].span(), message);
            return None;
        }
        let shape = self.graph.shape(x);
        let rows = kind.entry().normaliser == Normaliser::Rows;
        if !shape.is_batch() || (rows && !shape.is_batch_of_vectors()) {
            let expected = if rows { "`[batch, n]`" } else { "`[batch, …]`" };
            self.error(
                args[0].span(),
                format!("`{name}` compares a batch {expected} with its target, but the prediction is {shape}"),
            );
            return None;
        }
        let cols = shape.size();
        match target {
            Value::Labels(index) => {
                let classes = self.targets[index].width;
                if classes != cols {
                    self.error(
                        args[1].span(),
                        format!("shape mismatch in `{name}`: the prediction has {cols} columns but the target has {classes} classes"),
                    );
                    return None;
                }
                Some(self.graph.add(
                    Op::Loss {
                        kind,
                        target: TargetRef::Labels(index),
                    },
                    vec![x],
                    Shape::SCALAR,
                    func.span(),
                ))
            }
            Value::Node(t) => {
                let target_shape = self.graph.shape(t);
                if target_shape != shape {
                    self.error(
                        args[1].span(),
                        format!(
                            "shape mismatch in `{name}`: the prediction is {shape} but the target is {target_shape}"
                        ),
                    );
                    return None;
                }
                if self.graph.nodes[t].tracked {
                    self.error(
                        args[1].span(),
                        format!("the target of `{name}` depends on parameters; a target must be data"),
                    );
                    return None;
                }
                Some(self.graph.add(
                    Op::Loss {
                        kind,
                        target: TargetRef::Dense,
                    },
                    vec![x, t],
                    Shape::SCALAR,
                    func.span(),
                ))
            }
            Value::Number(_) => {
                self.error(
                    args[1].span(),
                    format!("the target of `{name}` must be a target or input, not a number"),
                );
                None
            }
        }
    }
}
