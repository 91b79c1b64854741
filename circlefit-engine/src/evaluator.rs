//! [`Evaluator`]: the cost of candidate circles drawn over a canvas of kept circles.

use crate::incremental::IncrementalScorer;
use circlefit_core::Circle;
use circlefit_core::CostFunc;
use circlefit_core::Renderer;
use circlefit_core::{Canvas, CanvasRef};
use circlefit_core::{Error, Result};

/// Scores candidate circles drawn over a kept canvas, and commits the ones worth keeping.
///
/// This is what every strategy evaluates, exposed so that benchmarks and custom strategies
/// can use it. When the renderer has a [`SpanRenderer`](circlefit_core::SpanRenderer) and the cost a
/// [`PixelSumCost`](circlefit_core::PixelSumCost), [`cost_with`](Evaluator::cost_with) scores only
/// the pixels the candidates cover, against cached per-row sums of the kept canvas: the
/// result is exactly the full render + full cost, and its time does not depend on how many
/// circles were kept. Otherwise it copies the kept canvas into a scratch canvas, draws the
/// candidates and scores the whole image.
///
/// # Allocation
/// Buffers grow to the largest candidate set seen and are reused: steady-state
/// `cost_with` calls make no heap allocation on either path (for the built-in renderer and
/// cost).
///
/// # Example
///
/// ```
/// use circlefit_core::{Canvas, Circle}; use circlefit_engine::Evaluator;
/// # use circlefit_core::{CanvasMut, CanvasRef, CostFunc, Renderer, raster::RasterCircle};
/// # #[derive(Debug)] struct Plain;
/// # impl Renderer for Plain {
/// #     type Error = std::convert::Infallible;
/// #     fn draw(&mut self, mut c: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
/// #         let (w, h) = (c.width(), c.height());
/// #         for k in circles { let rc = RasterCircle::new(k); let mut s = Vec::new(); rc.spans(w, h, &mut s);
/// #             for s in s { rc.composite(c.row_segment_mut(s.y, s.x0, s.x1)); } }
/// #         Ok(())
/// #     }
/// # }
/// # #[derive(Debug)] struct Sse;
/// # impl CostFunc for Sse {
/// #     type Error = std::convert::Infallible;
/// #     fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
/// #         Ok(a.as_bytes().iter().zip(b.as_bytes()).map(|(&p, &q)| (p as f64 - q as f64).powi(2)).sum())
/// #     }
/// # }
/// let reference = Canvas::filled(8, 8, [0, 0, 0, 255])?;
/// let white = Canvas::white(8, 8)?;
/// let mut eval = Evaluator::new(Plain, Sse, reference.as_ref(), white.as_ref())?;
/// let black = Circle::new(4.0, 4.0, 2.0, [0.0; 3], 1.0)?;
/// let with = eval.cost_with(&[black])?;
/// assert!(with < eval.kept_cost());
/// eval.commit(&[black])?;
/// assert_eq!(eval.kept_cost(), with);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Evaluator<R, C> {
    renderer: R,
    cost: C,
    reference: Canvas,
    kept: Canvas,
    kept_cost: f64,
    scratch: Canvas,
    incremental: Option<IncrementalScorer>,
    color_spans: Vec<circlefit_core::raster::Span>,
}

impl<R: Renderer, C: CostFunc> Evaluator<R, C> {
    /// An evaluator of candidates over `base` (the kept canvas starts as a copy of it),
    /// scored against `reference`.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] if `base` and `reference` differ in size; [`Error::Cost`] if
    /// the cost function fails on the base.
    pub fn new(
        renderer: R,
        cost: C,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
    ) -> Result<Self> {
        if !base.same_size(reference) {
            return Err(Error::SizeMismatch {
                what: "base canvas",
                expected_w: reference.width(),
                expected_h: reference.height(),
                actual_w: base.width(),
                actual_h: base.height(),
            });
        }
        let kept_cost = crate::checked::cost_of(&cost, base, reference)?;
        let incremental = match (renderer.as_span_renderer(), cost.as_pixel_sum()) {
            (Some(_), Some(pc)) => Some(IncrementalScorer::new(base, reference, pc, true)),
            _ => None,
        };
        Ok(Self {
            renderer,
            cost,
            reference: reference.to_canvas(),
            kept: base.to_canvas(),
            kept_cost,
            scratch: base.to_canvas(),
            incremental,
            color_spans: Vec::new(),
        })
    }

    /// Whether candidates are scored incrementally (over their spans only).
    pub fn is_incremental(&self) -> bool {
        self.incremental.is_some()
    }

    /// The reference image.
    pub fn reference(&self) -> CanvasRef<'_> {
        self.reference.as_ref()
    }

    /// The kept canvas: the base with every committed circle drawn.
    pub fn kept(&self) -> CanvasRef<'_> {
        self.kept.as_ref()
    }

    /// The cost of the kept canvas.
    pub fn kept_cost(&self) -> f64 {
        self.kept_cost
    }

    /// The renderer.
    pub fn renderer(&self) -> &R {
        &self.renderer
    }

    /// The cost function.
    pub fn cost_func(&self) -> &C {
        &self.cost
    }

    /// The renderer, the cost and the reference at once (for a helper's polishing).
    pub(crate) fn parts(&mut self) -> (&mut R, &C, circlefit_core::CanvasRef<'_>) {
        (&mut self.renderer, &self.cost, self.reference.as_ref())
    }

    /// The cost of the kept canvas with `candidates` drawn over it, in order. The kept
    /// canvas does not change.
    ///
    /// # Errors
    /// [`Error::Renderer`] or [`Error::Cost`] if a component fails, or the cost is NaN,
    /// infinite or negative ([`InvalidCost`](crate::InvalidCost)).
    pub fn cost_with(&mut self, candidates: &[Circle]) -> Result<f64> {
        let pixels = self.reference.as_ref().pixel_count();
        if let (true, Some(inc), Some(sr), Some(pc)) = (
            candidates.len() > 1,
            self.incremental.as_mut(),
            self.renderer.as_span_renderer(),
            self.cost.as_pixel_sum(),
        ) && let Some(sum) = inc.score_uniform(candidates, self.reference.as_ref(), sr, pc)
        {
            return crate::checked::usable(pc.finish(sum, pixels));
        }
        // Otherwise several candidates covering much of the image are cheaper to score
        // whole: one copy and one full-image pass beat per-row bookkeeping. All paths are
        // exact.
        let whole =
            candidates.len() > 1 && 2 * bounding_area(candidates, self.kept.as_ref()) > pixels;
        if let (false, Some(inc), Some(sr), Some(pc)) = (
            whole,
            self.incremental.as_mut(),
            self.renderer.as_span_renderer(),
            self.cost.as_pixel_sum(),
        ) {
            if let [one] = candidates
                && let Some(sum) =
                    inc.score_single(one, self.kept.as_ref(), self.reference.as_ref(), sr, pc)
            {
                return crate::checked::usable(pc.finish(sum, pixels));
            }
            inc.prepare_many(candidates, self.kept.as_ref(), &mut self.scratch, sr);
            self.renderer
                .draw(self.scratch.as_mut(), candidates)
                .map_err(|e| Error::Renderer(Box::new(e)))?;
            let (inc, pc) = (
                self.incremental.as_mut().expect("checked above"),
                self.cost.as_pixel_sum().expect("checked above"),
            );
            let sum = inc.finish_many(self.scratch.as_ref(), self.reference.as_ref(), pc);
            return crate::checked::usable(pc.finish(sum, pixels));
        }
        self.scratch.copy_from(self.kept.as_ref());
        self.renderer
            .draw(self.scratch.as_mut(), candidates)
            .map_err(|e| Error::Renderer(Box::new(e)))?;
        crate::checked::cost_of(&self.cost, self.scratch.as_ref(), self.reference.as_ref())
    }

    /// The colour that minimises the squared error of `circle` (its geometry and alpha)
    /// drawn over the kept canvas, in closed form (see
    /// [`ColorMode::ClosedForm`](crate::ColorMode::ClosedForm)); `circle`'s own colour is
    /// ignored. A circle covering no pixel gets black.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] if the renderer has no [`SpanRenderer`](circlefit_core::SpanRenderer).
    pub fn best_color(&mut self, circle: &Circle) -> Result<[f64; 3]> {
        let sr = self
            .renderer
            .as_span_renderer()
            // Made only on failure: the name is a heap string.
            .ok_or_else(|| Error::InvalidSetting {
                field: "color",
                value: "closed_form".into(),
                reason: "the closed-form colour needs a renderer that describes its spans",
            })?;
        if let Some((kept, reference, n)) = self
            .incremental
            .as_mut()
            .and_then(|inc| inc.covered_sums(circle, sr))
        {
            return Ok(solve_color(circle, kept, reference, n));
        }
        Ok(closed_form_color(
            sr,
            circle,
            self.kept.as_ref(),
            self.reference.as_ref(),
            &mut self.color_spans,
        ))
    }

    /// Adds the squared R, G, B error of the kept canvas in each `block` × `block` block to
    /// `err` from the incremental cache, if it holds exactly those terms; `false` (nothing
    /// added) otherwise.
    pub(crate) fn block_squared_errors(&self, block: u32, err: &mut [u64]) -> bool {
        match (&self.incremental, self.cost.as_pixel_sum()) {
            (Some(inc), Some(pc)) if pc.term() == circlefit_core::PixelTerm::SquaredRgb => {
                inc.block_sums(block, err);
                true
            }
            _ => false,
        }
    }

    /// Draws `circles` onto the kept canvas and returns its new cost (computed in full).
    ///
    /// # Errors
    /// [`Error::Renderer`] or [`Error::Cost`] if a component fails.
    pub fn commit(&mut self, circles: &[Circle]) -> Result<f64> {
        self.renderer
            .draw(self.kept.as_mut(), circles)
            .map_err(|e| Error::Renderer(Box::new(e)))?;
        if let (Some(inc), Some(sr), Some(pc)) = (
            self.incremental.as_mut(),
            self.renderer.as_span_renderer(),
            self.cost.as_pixel_sum(),
        ) && let Some((first, last)) = inc.rows_touched(circles, sr)
        {
            inc.update_rows(first, last, self.kept.as_ref(), self.reference.as_ref(), pc);
        }
        self.kept_cost =
            crate::checked::cost_of(&self.cost, self.kept.as_ref(), self.reference.as_ref())?;
        Ok(self.kept_cost)
    }
}

/// The summed areas of the circles' bounding boxes, clipped to the canvas.
fn bounding_area(circles: &[Circle], canvas: CanvasRef<'_>) -> u64 {
    let (w, h) = (f64::from(canvas.width()), f64::from(canvas.height()));
    circles
        .iter()
        .map(|c| {
            let (r, x, y) = (c.radius(), c.x(), c.y());
            let dx = ((x + r).min(w) - (x - r).max(0.0)).max(0.0);
            let dy = ((y + r).min(h) - (y - r).max(0.0)).max(0.0);
            (dx * dy) as u64
        })
        .sum()
}

/// The least-squares colour of `circle` (geometry and alpha) drawn over `under`, against
/// `reference` (see [`ColorMode::ClosedForm`](crate::ColorMode::ClosedForm)); black if it
/// covers nothing. `spans` is scratch.
pub(crate) fn closed_form_color(
    sr: &dyn circlefit_core::SpanRenderer,
    circle: &Circle,
    under: CanvasRef<'_>,
    reference: CanvasRef<'_>,
    spans: &mut Vec<circlefit_core::raster::Span>,
) -> [f64; 3] {
    spans.clear();
    sr.spans(circle, under.width(), under.height(), spans);
    let (sp, st) = sr.covered_sums(spans, under, reference);
    let n: u64 = spans.iter().map(|s| u64::from(s.len())).sum();
    solve_color(circle, sp, st, n)
}

/// The clamped least-squares colour of `circle`'s alpha over `n` pixels whose kept
/// channel sums are `sp` and reference sums `st`; black if `n` is 0.
fn solve_color(circle: &Circle, sp: [u64; 3], st: [u64; 3], n: u64) -> [f64; 3] {
    if n == 0 {
        return [0.0; 3];
    }
    let a = f64::from(circlefit_core::raster::quantize_alpha(circle.alpha()));
    std::array::from_fn(|k| {
        let c = (256.0 * st[k] as f64 - (256.0 - a) * sp[k] as f64) / (a * n as f64);
        (c.clamp(0.0, 255.0) / 255.0).clamp(0.0, 1.0)
    })
}
