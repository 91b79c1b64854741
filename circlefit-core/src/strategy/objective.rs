//! The objective a strategy hands to the optimizer: parameters → circles → canvas → cost.

use super::incremental::IncrementalScorer;
use crate::canvas::{Canvas, CanvasRef};
use crate::circle::{Bounds, Circle};
use crate::cost::CostFunc;
use crate::error::Error;
use crate::optimize::Objective;
use crate::render::Renderer;

/// Scores candidate circles drawn over the kept canvas.
///
/// Takes the incremental path when `incremental` is set (the strategy sets it only when
/// the renderer has spans and the cost is a pixel sum), else renders into `scratch` and
/// scores the whole canvas.
pub(crate) struct CanvasObjective<'a, R: Renderer, C: CostFunc> {
    pub(crate) renderer: &'a mut R,
    pub(crate) cost: &'a C,
    pub(crate) reference: CanvasRef<'a>,
    pub(crate) kept: CanvasRef<'a>,
    pub(crate) bounds: &'a Bounds,
    pub(crate) scratch: &'a mut Canvas,
    pub(crate) incremental: Option<&'a mut IncrementalScorer>,
    pub(crate) x: &'a mut Vec<f64>,
    pub(crate) circles: &'a mut Vec<Circle>,
    pub(crate) error: Option<Error>,
    pub(crate) evaluations: u64,
}

impl<R: Renderer, C: CostFunc> CanvasObjective<'_, R, C> {
    /// Decodes `x` into `self.circles`, first clamping it into the bounds (a custom
    /// optimizer may step outside them; NaN maps to the lower bound).
    fn decode(&mut self, x: &[f64]) -> Result<(), Error> {
        self.x.clear();
        self.x.extend_from_slice(x);
        self.bounds.clamp(self.x);
        self.circles.clear();
        Circle::decode_all(self.x, self.circles)
    }

    fn score(&mut self, x: &[f64]) -> Result<f64, Error> {
        if x.len() != self.bounds.dim() {
            return Err(Error::OptimizerDimension {
                expected: self.bounds.dim(),
                actual: x.len(),
            });
        }
        self.decode(x)?;
        if let (Some(inc), Some(sr), Some(pc)) = (
            self.incremental.as_deref_mut(),
            self.renderer.as_span_renderer(),
            self.cost.as_pixel_sum(),
        ) {
            let sum = inc.score(self.circles, self.kept, self.reference, sr, pc);
            return Ok(pc.finish(sum, self.reference.pixel_count()));
        }
        self.scratch.copy_from(self.kept);
        self.renderer
            .draw(self.scratch.as_mut(), self.circles)
            .map_err(|e| Error::Renderer(Box::new(e)))?;
        self.cost
            .cost(self.scratch.as_ref(), self.reference)
            .map_err(|e| Error::Cost(Box::new(e)))
    }
}

impl<R: Renderer, C: CostFunc> Objective for CanvasObjective<'_, R, C> {
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
