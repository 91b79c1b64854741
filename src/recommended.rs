//! [`recommended`]: the measured defaults of the whole fit in one call.

use circlefit_core::{Canvas, CanvasRef, Edges, Result};
use circlefit_cost::Mse;
use circlefit_engine::{FitSettings, Fitter, Strategy};
use circlefit_mayfly::Mayfly;
use circlefit_render::CpuRenderer;

/// Mayfly iterations per stage in the recommended settings.
pub const STAGE_ITERATIONS: u64 = 40;

/// Mayfly iterations of each of a stage's `searches` independent searches
/// ([`Restarts::searches`](circlefit_engine::Restarts::searches)) when none are asked for:
/// [`STAGE_ITERATIONS`] shared by them (rounded up), so that more searches do not mean
/// more evaluations. The CLI and the server use it.
///
/// ```
/// assert_eq!(circlefit::iterations_per_search(1), 40);
/// assert_eq!(circlefit::iterations_per_search(3), 14);
/// ```
pub fn iterations_per_search(searches: usize) -> u64 {
    STAGE_ITERATIONS.div_ceil(searches.max(1) as u64)
}

/// A fitter with the defaults the README's figures were measured with: the built-in
/// renderer with free edges ([`Edges::Free`]: anti-aliased, each circle its own ramp width,
/// new circles starting from the soft rule's, half the radius), MSE and Mayfly (20 males and 20 females, 40 iterations per stage, males
/// moving together so every evaluation of an iteration can run in parallel), a sequential
/// schedule of `circles` circles with [`FitSettings::recommended`] (closed-form colour, 10
/// residual seeds, 8 polishing passes of two climbs a slot, 300 steps of joint refinement),
/// the reference's mean colour as the base, seed 0,
/// and every core. Change any of it with the builder's methods.
///
/// # Errors
/// [`Error::EmptyImage`](circlefit_core::Error::EmptyImage) is impossible for a valid
/// reference; the error is there for the base canvas's allocation checks.
///
/// # Example
///
/// ```
/// // A 32×24 gradient (or `circlefit::io::load_image(path)?`).
/// let pixels = (0..32 * 24).flat_map(|i| [(i % 32 * 8) as u8, (i / 32 * 10) as u8, 90, 255]);
/// let reference = circlefit::Canvas::from_vec(32, 24, pixels.collect())?;
/// let mut fitter = circlefit::recommended(reference.as_ref(), 4)?.seed(3);
/// let result = fitter.fit(reference.as_ref())?;
/// assert!(result.circles.len() <= 4 && result.cost < result.initial_cost);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn recommended(
    reference: CanvasRef<'_>,
    circles: usize,
) -> Result<Fitter<CpuRenderer, Mse, Mayfly>> {
    let [r, g, b, _] = reference.mean_color();
    let base = Canvas::filled(reference.width(), reference.height(), [r, g, b, 255])?;
    let mayfly = Mayfly::builder()
        .population(20)
        .iterations(STAGE_ITERATIONS)
        .synchronous_males(true)
        .build()
        .expect("the recommended Mayfly settings are valid");
    Ok(
        Fitter::new(CpuRenderer::with_edges(Edges::Free), Mse, mayfly)
            .settings(FitSettings::recommended(Strategy::Sequential, circles, 0))
            .base(base)
            .threads(0),
    )
}
