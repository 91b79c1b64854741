//! The objective a strategy hands to the optimizer: parameters → circles → cost.

use super::ColorMode;
use super::evaluator::Evaluator;
use crate::circle::{Bounds, Circle};
use crate::cost::CostFunc;
use crate::error::{Error, Result};
use crate::optimize::Objective;
use crate::render::Renderer;

/// Decodes parameter vectors into circles and scores them with an [`Evaluator`].
///
/// Points are clamped into the bounds first (a custom optimizer may step outside them;
/// NaN maps to the lower bound). The first error stops the run through
/// [`Objective::interrupted`] and is handed back to the strategy.
pub(crate) struct ParamObjective<'a, R, C> {
    pub(crate) eval: &'a mut Evaluator<R, C>,
    pub(crate) bounds: &'a Bounds,
    pub(crate) color: ColorMode,
    pub(crate) x: Vec<f64>,
    pub(crate) circles: Vec<Circle>,
    pub(crate) error: Option<Error>,
    pub(crate) evaluations: u64,
}

impl<'a, R: Renderer, C: CostFunc> ParamObjective<'a, R, C> {
    pub(crate) fn new(eval: &'a mut Evaluator<R, C>, bounds: &'a Bounds, color: ColorMode) -> Self {
        Self {
            eval,
            bounds,
            color,
            x: Vec::with_capacity(bounds.dim()),
            circles: Vec::with_capacity(bounds.dim() / 7),
            error: None,
            evaluations: 0,
        }
    }

    /// Decodes `x` (clamped into the bounds) into `self.circles`.
    pub(crate) fn decode(&mut self, x: &[f64]) -> Result<()> {
        if x.len() != self.bounds.dim() {
            return Err(Error::OptimizerDimension {
                expected: self.bounds.dim(),
                actual: x.len(),
            });
        }
        self.x.clear();
        self.x.extend_from_slice(x);
        self.bounds.clamp(&mut self.x);
        self.circles.clear();
        match self.color {
            ColorMode::Search => Circle::decode_all(&self.x, &mut self.circles),
            ColorMode::ClosedForm => {
                for g in self.x.chunks_exact(4) {
                    let shape = Circle::new(g[0], g[1], g[2], [0.0; 3], g[3])?;
                    let color = self.eval.best_color(&shape)?;
                    self.circles.push(shape.with_color(color)?);
                }
                Ok(())
            }
        }
    }

    fn score(&mut self, x: &[f64]) -> Result<f64> {
        self.decode(x)?;
        self.eval.cost_with(&self.circles)
    }
}

impl<R: Renderer, C: CostFunc> Objective for ParamObjective<'_, R, C> {
    fn evaluate(&mut self, x: &[f64]) -> f64 {
        if self.error.is_some() {
            return f64::INFINITY;
        }
        self.evaluations += 1;
        match self.score(x) {
            Ok(f) => f,
            Err(e) => {
                self.error = Some(e);
                f64::INFINITY
            }
        }
    }

    fn interrupted(&self) -> bool {
        self.error.is_some()
    }
}
