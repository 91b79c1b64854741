//! [`Error`]: one error type for programs that use the whole family.

/// Every error the crate family can report, so that one `?` carries any of them.
///
/// Each crate keeps its own precise type (matched on by programs that care); this enum
/// wraps them with `From` conversions. The core's own type is [`core::Error`](crate::core::Error).
///
/// # Example
///
/// ```
/// use circlefit::prelude::*;
///
/// fn run() -> Result<f64, circlefit::Error> {
///     let png = circlefit::io::encode_png(Canvas::filled(16, 16, [9, 99, 199, 255])?.as_ref())?;
///     let reference = circlefit::io::decode_image(&png, "photo.png".as_ref())?; // io error
///     let mayfly = Mayfly::builder().iterations(2).build()?; // optimizer settings
///     let result = Fitter::new(CpuRenderer::new(), Mse, mayfly)
///         .circles(2)
///         .fit(reference.as_ref())?; // engine error
///     Ok(psnr(result.cost))
/// }
/// assert!(run()? > 0.0);
/// # Ok::<(), circlefit::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid images, circles or settings, or a failing component during a fit.
    #[error(transparent)]
    Core(#[from] circlefit_core::Error),
    /// Reading, decoding, encoding or writing a file.
    #[error(transparent)]
    Io(#[from] crate::io::Error),
    /// Invalid Mayfly settings or starting points.
    #[error(transparent)]
    Mayfly(#[from] circlefit_mayfly::MayflyError),
    /// A cost function's error (images of different sizes).
    #[error(transparent)]
    Cost(#[from] circlefit_cost::Error),
    /// The built-in renderer's error (parameters that are no circles).
    #[error(transparent)]
    Render(#[from] circlefit_render::Error),
}
