//! Exact incremental scoring: the cost of the kept canvas with candidate circles drawn on
//! it, computed over the candidates' spans only.
//!
//! The kept canvas's per-pixel cost terms are cached as one prefix sum per row, so the old
//! terms of any row segment cost one subtraction. A candidate's new terms are found by
//! compositing it over a copy of just the pixels it covers. Integer sums make the result
//! identical to a full render and a full cost.

use crate::canvas::{BYTES_PER_PIXEL, CanvasRef};
use crate::circle::Circle;
use crate::cost::PixelSumCost;
use crate::raster::Span;
use crate::render::SpanRenderer;

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
    row_offset: Vec<usize>,
    touched: Vec<u32>,
    patch: Vec<u8>,
}

impl IncrementalScorer {
    /// Builds the cache for `kept` against `reference` (same size).
    pub(crate) fn new(
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        cost: &dyn PixelSumCost,
    ) -> Self {
        let (w, h) = (kept.width(), kept.height());
        let mut s = Self {
            width: w,
            height: h,
            prefix: vec![0; (w as usize + 1) * h as usize],
            row_lo: vec![u32::MAX; h as usize],
            row_hi: vec![0; h as usize],
            row_offset: vec![0; h as usize],
            ..Self::default()
        };
        s.update_rows(0, h - 1, kept, reference, cost);
        s
    }

    fn row_prefix(&self, y: u32) -> &[u64] {
        let stride = self.width as usize + 1;
        &self.prefix[y as usize * stride..(y as usize + 1) * stride]
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
            let mut acc = 0u64;
            row[0] = 0;
            for (x, (kp, rp)) in k
                .chunks_exact(BYTES_PER_PIXEL)
                .zip(r.chunks_exact(BYTES_PER_PIXEL))
                .enumerate()
            {
                acc += cost.sum(kp, rp);
                row[x + 1] = acc;
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
        self.spans.clear();
        self.span_ends.clear();
        for c in circles {
            renderer.spans(c, self.width, self.height, &mut self.spans);
            self.span_ends.push(self.spans.len());
        }
    }

    /// The total sum of terms of `kept` with `circles` drawn over it, in order.
    pub(crate) fn score(
        &mut self,
        circles: &[Circle],
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        renderer: &dyn SpanRenderer,
        cost: &dyn PixelSumCost,
    ) -> u64 {
        self.collect_spans(circles, renderer);
        let (old, new) = if circles.len() == 1 {
            self.score_one(circles[0], kept, reference, renderer, cost)
        } else {
            self.score_many(circles, kept, reference, renderer, cost)
        };
        self.kept_sum - old + new
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

    /// Several circles: each touched row's union segment is copied once, every circle is
    /// composited over it in order, then the segment is scored.
    fn score_many(
        &mut self,
        circles: &[Circle],
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
        renderer: &dyn SpanRenderer,
        cost: &dyn PixelSumCost,
    ) -> (u64, u64) {
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
        self.patch.clear();
        for &y in &self.touched {
            let (lo, hi) = (self.row_lo[y as usize], self.row_hi[y as usize]);
            self.row_offset[y as usize] = self.patch.len();
            self.patch
                .extend_from_slice(&kept.row(y)[lo as usize * 4..hi as usize * 4]);
        }
        let mut start = 0;
        for (circle, &end) in circles.iter().zip(&self.span_ends) {
            for s in &self.spans[start..end] {
                let y = s.y as usize;
                let base = self.row_offset[y] + (s.x0 - self.row_lo[y]) as usize * 4;
                let n = s.len() as usize * 4;
                renderer.composite(circle, &mut self.patch[base..base + n]);
            }
            start = end;
        }
        let (mut old, mut new) = (0u64, 0u64);
        for &y in &self.touched {
            let yu = y as usize;
            let (lo, hi) = (self.row_lo[yu] as usize, self.row_hi[yu] as usize);
            let off = self.row_offset[yu];
            let r = &reference.row(y)[lo * 4..hi * 4];
            new += cost.sum(&self.patch[off..off + (hi - lo) * 4], r);
            let p = self.row_prefix(y);
            old += p[hi] - p[lo];
            self.row_lo[yu] = u32::MAX;
            self.row_hi[yu] = 0;
        }
        (old, new)
    }
}
