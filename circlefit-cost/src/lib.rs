//! Cost functions and image-quality metrics of circlefit.
//!
//! - [`Mse`]: mean squared error over R, G and B on the 0..255 scale, alpha ignored,
//!   summed exactly as an integer and divided once, so [`psnr`] matches other tools. It is a
//!   [`PixelSumCost`], which lets strategies score candidates incrementally.
//! - [`Ssim`]: structural similarity (11×11 Gaussian window, σ = 1.5, per-channel mean),
//!   usable as a metric ([`ssim`]) or as a cost (`1 − SSIM`, scored on the full canvas).
//!
//! # Example
//!
//! ```
//! use circlefit_core::{Canvas, CostFunc};
//! use circlefit_cost::{Mse, psnr, ssim};
//!
//! let white = Canvas::white(4, 4)?;
//! let grey = Canvas::filled(4, 4, [245, 245, 245, 255])?;
//! let mse = Mse.cost(grey.as_ref(), white.as_ref())?;
//! assert_eq!(mse, 100.0);
//! assert!((psnr(mse) - 28.1308).abs() < 1e-4);
//! assert_eq!(ssim(white.as_ref(), white.as_ref())?, 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

// The squared-error kernels (and their SIMD copies) live in `circlefit-simd`, shared with
// the renderer's fused kernel.
mod mse;
mod ssim;

pub use mse::{Mse, mse_for_psnr, psnr, sum_squared_error};
pub use ssim::{Ssim, ssim};

use circlefit_core::CanvasRef;
#[doc(no_inline)]
pub use circlefit_core::{CostFunc, PixelSumCost};

/// Errors of `circlefit-cost`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The two images differ in size.
    #[error("images differ in size: {a_w}x{a_h} vs {b_w}x{b_h}")]
    SizeMismatch {
        /// First image's width.
        a_w: u32,
        /// First image's height.
        a_h: u32,
        /// Second image's width.
        b_w: u32,
        /// Second image's height.
        b_h: u32,
    },
}

fn check_same_size(a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<(), Error> {
    if a.same_size(b) {
        Ok(())
    } else {
        Err(Error::SizeMismatch {
            a_w: a.width(),
            a_h: a.height(),
            b_w: b.width(),
            b_h: b.height(),
        })
    }
}
