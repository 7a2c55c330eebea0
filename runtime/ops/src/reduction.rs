//! Row-wise reductions `[rows, n] → [rows, 1]`: the table. The kernels are the runtime's.

/// A reduction of each row to one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowReduction {
    /// `y_b = Σⱼ x_bj`; backward `x̄_bj = ȳ_b`.
    Sum,
    /// `y_b = (1/n) Σⱼ x_bj`; backward `x̄_bj = ȳ_b / n`.
    Mean,
    /// `y_b = maxⱼ x_bj`; backward `x̄_bj = ȳ_b` at the first column holding the maximum, 0
    /// elsewhere (a kink where two columns tie).
    Max,
}

impl RowReduction {
    /// Every row reduction.
    pub const ALL: [RowReduction; 3] = [RowReduction::Sum, RowReduction::Mean, RowReduction::Max];

    /// The name in a network definition.
    pub fn name(self) -> &'static str {
        match self {
            RowReduction::Sum => "sum_rows",
            RowReduction::Mean => "mean_rows",
            RowReduction::Max => "max_rows",
        }
    }

    /// The reduction called `name`.
    pub fn from_name(name: &str) -> Option<RowReduction> {
        RowReduction::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether backward needs the input and output (the arg-max), not only the adjoint.
    pub fn reads_values(self) -> bool {
        self == RowReduction::Max
    }

    /// The backward rule in LaTeX, for adjoint `g` of the output, input `x` and output `y`.
    pub fn gradient_latex(self, g: &str, x: &str, y: &str) -> String {
        match self {
            RowReduction::Sum => format!("{g}\\,\\mathbf{{1}}^\\top"),
            RowReduction::Mean => format!("\\tfrac{{1}}{{n}}{g}\\,\\mathbf{{1}}^\\top"),
            RowReduction::Max => {
                format!("({g}\\,\\mathbf{{1}}^\\top) \\odot \\mathbb{{1}}[{x} = {y}\\,\\mathbf{{1}}^\\top]")
            }
        }
    }
}
