//! Exact incremental scoring: the cost of the kept canvas with candidate circles drawn on
//! it, computed over the candidates' spans only.
//!
//! The kept canvas's per-pixel cost terms are cached as one prefix sum per row, so the old
//! terms of any row segment cost one subtraction. A single candidate's new terms come from
//! the renderer's fused kernel, or from compositing a copy of just the pixels it covers;
//! several candidates are drawn over copies of just the row segments they touch. Integer
//! sums make the result identical to a full render and a full cost.

use circlefit_core::Circle;
use circlefit_core::SpanRenderer;
use circlefit_core::raster::Span;
use circlefit_core::{BYTES_PER_PIXEL, CanvasRef};
use circlefit_core::{PixelSumCost, PixelTerm, RowMoments};

/// Row `y` of a table with `stride` entries per row.
#[inline]
fn y_row<T>(table: &[T], y: u32, stride: usize) -> &[T] {
    &table[y as usize * stride..(y as usize + 1) * stride]
}

/// Reusable state of the incremental path; no allocation per evaluation once warm.
#[derive(Debug, Default)]
pub(crate) struct IncrementalScorer {
    width: u32,
    height: u32,
    /// `(width + 1)` prefix sums per row of the kept canvas's per-pixel terms.
    prefix: Vec<u64>,
    kept_sum: u64,
    spans: Vec<Span>,
    /// End (exclusive) in `spans` of each candidate circle's spans.
    span_ends: Vec<usize>,
    gathered: Vec<u8>,
    row_lo: Vec<u32>,
    row_hi: Vec<u32>,
    touched: Vec<u32>,
    /// Scratch for [`composite_clipped`](Self::composite_clipped).
    clipped: Vec<Span>,
    /// The rows' union segments the renderer's runs kernel scored.
    segments: Vec<Span>,
    /// The kept canvas's one colour, while it has one.
    uniform: Option<[u8; 4]>,
    /// The reference's row moments for the runs kernel, built on first use (at most
    /// [`COLOR_TABLE_PIXELS`] pixels).
    moments: Option<RowMoments>,
    /// The circle (geometry and alpha bits) whose spans are in `spans`, if just one.
    spans_of: Option<[u64; 4]>,
    /// Per-row prefix sums of the R, G, B bytes of the kept canvas and of the reference,
    /// `[kept R, G, B, reference R, G, B]` per entry, `(width + 1)` per row: the closed-form
    /// colour's sums over a span cost two lookups. Empty above [`COLOR_TABLE_PIXELS`].
    color_prefix: Vec<[u32; 6]>,
}

/// The largest image (in pixels) that gets colour prefix tables (24 bytes per pixel);
/// larger ones sum the covered pixels instead.
const COLOR_TABLE_PIXELS: u64 = 1 << 20;

/// The key of a circle's spans: everything but its colour (spans do not depend on it).
fn spans_key(c: &Circle) -> [u64; 4] {
    [c.x(), c.y(), c.radius(), c.alpha()].map(f64::to_bits)
}

impl IncrementalScorer {
    /// Builds the cache for `kept` against `reference` (same size), with the closed-form
    /// colour's tables if `color_tables` (and the image is not too large for them).
    pub(crate) fn new(
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        cost: &dyn PixelSumCost,
        color_tables: bool,
    ) -> Self {
        let (w, h) = (kept.width(), kept.height());
        let mut s = Self {
            width: w,
            height: h,
            prefix: vec![0; (w as usize + 1) * h as usize],
            row_lo: vec![u32::MAX; h as usize],
            row_hi: vec![0; h as usize],
            color_prefix: if color_tables && kept.pixel_count() <= COLOR_TABLE_PIXELS {
                vec![[0; 6]; (w as usize + 1) * h as usize]
            } else {
                Vec::new()
            },
            ..Self::default()
        };
        s.uniform = kept
            .as_bytes()
            .get(..BYTES_PER_PIXEL)
            .map(|p| [p[0], p[1], p[2], p[3]]);
        s.update_rows(0, h - 1, kept, reference, cost);
        s
    }

    /// The sum of the kept canvas's terms.
    pub(crate) fn total(&self) -> u64 {
        self.kept_sum
    }

    fn row_prefix(&self, y: u32) -> &[u64] {
        y_row(&self.prefix, y, self.width as usize + 1)
    }

    /// Adds each `block` × `block` block's sum of terms to `err` (`⌈w/block⌉` per block row),
    /// from the row prefix sums: two lookups per block per row.
    pub(crate) fn block_sums(&self, block: u32, err: &mut [u64]) {
        let bw = self.width.div_ceil(block);
        for y in 0..self.height {
            let p = self.row_prefix(y);
            let row = &mut err[((y / block) * bw) as usize..][..bw as usize];
            for (bx, e) in row.iter_mut().enumerate() {
                let x0 = bx * block as usize;
                let x1 = (x0 + block as usize).min(self.width as usize);
                *e += p[x1] - p[x0];
            }
        }
    }

    /// Recomputes rows `first..=last` after the kept canvas changed there.
    pub(crate) fn update_rows(
        &mut self,
        first: u32,
        last: u32,
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        cost: &dyn PixelSumCost,
    ) {
        let stride = self.width as usize + 1;
        for y in first..=last {
            let row = &mut self.prefix[y as usize * stride..(y as usize + 1) * stride];
            let (k, r) = (kept.row(y), reference.row(y));
            if let Some(c) = self.uniform
                && k.chunks_exact(BYTES_PER_PIXEL).any(|p| p != c)
            {
                self.uniform = None;
            }
            row[0] = 0;
            cost.running_sums(k, r, &mut row[1..]);
            if !self.color_prefix.is_empty() {
                let row = &mut self.color_prefix[y as usize * stride..(y as usize + 1) * stride];
                let mut acc = [0u32; 6];
                row[0] = acc;
                for (x, (kp, rp)) in k
                    .chunks_exact(BYTES_PER_PIXEL)
                    .zip(r.chunks_exact(BYTES_PER_PIXEL))
                    .enumerate()
                {
                    for c in 0..3 {
                        acc[c] += u32::from(kp[c]);
                        acc[3 + c] += u32::from(rp[c]);
                    }
                    row[x + 1] = acc;
                }
            }
        }
        self.kept_sum = (0..self.height)
            .map(|y| self.prefix[y as usize * stride + self.width as usize])
            .sum();
    }

    /// The rows `first..=last` that `circles` may change, or `None`.
    pub(crate) fn rows_touched(
        &mut self,
        circles: &[Circle],
        renderer: &dyn SpanRenderer,
    ) -> Option<(u32, u32)> {
        self.collect_spans(circles, renderer);
        let first = self.spans.iter().map(|s| s.y).min()?;
        let last = self.spans.iter().map(|s| s.y).max()?;
        Some((first, last))
    }

    fn collect_spans(&mut self, circles: &[Circle], renderer: &dyn SpanRenderer) {
        if let [one] = circles {
            let key = spans_key(one);
            if self.spans_of == Some(key) {
                return;
            }
            self.spans_of = Some(key);
        } else {
            self.spans_of = None;
        }
        self.spans.clear();
        self.span_ends.clear();
        for c in circles {
            renderer.spans(c, self.width, self.height, &mut self.spans);
            self.span_ends.push(self.spans.len());
        }
    }

    /// The R, G, B sums of the kept canvas and of the reference over `shape`'s spans, and
    /// the number of pixels, from the prefix tables; `None` without tables.
    pub(crate) fn covered_sums(
        &mut self,
        shape: &Circle,
        renderer: &dyn SpanRenderer,
    ) -> Option<([u64; 3], [u64; 3], u64)> {
        if self.color_prefix.is_empty() {
            return None;
        }
        self.collect_spans(std::slice::from_ref(shape), renderer);
        let stride = self.width as usize + 1;
        let (mut kept, mut reference, mut n) = ([0u64; 3], [0u64; 3], 0u64);
        for s in &self.spans {
            let row = y_row(&self.color_prefix, s.y, stride);
            let (a, b) = (row[s.x0 as usize], row[s.x1 as usize]);
            for c in 0..3 {
                kept[c] += u64::from(b[c] - a[c]);
                reference[c] += u64::from(b[3 + c] - a[3 + c]);
            }
            n += u64::from(s.len());
        }
        Some((kept, reference, n))
    }

    /// The total sum of terms of `kept` with one circle drawn over it, or `None` if that
    /// takes a scratch canvas (no fused kernel, and a renderer that blends by position:
    /// use [`prepare_many`](Self::prepare_many) with the one circle).
    pub(crate) fn score_single(
        &mut self,
        circle: &Circle,
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        renderer: &dyn SpanRenderer,
        cost: &dyn PixelSumCost,
    ) -> Option<u64> {
        self.collect_spans(std::slice::from_ref(circle), renderer);
        let fused = if cost.term() == PixelTerm::SquaredRgb {
            renderer.composited_squared_error(circle, &self.spans, kept, reference)
        } else {
            None
        };
        let (old, new) = match fused {
            Some(new) => (self.old_sum(), new),
            None if renderer.blends_uniformly() => {
                self.score_one(*circle, kept, reference, renderer, cost)
            }
            None => return None,
        };
        Some(self.kept_sum - old + new)
    }

    /// The kept canvas's terms over the collected spans.
    fn old_sum(&self) -> u64 {
        self.terms_over(&self.spans)
    }

    /// The kept canvas's terms over `spans`, from the row prefix sums.
    fn terms_over(&self, spans: &[Span]) -> u64 {
        spans
            .iter()
            .map(|s| {
                let p = self.row_prefix(s.y);
                p[s.x1 as usize] - p[s.x0 as usize]
            })
            .sum()
    }

    /// Several circles through the renderer's runs kernel, while the kept canvas is one
    /// colour (squared RGB error only): the total sum, or `None` if the kernel does not
    /// apply (the canvas is not uniform, the image is too large for the moments table, or
    /// the renderer has no such kernel).
    pub(crate) fn score_uniform(
        &mut self,
        circles: &[Circle],
        reference: CanvasRef<'_>,
        renderer: &dyn SpanRenderer,
        cost: &dyn PixelSumCost,
    ) -> Option<u64> {
        let base = self.uniform?;
        if cost.term() != PixelTerm::SquaredRgb {
            return None;
        }
        if self.moments.is_none() && reference.pixel_count() <= COLOR_TABLE_PIXELS {
            self.moments = Some(RowMoments::new(reference));
        }
        let moments = self.moments.as_ref()?;
        let new = renderer.uniform_squared_error(circles, base, moments, &mut self.segments)?;
        Some(self.kept_sum - self.terms_over(&self.segments) + new)
    }

    /// One circle: its covered pixels are gathered into one run and composited at once.
    fn score_one(
        &mut self,
        circle: Circle,
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        renderer: &dyn SpanRenderer,
        cost: &dyn PixelSumCost,
    ) -> (u64, u64) {
        self.gathered.clear();
        for s in &self.spans {
            let row = kept.row(s.y);
            self.gathered
                .extend_from_slice(&row[s.x0 as usize * 4..s.x1 as usize * 4]);
        }
        renderer.composite(&circle, &mut self.gathered);
        let (mut old, mut new, mut off) = (0u64, 0u64, 0usize);
        for s in &self.spans {
            let n = s.len() as usize * 4;
            let r = &reference.row(s.y)[s.x0 as usize * 4..s.x1 as usize * 4];
            new += cost.sum(&self.gathered[off..off + n], r);
            let p = self.row_prefix(s.y);
            old += p[s.x1 as usize] - p[s.x0 as usize];
            off += n;
        }
        (old, new)
    }

    /// Several circles, step 1: collects their spans and each touched row's union
    /// segment, and copies those segments of `kept` into `scratch` (a canvas of the same
    /// size whose other pixels are never read). The caller then draws the circles on
    /// `scratch` with the renderer — by the [`SpanRenderer`] contract that changes only
    /// pixels inside the segments — and calls [`finish_many`](Self::finish_many).
    pub(crate) fn prepare_many(
        &mut self,
        circles: &[Circle],
        kept: CanvasRef<'_>,
        scratch: &mut circlefit_core::Canvas,
        renderer: &dyn SpanRenderer,
    ) {
        self.collect_spans(circles, renderer);
        self.touched.clear();
        for s in &self.spans {
            let y = s.y as usize;
            if self.row_lo[y] == u32::MAX {
                self.touched.push(s.y);
                self.row_lo[y] = s.x0;
                self.row_hi[y] = s.x1;
            } else {
                self.row_lo[y] = self.row_lo[y].min(s.x0);
                self.row_hi[y] = self.row_hi[y].max(s.x1);
            }
        }
        let mut out = scratch.as_mut();
        for &y in &self.touched {
            let (lo, hi) = (self.row_lo[y as usize], self.row_hi[y as usize]);
            out.row_segment_mut(y, lo, hi)
                .copy_from_slice(&kept.row(y)[lo as usize * 4..hi as usize * 4]);
        }
    }

    /// Between [`prepare_many`](Self::prepare_many) and
    /// [`finish_many`](Self::finish_many): composites `circle`, whose spans are `spans`,
    /// onto `scratch` within the prepared segments only (the rest of `scratch` is never
    /// read, so drawing it would be wasted work).
    pub(crate) fn composite_clipped(
        &mut self,
        circle: &Circle,
        spans: &[Span],
        scratch: &mut circlefit_core::Canvas,
        renderer: &dyn SpanRenderer,
    ) {
        self.clipped.clear();
        for s in spans {
            let (lo, hi) = (self.row_lo[s.y as usize], self.row_hi[s.y as usize]);
            let (x0, x1) = (s.x0.max(lo), s.x1.min(hi));
            if x0 < x1 {
                self.clipped.push(Span { y: s.y, x0, x1 });
            }
        }
        if !self.clipped.is_empty() {
            renderer.composite_runs(circle, scratch.as_mut(), &self.clipped);
        }
    }

    /// Several circles, step 2: the total sum with the circles drawn, from the segments of
    /// `scratch` prepared by [`prepare_many`](Self::prepare_many).
    pub(crate) fn finish_many(
        &mut self,
        scratch: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        cost: &dyn PixelSumCost,
    ) -> u64 {
        let (mut old, mut new) = (0u64, 0u64);
        for &y in &self.touched {
            let yu = y as usize;
            let (lo, hi) = (self.row_lo[yu] as usize, self.row_hi[yu] as usize);
            new += cost.sum(
                &scratch.row(y)[lo * 4..hi * 4],
                &reference.row(y)[lo * 4..hi * 4],
            );
            let p = self.row_prefix(y);
            old += p[hi] - p[lo];
            self.row_lo[yu] = u32::MAX;
            self.row_hi[yu] = 0;
        }
        self.kept_sum - old + new
    }
}
