//! Parameter initialisers: the table. The sampling is the runtime's.
//!
//! A weight `W: fan_in × fan_out` maps rows of `X: B × fan_in` to `X·W: B × fan_out`.
//! Glorot and Bengio (2010) keep the variance of activations and of gradients roughly equal
//! across layers by choosing `Var(W) = 2 / (fan_in + fan_out)`; He et al. (2015) use
//! `Var(W) = 2 / fan_in` to make up for ReLU zeroing half its inputs.

/// How to fill a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Glorot normal: `N(0, σ²)` with `σ = √(2/(fan_in + fan_out))`.
    XavierNormal,
    /// Glorot uniform: `U(−a, a)` with `a = √(6/(fan_in + fan_out))` (the same variance).
    XavierUniform,
    /// He normal: `N(0, σ²)` with `σ = √(2/fan_in)`.
    He,
    /// Standard normal `N(0, 1)`: the naive choice, for comparison with the scaled ones.
    StandardNormal,
    /// All zeros (biases).
    Zeros,
    /// Every element the same value.
    Constant(f64),
}

/// The distribution an initialiser draws each element from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// `N(0, σ²)`.
    Normal {
        /// `σ`.
        std: f64,
    },
    /// `U(−a, a)`.
    Uniform {
        /// `a`.
        bound: f64,
    },
    /// Always this value.
    Constant(f64),
}

impl Init {
    /// The initialisers a definition names with a word (`constant` is written as a number).
    pub const NAMED: [Init; 5] = [
        Init::XavierNormal,
        Init::XavierUniform,
        Init::He,
        Init::StandardNormal,
        Init::Zeros,
    ];

    /// The name in a network definition, and the other names it is known by.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Init::XavierNormal => &["xavier_normal", "glorot_normal"],
            Init::XavierUniform => &["xavier_uniform", "glorot_uniform"],
            Init::He => &["he"],
            Init::StandardNormal => &["normal"],
            Init::Zeros => &["zeros"],
            Init::Constant(_) => &["constant"],
        }
    }

    /// The initialiser a definition names `name`.
    pub fn from_name(name: &str) -> Option<Init> {
        Init::NAMED.into_iter().find(|i| i.names().contains(&name))
    }

    /// The main name of every named initialiser.
    pub fn all_names() -> Vec<&'static str> {
        Init::NAMED.iter().map(|i| i.names()[0]).collect()
    }

    /// The fans of a parameter of `shape`: a vector `[n]` is a row, `(1, n)`; a matrix
    /// `[fan_in, fan_out]` maps rows by `X·W`; a kernel `[out, in, k₁, …]` (a convolution's,
    /// OIHW) has `fan_in = in·k₁⋯` and `fan_out = out·k₁⋯`, as its receptive field sees them.
    pub fn fans(shape: &[usize]) -> (usize, usize) {
        match shape {
            [] => (1, 1),
            [n] => (1, *n),
            [rows, cols] => (*rows, *cols),
            [out, input, kernel @ ..] => {
                let field: usize = kernel.iter().product();
                (input * field, out * field)
            }
        }
    }

    /// The distribution for a parameter whose fans are `fan_in` and `fan_out` (a row vector
    /// has `fan_in = 1`).
    pub fn distribution(self, fan_in: usize, fan_out: usize) -> Distribution {
        let fans = (fan_in + fan_out).max(1) as f64;
        match self {
            Init::XavierNormal => Distribution::Normal {
                std: (2.0 / fans).sqrt(),
            },
            Init::XavierUniform => Distribution::Uniform {
                bound: (6.0 / fans).sqrt(),
            },
            Init::He => Distribution::Normal {
                std: (2.0 / fan_in.max(1) as f64).sqrt(),
            },
            Init::StandardNormal => Distribution::Normal { std: 1.0 },
            Init::Zeros => Distribution::Constant(0.0),
            Init::Constant(c) => Distribution::Constant(c),
        }
    }
}
