//! The buffer-pooled CPU renderer of circlefit.
//!
//! [`CpuRenderer`] draws hard-edged circles by span rasterisation and integer source-over
//! compositing, following the raster model of
//! [`circlefit_core::raster`] exactly:
//!
//! - **Coverage**: centre and radius are rounded to 1/256 pixel; pixel (`i`, `j`) is covered
//!   iff its centre `(i + ½, j + ½)` lies within the radius, compared exactly in integers
//!   (`(256i + 128 − cx)² + (256j + 128 − cy)² ≤ r²`). Each row's covered pixels form one
//!   span, found with one integer square root.
//! - **Blend**: colour `c = round(255·channel)`, alpha `a = round(256·α)` in `1..=256`;
//!   each covered R, G, B byte `p` becomes `(c·a + p·(256 − a) + 128) >> 8` (nearest,
//!   ties up), alpha bytes are untouched, and circles are applied in order with 8-bit
//!   results after each.
//!
//! It keeps its scratch buffers (spans, and a pooled output canvas for
//! [`CpuRenderer::render`]) between calls, so rendering allocates nothing once warm.
//!
//! # Example
//!
//! ```
//! use circlefit_core::{Canvas, Circle, Renderer};
//! use circlefit_render::CpuRenderer;
//!
//! let base = Canvas::white(32, 32)?;
//! let red = Circle::new(16.0, 16.0, 8.0, [1.0, 0.0, 0.0], 0.5)?;
//! let mut renderer = CpuRenderer::new();
//! let canvas = renderer.render(base.as_ref(), &[red])?;
//! // Half red over white: (255·128 + 255·128 + 128) >> 8 = 255 for red, 128 for the others.
//! assert_eq!(canvas.pixel(16, 16), Some([255, 128, 128, 255]));
//! assert_eq!(canvas.pixel(0, 0), Some([255, 255, 255, 255]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The only `unsafe` in this crate: calls into the AVX2 copies of the kernels after
// run-time detection.
#[allow(unsafe_code)]
mod kernels;
// Also `unsafe`: the AVX-512 lanes of the runs kernel, after run-time detection.
#[allow(unsafe_code)]
mod runs;
// And here: the AVX-512 edge pixels of the smooth model, after run-time detection.
#[allow(unsafe_code)]
mod smooth;
// And here: the AVX-512 span rows, after run-time detection.
#[allow(unsafe_code)]
mod spans;

use circlefit_core::raster::RasterCircle;
use circlefit_core::smooth::SmoothCircle;
use circlefit_core::{
    Canvas, CanvasMut, CanvasRef, Circle, Edges, Renderer, RowMoments, Span, SpanRenderer,
};
use kernels::Blend16;

/// Errors of `circlefit-render`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A flat parameter vector that does not decode to valid circles.
    #[error("invalid circle parameters: {0}")]
    InvalidParams(#[from] circlefit_core::Error),
}

/// The fast CPU renderer (see the [crate docs](crate) for its exact semantics).
///
/// It draws hard edges unless made with [`with_edges`](CpuRenderer::with_edges)`(`
/// [`Edges::Smooth`]`)` or [`Edges::Soft`]: then it follows the anti-aliased model of
/// [`circlefit_core::smooth`] (a one-pixel ramp, or one half the radius wide), still exact
/// and incremental (edge pixels carry their own alpha, eight per step with AVX-512, so a
/// candidate costs about twice as much, soft ones more; the runs kernel for several circles
/// over a uniform canvas is hard-edged only).
///
/// # Allocation
/// The span buffer and the pooled canvas grow to the largest size seen and are then
/// reused: steady-state [`draw`](Renderer::draw) and [`render`](CpuRenderer::render) calls
/// make no heap allocation.
#[derive(Debug, Default)]
pub struct CpuRenderer {
    spans: Vec<Span>,
    pooled: Option<Canvas>,
    /// The runs kernel's buffers. A mutex because `SpanRenderer` methods take `&self`
    /// (and must be `Sync`); each thread scores with its own renderer, so it is never
    /// contended.
    runs: std::sync::Mutex<runs::RunBuffers>,
    edges: Edges,
}

impl Clone for CpuRenderer {
    /// A renderer with the same pooled buffers and fresh kernel buffers.
    fn clone(&self) -> Self {
        Self {
            spans: self.spans.clone(),
            pooled: self.pooled.clone(),
            runs: std::sync::Mutex::default(),
            edges: self.edges,
        }
    }
}

impl CpuRenderer {
    /// A hard-edged renderer with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A renderer with empty buffers that draws `edges`.
    ///
    /// ```
    /// use circlefit_core::{Canvas, Circle, Edges, Renderer};
    /// use circlefit_render::CpuRenderer;
    ///
    /// let mut smooth = CpuRenderer::with_edges(Edges::Smooth);
    /// let mut canvas = Canvas::white(16, 16)?;
    /// let black = Circle::new(8.0, 8.0, 4.0, [0.0; 3], 1.0)?;
    /// smooth.draw(canvas.as_mut(), &[black])?;
    /// assert_eq!(canvas.pixel(8, 8), Some([0, 0, 0, 255]));
    /// // A pixel on the edge is grey, not black or white.
    /// let [v, ..] = canvas.pixel(11, 8).unwrap();
    /// assert!(0 < v && v < 255);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_edges(edges: Edges) -> Self {
        Self {
            edges,
            ..Self::default()
        }
    }

    /// The raster model this renderer draws.
    pub fn edges(&self) -> Edges {
        self.edges
    }

    /// Renders `circles` over `base` into the renderer's own pooled canvas and returns it.
    ///
    /// # Errors
    /// Never, today; the `Result` leaves room for renderers that can fail.
    pub fn render(&mut self, base: CanvasRef<'_>, circles: &[Circle]) -> Result<&Canvas, Error> {
        let mut out = self.pooled.take().unwrap_or_else(|| base.to_canvas());
        out.copy_from(base);
        self.draw_circles(out.as_mut(), circles);
        Ok(self.pooled.insert(out))
    }

    /// Decodes `params` (7 numbers per circle: x, y, r, red, green, blue, alpha) and renders
    /// them over `base` into the pooled canvas.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] if `params` is not a valid encoding.
    pub fn render_params(&mut self, base: CanvasRef<'_>, params: &[f64]) -> Result<&Canvas, Error> {
        let mut circles = Vec::with_capacity(params.len() / 7);
        Circle::decode_all(params, &mut circles)?;
        self.render(base, &circles)
    }

    fn draw_circles(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) {
        let (w, h) = (canvas.width(), canvas.height());
        for circle in circles {
            self.spans.clear();
            if let Some(sc) = SmoothCircle::for_edges(circle, self.edges, w, h) {
                footprint(&sc, w, h, &mut self.spans);
                smooth::composite_runs(&sc, canvas.reborrow(), &self.spans);
                continue;
            }
            let rc = RasterCircle::new(circle);
            spans::spans(&rc, w, h, &mut self.spans);
            let b = blend16(&rc);
            for s in &self.spans {
                kernels::blend(canvas.row_segment_mut(s.y, s.x0, s.x1), &b);
            }
        }
    }
}

/// The smooth model's footprint spans of `sc`, as [`SmoothCircle::spans`] gives them.
fn footprint(sc: &SmoothCircle, width: u32, height: u32, out: &mut Vec<Span>) {
    spans::disc(sc.disc.cx, sc.disc.cy, sc.outer_r2(), width, height, out);
}

/// The blend constants of a quantised circle.
fn blend16(rc: &RasterCircle) -> Blend16 {
    let (mul, add) = rc.blend_constants();
    Blend16::new(mul, add)
}

/// Whether the AVX2 kernels are in use on this CPU (else the baseline build's, SSE2 on
/// x86-64).
pub fn uses_avx2() -> bool {
    kernels::has_avx2()
}

impl Renderer for CpuRenderer {
    type Error = std::convert::Infallible;

    fn draw(&mut self, canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
        self.draw_circles(canvas, circles);
        Ok(())
    }

    fn as_span_renderer(&self) -> Option<&dyn SpanRenderer> {
        Some(self)
    }
}

impl SpanRenderer for CpuRenderer {
    fn spans(&self, circle: &Circle, width: u32, height: u32, out: &mut Vec<Span>) {
        match SmoothCircle::for_edges(circle, self.edges, width, height) {
            Some(sc) => footprint(&sc, width, height, out),
            None => spans::spans(&RasterCircle::new(circle), width, height, out),
        }
    }

    fn edges(&self) -> Option<Edges> {
        Some(self.edges)
    }

    fn reach_beyond_radius(&self, width: u32, height: u32) -> f64 {
        match self.edges {
            Edges::Hard | Edges::Smooth => 1.0,
            // The footprint ends within w/2 ≤ cap/2 of the radius.
            Edges::Soft => {
                let cap = circlefit_core::smooth::soft_width_cap(width.min(height));
                1.0 + cap as f64 / 512.0
            }
            Edges::Free => 1.0 + circlefit_core::MAX_EDGE_WIDTH / 2.0,
        }
    }

    fn blends_uniformly(&self) -> bool {
        self.edges == Edges::Hard
    }

    fn composite(&self, circle: &Circle, pixels: &mut [u8]) {
        kernels::blend(pixels, &blend16(&RasterCircle::new(circle)));
    }

    fn composite_runs(&self, circle: &Circle, mut canvas: CanvasMut<'_>, runs: &[Span]) {
        if let Some(sc) =
            SmoothCircle::for_edges(circle, self.edges, canvas.width(), canvas.height())
        {
            smooth::composite_runs(&sc, canvas, runs);
            return;
        }
        let b = blend16(&RasterCircle::new(circle));
        for s in runs {
            kernels::blend(canvas.row_segment_mut(s.y, s.x0, s.x1), &b);
        }
    }

    fn composited_squared_error(
        &self,
        circle: &Circle,
        spans: &[Span],
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
    ) -> Option<u64> {
        if let Some(sc) = SmoothCircle::for_edges(circle, self.edges, kept.width(), kept.height()) {
            return Some(smooth::squared_error(&sc, spans, kept, reference));
        }
        let rows = kernels::SpanRows {
            spans,
            kept,
            reference,
        };
        Some(kernels::spans_blend_sse(
            &rows,
            &blend16(&RasterCircle::new(circle)),
        ))
    }

    fn uniform_squared_error(
        &self,
        circles: &[Circle],
        base: [u8; 4],
        reference: &RowMoments,
        segments: &mut Vec<Span>,
    ) -> Option<u64> {
        if self.edges != Edges::Hard {
            return None;
        }
        // A poisoned lock only means another call panicked mid-way; every call rebuilds
        // the buffers' contents, so they are still fine to use.
        let mut buffers = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs::uniform_squared_error(&mut buffers, circles, base, reference, segments)
    }

    fn covered_sums(
        &self,
        spans: &[Span],
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
    ) -> ([u64; 3], [u64; 3]) {
        circlefit_core::raster::covered_sums_with(spans, kept, reference, kernels::channel_sums)
    }
}
