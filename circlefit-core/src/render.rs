//! The [`Renderer`] trait and its optional [`SpanRenderer`] capability.

use crate::canvas::{Canvas, CanvasMut, CanvasRef};
use crate::circle::Circle;
use crate::moments::RowMoments;
use crate::raster::Span;

/// Draws circles over a canvas.
///
/// One method is required, [`draw`](Renderer::draw): composite circles in order onto a
/// canvas, in place. Drawing `[a, b]` in one call must give the same pixels as drawing `[a]`
/// and then `[b]`; strategies rely on that to keep a canvas of the circles kept so far.
///
/// A renderer that can say which pixels a circle covers, and blends each of them by a rule
/// that depends only on the circle and the pixel's old value, should also implement
/// [`SpanRenderer`] and return it from [`as_span_renderer`](Renderer::as_span_renderer):
/// the engine then scores a candidate over the pixels it changes only, instead of rendering
/// and scoring the whole canvas.
///
/// # Example: a custom renderer
///
/// A renderer of axis-aligned opaque squares (side = 2·radius), usable in every strategy:
///
/// ```
/// use circlefit_core::{Canvas, CanvasMut, Circle, Renderer};
///
/// #[derive(Debug, Default)]
/// struct Squares;
///
/// impl Renderer for Squares {
///     type Error = std::convert::Infallible;
///
///     fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
///         let (w, h) = (canvas.width() as f64, canvas.height() as f64);
///         for c in circles {
///             let rgb = c.color().map(|v| (v * 255.0).round() as u8);
///             let x0 = (c.x() - c.radius()).clamp(0.0, w) as u32;
///             let x1 = (c.x() + c.radius()).clamp(0.0, w) as u32;
///             let y0 = (c.y() - c.radius()).clamp(0.0, h) as u32;
///             let y1 = (c.y() + c.radius()).clamp(0.0, h) as u32;
///             for y in y0..y1 {
///                 for px in canvas.row_segment_mut(y, x0, x1).chunks_exact_mut(4) {
///                     px[..3].copy_from_slice(&rgb);
///                 }
///             }
///         }
///         Ok(())
///     }
/// }
///
/// let mut canvas = Canvas::white(8, 8)?;
/// let square = Circle::new(4.0, 4.0, 2.0, [1.0, 0.0, 0.0], 1.0)?;
/// Squares.draw(canvas.as_mut(), &[square])?;
/// assert_eq!(canvas.pixel(3, 3), Some([255, 0, 0, 255]));
/// assert_eq!(canvas.pixel(6, 6), Some([255, 255, 255, 255]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Renderer {
    /// What can go wrong while drawing (`Infallible` if nothing can).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Composites `circles`, in order, onto `canvas` in place.
    ///
    /// # Errors
    /// Whatever the implementation reports; the built-in renderer never fails.
    fn draw(&mut self, canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error>;

    /// Makes `out` a copy of `base` (reusing its buffer) and draws `circles` on it.
    ///
    /// # Errors
    /// As [`draw`](Renderer::draw).
    fn render_into(
        &mut self,
        base: CanvasRef<'_>,
        circles: &[Circle],
        out: &mut Canvas,
    ) -> Result<(), Self::Error> {
        out.copy_from(base);
        self.draw(out.as_mut(), circles)
    }

    /// This renderer's span description, if it has one (see [`SpanRenderer`]).
    fn as_span_renderer(&self) -> Option<&dyn SpanRenderer> {
        None
    }
}

/// A renderer's description of coverage as row spans, which lets strategies evaluate a
/// candidate incrementally.
///
/// Contract, checked by the built-in renderer's tests and relied on for exact costs:
/// [`Renderer::draw`] of one circle changes exactly the pixels of the spans that
/// [`spans`](SpanRenderer::spans) lists, and each of them becomes what
/// [`composite_runs`](SpanRenderer::composite_runs) makes of it. Spans lie within the
/// circle's radius plus one pixel of its centre (polishing skips circles farther away).
///
/// If the renderer [blends uniformly](SpanRenderer::blends_uniformly) (the default: the new
/// value depends only on the circle and the old value), [`composite`](SpanRenderer::composite)
/// may be called on any run of covered pixels, gathered from several rows. A renderer whose
/// blend depends on where the pixel is (anti-aliased edges, as `circlefit-render`'s smooth
/// model) returns `false` there; strategies then call only `composite_runs`, which knows the
/// positions, and `composite` need only be right for fully covered pixels.
///
/// # Example: a custom span renderer
///
/// Opaque squares (side 2·radius) describe their coverage as one span per row; with this,
/// strategies score them incrementally:
///
/// ```
/// use circlefit_core::*;
///
/// #[derive(Debug)]
/// struct Squares;
///
/// impl SpanRenderer for Squares {
///     fn spans(&self, c: &Circle, w: u32, h: u32, out: &mut Vec<Span>) {
///         let clip = |v: f64, max: u32| v.round().clamp(0.0, f64::from(max)) as u32;
///         let (x0, x1) = (clip(c.x() - c.radius(), w), clip(c.x() + c.radius(), w));
///         if x0 < x1 {
///             for y in clip(c.y() - c.radius(), h)..clip(c.y() + c.radius(), h) {
///                 out.push(Span { y, x0, x1 });
///             }
///         }
///     }
///     fn composite(&self, c: &Circle, pixels: &mut [u8]) {
///         let rgb = c.color().map(|v| (v * 255.0).round() as u8);
///         for px in pixels.chunks_exact_mut(4) {
///             px[..3].copy_from_slice(&rgb);
///         }
///     }
/// }
///
/// impl Renderer for Squares {
///     type Error = std::convert::Infallible;
///     fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
///         let mut spans = Vec::new();
///         for c in circles {
///             spans.clear();
///             self.spans(c, canvas.width(), canvas.height(), &mut spans);
///             for s in &spans {
///                 self.composite(c, canvas.row_segment_mut(s.y, s.x0, s.x1));
///             }
///         }
///         Ok(())
///     }
///     fn as_span_renderer(&self) -> Option<&dyn SpanRenderer> {
///         Some(self)
///     }
/// }
///
/// let square = Circle::new(4.0, 4.0, 2.0, [0.0; 3], 1.0)?;
/// let mut spans = Vec::new();
/// Squares.spans(&square, 8, 8, &mut spans);
/// assert_eq!(spans.len(), 4);
/// // The engine (`circlefit-engine`) scores such a renderer over these spans only.
/// assert!(Squares.as_span_renderer().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SpanRenderer: Sync {
    /// Appends the spans `circle` covers on a `width` × `height` canvas to `out`, at most
    /// one per row, top to bottom.
    ///
    /// The spans must depend on the circle's geometry and alpha only, not on its colour:
    /// the closed-form colour is solved over the spans of the uncoloured shape, and
    /// strategies reuse them to score the coloured circle.
    fn spans(&self, circle: &Circle, width: u32, height: u32, out: &mut Vec<Span>);

    /// How far, in pixels, the spans of a circle on a `width` × `height` canvas can reach
    /// beyond its radius: polishing skips a circle whose radius plus this cannot reach a
    /// changed pixel. The provided version, one pixel, holds for a renderer that covers
    /// only pixels whose centres lie within half a pixel of the disc; one with wider soft
    /// edges must say so.
    fn reach_beyond_radius(&self, width: u32, height: u32) -> f64 {
        let _ = (width, height);
        1.0
    }

    /// Blends `circle` over a run of covered RGBA pixels (`pixels.len()` is a multiple
    /// of 4); for a renderer that does not [blend uniformly](SpanRenderer::blends_uniformly),
    /// over fully covered pixels.
    fn composite(&self, circle: &Circle, pixels: &mut [u8]);

    /// The core edge model this renderer draws exactly, if it follows one of them
    /// ([`crate::raster`] for [`Edges::Hard`](crate::Edges::Hard), [`crate::smooth`]
    /// otherwise): passes that model the picture in floating point, such as the engine's
    /// joint refinement, differentiate that model. The provided version says `None`
    /// (such passes then leave the circles as they are).
    fn edges(&self) -> Option<crate::Edges> {
        None
    }

    /// Whether every covered pixel is blended alike, so that
    /// [`composite`](SpanRenderer::composite) applies to any run of them (the provided
    /// version says `true`). A renderer that blends by position returns `false` and
    /// overrides [`composite_runs`](SpanRenderer::composite_runs).
    fn blends_uniformly(&self) -> bool {
        true
    }

    /// Blends `circle` over the pixels of `runs` of `canvas` (each a part of one of the
    /// circle's spans). The provided version calls [`composite`](SpanRenderer::composite)
    /// per run; a renderer may override it to prepare its constants once, and must if it
    /// does not [blend uniformly](SpanRenderer::blends_uniformly).
    fn composite_runs(&self, circle: &Circle, mut canvas: CanvasMut<'_>, runs: &[Span]) {
        for s in runs {
            self.composite(circle, canvas.row_segment_mut(s.y, s.x0, s.x1));
        }
    }

    /// Optional fused kernel: the sum over `spans` (as [`spans`](SpanRenderer::spans) gave
    /// them for `circle`) of the squared R, G, B differences between `kept` with `circle`
    /// composited and `reference`, without writing anything. `None` if not provided; then
    /// strategies composite copies of the pixels and score them with the cost.
    ///
    /// Must equal compositing and summing `(ΔR² + ΔG² + ΔB²)` exactly.
    fn composited_squared_error(
        &self,
        circle: &Circle,
        spans: &[Span],
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
    ) -> Option<u64> {
        let _ = (circle, spans, kept, reference);
        None
    }

    /// Optional kernel for several circles over a uniform canvas: the sum of the squared
    /// R, G, B differences between a canvas filled with `base` with `circles` composited
    /// over it in order and the image `reference` describes, over the pixels of
    /// `segments`, which it fills (after clearing) with one span per row that any circle
    /// covers, top to bottom, each holding every pixel the circles cover in that row.
    /// `None` if not provided (the provided version); then strategies draw the circles and
    /// score the pixels.
    ///
    /// On a uniform canvas every pixel of a row covered by the same circles ends with the
    /// same colour, so a kernel can work per run between span ends instead of per pixel
    /// (see [`RowMoments`]). Must equal drawing the circles and summing
    /// `(ΔR² + ΔG² + ΔB²)` over the segments exactly.
    fn uniform_squared_error(
        &self,
        circles: &[Circle],
        base: [u8; 4],
        reference: &RowMoments,
        segments: &mut Vec<Span>,
    ) -> Option<u64> {
        let _ = (circles, base, reference, segments);
        None
    }

    /// Per-channel sums of R, G, B over `spans`, of `kept` and of `reference`: what the
    /// closed-form colour needs. The provided version is portable; renderers with SIMD
    /// kernels may override it (it must give the same sums).
    fn covered_sums(
        &self,
        spans: &[Span],
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
    ) -> ([u64; 3], [u64; 3]) {
        crate::raster::covered_sums_with(spans, kept, reference, crate::raster::add_channel_sums)
    }
}

impl<R: Renderer + ?Sized> Renderer for &mut R {
    type Error = R::Error;
    fn draw(&mut self, canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
        (**self).draw(canvas, circles)
    }
    fn render_into(
        &mut self,
        base: CanvasRef<'_>,
        circles: &[Circle],
        out: &mut Canvas,
    ) -> Result<(), Self::Error> {
        (**self).render_into(base, circles, out)
    }
    fn as_span_renderer(&self) -> Option<&dyn SpanRenderer> {
        (**self).as_span_renderer()
    }
}

impl<R: Renderer + ?Sized> Renderer for Box<R> {
    type Error = R::Error;
    fn draw(&mut self, canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
        (**self).draw(canvas, circles)
    }
    fn render_into(
        &mut self,
        base: CanvasRef<'_>,
        circles: &[Circle],
        out: &mut Canvas,
    ) -> Result<(), Self::Error> {
        (**self).render_into(base, circles, out)
    }
    fn as_span_renderer(&self) -> Option<&dyn SpanRenderer> {
        (**self).as_span_renderer()
    }
}
