//! The smooth model's drawing and fused scoring ([`circlefit_core::smooth`]): each footprint
//! span splits into a left edge, the interior and a right edge; the interior goes through
//! the hard model's vector kernels (its pixels blend with the circle's own alpha), the edge
//! pixels with their coverage: eight at a time with AVX-512 (square roots in `f64` lanes,
//! exact below [`SQRT_EXACT_BELOW`] as in the span walk), else one by one.

use circlefit_core::raster::SQRT_EXACT_BELOW;
use circlefit_core::smooth::SmoothCircle;
use circlefit_core::{CanvasMut, CanvasRef, Span};

use crate::kernels;

/// Below this radius (1/256 px) the vector kernel takes whole footprint rows, interior
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

/// Whether the AVX-512 edge kernels apply to `sc`: the CPU has them and every footprint
/// pixel's squared distance is below the one-square-root exactness bound.
#[inline]
fn vector_edges(sc: &SmoothCircle) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        sc.outer_r2() < SQRT_EXACT_BELOW && avx512::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (sc, SQRT_EXACT_BELOW);
        false
    }
}

/// A footprint span cut into `x0..a` (left edge), `a..b` (interior) and `b..x1` (right
/// edge), `x0 <= a <= b <= x1`.
#[derive(Clone, Copy, Debug)]
struct Parts {
    a: u32,
    b: u32,
}

/// Where `s` (part of a footprint span of `sc`) meets the interior.
#[inline]
fn parts(sc: &SmoothCircle, s: &Span, width: u32) -> Parts {
    let (i0, i1) = sc.interior(s.y, width);
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
    composite_runs_with(sc, canvas, runs, vector_edges(sc));
}

/// [`composite_runs`] with the edge pixels through the AVX-512 kernel if `vector` (which
/// [`vector_edges`] must allow) or one by one.
fn composite_runs_with(sc: &SmoothCircle, mut canvas: CanvasMut<'_>, runs: &[Span], vector: bool) {
    let (width, rgb, b) = (canvas.width(), sc.disc.rgb, crate::blend16(&sc.disc));
    let whole_rows = vector && small(sc);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as below.
    let edge = vector.then(|| unsafe { avx512::Edge::new(sc) });
    #[cfg(not(target_arch = "x86_64"))]
    let _ = vector;
    for s in runs {
        let row = canvas.row_segment_mut(s.y, s.x0, s.x1);
        #[cfg(target_arch = "x86_64")]
        if let Some(edge) = edge.as_ref().filter(|_| whole_rows) {
            // SAFETY: as below.
            unsafe { edge.blend_run(s.y, s.x0, row) };
            continue;
        }
        let p = parts(sc, s, width);
        let (left, rest) = row.split_at_mut((p.a - s.x0) as usize * 4);
        let (inner, right) = rest.split_at_mut((p.b - p.a) as usize * 4);
        if !inner.is_empty() {
            kernels::blend(inner, &b);
        }
        for (x0, run) in [(s.x0, left), (p.b, right)] {
            #[cfg(target_arch = "x86_64")]
            if let Some(edge) = &edge {
                // SAFETY: the CPU has the kernels' features and the bound holds
                // (`vector_edges`).
                unsafe { edge.blend_run(s.y, x0, run) };
                continue;
            }
            let x1 = x0 + (run.len() / 4) as u32;
            for_edge(sc, s.y, x0, x1, |x, e| {
                let i = (x - x0) as usize * 4;
                blend_pixel(rgb, e, &mut run[i..i + 4]);
            });
        }
    }
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
    squared_error_with(sc, spans, kept, reference, vector_edges(sc))
}

/// [`squared_error`] with the edge pixels as [`composite_runs_with`] says.
fn squared_error_with(
    sc: &SmoothCircle,
    spans: &[Span],
    kept: CanvasRef<'_>,
    reference: CanvasRef<'_>,
    vector: bool,
) -> u64 {
    let (width, b) = (kept.width(), crate::blend16(&sc.disc));
    let whole_rows = vector && small(sc);
    let mut sum = 0u64;
    // The interior runs go to the hard kernel in chunks, not one call per row.
    let mut inner = [Span { y: 0, x0: 0, x1: 0 }; INTERIOR_CHUNK];
    let mut n = 0;
    let interior = |runs: &[Span]| {
        kernels::spans_blend_sse(
            &kernels::SpanRows {
                spans: runs,
                kept,
                reference,
            },
            &b,
        )
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has the kernels' features and the bound holds (`vector_edges`).
    let mut edges = vector.then(|| unsafe { avx512::EdgeError::new(sc) });
    #[cfg(not(target_arch = "x86_64"))]
    let _ = vector;
    for s in spans {
        let (k, r) = (kept.row(s.y), reference.row(s.y));
        #[cfg(target_arch = "x86_64")]
        if let Some(e) = edges.as_mut().filter(|_| whole_rows) {
            let run = s.x0 as usize * 4..s.x1 as usize * 4;
            // SAFETY: as above.
            unsafe { e.add(s.y, s.x0, &k[run.clone()], &r[run]) };
            continue;
        }
        let p = parts(sc, s, width);
        #[cfg(target_arch = "x86_64")]
        let vectored = edges.as_mut().map(|e| {
            let run = |x0: u32, x1: u32| x0 as usize * 4..x1 as usize * 4;
            let (left, right) = (run(s.x0, p.a), run(p.b, s.x1));
            // SAFETY: as above.
            unsafe {
                e.add(s.y, s.x0, &k[left.clone()], &r[left]);
                e.add(s.y, p.b, &k[right.clone()], &r[right]);
            }
        });
        #[cfg(not(target_arch = "x86_64"))]
        let vectored: Option<()> = None;
        if vectored.is_none() {
            sum += edge_error(sc, s.y, s.x0, p.a, k, r) + edge_error(sc, s.y, p.b, s.x1, k, r);
        }
        if p.a < p.b {
            inner[n] = Span {
                y: s.y,
                x0: p.a,
                x1: p.b,
            };
            n += 1;
            if n == INTERIOR_CHUNK {
                sum += interior(&inner);
                n = 0;
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(e) = edges {
        // SAFETY: as above.
        sum += unsafe { e.total() };
    }
    sum + interior(&inner[..n])
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use circlefit_core::smooth::SmoothCircle;

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

    /// Steps between flushes of the 32-bit accumulator: each adds at most 2·255² per lane.
    const FLUSH_STEPS: u32 = 8192;

    /// One circle's constants for its edge pixels, 8 per step.
    pub(super) struct Edge {
        cx: i64,
        cy: i64,
        /// `256·i` in lane `i`.
        lanes: __m512i,
        /// `r + w/2`.
        outer: __m512i,
        /// The ramp width `w` as `f64`, for a ramp wider than one pixel.
        soft: Option<__m512d>,
        alpha: __m512i,
        rgb: __m512i,
        spread: __m512i,
    }

    impl Edge {
        /// # Safety
        /// The CPU must have AVX-512F, DQ, BW and VL.
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        pub(super) unsafe fn new(sc: &SmoothCircle) -> Self {
            let [r, g, b] = sc.disc.rgb.map(i16::from);
            // SAFETY: the table is 64 readable bytes; the load is unaligned.
            let spread = unsafe { _mm512_loadu_si512(PIXEL_OF_LANE.as_ptr().cast()) };
            Self {
                cx: sc.disc.cx,
                cy: sc.disc.cy,
                lanes: _mm512_set_epi64(1792, 1536, 1280, 1024, 768, 512, 256, 0),
                outer: _mm512_set1_epi64(sc.outer()),
                soft: (sc.ramp_width() != 256).then(|| _mm512_set1_pd(sc.ramp_width() as f64)),
                alpha: _mm512_set1_epi64(i64::from(sc.disc.alpha)),
                rgb: _mm512_broadcast_i64x2(_mm_set_epi16(0, b, g, r, 0, b, g, r)),
                spread,
            }
        }

        /// The effective alphas of the 8 pixels from `x` on row `y`, spread to their R, G,
        /// B lanes (alpha lanes 0): `e = (a·k + 128) >> 8` with `k = clamp(r + 128 − ⌊√D⌋,
        /// 0, 256)` for the one-pixel ramp, else `⌊256·clamp(r + w/2 − ⌊√D⌋, 0, w) / w⌋`.
        #[inline]
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        fn alphas(&self, x: u32, y: u32) -> __m512i {
            let dx = i64::from(x) * 256 + 128 - self.cx;
            let dy = i64::from(y) * 256 + 128 - self.cy;
            let fx = _mm512_cvtepi64_pd(_mm512_add_epi64(_mm512_set1_epi64(dx), self.lanes));
            // Exact: |dx|, |dy| < 2²⁶ and D < 2⁵² on the footprint (the caller's bound).
            let d2 = _mm512_fmadd_pd(fx, fx, _mm512_set1_pd((dy * dy) as f64));
            let d = _mm512_cvttpd_epi64(_mm512_sqrt_pd(d2));
            let k = _mm512_max_epi64(_mm512_sub_epi64(self.outer, d), _mm512_setzero_si512());
            let k = match self.soft {
                None => _mm512_min_epi64(k, _mm512_set1_epi64(256)),
                Some(w) => {
                    // Exact: x = min(k, w) ≤ w < 2¹⁷, so 256·x / w ≤ 256 is correctly rounded
                    // and, when not a whole number, at least 1/w ≥ 2⁻¹⁷ below the next one,
                    // far more than its rounding error (2⁻⁴⁴): truncation floors it.
                    let x = _mm512_cvtepi64_pd(k);
                    let x = _mm512_min_pd(x, w);
                    let q = _mm512_div_pd(_mm512_mul_pd(x, _mm512_set1_pd(256.0)), w);
                    _mm512_cvttpd_epi64(q)
                }
            };
            let e = _mm512_srli_epi64(
                _mm512_add_epi64(_mm512_mullo_epi64(self.alpha, k), _mm512_set1_epi64(128)),
                8,
            );
            let e16 = _mm512_castsi128_si512(_mm512_cvtepi64_epi16(e));
            _mm512_maskz_permutexvar_epi16(RGB_LANES, self.spread, e16)
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

        /// Blends the circle over the edge pixels `pixels` (RGBA bytes) from pixel `x0` of
        /// row `y` on.
        ///
        /// # Safety
        /// As [`Edge::new`], and every pixel must lie on the circle's footprint, whose
        /// squared distances are below `SQRT_EXACT_BELOW`.
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        pub(super) unsafe fn blend_run(&self, y: u32, x0: u32, pixels: &mut [u8]) {
            for (step, chunk) in pixels.chunks_mut(32).enumerate() {
                let (p, mask) = load(chunk);
                let e = self.alphas(x0 + 8 * step as u32, y);
                let out = _mm512_cvtepi16_epi8(self.blend(p, e));
                // SAFETY: `mask` selects the bytes of `chunk`, all writable.
                unsafe { _mm256_mask_storeu_epi8(chunk.as_mut_ptr().cast(), mask, out) };
            }
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

    /// Σ (blend(kept) − reference)² over R, G, B of a circle's edge pixels, run by run.
    pub(super) struct EdgeError {
        edge: Edge,
        acc: __m512i,
        steps: u32,
        total: u64,
    }

    impl EdgeError {
        /// # Safety
        /// As [`Edge::new`].
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        pub(super) unsafe fn new(sc: &SmoothCircle) -> Self {
            Self {
                // SAFETY: the caller's guarantee.
                edge: unsafe { Edge::new(sc) },
                acc: _mm512_setzero_si512(),
                steps: 0,
                total: 0,
            }
        }

        /// Adds the edge pixels `kept` (RGBA bytes from pixel `x0` of row `y` on) against
        /// `reference` (as long).
        ///
        /// # Safety
        /// As [`Edge::blend_run`].
        #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
        pub(super) unsafe fn add(&mut self, y: u32, x0: u32, kept: &[u8], reference: &[u8]) {
            assert_eq!(kept.len(), reference.len());
            for (step, (k, r)) in kept.chunks(32).zip(reference.chunks(32)).enumerate() {
                let ((p, mask), (t, _)) = (load(k), load(r));
                let e = self.edge.alphas(x0 + 8 * step as u32, y);
                // Alpha lanes and lanes past the end are dropped.
                let d = _mm512_maskz_sub_epi16(mask & RGB_LANES, self.edge.blend(p, e), t);
                self.acc = _mm512_add_epi32(self.acc, _mm512_madd_epi16(d, d));
                self.steps += 1;
                if self.steps == FLUSH_STEPS {
                    self.flush();
                }
            }
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        fn flush(&mut self) {
            self.total += u64::from(_mm512_reduce_add_epi32(self.acc) as u32);
            self.acc = _mm512_setzero_si512();
            self.steps = 0;
        }

        /// The sum.
        ///
        /// # Safety
        /// As [`Edge::new`].
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn total(mut self) -> u64 {
            self.flush();
            self.total
        }
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

    /// The edge paths this CPU can run for `sc`: one by one, and the vector kernel.
    fn paths(sc: &SmoothCircle) -> Vec<bool> {
        let mut p = vec![false];
        if vector_edges(sc) {
            p.push(true);
        }
        p
    }

    #[test]
    fn circles_beyond_the_vector_bound_take_the_exact_scalar_path() {
        // Radius 300,000 px: r² in 1/256 px is above 2⁵², so edges use the fixed-up root.
        let circle = Circle::new(-299_990.0, 5.0, 300_000.0, [0.5, 0.2, 0.7], 0.8).unwrap();
        let sc = SmoothCircle::new(&circle);
        assert!(!vector_edges(&sc));
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
            let sc = model(circle, side, edge);
            let (kept, reference) = (canvas(w, h, seed), canvas(w, h, seed + 7));
            let mut want = kept.clone();
            naive(&sc, &mut want);
            let mut spans = Vec::new();
            sc.spans(w, h, &mut spans);
            let mut fused = Vec::new();
            for vector in paths(&sc) {
                let mut got = kept.clone();
                composite_runs_with(&sc, got.as_mut(), &spans, vector);
                proptest::prop_assert_eq!(got.as_bytes(), want.as_bytes());
                fused.push(squared_error_with(&sc, &spans, kept.as_ref(), reference.as_ref(), vector));
            }
            let mut direct = 0u64;
            for (p, t) in want.as_bytes().chunks_exact(4).zip(reference.as_bytes().chunks_exact(4)) {
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
            for (i, (p, t)) in kept.as_bytes().chunks_exact(4).zip(reference.as_bytes().chunks_exact(4)).enumerate() {
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
            for vector in paths(&sc) {
                let (mut whole, mut parts) = (kept.clone(), kept.clone());
                composite_runs_with(&sc, whole.as_mut(), &spans, vector);
                composite_runs_with(&sc, parts.as_mut(), &split, vector);
                proptest::prop_assert_eq!(whole.as_bytes(), parts.as_bytes());
            }
        }
    }
}
