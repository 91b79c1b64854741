//! The error type of `circlefit-mayfly`.

/// Everything that can go wrong configuring or starting a Mayfly run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MayflyError {
    /// A setting outside its valid range.
    #[error("invalid Mayfly setting {field} = {value}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// The value given, as text.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A starting candidate of the wrong length.
    #[error(
        "initial candidate {index} has {actual} numbers, the problem has {expected} dimensions"
    )]
    InitialLength {
        /// Which candidate.
        index: usize,
        /// The problem's dimension.
        expected: usize,
        /// The candidate's length.
        actual: usize,
    },
    /// A starting candidate with a NaN or infinite number.
    #[error("initial candidate {index} has a non-finite value {value} in dimension {dim}")]
    InitialNonFinite {
        /// Which candidate.
        index: usize,
        /// Which dimension.
        dim: usize,
        /// The value.
        value: f64,
    },
    /// An evaluation budget of zero.
    #[error("the evaluation budget is 0; at least 1 evaluation is needed")]
    ZeroBudget,
}
