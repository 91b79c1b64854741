//! The [`CostFunc`] trait and its optional [`PixelSumCost`] capability.

use crate::canvas::CanvasRef;

/// Scores a candidate canvas against the reference; lower is better.
///
/// One method is required, [`cost`](CostFunc::cost). A cost that is a sum over pixels
/// should also implement [`PixelSumCost`] and return it from
/// [`as_pixel_sum`](CostFunc::as_pixel_sum), so strategies can score only the pixels a
/// candidate changes.
///
/// Strategies check that candidate and reference have the same size before calling `cost`.
///
/// # Example: a custom cost
///
/// Mean absolute error over RGB:
///
/// ```
/// use circlefit_core::{Canvas, CanvasRef, CostFunc};
///
/// #[derive(Debug)]
/// struct Mae;
///
/// impl CostFunc for Mae {
///     type Error = std::convert::Infallible;
///
///     fn cost(&self, candidate: CanvasRef<'_>, reference: CanvasRef<'_>) -> Result<f64, Self::Error> {
///         let sum: u64 = candidate
///             .as_bytes()
///             .chunks_exact(4)
///             .zip(reference.as_bytes().chunks_exact(4))
///             .map(|(c, r)| (0..3).map(|k| u64::from(c[k].abs_diff(r[k]))).sum::<u64>())
///             .sum();
///         Ok(sum as f64 / (3 * candidate.pixel_count()) as f64)
///     }
/// }
///
/// let white = Canvas::white(2, 2)?;
/// let black = Canvas::filled(2, 2, [0, 0, 0, 255])?;
/// assert_eq!(Mae.cost(white.as_ref(), black.as_ref())?, 255.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait CostFunc {
    /// What can go wrong while scoring (`Infallible` if nothing can).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The cost of `candidate` against `reference`, lower is better.
    ///
    /// # Errors
    /// Whatever the implementation reports (the built-in costs report a size mismatch).
    fn cost(&self, candidate: CanvasRef<'_>, reference: CanvasRef<'_>) -> Result<f64, Self::Error>;

    /// This cost's per-pixel-sum form, if it has one (see [`PixelSumCost`]).
    fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
        None
    }
}

/// A cost that is an exact integer sum of per-pixel terms, finished by a function of the
/// total.
///
/// Contract, relied on for exact incremental costs: for same-sized images,
/// `cost(c, r) == finish(sum(c.as_bytes(), r.as_bytes()), c.pixel_count())` exactly, and
/// `sum` over a run of pixels equals the sum of `sum` over any split of that run.
///
/// # Example: a custom pixel-sum cost
///
/// Sum of absolute R, G, B differences, scored incrementally by strategies:
///
/// ```
/// use circlefit_core::{Canvas, CanvasRef, CostFunc, PixelSumCost};
///
/// #[derive(Debug)]
/// struct Sad;
///
/// impl PixelSumCost for Sad {
///     fn sum(&self, c: &[u8], r: &[u8]) -> u64 {
///         c.chunks_exact(4)
///             .zip(r.chunks_exact(4))
///             .map(|(p, q)| (0..3).map(|k| u64::from(p[k].abs_diff(q[k]))).sum::<u64>())
///             .sum()
///     }
///     fn finish(&self, sum: u64, pixels: u64) -> f64 {
///         sum as f64 / pixels as f64
///     }
/// }
///
/// impl CostFunc for Sad {
///     type Error = std::convert::Infallible;
///     fn cost(&self, c: CanvasRef<'_>, r: CanvasRef<'_>) -> Result<f64, Self::Error> {
///         Ok(self.finish(self.sum(c.as_bytes(), r.as_bytes()), c.pixel_count()))
///     }
///     fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
///         Some(self)
///     }
/// }
///
/// let a = Canvas::filled(2, 2, [10, 20, 30, 255])?;
/// let b = Canvas::filled(2, 2, [0, 0, 0, 255])?;
/// assert_eq!(Sad.cost(a.as_ref(), b.as_ref())?, 60.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait PixelSumCost: Sync {
    /// The sum of the per-pixel terms over two equally long runs of RGBA pixels.
    fn sum(&self, candidate: &[u8], reference: &[u8]) -> u64;

    /// The cost of an image of `pixels` pixels whose terms sum to `sum`.
    fn finish(&self, sum: u64, pixels: u64) -> f64;

    /// Running sums of the per-pixel terms over two equally long runs of RGBA pixels:
    /// `out[i]` is `sum` over the first `i + 1` pixels (`out` holds one entry per pixel).
    /// Strategies cache these per row. The provided version calls
    /// [`sum`](PixelSumCost::sum) per pixel; a cost may override it with a faster loop
    /// that gives the same numbers.
    fn running_sums(&self, candidate: &[u8], reference: &[u8], out: &mut [u64]) {
        let mut acc = 0u64;
        for ((c, r), o) in candidate
            .chunks_exact(4)
            .zip(reference.chunks_exact(4))
            .zip(out)
        {
            acc += self.sum(c, r);
            *o = acc;
        }
    }

    /// What the per-pixel term is, as far as the engine's shortcuts care (see
    /// [`PixelTerm`]). The provided version says [`PixelTerm::Other`], which is always
    /// correct; claiming [`PixelTerm::SquaredRgb`] for a term that is not exactly
    /// `ΔR² + ΔG² + ΔB²` makes fits report wrong costs.
    fn term(&self) -> PixelTerm {
        PixelTerm::Other
    }
}

/// The per-pixel term of a [`PixelSumCost`], as a contract the engine relies on.
///
/// | term | fused blend + error kernel | residual seeds from the cache | closed-form colour |
/// |---|---|---|---|
/// | `SquaredRgb` | yes (the renderer's [`composited_squared_error`](crate::SpanRenderer::composited_squared_error)) | yes | the exact optimum |
/// | `Other` | no: candidates are composited into a copy and summed with [`sum`](PixelSumCost::sum) (still exact, 4–11× slower) | summed again pixel by pixel | a heuristic (the squared-error optimum) |
///
/// A cost with a weight or a mask per pixel is `Other`: `sum` sees pixel values, not
/// coordinates, so a mask has to travel in the reference's alpha byte (which squared R,
/// G, B error ignores).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PixelTerm {
    /// Exactly `(ΔR² + ΔG² + ΔB²)` per pixel, alpha ignored: the fused kernel applies.
    SquaredRgb,
    /// Anything else.
    Other,
}

impl<C: CostFunc + ?Sized> CostFunc for &C {
    type Error = C::Error;
    fn cost(&self, c: CanvasRef<'_>, r: CanvasRef<'_>) -> Result<f64, Self::Error> {
        (**self).cost(c, r)
    }
    fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
        (**self).as_pixel_sum()
    }
}

impl<C: CostFunc + ?Sized> CostFunc for &mut C {
    type Error = C::Error;
    fn cost(&self, c: CanvasRef<'_>, r: CanvasRef<'_>) -> Result<f64, Self::Error> {
        (**self).cost(c, r)
    }
    fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
        (**self).as_pixel_sum()
    }
}

impl<C: CostFunc + ?Sized> CostFunc for Box<C> {
    type Error = C::Error;
    fn cost(&self, c: CanvasRef<'_>, r: CanvasRef<'_>) -> Result<f64, Self::Error> {
        (**self).cost(c, r)
    }
    fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
        (**self).as_pixel_sum()
    }
}
