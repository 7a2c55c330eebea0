//! Elementwise expressions over graph ops, in which the table writes second derivatives: the
//! compiler turns one into graph nodes, so what it builds can be differentiated again.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::activation::Activation;

/// An elementwise expression in an adjoint `m` and a saved value `s`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// The adjoint `m`.
    M,
    /// The saved value `s`.
    S,
    /// `c · e`.
    Scale(f64, Box<Expr>),
    /// `a + b`.
    Add(Box<Expr>, Box<Expr>),
    /// `a − b`.
    Sub(Box<Expr>, Box<Expr>),
    /// `a · b`.
    Mul(Box<Expr>, Box<Expr>),
    /// `a / b`.
    Div(Box<Expr>, Box<Expr>),
    /// `f(e)`.
    Apply(Activation, Box<Expr>),
    /// `grad ⊙ f′(saved)`, with `f′` read from `saved` as the table says: the backward op of
    /// `f` itself, `Derivative(f, saved, grad)`.
    Derivative(Activation, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// `f(self)`.
    pub fn apply(self, f: Activation) -> Expr {
        Expr::Apply(f, Box::new(self))
    }

    /// `grad ⊙ f′(self)`, `self` the value `f` saves.
    pub fn derivative(self, f: Activation, grad: Expr) -> Expr {
        Expr::Derivative(f, Box::new(self), Box::new(grad))
    }

    /// The value at `m` and `s`.
    pub fn eval(&self, m: f64, s: f64) -> f64 {
        match self {
            Expr::M => m,
            Expr::S => s,
            Expr::Scale(c, e) => c * e.eval(m, s),
            Expr::Add(a, b) => a.eval(m, s) + b.eval(m, s),
            Expr::Sub(a, b) => a.eval(m, s) - b.eval(m, s),
            Expr::Mul(a, b) => a.eval(m, s) * b.eval(m, s),
            Expr::Div(a, b) => a.eval(m, s) / b.eval(m, s),
            Expr::Apply(f, e) => f.value(e.eval(m, s)),
            Expr::Derivative(f, saved, grad) => grad.eval(m, s) * f.derivative(saved.eval(m, s)),
        }
    }
}

macro_rules! binary {
    ($trait:ident, $method:ident, $variant:ident) => {
        impl $trait for Expr {
            type Output = Expr;
            fn $method(self, rhs: Expr) -> Expr {
                Expr::$variant(Box::new(self), Box::new(rhs))
            }
        }
    };
}

binary!(Add, add, Add);
binary!(Sub, sub, Sub);
binary!(Mul, mul, Mul);
binary!(Div, div, Div);

impl Mul<Expr> for f64 {
    type Output = Expr;
    fn mul(self, e: Expr) -> Expr {
        Expr::Scale(self, Box::new(e))
    }
}

impl Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        -1.0 * self
    }
}
