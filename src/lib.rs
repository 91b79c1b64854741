//! circlefit: approximate an image with coloured, alpha-blended circles found by the
//! Mayfly metaheuristic.
//!
//! This facade re-exports the crate family —
//! [`circlefit-core`](circlefit_core) (types and traits), [`engine`] (the fitter),
//! [`render`](mod@render) (the fast CPU renderer), [`cost`] (MSE, PSNR, SSIM) and [`mayfly`] (the
//! optimizer) — and adds image file I/O and SVG export ([`io`]).
//!
//! # Example
//!
//! ```
//! use circlefit::prelude::*;
//!
//! let reference = Canvas::filled(64, 48, [200, 120, 40, 255])?; // or io::load_image(path)?
//! let mayfly = Mayfly::builder().iterations(5).build()?;
//! let mut fitter = Fitter::new(CpuRenderer::new(), Mse, mayfly)
//!     .strategy(Strategy::Sequential)
//!     .circles(3)
//!     .seed(7);
//! let result = fitter.fit(reference.as_ref())?;
//! assert!(result.cost < result.initial_cost);
//! println!("{} circles, PSNR {:.2} dB", result.circles.len(), psnr(result.cost));
//! let svg = circlefit::io::to_svg(reference.width(), reference.height(), Background::White, &result.circles)?;
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub use circlefit_core as core;
pub use circlefit_core::*;
pub use circlefit_cost as cost;
pub use circlefit_engine as engine;
pub use circlefit_engine::*;
pub use circlefit_mayfly as mayfly;
pub use circlefit_render as render;
pub use image;

pub mod animation;
#[cfg(feature = "serde")]
pub mod checkpoint;
pub mod diagnostics;
mod error;
pub mod io;
pub mod job;
mod recommended;

pub use error::Error;
pub use recommended::{STAGE_ITERATIONS, iterations_per_search, recommended};

/// The types most programs need.
pub mod prelude {
    pub use crate::io::Background;
    pub use circlefit_core::{
        Bounds, Canvas, CanvasMut, CanvasRef, Circle, CostFunc, Edges, Objective, OptimizeReport,
        Optimizer, Problem, Renderer, StopReason,
    };
    pub use circlefit_core::{PixelSumCost, SpanRenderer};
    pub use circlefit_cost::{Mse, Ssim, mse_for_psnr, psnr, ssim};
    pub use circlefit_engine::{
        Batch, ColorMode, Convergence, EvalPath, FitEnd, FitResult, FitSettings, FitState, Fitter,
        Joint, Phase, Polish, PolishSearch, Progress, Refine, Restarts, Schedule, SeedScales,
        Sequential, StagePlan, Strategy,
    };
    pub use circlefit_mayfly::{Mayfly, MayflyBuilder, MayflyConfig};
    pub use circlefit_render::CpuRenderer;
}

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
