//! Core of the circlefit crate family: approximate an image with coloured, alpha-blended
//! circles.
//!
//! This crate holds the pieces every other circlefit crate shares:
//!
//! - pixel buffers ([`Canvas`], [`CanvasRef`], [`CanvasMut`]) and circles ([`Circle`], with
//!   its flat 7-number encoding and [`Bounds`]);
//! - the [`raster`] model: which pixels a circle covers and how it is blended;
//! - the three traits users plug into: [`Renderer`], [`CostFunc`] and [`Optimizer`] (which
//!   minimises an [`Objective`] and knows nothing about images);
//! - the strategies ([`Strategy`]) and the [`Fitter`] that runs them.
//!
//! Implementations live beside it: `circlefit-render` (the fast CPU renderer),
//! `circlefit-cost` (MSE, PSNR, SSIM) and `circlefit-mayfly` (the Mayfly optimizer); the
//! `circlefit` facade re-exports them all.
//!
//! # Example
//!
//! Fit two circles to a small image with a user-written renderer, cost and optimizer (the
//! built-in ones are in the sibling crates):
//!
//! ```
//! use circlefit_core::*;
//!
//! #[derive(Debug)]
//! struct Exact; // the raster model, pixel by pixel
//! impl Renderer for Exact {
//!     type Error = std::convert::Infallible;
//!     fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
//!         let (w, h) = (canvas.width(), canvas.height());
//!         for c in circles {
//!             let rc = raster::RasterCircle::new(c);
//!             for y in 0..h {
//!                 for x in 0..w {
//!                     if rc.covers(x, y) {
//!                         rc.composite(canvas.row_segment_mut(y, x, x + 1));
//!                     }
//!                 }
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
//! struct Centre; // tries a few fixed candidates
//! impl Optimizer for Centre {
//!     type Error = std::convert::Infallible;
//!     fn minimize(&mut self, f: &mut dyn Objective, p: &Problem<'_>) -> Result<OptimizeReport, Self::Error> {
//!         let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
//!         let mut best = (f64::INFINITY, lo.to_vec());
//!         for t in [0.1, 0.3, 0.5, 0.7, 0.9] {
//!             let x: Vec<f64> = lo.iter().zip(hi).map(|(l, h)| l + t * (h - l)).collect();
//!             let fx = f.evaluate(&x);
//!             if fx < best.0 { best = (fx, x); }
//!         }
//!         Ok(OptimizeReport::new(best.1, best.0, 5, 1, StopReason::Iterations, p.seed))
//!     }
//! }
//!
//! let reference = Canvas::filled(12, 12, [40, 40, 40, 255])?;
//! let result = Fitter::new(Exact, Sse, Centre)
//!     .strategy(Strategy::Batch { size: 1 })
//!     .circles(2)
//!     .fit(reference.as_ref())?;
//! assert!(result.cost < result.initial_cost);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod canvas;
mod circle;
mod cost;
mod error;
#[cfg(feature = "image")]
mod image_conv;
mod optimize;
pub mod raster;
mod render;
pub mod strategy;

pub use canvas::{BYTES_PER_PIXEL, Canvas, CanvasMut, CanvasRef, MAX_DIMENSION};
pub use circle::{Bounds, Circle, MAX_COORDINATE, MIN_ALPHA, PARAMS_PER_CIRCLE};
pub use cost::{CostFunc, PixelSumCost};
pub use error::{BoxError, Error, Result};
pub use optimize::{Objective, OptimizeReport, Optimizer, Problem, StopReason};
pub use raster::Span;
pub use render::{Renderer, SpanRenderer};
pub use strategy::{
    ColorMode, FitResult, FitSettings, Fitter, MAX_CIRCLES, PolishSearch, Progress, StageRecord,
    Strategy, render_new, stage_seed,
};
