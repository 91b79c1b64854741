//! The contract of the circlefit crate family: approximate an image with coloured,
//! alpha-blended circles.
//!
//! Like ripgrep's `grep-matcher`, this crate holds only what every other circlefit crate
//! shares, and no strategy, thread or SIMD code:
//!
//! - pixel buffers ([`Canvas`], [`CanvasRef`], [`CanvasMut`]) and circles ([`Circle`], with
//!   its flat 7-number encoding and [`Bounds`]);
//! - the [`raster`] model: which pixels a circle covers and how it is blended;
//! - the three traits users plug into: [`Renderer`] (with its [`SpanRenderer`] capability),
//!   [`CostFunc`] (with [`PixelSumCost`]) and [`Optimizer`] (which minimises an
//!   [`Objective`] over a [`Problem`] and knows nothing about images);
//! - [`SplitMix64`], the seed mixer every crate derives its seeds with, and the errors.
//!
//! Implementations live beside it: `circlefit-render` (the fast CPU renderer),
//! `circlefit-cost` (MSE, PSNR, SSIM), `circlefit-mayfly` (the Mayfly optimizer) and
//! `circlefit-engine` (the fitter that drives all three); the `circlefit` facade re-exports
//! them all.
//!
//! # Example
//!
//! The three traits, each with a tiny user-written implementation, minimising the squared
//! error of one circle over a grey image — what the engine does at scale:
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
//! let white = Canvas::white(12, 12)?;
//! let bounds = Bounds::for_circles(1, 12, 12)?;
//! let mut canvas = white.clone();
//! let mut objective = |x: &[f64]| {
//!     let circles = Circle::from_params(x).map(|c| vec![c]).unwrap_or_default();
//!     canvas.copy_from(white.as_ref());
//!     let Ok(()) = Exact.draw(canvas.as_mut(), &circles);
//!     let Ok(cost) = Sse.cost(canvas.as_ref(), reference.as_ref());
//!     cost
//! };
//! let report = Centre.minimize(&mut objective, &Problem::new(&bounds, 0))?;
//! assert!(report.best_f < Sse.cost(white.as_ref(), reference.as_ref())?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod canvas;
mod circle;
mod cost;
mod error;
#[cfg(feature = "image")]
mod image_conv;
mod moments;
mod optimize;
pub mod raster;
mod render;
pub mod smooth;
mod splitmix;

pub use canvas::{BYTES_PER_PIXEL, Canvas, CanvasMut, CanvasRef, MAX_DIMENSION};
pub use circle::{
    Bounds, Circle, MAX_BOUNDS_DIM, MAX_COORDINATE, MAX_EDGE_WIDTH, MIN_ALPHA, MIN_EDGE_WIDTH,
    PARAMS_PER_CIRCLE,
};
pub use cost::{CostFunc, PixelSumCost, PixelTerm};
pub use error::{BoxError, Error, Result};
pub use moments::RowMoments;
pub use optimize::{Objective, OptimizeReport, Optimizer, Problem, StopReason};
pub use raster::Span;
pub use render::{Renderer, SpanRenderer};
pub use smooth::Edges;
pub use splitmix::SplitMix64;
