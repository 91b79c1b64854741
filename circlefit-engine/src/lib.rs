//! The fitting engine of circlefit: a pipeline that places circles with any renderer,
//! cost and optimizer.
//!
//! A [`Fitter`] holds the three components (the traits of `circlefit-core`) and
//! [`FitSettings`]; [`Fitter::fit`] then runs
//!
//! 1. the **schedule** ([`Schedule`]; the built-in [`Joint`], [`Sequential`] and
//!    [`Batch`], named by [`Strategy`]), which plans each stage: how many new circles,
//!    their radius range, a budget, whether to prune;
//! 2. the **stage runner**, which seeds each stage where the kept canvas is most wrong
//!    (residual seeding), runs the optimizer (with restarts within a stage budget), prunes,
//!    keeps the circles if they lower the cost, and ends the stages on a target, on
//!    convergence or on a stop;
//! 3. **polishing**, which re-optimises each kept circle in its draw slot.
//!
//! Each stage's optimizer seed is derived from the fit's seed and the stage index
//! ([`stage_seed`]; every seed of a fit comes from one seed tree), so a fit is reproducible from its seed alone, on any number of
//! threads ([`Fitter::threads`]).
//!
//! When the renderer has a [`SpanRenderer`](circlefit_core::SpanRenderer) and the cost a
//! [`PixelSumCost`](circlefit_core::PixelSumCost) (the built-in `CpuRenderer` and `Mse`
//! do), every evaluation scores only the pixels the candidates cover; the cost is exactly
//! what a full render and a full cost would give. Any other combination renders the kept
//! canvas plus the candidates into a reused scratch canvas and scores it whole;
//! [`Fitter::evaluation_path`] and [`FitResult::path`] say which one a fit takes.
//!
//! # Example
//!
//! A schedule of one's own — large circles first, then small ones — with a user-written
//! renderer, cost and optimizer (the fast built-in ones live in the sibling crates):
//!
//! ```
//! use circlefit_core::*;
//! use circlefit_engine::{FitState, Fitter, Schedule, StagePlan};
//!
//! #[derive(Debug)]
//! struct CoarseToFine;
//! impl Schedule for CoarseToFine {
//!     fn next_stage(&self, s: &FitState) -> Option<StagePlan> {
//!         let big = f64::from(s.width.max(s.height));
//!         let radius = if s.stage < s.circles / 2 { big / 4.0..=big } else { 1.0..=big / 4.0 };
//!         (s.stage < s.circles).then(|| StagePlan::new(1).with_radius(radius))
//!     }
//!     fn planned_stages(&self, s: &FitState) -> usize {
//!         s.circles
//!     }
//! }
//!
//! #[derive(Debug)]
//! struct Plain; // the raster model, span by span
//! impl Renderer for Plain {
//!     type Error = std::convert::Infallible;
//!     fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
//!         let (w, h) = (canvas.width(), canvas.height());
//!         for c in circles {
//!             let rc = raster::RasterCircle::new(c);
//!             let mut spans = Vec::new();
//!             rc.spans(w, h, &mut spans);
//!             for s in spans {
//!                 rc.composite(canvas.row_segment_mut(s.y, s.x0, s.x1));
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! #[derive(Debug)]
//! struct Sse;
//! impl CostFunc for Sse {
//!     type Error = std::convert::Infallible;
//!     fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
//!         Ok(a.as_bytes().iter().zip(b.as_bytes()).map(|(&p, &q)| (p as f64 - q as f64).powi(2)).sum())
//!     }
//! }
//!
//! #[derive(Debug)]
//! struct Probe; // tries a few fixed points of the box
//! impl Optimizer for Probe {
//!     type Error = std::convert::Infallible;
//!     fn minimize(&mut self, f: &mut dyn Objective, p: &Problem<'_>) -> Result<OptimizeReport, Self::Error> {
//!         let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
//!         let mut best = (f64::INFINITY, lo.to_vec());
//!         for t in [0.2, 0.4, 0.6, 0.8] {
//!             let x: Vec<f64> = lo.iter().zip(hi).map(|(l, h)| l + t * (h - l)).collect();
//!             let fx = f.evaluate(&x);
//!             if fx < best.0 { best = (fx, x); }
//!         }
//!         Ok(OptimizeReport::new(best.1, best.0, 4, 1, StopReason::Iterations, p.seed))
//!     }
//! }
//!
//! let reference = Canvas::filled(16, 16, [30, 60, 90, 255])?;
//! let result = Fitter::new(Plain, Sse, Probe)
//!     .schedule(CoarseToFine)
//!     .circles(4)
//!     .fit(reference.as_ref())?;
//! assert!(result.cost < result.initial_cost);
//! assert!(result.circles.iter().all(|c| c.radius() >= 1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod best;
mod checked;
mod evaluator;
mod fitter;
mod hill_climb;
mod incremental;
mod names;
mod objective;
mod pass;
mod passes;
mod replica;
mod report;
mod result;
mod schedule;
mod search;
mod seeds;
mod settings;
mod stages;
mod strategy;
mod team;

pub use checked::InvalidCost;
pub use evaluator::Evaluator;
pub use fitter::{Fitter, memory_estimate};
pub use hill_climb::HillClimber;
pub use result::{EvalPath, FitEnd, FitResult, Phase, Progress, StageRecord};
pub use schedule::{Batch, FitState, Joint, Schedule, Sequential, StagePlan};
pub use seeds::stage_seed;
pub use settings::{
    ColorMode, Convergence, FitSettings, MAX_CIRCLES, MAX_POLISH_CLIMBS, MAX_POLISH_EVALUATIONS,
    MAX_POLISH_PASSES, MAX_REFINE_STEPS, MAX_RESIDUAL_SEEDS, MAX_RUNS, MAX_SEARCHES, Polish,
    PolishSearch, RECOMMENDED_REFINE_STEPS, Refine, Restarts, SeedScales,
};
pub use strategy::Strategy;

use circlefit_core::{Canvas, CanvasRef, Circle, Error, Renderer, Result};

/// What the exported `__by_name!` macro names; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use circlefit_core::Error;
}

/// Renders `circles` over `base` with `renderer` into a new canvas.
///
/// # Errors
/// [`Error::Renderer`] if the renderer fails.
pub fn render_new<R: Renderer>(
    renderer: &mut R,
    base: CanvasRef<'_>,
    circles: &[Circle],
) -> Result<Canvas> {
    let mut out = base.to_canvas();
    renderer
        .draw(out.as_mut(), circles)
        .map_err(|e| Error::Renderer(Box::new(e)))?;
    Ok(out)
}
