//! The canvases a slot search reads, kept in step with the circle list from one slot to the
//! next.

use circlefit_core::{Canvas, CanvasRef, Circle, Error, Renderer, Result};

use crate::incremental::IncrementalScorer;

/// Polishing scores exactly over a slot's pixels only.
pub(crate) fn needs_spans() -> Error {
    Error::InvalidSetting {
        field: "polish",
        value: "on".into(),
        reason: "polishing needs a renderer that describes its spans and a pixel-sum cost",
    }
}

/// The canvases slot searches read, kept from one slot to the next: `full` (every circle,
/// with the per-row prefix sums of its cost terms) follows the list by redrawing just the
/// rows a replacement touched, and `under` (the circles before the slot) by drawing the
/// circles between the last slot and this one. Building both afresh for every slot drew
/// every kept circle twice per slot, which made polishing quadratic in the circle count.
/// The pixels are the same either way (exact integer compositing in draw order).
pub(crate) struct SlotCanvases {
    /// The list `full` shows.
    circles: Vec<Circle>,
    full: Canvas,
    pub(super) scorer: IncrementalScorer,
    pub(super) under: Canvas,
    /// `under` shows `base` + `circles[..k]`; `None` when a change below `k` made it stale.
    under_upto: Option<usize>,
    /// Pixels outside the segments a candidate prepares are never read.
    pub(super) scratch: Canvas,
    spans: Vec<circlefit_core::raster::Span>,
    clipped: Vec<circlefit_core::raster::Span>,
}

impl SlotCanvases {
    /// The canvases for `circles` over `base`, built from scratch.
    fn build<R: Renderer>(
        renderer: &mut R,
        pc: &dyn circlefit_core::PixelSumCost,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
        circles: &[Circle],
    ) -> Result<Self> {
        let mut full = base.to_canvas();
        renderer
            .draw(full.as_mut(), circles)
            .map_err(|e| Error::Renderer(Box::new(e)))?;
        Ok(Self {
            circles: circles.to_vec(),
            scorer: IncrementalScorer::new(full.as_ref(), reference, pc, false),
            full,
            under: base.to_canvas(),
            under_upto: Some(0),
            scratch: base.to_canvas(),
            spans: Vec::new(),
            clipped: Vec::new(),
        })
    }

    /// Brings `state` to `circles` with `under` at slot `i`, building it if needed.
    pub(crate) fn sync<'s, R: Renderer>(
        state: &'s mut Option<Self>,
        renderer: &mut R,
        pc: &dyn circlefit_core::PixelSumCost,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
        circles: &[Circle],
        i: usize,
    ) -> Result<&'s mut Self> {
        if state
            .as_ref()
            .is_none_or(|s| s.circles.len() != circles.len() || !s.full.as_ref().same_size(base))
        {
            *state = Some(Self::build(renderer, pc, reference, base, circles)?);
        }
        let s = state.as_mut().expect("built above");
        for (k, &c) in circles.iter().enumerate() {
            if s.circles[k] != c {
                s.replace(renderer, pc, reference, base, k, c)?;
            }
        }
        s.under_at(renderer, base, i)?;
        Ok(s)
    }

    /// Replaces circle `k` and redraws the rows of `full` its old or new self covers.
    fn replace<R: Renderer>(
        &mut self,
        renderer: &mut R,
        pc: &dyn circlefit_core::PixelSumCost,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
        k: usize,
        new: Circle,
    ) -> Result<()> {
        let sr = renderer.as_span_renderer().ok_or_else(needs_spans)?;
        let (w, h) = (base.width(), base.height());
        self.spans.clear();
        sr.spans(&self.circles[k], w, h, &mut self.spans);
        sr.spans(&new, w, h, &mut self.spans);
        self.circles[k] = new;
        if self.under_upto.is_some_and(|upto| k < upto) {
            self.under_upto = None;
        }
        let (Some(y0), Some(y1)) = (
            self.spans.iter().map(|s| s.y).min(),
            self.spans.iter().map(|s| s.y).max(),
        ) else {
            return Ok(());
        };
        let stride = w as usize * circlefit_core::BYTES_PER_PIXEL;
        let rows = y0 as usize * stride..(y1 as usize + 1) * stride;
        self.full.as_bytes_mut()[rows.clone()].copy_from_slice(&base.as_bytes()[rows]);
        let (top, bottom) = (f64::from(y0), f64::from(y1) + 1.0);
        let m = sr.reach_beyond_radius(w, h);
        for c in &self.circles {
            if c.y() + c.radius() + m < top || c.y() - c.radius() - m > bottom {
                continue;
            }
            self.spans.clear();
            sr.spans(c, w, h, &mut self.spans);
            self.clipped.clear();
            self.clipped
                .extend(self.spans.iter().filter(|s| (y0..=y1).contains(&s.y)));
            if !self.clipped.is_empty() {
                sr.composite_runs(c, self.full.as_mut(), &self.clipped);
            }
        }
        self.scorer
            .update_rows(y0, y1, self.full.as_ref(), reference, pc);
        Ok(())
    }

    /// Brings `under` to `base` + `circles[..i]`.
    fn under_at<R: Renderer>(
        &mut self,
        renderer: &mut R,
        base: CanvasRef<'_>,
        i: usize,
    ) -> Result<()> {
        let from = match self.under_upto {
            Some(upto) if upto <= i => upto,
            _ => {
                self.under.copy_from(base);
                0
            }
        };
        renderer
            .draw(self.under.as_mut(), &self.circles[from..i])
            .map_err(|e| Error::Renderer(Box::new(e)))?;
        self.under_upto = Some(i);
        Ok(())
    }
}
