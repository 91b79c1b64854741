//! Costs checked on the way in: a component's NaN, infinite or negative cost is an error
//! naming the component, never a silent wrong fit.

use circlefit_core::{CanvasRef, CostFunc, Error, Result};

/// A cost value no fit can use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidCost {
    /// The value the cost function returned.
    pub value: f64,
}

impl std::fmt::Display for InvalidCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cost function returned {}, but costs must be finite and at least 0",
            self.value
        )
    }
}

impl std::error::Error for InvalidCost {}

/// `value` if it is a usable cost.
///
/// # Errors
/// [`Error::Cost`] wrapping [`InvalidCost`] for NaN, ±∞ or a negative value.
#[inline]
pub(crate) fn usable(value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::Cost(Box::new(InvalidCost { value })))
    }
}

/// The cost of `candidate` against `reference`, checked.
///
/// # Errors
/// The cost function's own error, or [`InvalidCost`] (both as [`Error::Cost`]).
pub(crate) fn cost_of<C: CostFunc + ?Sized>(
    cost: &C,
    candidate: CanvasRef<'_>,
    reference: CanvasRef<'_>,
) -> Result<f64> {
    usable(
        cost.cost(candidate, reference)
            .map_err(|e| Error::Cost(Box::new(e)))?,
    )
}
