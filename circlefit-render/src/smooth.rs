//! The smooth model's drawing and fused scoring ([`circlefit_core::smooth`]): each footprint
//! span splits into a left edge, the interior and a right edge; the interior goes through
//! the hard model's vector kernels (its pixels blend with the circle's own alpha), the edge
//! pixels with their coverage.
//!
//! With AVX-512 or AVX2 (and FMA) the edge runs of many rows are queued and their coverages
//! computed a vector of pixels at a time across runs (eight or four square roots in `f64`
//! lanes, exact below [`SQRT_EXACT_BELOW`] as in the span walk, and a multiplication by the
//! ramp's reciprocal in place of a division), then blended or scored run by run ([`Edge`]);
//! without them, one by one.

use circlefit_core::raster::SQRT_EXACT_BELOW;
use circlefit_core::smooth::SmoothCircle;
use circlefit_core::{CanvasMut, CanvasRef, Span};

use crate::kernels;

/// Below this radius (1/256 px) the vector kernels take whole footprint rows, interior
/// pixels included (their coverage is 256, so they blend with the circle's own alpha as
/// the definition says): for small circles, splitting each row costs more than it saves.
const SMALL_RADIUS: i64 = 12 * 256;

/// Whether `sc`'s rows go whole through the edge kernel (see [`SMALL_RADIUS`]).
#[inline]
fn small(sc: &SmoothCircle) -> bool {
    sc.disc.r < SMALL_RADIUS
}

/// Interior runs scored per call of the hard fused kernel.
const INTERIOR_CHUNK: usize = 64;

/// Added before truncating `x·(256/w)` so that whole quotients, which the rounded
/// reciprocal may leave a hair below, truncate to themselves (see the vector kernels'
/// `alphas`).
#[cfg(target_arch = "x86_64")]
const QUOTIENT_NUDGE: f64 = 1.0 / (1u64 << 20) as f64;

/// How a circle's edge pixels are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// One by one, by the definition's integer arithmetic.
    Scalar,
    /// Queued, four pixels a vector ([`avx2::Ramp`]).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Queued, eight pixels a vector ([`avx512::Ramp`]), interiors eight rows at a time.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// The fastest path this CPU has for `sc`: a vector one needs every footprint pixel's
/// squared distance below the one-square-root exactness bound.
#[inline]
fn path(sc: &SmoothCircle) -> Path {
    #[cfg(target_arch = "x86_64")]
    if sc.outer_r2() < SQRT_EXACT_BELOW {
        if avx512::available() {
            return Path::Avx512;
        }
        if avx2::available() {
            return Path::Avx2;
        }
    }
    let _ = (sc, SQRT_EXACT_BELOW);
    Path::Scalar
}

/// A footprint span cut into `x0..a` (left edge), `a..b` (interior) and `b..x1` (right
/// edge), `x0 <= a <= b <= x1`.
#[derive(Clone, Copy, Debug)]
struct Parts {
    a: u32,
    b: u32,
}

/// Where `s` (part of a footprint span) meets the interior `i0..i1` of its row.
#[inline]
fn parts(s: &Span, (i0, i1): (u32, u32)) -> Parts {
    if i0 < i1 {
        let a = i0.clamp(s.x0, s.x1);
        Parts {
            a,
            b: i1.clamp(a, s.x1),
        }
    } else {
        Parts { a: s.x1, b: s.x1 }
    }
}

/// The per-pixel walk over edge pixels `x0..x1` of row `y`: calls `f(x, e)` with each
/// pixel's effective alpha.
#[inline]
fn for_edge(sc: &SmoothCircle, y: u32, x0: u32, x1: u32, mut f: impl FnMut(u32, u32)) {
    if x0 >= x1 {
        return;
    }
    let (mut dx, dy) = sc.offsets(x0, y);
    let dy2 = dy * dy;
    for x in x0..x1 {
        let e = sc.effective_alpha(sc.coverage_at(dx * dx + dy2));
        f(x, u32::from(e));
        dx += circlefit_core::raster::SUBPIXELS;
    }
}

/// `p' = (c·e + p·(256 − e) + 128) >> 8` on the R, G, B bytes of `px`.
#[inline]
fn blend_pixel(rgb: [u8; 3], e: u32, px: &mut [u8]) {
    for (p, c) in px.iter_mut().zip(rgb) {
        *p = ((u32::from(c) * e + u32::from(*p) * (256 - e) + 128) >> 8) as u8;
    }
}

/// Blends `sc` over `runs` of `canvas` (each part of one of its footprint spans).
pub(crate) fn composite_runs(sc: &SmoothCircle, canvas: CanvasMut<'_>, runs: &[Span]) {
    composite_runs_with(sc, canvas, runs, path(sc));
}

/// [`composite_runs`] along `path` (one [`path`] allows, or [`Path::Scalar`]).
fn composite_runs_with(sc: &SmoothCircle, canvas: CanvasMut<'_>, runs: &[Span], path: Path) {
    match path {
        Path::Scalar => composite_scalar(sc, canvas, runs),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path` checked the CPU's features and the exactness bound.
        Path::Avx2 => unsafe { composite_queued(sc, canvas, runs, &avx2::Ramp::new(sc)) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx512 => unsafe { composite_queued(sc, canvas, runs, &avx512::Ramp::new(sc)) },
    }
}

/// [`composite_runs`] with the edge pixels one by one.
fn composite_scalar(sc: &SmoothCircle, mut canvas: CanvasMut<'_>, runs: &[Span]) {
    let (width, rgb, b) = (canvas.width(), sc.disc.rgb, crate::blend16(&sc.disc));
    for s in runs {
        let p = parts(s, sc.interior(s.y, width));
        let row = canvas.row_segment_mut(s.y, s.x0, s.x1);
        let (left, rest) = row.split_at_mut((p.a - s.x0) as usize * 4);
        let (inner, right) = rest.split_at_mut((p.b - p.a) as usize * 4);
        if !inner.is_empty() {
            kernels::blend(inner, &b);
        }
        for (x0, run) in [(s.x0, left), (p.b, right)] {
            let x1 = x0 + (run.len() / 4) as u32;
            for_edge(sc, s.y, x0, x1, |x, e| {
                let i = (x - x0) as usize * 4;
                blend_pixel(rgb, e, &mut run[i..i + 4]);
            });
        }
    }
}

/// [`composite_runs`] with the edge pixels queued for `edge`.
///
/// # Safety
/// As [`Edge`]'s methods.
#[cfg(target_arch = "x86_64")]
unsafe fn composite_queued<E: Edge>(
    sc: &SmoothCircle,
    mut canvas: CanvasMut<'_>,
    runs: &[Span],
    edge: &E,
) {
    let (width, b) = (canvas.width(), crate::blend16(&sc.disc));
    let (mut queue, mut interiors) = (EdgeQueue::new(), Interiors::new(sc, width, E::ROWS));
    for s in runs {
        let mut drain = |q: &mut EdgeQueue| {
            // SAFETY: the caller's guarantee; the queued pixels lie on the footprint.
            unsafe { edge.draw(q, canvas.reborrow()) }
        };
        if small(sc) {
            queue.push(s.y, s.x0, s.x1, &mut drain);
            continue;
        }
        // SAFETY: the caller's guarantee.
        let p = parts(s, unsafe { interiors.get(sc, s.y) });
        queue.push(s.y, s.x0, p.a, &mut drain);
        queue.push(s.y, p.b, s.x1, &mut drain);
        if p.a < p.b {
            kernels::blend(canvas.row_segment_mut(s.y, p.a, p.b), &b);
        }
    }
    // SAFETY: as above.
    unsafe { edge.draw(&mut queue, canvas) };
}

/// Σ (blend(kept) − reference)² over R, G, B of the edge pixels `x0..x1` of row `y`.
fn edge_error(sc: &SmoothCircle, y: u32, x0: u32, x1: u32, kept: &[u8], reference: &[u8]) -> u64 {
    let mut sum = 0u64;
    let rgb = sc.disc.rgb;
    for_edge(sc, y, x0, x1, |x, e| {
        let i = x as usize * 4;
        let mut px = [kept[i], kept[i + 1], kept[i + 2]];
        blend_pixel(rgb, e, &mut px);
        for (&p, &t) in px.iter().zip(&reference[i..i + 3]) {
            let d = i32::from(p) - i32::from(t);
            sum += (d * d) as u64;
        }
    });
    sum
}

/// Σ (ΔR² + ΔG² + ΔB²) over `spans` (footprint spans of `sc`) between `kept` with `sc`
/// composited and `reference`; nothing is written.
pub(crate) fn squared_error(
    sc: &SmoothCircle,
    spans: &[Span],
    kept: CanvasRef<'_>,
    reference: CanvasRef<'_>,
) -> u64 {
    squared_error_with(sc, spans, kept, reference, path(sc))
}

/// [`squared_error`] along `path`, as [`composite_runs_with`].
fn squared_error_with(
    sc: &SmoothCircle,
    spans: &[Span],
    kept: CanvasRef<'_>,
    reference: CanvasRef<'_>,
    path: Path,
) -> u64 {
    let mut interior = Interior::new(sc, kept, reference);
    let edges = match path {
        Path::Scalar => {
            let width = kept.width();
            let mut sum = 0;
            for s in spans {
                let (k, r) = (kept.row(s.y), reference.row(s.y));
                let p = parts(s, sc.interior(s.y, width));
                sum += edge_error(sc, s.y, s.x0, p.a, k, r) + edge_error(sc, s.y, p.b, s.x1, k, r);
                interior.push(s.y, p);
            }
            sum
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path` checked the CPU's features and the exactness bound.
        Path::Avx2 => unsafe { queued_error(sc, spans, &mut interior, &avx2::Ramp::new(sc)) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Path::Avx512 => unsafe { queued_error(sc, spans, &mut interior, &avx512::Ramp::new(sc)) },
    };
    edges + interior.finish()
}

/// The interior runs of a fused score, sent to the hard kernel in chunks (not one call per
/// row).
struct Interior<'a> {
    rows: kernels::SpanRows<'a>,
    blend: crate::Blend16,
    chunk: [Span; INTERIOR_CHUNK],
    n: usize,
    sum: u64,
}

impl<'a> Interior<'a> {
    fn new(sc: &SmoothCircle, kept: CanvasRef<'a>, reference: CanvasRef<'a>) -> Self {
        let none = Span { y: 0, x0: 0, x1: 0 };
        Self {
            rows: kernels::SpanRows {
                spans: &[],
                kept,
                reference,
            },
            blend: crate::blend16(&sc.disc),
            chunk: [none; INTERIOR_CHUNK],
            n: 0,
            sum: 0,
        }
    }

    /// Queues the interior of `p`, in row `y`, if it has one.
    #[inline]
    fn push(&mut self, y: u32, p: Parts) {
        if p.a < p.b {
            self.chunk[self.n] = Span {
                y,
                x0: p.a,
                x1: p.b,
            };
            self.n += 1;
            if self.n == INTERIOR_CHUNK {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let rows = kernels::SpanRows {
            spans: &self.chunk[..self.n],
            ..self.rows
        };
        self.sum += kernels::spans_blend_sse(&rows, &self.blend);
        self.n = 0;
    }

    /// The sum over every queued run.
    fn finish(mut self) -> u64 {
        self.flush();
        self.sum
    }
}

/// The edge error of `spans` with the edge pixels queued for `edge`, the interiors pushed
/// to `interior`.
///
/// # Safety
/// As [`Edge`]'s methods.
#[cfg(target_arch = "x86_64")]
unsafe fn queued_error<E: Edge>(
    sc: &SmoothCircle,
    spans: &[Span],
    interior: &mut Interior<'_>,
    edge: &E,
) -> u64 {
    let (kept, reference) = (interior.rows.kept, interior.rows.reference);
    let mut sum = 0;
    let (mut queue, mut interiors) = (EdgeQueue::new(), Interiors::new(sc, kept.width(), E::ROWS));
    let mut drain = |q: &mut EdgeQueue| {
        // SAFETY: the caller's guarantee; the queued pixels lie on the footprint.
        sum += unsafe { edge.squared_error(q, kept, reference) };
    };
    for s in spans {
        if small(sc) {
            queue.push(s.y, s.x0, s.x1, &mut drain);
            continue;
        }
        // SAFETY: the caller's guarantee.
        let p = parts(s, unsafe { interiors.get(sc, s.y) });
        queue.push(s.y, s.x0, p.a, &mut drain);
        queue.push(s.y, p.b, s.x1, &mut drain);
        interior.push(s.y, p);
    }
    drain(&mut queue);
    sum
}

/// A vector edge kernel: blends or scores the queued edge pixels of one circle.
#[cfg(target_arch = "x86_64")]
trait Edge {
    /// Whether interiors come eight rows per vector of square roots (AVX-512's
    /// [`spans::avx512::row_spans`](crate::spans)) rather than one scalar root a row.
    const ROWS: bool;

    /// Blends the circle over the queued pixels of `canvas` and empties the queue.
    ///
    /// # Safety
    /// The CPU has the kernel's features, and every queued pixel lies on the circle's
    /// footprint (inside the canvas; squared distances below `SQRT_EXACT_BELOW`).
    unsafe fn draw(&self, queue: &mut EdgeQueue, canvas: CanvasMut<'_>);

    /// Σ (blend(kept) − reference)² over R, G, B of the queued pixels; empties the queue.
    ///
    /// # Safety
    /// As [`Edge::draw`].
    unsafe fn squared_error(
        &self,
        queue: &mut EdgeQueue,
        kept: CanvasRef<'_>,
        reference: CanvasRef<'_>,
    ) -> u64;
}

/// Interiors, eight rows at a time with AVX-512 (the spans come row by row, so one
/// vector of square roots serves eight of them), else [`SmoothCircle::interior`]'s one
/// scalar root a row.
#[cfg(target_arch = "x86_64")]
struct Interiors {
    width: u32,
    /// Whether rows come eight at a time.
    vector: bool,
    /// The first of the rows in `spans`; `None` before the first.
    y0: Option<u32>,
    spans: [(u32, u32); 8],
}

#[cfg(target_arch = "x86_64")]
impl Interiors {
    fn new(sc: &SmoothCircle, width: u32, vector: bool) -> Self {
        Self {
            width,
            vector: vector && sc.inner_r2() < SQRT_EXACT_BELOW,
            y0: None,
            spans: [(0, 0); 8],
        }
    }

    /// `sc.interior(y, width)`.
    ///
    /// # Safety
    /// If made with `vector`, the CPU must have AVX-512F and DQ.
    #[inline]
    unsafe fn get(&mut self, sc: &SmoothCircle, y: u32) -> (u32, u32) {
        if !self.vector {
            return sc.interior(y, self.width);
        }
        match self.y0 {
            Some(y0) if y >= y0 && y - y0 < 8 => self.spans[(y - y0) as usize],
            _ => {
                let (cx, cy, r2) = (sc.disc.cx, sc.disc.cy, sc.inner_r2());
                // SAFETY: the caller's guarantee; `r2` is below 2⁵² (checked in `new`).
                self.spans = unsafe { crate::spans::avx512::row_spans(cx, cy, r2, y, self.width) };
                self.y0 = Some(y);
                self.spans[0]
            }
        }
    }
}

/// Edge pixels queued for the vector kernels: several short runs (an edge run is often two
/// or three pixels) share each vector of square roots, where one vector per run would leave
/// most of its lanes idle.
#[cfg(target_arch = "x86_64")]
struct EdgeQueue {
    runs: [Span; QUEUED_RUNS],
    n: usize,
    pixels: usize,
}

/// Runs queued at most (a circle's edge runs are two a row).
#[cfg(target_arch = "x86_64")]
const QUEUED_RUNS: usize = 128;

/// Pixels queued at most (longer runs are split).
#[cfg(target_arch = "x86_64")]
const QUEUED_PIXELS: usize = 1024;

#[cfg(target_arch = "x86_64")]
impl EdgeQueue {
    fn new() -> Self {
        Self {
            runs: [Span { y: 0, x0: 0, x1: 0 }; QUEUED_RUNS],
            n: 0,
            pixels: 0,
        }
    }

    /// Queues pixels `x0..x1` of row `y`, handing the queue to `drain` (which must empty
    /// it) whenever it is full.
    #[inline]
    fn push(&mut self, y: u32, mut x0: u32, x1: u32, drain: &mut impl FnMut(&mut Self)) {
        while x0 < x1 {
            if self.n == QUEUED_RUNS || self.pixels == QUEUED_PIXELS {
                drain(self);
                debug_assert_eq!((self.n, self.pixels), (0, 0));
            }
            let len = (x1 - x0).min((QUEUED_PIXELS - self.pixels) as u32);
            self.runs[self.n] = Span {
                y,
                x0,
                x1: x0 + len,
            };
            self.n += 1;
            self.pixels += len as usize;
            x0 += len;
        }
    }

    /// The queued runs, in order.
    fn runs(&self) -> &[Span] {
        &self.runs[..self.n]
    }

    fn clear(&mut self) {
        self.n = 0;
        self.pixels = 0;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use circlefit_core::smooth::SmoothCircle;
    use circlefit_core::{CanvasMut, CanvasRef};

    use super::{EdgeQueue, QUEUED_PIXELS, QUOTIENT_NUDGE};

    pub(super) fn available() -> bool {
        crate::kernels::has_avx512()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }

    /// Lane `j` of 32 16-bit lanes (8 RGBA pixels) takes pixel `j / 4`'s value.
    const PIXEL_OF_LANE: [u16; 32] = {
        let mut t = [0u16; 32];
        let mut j = 0;
        while j < 32 {
            t[j] = (j / 4) as u16;
            j += 1;
        }
        t
    };

    /// The R, G, B lanes of 8 RGBA pixels in 32 16-bit lanes (alpha lanes off).
    const RGB_LANES: u32 = 0x7777_7777;

    /// Steps between flushes of the 32-bit accumulator: each adds at most 2·255² per lane,
    /// and the sum of its 16 lanes must fit 32 bits (16·2·255²·2048 < 2³²).
    const FLUSH_STEPS: u32 = 2048;

    /// The mask of the first `n` (at most 8) lanes.
    #[inline]
    fn first(n: usize) -> u8 {
        if n >= 8 { u8::MAX } else { (1u8 << n) - 1 }
    }

    /// One circle's constants for its edge pixels.
    pub(super) struct Ramp {
        cx: i64,
        cy: i64,
        /// `256·i` in lane `i`.
        lanes: __m512i,
        /// `r + w/2`.
        outer: __m512d,
        /// The ramp width `w`.
        width: __m512d,
        /// `256 / w`, rounded.
        reciprocal: __m512d,
        alpha: __m512d,
        rgb: __m512i,
        spread: __m512i,
    }

    impl Ramp {
        /// # Safety
        /// The CPU must have AVX-512F, DQ, BW and VL, and the ramp must be at most 2¹⁹
        /// wide (the canvas's bound makes it at most 2¹⁵).
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        pub(super) unsafe fn new(sc: &SmoothCircle) -> Self {
            let [r, g, b] = sc.disc.rgb.map(i16::from);
            let w = sc.ramp_width() as f64;
            // SAFETY: the table is 64 readable bytes; the load is unaligned.
            let spread = unsafe { _mm512_loadu_si512(PIXEL_OF_LANE.as_ptr().cast()) };
            Self {
                cx: sc.disc.cx,
                cy: sc.disc.cy,
                lanes: _mm512_set_epi64(1792, 1536, 1280, 1024, 768, 512, 256, 0),
                outer: _mm512_set1_pd(sc.outer() as f64),
                width: _mm512_set1_pd(w),
                reciprocal: _mm512_set1_pd(256.0 / w),
                alpha: _mm512_set1_pd(f64::from(sc.disc.alpha)),
                rgb: _mm512_broadcast_i64x2(_mm_set_epi16(0, b, g, r, 0, b, g, r)),
                spread,
            }
        }

        /// The squared distances `D` of the queued pixels, in queue order, into `d2`.
        #[inline]
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        fn distances(&self, queue: &EdgeQueue, d2: &mut [MaybeUninit<f64>; QUEUED_PIXELS]) {
            let mut at = 0;
            for run in queue.runs() {
                let dy = i64::from(run.y) * 256 + 128 - self.cy;
                // Exact: |dx|, |dy| < 2²⁶ and D < 2⁵² on the footprint (the caller's bound).
                let dy2 = _mm512_set1_pd((dy * dy) as f64);
                let mut dx = i64::from(run.x0) * 256 + 128 - self.cx;
                let mut left = (run.x1 - run.x0) as usize;
                while left > 0 {
                    let n = left.min(8);
                    let x = _mm512_cvtepi64_pd(_mm512_add_epi64(_mm512_set1_epi64(dx), self.lanes));
                    let d = _mm512_fmadd_pd(x, x, dy2);
                    // SAFETY: `at + n <= queue.pixels <= QUEUED_PIXELS`; only `n` lanes are
                    // written.
                    unsafe { _mm512_mask_storeu_pd(d2.as_mut_ptr().add(at).cast(), first(n), d) };
                    (at, left, dx) = (at + n, left - n, dx + 2048);
                }
            }
        }

        /// The effective alphas `e` of the queued pixels, in queue order, into `e`: the
        /// square roots eight pixels a vector whatever runs they come from.
        ///
        /// `e = (a·k + 128) >> 8` with `k = ⌊256·clamp(r + w/2 − ⌊√D⌋, 0, w) / w⌋`, all in
        /// `f64` and exact: `D < 2⁵²` converts exactly and its root is correctly rounded,
        /// so truncating it floors it (as in the span walk); `x = clamp(…)` is a whole
        /// number at most `w ≤ 2¹⁹`, and `x·(256/w)` computed with the rounded reciprocal
        /// is within 2⁻⁴⁴ of the quotient `q ≤ 256`. A whole `q` may come out a hair below
        /// itself, so [`QUOTIENT_NUDGE`] (2⁻²⁰) is added before truncating; a fractional
        /// `q` is at least `1/w ≥ 2⁻¹⁹` from the next whole number, more than the nudge and
        /// the error together, so it still truncates to `⌊q⌋`. `a·k + 128 ≤ 2¹⁷` and the
        /// shift is a multiplication by 2⁻⁸, both exact.
        #[inline]
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        fn alphas(&self, queue: &EdgeQueue, e: &mut [MaybeUninit<u16>; QUEUED_PIXELS]) {
            let mut d2 = [MaybeUninit::<f64>::uninit(); QUEUED_PIXELS];
            self.distances(queue, &mut d2);
            const TRUNC: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
            let zero = _mm512_setzero_pd();
            for at in (0..queue.pixels).step_by(8) {
                let m = first(queue.pixels - at);
                // SAFETY: the lanes of `m` are inside the queue's pixels, all written by
                // `distances`; the others are not read.
                let d = unsafe { _mm512_maskz_loadu_pd(m, d2.as_ptr().add(at).cast()) };
                let d = _mm512_roundscale_pd::<TRUNC>(_mm512_sqrt_pd(d));
                let x = _mm512_min_pd(
                    _mm512_max_pd(_mm512_sub_pd(self.outer, d), zero),
                    self.width,
                );
                let q = _mm512_fmadd_pd(x, self.reciprocal, _mm512_set1_pd(QUOTIENT_NUDGE));
                let k = _mm512_roundscale_pd::<TRUNC>(q);
                let a = _mm512_fmadd_pd(self.alpha, k, _mm512_set1_pd(128.0));
                let a = _mm512_mul_pd(a, _mm512_set1_pd(1.0 / 256.0));
                let a = _mm256_cvtepi32_epi16(_mm512_cvttpd_epi32(a));
                // SAFETY: as above, `m`'s lanes are inside the queue's pixels.
                unsafe { _mm_mask_storeu_epi16(e.as_mut_ptr().add(at).cast(), m, a) };
            }
        }

        /// The effective alphas `e[at..]` of 8 (or `n`) pixels spread to their R, G, B
        /// lanes (alpha lanes 0).
        ///
        /// # Safety
        /// `e[at..at + n]` must have been written.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
        unsafe fn spread(
            &self,
            e: &[MaybeUninit<u16>; QUEUED_PIXELS],
            at: usize,
            n: usize,
        ) -> __m512i {
            // SAFETY: the caller's guarantee; only `n` lanes are read.
            let v = unsafe { _mm_maskz_loadu_epi16(first(n), e.as_ptr().add(at).cast()) };
            _mm512_maskz_permutexvar_epi16(RGB_LANES, self.spread, _mm512_castsi128_si512(v))
        }

        /// `(c·e + p·(256 − e) + 128) >> 8` on 16-bit lanes (alpha lanes, with `e = 0`,
        /// unchanged); no lane can exceed 255·256 + 128.
        #[inline]
        #[target_feature(enable = "avx512f,avx512bw")]
        fn blend(&self, p: __m512i, e: __m512i) -> __m512i {
            let inv = _mm512_sub_epi16(_mm512_set1_epi16(256), e);
            let sum = _mm512_add_epi16(_mm512_mullo_epi16(self.rgb, e), _mm512_mullo_epi16(p, inv));
            _mm512_srli_epi16(_mm512_add_epi16(sum, _mm512_set1_epi16(128)), 8)
        }

        /// [`super::Edge::draw`].
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        fn draw_queue(&self, queue: &mut EdgeQueue, mut canvas: CanvasMut<'_>) {
            let mut e = [MaybeUninit::<u16>::uninit(); QUEUED_PIXELS];
            self.alphas(queue, &mut e);
            let mut at = 0;
            for run in queue.runs() {
                let pixels = canvas.row_segment_mut(run.y, run.x0, run.x1);
                for chunk in pixels.chunks_mut(32) {
                    let (p, mask) = load(chunk);
                    // SAFETY: `alphas` wrote the queue's pixels.
                    let e = unsafe { self.spread(&e, at, chunk.len() / 4) };
                    let out = _mm512_cvtepi16_epi8(self.blend(p, e));
                    // SAFETY: `mask` selects the bytes of `chunk`, all writable.
                    unsafe { _mm256_mask_storeu_epi8(chunk.as_mut_ptr().cast(), mask, out) };
                    at += chunk.len() / 4;
                }
            }
            queue.clear();
        }

        /// [`super::Edge::squared_error`].
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        fn queue_error(
            &self,
            queue: &mut EdgeQueue,
            kept: CanvasRef<'_>,
            reference: CanvasRef<'_>,
        ) -> u64 {
            let mut e = [MaybeUninit::<u16>::uninit(); QUEUED_PIXELS];
            self.alphas(queue, &mut e);
            let (mut acc, mut steps, mut total) = (_mm512_setzero_si512(), 0, 0u64);
            let mut at = 0;
            for run in queue.runs() {
                let bytes = run.x0 as usize * 4..run.x1 as usize * 4;
                let k = &kept.row(run.y)[bytes.clone()];
                let r = &reference.row(run.y)[bytes];
                for (k, r) in k.chunks(32).zip(r.chunks(32)) {
                    let ((p, mask), (t, _)) = (load(k), load(r));
                    // SAFETY: `alphas` wrote the queue's pixels.
                    let e = unsafe { self.spread(&e, at, k.len() / 4) };
                    // Alpha lanes and lanes past the end are dropped.
                    let d = _mm512_maskz_sub_epi16(mask & RGB_LANES, self.blend(p, e), t);
                    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(d, d));
                    (at, steps) = (at + k.len() / 4, steps + 1);
                    if steps == FLUSH_STEPS {
                        total += u64::from(_mm512_reduce_add_epi32(acc) as u32);
                        (acc, steps) = (_mm512_setzero_si512(), 0);
                    }
                }
            }
            queue.clear();
            total + u64::from(_mm512_reduce_add_epi32(acc) as u32)
        }
    }

    impl super::Edge for Ramp {
        const ROWS: bool = true;

        unsafe fn draw(&self, queue: &mut EdgeQueue, canvas: CanvasMut<'_>) {
            // SAFETY: the caller's guarantee.
            unsafe { self.draw_queue(queue, canvas) }
        }

        unsafe fn squared_error(
            &self,
            queue: &mut EdgeQueue,
            kept: CanvasRef<'_>,
            reference: CanvasRef<'_>,
        ) -> u64 {
            // SAFETY: the caller's guarantee.
            unsafe { self.queue_error(queue, kept, reference) }
        }
    }

    /// The bytes of `chunk` (at most 32) in 16-bit lanes, zeros past its end, and the mask of
    /// its lanes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    fn load(chunk: &[u8]) -> (__m512i, u32) {
        let n = chunk.len().min(32);
        let mask = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
        // SAFETY: only the first `n` bytes are read, all inside `chunk`; masked-off bytes do
        // not fault.
        let v = unsafe { _mm256_maskz_loadu_epi8(mask, chunk.as_ptr().cast()) };
        (_mm512_cvtepu8_epi16(v), mask)
    }
}

/// The queued edge kernel with AVX2 and FMA: four pixels a vector, the same arithmetic as
/// [`avx512`]'s.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use circlefit_core::smooth::SmoothCircle;
    use circlefit_core::{CanvasMut, CanvasRef};

    use super::{EdgeQueue, QUEUED_PIXELS, QUOTIENT_NUDGE};

    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    /// Entries past the queue's pixels that the kernels write and read: whole vectors.
    const SLACK: usize = 8;

    /// `pshufb` control spreading 4 16-bit values (the low 8 bytes of each 128-bit half) to
    /// the R, G, B lanes of 4 RGBA pixels in 16 16-bit lanes (alpha lanes 0).
    const SPREAD: [i8; 32] = [
        0, 1, 0, 1, 0, 1, -1, -1, 2, 3, 2, 3, 2, 3, -1, -1, //
        4, 5, 4, 5, 4, 5, -1, -1, 6, 7, 6, 7, 6, 7, -1, -1,
    ];

    /// Steps between flushes of the 32-bit accumulator: each adds at most 2·255² per lane,
    /// and the sum of its 8 lanes must fit 32 bits (8·2·255²·4096 < 2³²).
    const FLUSH_STEPS: u32 = 4096;

    /// One circle's constants for its edge pixels.
    pub(super) struct Ramp {
        cx: i64,
        cy: i64,
        /// `256·i` in lane `i`.
        lanes: __m256d,
        outer: __m256d,
        width: __m256d,
        reciprocal: __m256d,
        alpha: __m256d,
        rgb: __m256i,
        spread: __m256i,
    }

    impl Ramp {
        /// # Safety
        /// The CPU must have AVX2 and FMA, and the ramp must be at most 2¹⁹ wide (the
        /// canvas's bound makes it at most 2¹⁵).
        #[target_feature(enable = "avx2,fma")]
        pub(super) unsafe fn new(sc: &SmoothCircle) -> Self {
            let [r, g, b] = sc.disc.rgb.map(i16::from);
            let w = sc.ramp_width() as f64;
            // SAFETY: the table is 32 readable bytes; the load is unaligned.
            let spread = unsafe { _mm256_loadu_si256(SPREAD.as_ptr().cast()) };
            Self {
                cx: sc.disc.cx,
                cy: sc.disc.cy,
                lanes: _mm256_set_pd(768.0, 512.0, 256.0, 0.0),
                outer: _mm256_set1_pd(sc.outer() as f64),
                width: _mm256_set1_pd(w),
                reciprocal: _mm256_set1_pd(256.0 / w),
                alpha: _mm256_set1_pd(f64::from(sc.disc.alpha)),
                rgb: _mm256_set_epi16(0, b, g, r, 0, b, g, r, 0, b, g, r, 0, b, g, r),
                spread,
            }
        }

        /// The mask of the first `n` 64-bit lanes (none for `n <= 0`).
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn first(n: i64) -> __m256i {
            _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_set_epi64x(3, 2, 1, 0))
        }

        /// The squared distances `D` of the queued pixels, in queue order, into `d2`.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn distances(&self, queue: &EdgeQueue, d2: &mut [MaybeUninit<f64>; QUEUED_PIXELS + SLACK]) {
            let mut at = 0;
            for run in queue.runs() {
                let dy = i64::from(run.y) * 256 + 128 - self.cy;
                // Exact: |dx|, |dy| < 2²⁶ and D < 2⁵² on the footprint (the caller's bound).
                let dy2 = _mm256_set1_pd((dy * dy) as f64);
                let mut dx = i64::from(run.x0) * 256 + 128 - self.cx;
                let mut left = (run.x1 - run.x0) as usize;
                while left > 0 {
                    let n = left.min(4);
                    let x = _mm256_add_pd(_mm256_set1_pd(dx as f64), self.lanes);
                    let d = _mm256_fmadd_pd(x, x, dy2);
                    // SAFETY: `at + n <= queue.pixels <= QUEUED_PIXELS`; only `n` lanes are
                    // written.
                    unsafe {
                        _mm256_maskstore_pd(
                            d2.as_mut_ptr().add(at).cast(),
                            Self::first(n as i64),
                            d,
                        )
                    };
                    (at, left, dx) = (at + n, left - n, dx + 1024);
                }
            }
        }

        /// The effective alphas of the queued pixels into `e[..pixels]`, as
        /// [`avx512::Ramp`](super::avx512)'s `alphas` computes them (the same operations,
        /// four lanes a vector); `e` is written in whole vectors up to `pixels + 3`, so that
        /// every vector the blending reads has been written.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn alphas(&self, queue: &EdgeQueue, e: &mut [MaybeUninit<u16>; QUEUED_PIXELS + SLACK]) {
            let mut d2 = [MaybeUninit::<f64>::uninit(); QUEUED_PIXELS + SLACK];
            self.distances(queue, &mut d2);
            const TRUNC: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
            let zero = _mm256_setzero_pd();
            for at in (0..queue.pixels + 3).step_by(4) {
                let m = Self::first(queue.pixels as i64 - at as i64);
                // SAFETY: `at + 4 <= QUEUED_PIXELS + SLACK`; the lanes of `m` are the queue's
                // pixels, all written by `distances`; the others are not read (they are 0).
                let d = unsafe { _mm256_maskload_pd(d2.as_ptr().add(at).cast(), m) };
                let d = _mm256_round_pd::<TRUNC>(_mm256_sqrt_pd(d));
                let x = _mm256_min_pd(
                    _mm256_max_pd(_mm256_sub_pd(self.outer, d), zero),
                    self.width,
                );
                let q = _mm256_fmadd_pd(x, self.reciprocal, _mm256_set1_pd(QUOTIENT_NUDGE));
                let k = _mm256_round_pd::<TRUNC>(q);
                let a = _mm256_fmadd_pd(self.alpha, k, _mm256_set1_pd(128.0));
                let a = _mm256_mul_pd(a, _mm256_set1_pd(1.0 / 256.0));
                let a = _mm256_cvttpd_epi32(a);
                let a = _mm_packus_epi32(a, a);
                // SAFETY: `at + 4 <= QUEUED_PIXELS + SLACK`; 8 bytes are written.
                unsafe { _mm_storel_epi64(e.as_mut_ptr().add(at).cast(), a) };
            }
        }

        /// The effective alphas `e[at..at + 4]` spread to their pixels' R, G, B lanes.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        ///
        /// # Safety
        /// `e[at..at + 4]` must have been written (by [`Ramp::alphas`], for `at` below the
        /// queue's pixels).
        unsafe fn spread(
            &self,
            e: &[MaybeUninit<u16>; QUEUED_PIXELS + SLACK],
            at: usize,
        ) -> __m256i {
            assert!(at + 4 <= e.len());
            // SAFETY: 8 bytes from `at`, inside `e` (checked above) and written (the
            // caller's guarantee).
            let v = unsafe { _mm_loadl_epi64(e.as_ptr().add(at).cast()) };
            _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(v), self.spread)
        }

        /// `(c·e + p·(256 − e) + 128) >> 8` on 16-bit lanes (alpha lanes, with `e = 0`,
        /// unchanged).
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn blend(&self, p: __m256i, e: __m256i) -> __m256i {
            let inv = _mm256_sub_epi16(_mm256_set1_epi16(256), e);
            let sum = _mm256_add_epi16(_mm256_mullo_epi16(self.rgb, e), _mm256_mullo_epi16(p, inv));
            _mm256_srli_epi16(_mm256_add_epi16(sum, _mm256_set1_epi16(128)), 8)
        }

        /// [`super::Edge::draw`].
        #[target_feature(enable = "avx2,fma")]
        fn draw_queue(&self, queue: &mut EdgeQueue, mut canvas: CanvasMut<'_>) {
            let mut e = [MaybeUninit::<u16>::uninit(); QUEUED_PIXELS + SLACK];
            self.alphas(queue, &mut e);
            let mut at = 0;
            for run in queue.runs() {
                let pixels = canvas.row_segment_mut(run.y, run.x0, run.x1);
                for chunk in pixels.chunks_mut(16) {
                    // SAFETY: `at` is below the queue's pixels.
                    let out = self.blend(load(chunk), unsafe { self.spread(&e, at) });
                    let out = _mm256_permute4x64_epi64::<0b1000>(_mm256_packus_epi16(out, out));
                    let mut bytes = [0u8; 16];
                    // SAFETY: 16 writable bytes.
                    unsafe {
                        _mm_storeu_si128(bytes.as_mut_ptr().cast(), _mm256_castsi256_si128(out))
                    };
                    chunk.copy_from_slice(&bytes[..chunk.len()]);
                    at += chunk.len() / 4;
                }
            }
            queue.clear();
        }

        /// [`super::Edge::squared_error`].
        #[target_feature(enable = "avx2,fma")]
        fn queue_error(
            &self,
            queue: &mut EdgeQueue,
            kept: CanvasRef<'_>,
            reference: CanvasRef<'_>,
        ) -> u64 {
            let mut e = [MaybeUninit::<u16>::uninit(); QUEUED_PIXELS + SLACK];
            self.alphas(queue, &mut e);
            let lane = _mm256_set_epi16(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
            let rgb = _mm256_set1_epi64x(0x0000_ffff_ffff_ffff);
            let (mut acc, mut steps, mut total) = (_mm256_setzero_si256(), 0, 0u64);
            let mut at = 0;
            for run in queue.runs() {
                let bytes = run.x0 as usize * 4..run.x1 as usize * 4;
                let k = &kept.row(run.y)[bytes.clone()];
                let r = &reference.row(run.y)[bytes];
                for (k, r) in k.chunks(16).zip(r.chunks(16)) {
                    let (p, t) = (load(k), load(r));
                    // R, G, B lanes of the chunk's pixels only.
                    let inside = _mm256_cmpgt_epi16(_mm256_set1_epi16(k.len() as i16), lane);
                    // SAFETY: `at` is below the queue's pixels.
                    let d = _mm256_sub_epi16(self.blend(p, unsafe { self.spread(&e, at) }), t);
                    let d = _mm256_and_si256(d, _mm256_and_si256(inside, rgb));
                    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
                    (at, steps) = (at + k.len() / 4, steps + 1);
                    if steps == FLUSH_STEPS {
                        total += u64::from(sum32(acc));
                        (acc, steps) = (_mm256_setzero_si256(), 0);
                    }
                }
            }
            queue.clear();
            total + u64::from(sum32(acc))
        }
    }

    impl super::Edge for Ramp {
        const ROWS: bool = false;

        unsafe fn draw(&self, queue: &mut EdgeQueue, canvas: CanvasMut<'_>) {
            // SAFETY: the caller's guarantee.
            unsafe { self.draw_queue(queue, canvas) }
        }

        unsafe fn squared_error(
            &self,
            queue: &mut EdgeQueue,
            kept: CanvasRef<'_>,
            reference: CanvasRef<'_>,
        ) -> u64 {
            // SAFETY: the caller's guarantee.
            unsafe { self.queue_error(queue, kept, reference) }
        }
    }

    /// The bytes of `chunk` (at most 16) in 16-bit lanes, zeros past its end.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn load(chunk: &[u8]) -> __m256i {
        let mut bytes = [0u8; 16];
        bytes[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: 16 readable bytes.
        _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) })
    }

    /// The sum of the 8 32-bit lanes, wrapping (the caller keeps it below 2³²).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn sum32(v: __m256i) -> u32 {
        let mut lanes = [0u32; 8];
        // SAFETY: 32 writable bytes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
        lanes.iter().fold(0u32, |a, &b| a.wrapping_add(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use circlefit_core::{Canvas, Circle};

    fn canvas(w: u32, h: u32, seed: u64) -> Canvas {
        let mut s = seed | 1;
        let bytes = (0..w * h * 4)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect();
        Canvas::from_vec(w, h, bytes).unwrap()
    }

    /// The definition: every pixel of the canvas through `SmoothCircle::composite_pixel`.
    fn naive(sc: &SmoothCircle, c: &mut Canvas) {
        let (w, h) = (c.width(), c.height());
        let mut m = c.as_mut();
        for j in 0..h {
            for i in 0..w {
                sc.composite_pixel(i, j, m.row_segment_mut(j, i, i + 1));
            }
        }
    }

    /// The circle in one of the anti-aliased models: its own edge width (free edges) if
    /// `edge` gives one, else soft edges if `side` gives the canvas's side (a soft ramp's
    /// cap comes from it, so wide ramps meet small test canvases), else smooth ones.
    fn model(circle: Circle, side: Option<u32>, edge: Option<f64>) -> SmoothCircle {
        match (edge, side) {
            (Some(e), _) => SmoothCircle::free(&circle.with_edge_width(e).unwrap(), 64, 64),
            (None, Some(s)) => SmoothCircle::soft(&circle, s, s),
            (None, None) => SmoothCircle::new(&circle),
        }
    }

    /// The edge paths this CPU can run for `sc`: one by one, and the vector kernels.
    fn paths(sc: &SmoothCircle) -> Vec<Path> {
        let mut p = vec![Path::Scalar];
        #[cfg(target_arch = "x86_64")]
        if sc.outer_r2() < SQRT_EXACT_BELOW {
            if avx2::available() {
                p.push(Path::Avx2);
            }
            if avx512::available() {
                p.push(Path::Avx512);
            }
        }
        p
    }

    /// Every edge path this CPU has draws `sc` over a `w` × `h` canvas as the per-pixel
    /// definition does, and its fused error equals drawing and summing.
    fn check_kernels(
        sc: &SmoothCircle,
        w: u32,
        h: u32,
        seed: u64,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let sc = *sc;
        let (kept, reference) = (canvas(w, h, seed), canvas(w, h, seed + 7));
        let mut want = kept.clone();
        naive(&sc, &mut want);
        let mut spans = Vec::new();
        sc.spans(w, h, &mut spans);
        let mut fused = Vec::new();
        for path in paths(&sc) {
            let mut got = kept.clone();
            composite_runs_with(&sc, got.as_mut(), &spans, path);
            proptest::prop_assert_eq!(got.as_bytes(), want.as_bytes(), "{:?}", path);
            fused.push(squared_error_with(
                &sc,
                &spans,
                kept.as_ref(),
                reference.as_ref(),
                path,
            ));
        }
        let mut direct = 0u64;
        for (p, t) in want
            .as_bytes()
            .chunks_exact(4)
            .zip(reference.as_bytes().chunks_exact(4))
        {
            for k in 0..3 {
                let d = i64::from(p[k]) - i64::from(t[k]);
                direct += (d * d) as u64;
            }
        }
        let mut untouched = 0u64;
        let mut covered = vec![false; (w * h) as usize];
        for s in &spans {
            for x in s.x0..s.x1 {
                covered[(s.y * w + x) as usize] = true;
            }
        }
        for (i, (p, t)) in kept
            .as_bytes()
            .chunks_exact(4)
            .zip(reference.as_bytes().chunks_exact(4))
            .enumerate()
        {
            if !covered[i] {
                for k in 0..3 {
                    let d = i64::from(p[k]) - i64::from(t[k]);
                    untouched += (d * d) as u64;
                }
            }
        }
        for f in fused {
            proptest::prop_assert_eq!(f + untouched, direct);
        }
        Ok(())
    }

    #[test]
    fn queues_that_fill_drain_and_long_runs_split() {
        // A 5000 px circle with 32 px ramps, its top edge across a 1300 px canvas: rows of
        // edge pixels longer than the queue, and more rows than it holds.
        let circle = Circle::new(650.0, 5030.0, 5000.0, [0.9, 0.3, 0.6], 0.8).unwrap();
        let sc = SmoothCircle::free(&circle.with_edge_width(32.0).unwrap(), 1300, 60);
        assert_eq!(
            paths(&sc).len(),
            1 + usize::from(avx2::available()) + usize::from(avx512::available())
        );
        check_kernels(&sc, 1300, 60, 5).unwrap();
        // Many small circles' whole rows: one queue for each circle still.
        let small = Circle::new(20.3, 30.7, 11.0, [0.1, 0.5, 0.2], 0.4).unwrap();
        check_kernels(&SmoothCircle::soft(&small, 512, 512), 60, 60, 9).unwrap();
    }

    #[test]
    fn circles_beyond_the_vector_bound_take_the_exact_scalar_path() {
        // Radius 300,000 px: r² in 1/256 px is above 2⁵², so edges use the fixed-up root.
        let circle = Circle::new(-299_990.0, 5.0, 300_000.0, [0.5, 0.2, 0.7], 0.8).unwrap();
        let sc = SmoothCircle::new(&circle);
        assert_eq!(path(&sc), Path::Scalar);
        let (kept, reference) = (canvas(24, 12, 3), canvas(24, 12, 4));
        let mut want = kept.clone();
        naive(&sc, &mut want);
        let mut spans = Vec::new();
        sc.spans(24, 12, &mut spans);
        assert!(!spans.is_empty());
        let mut got = kept.clone();
        composite_runs(&sc, got.as_mut(), &spans);
        assert_eq!(got.as_bytes(), want.as_bytes());
        let covered: u64 = spans
            .iter()
            .map(|s| {
                let (a, b) = (s.x0 as usize * 4, s.x1 as usize * 4);
                circlefit_simd::squared_error_portable(
                    &want.as_ref().row(s.y)[a..b],
                    &reference.as_ref().row(s.y)[a..b],
                )
            })
            .sum();
        let fused = squared_error(&sc, &spans, kept.as_ref(), reference.as_ref());
        assert_eq!(fused, covered);
    }

    proptest::proptest! {
        /// Drawing over the footprint spans equals the per-pixel definition everywhere, and
        /// the fused error equals drawing and summing.
        #[test]
        fn kernels_equal_the_definition(
            x in -10.0f64..90.0,
            y in -10.0f64..50.0,
            r in 0.0f64..40.0,
            alpha in 0.01f64..1.0,
            w in 1u32..80,
            h in 1u32..40,
            seed in 0u64..1000,
            side in proptest::option::of(64u32..1200),
            edge in proptest::option::of(1.0f64..32.0),
        ) {
            let circle = Circle::new(x, y, r, [0.9, 0.3, 0.6], alpha).unwrap();
            check_kernels(&model(circle, side, edge), w, h, seed)?;
        }

        /// Runs cut anywhere inside the footprint spans draw the same pixels.
        #[test]
        fn split_runs_draw_the_same(
            x in 0.0f64..60.0,
            y in 0.0f64..40.0,
            r in 0.5f64..30.0,
            cut in 0u32..64,
            seed in 0u64..1000,
            side in proptest::option::of(64u32..1200),
            edge in proptest::option::of(1.0f64..32.0),
        ) {
            let (w, h) = (64, 40);
            let circle = Circle::new(x, y, r, [0.1, 0.8, 0.4], 0.6).unwrap();
            let sc = model(circle, side, edge);
            let kept = canvas(w, h, seed);
            let mut spans = Vec::new();
            sc.spans(w, h, &mut spans);
            let mut split = Vec::new();
            for s in &spans {
                let m = cut.clamp(s.x0, s.x1);
                split.extend([Span { y: s.y, x0: s.x0, x1: m }, Span { y: s.y, x0: m, x1: s.x1 }]);
            }
            split.retain(|s| s.x0 < s.x1);
            for path in paths(&sc) {
                let (mut whole, mut parts) = (kept.clone(), kept.clone());
                composite_runs_with(&sc, whole.as_mut(), &spans, path);
                composite_runs_with(&sc, parts.as_mut(), &split, path);
                proptest::prop_assert_eq!(whole.as_bytes(), parts.as_bytes());
            }
        }
    }
}
