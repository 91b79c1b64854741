//! The smooth model's drawing and fused scoring ([`circlefit_core::smooth`]): each footprint
//! span splits into a left edge, the interior and a right edge; the interior goes through
//! the hard model's vector kernels (its pixels blend with the circle's own alpha), the edge
//! pixels one by one with their coverage.

use circlefit_core::smooth::SmoothCircle;
use circlefit_core::{CanvasMut, CanvasRef, Span};

use crate::kernels::{self, Blend16};

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
pub(crate) fn composite_runs(
    sc: &SmoothCircle,
    b: &Blend16,
    mut canvas: CanvasMut<'_>,
    runs: &[Span],
) {
    let width = canvas.width();
    let rgb = sc.disc.rgb;
    for s in runs {
        let p = parts(sc, s, width);
        let row = canvas.row_segment_mut(s.y, s.x0, s.x1);
        let (left, rest) = row.split_at_mut((p.a - s.x0) as usize * 4);
        let (inner, right) = rest.split_at_mut((p.b - p.a) as usize * 4);
        for_edge(sc, s.y, s.x0, p.a, |x, e| {
            let i = (x - s.x0) as usize * 4;
            blend_pixel(rgb, e, &mut left[i..i + 4]);
        });
        if !inner.is_empty() {
            kernels::blend(inner, b);
        }
        for_edge(sc, s.y, p.b, s.x1, |x, e| {
            let i = (x - p.b) as usize * 4;
            blend_pixel(rgb, e, &mut right[i..i + 4]);
        });
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
    b: &Blend16,
    spans: &[Span],
    kept: CanvasRef<'_>,
    reference: CanvasRef<'_>,
) -> u64 {
    let width = kept.width();
    let mut sum = 0u64;
    for s in spans {
        let p = parts(sc, s, width);
        let (k, r) = (kept.row(s.y), reference.row(s.y));
        sum += edge_error(sc, s.y, s.x0, p.a, k, r);
        if p.a < p.b {
            let inner = [Span {
                y: s.y,
                x0: p.a,
                x1: p.b,
            }];
            let rows = kernels::SpanRows {
                spans: &inner,
                kept,
                reference,
            };
            sum += kernels::spans_blend_sse(&rows, b);
        }
        sum += edge_error(sc, s.y, p.b, s.x1, k, r);
    }
    sum
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

    fn blend16(sc: &SmoothCircle) -> Blend16 {
        let (mul, add) = sc.disc.blend_constants();
        Blend16::new(mul, add)
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
        ) {
            let circle = Circle::new(x, y, r, [0.9, 0.3, 0.6], alpha).unwrap();
            let sc = SmoothCircle::new(&circle);
            let (kept, reference) = (canvas(w, h, seed), canvas(w, h, seed + 7));
            let mut want = kept.clone();
            naive(&sc, &mut want);
            let mut spans = Vec::new();
            sc.spans(w, h, &mut spans);
            let mut got = kept.clone();
            composite_runs(&sc, &blend16(&sc), got.as_mut(), &spans);
            proptest::prop_assert_eq!(got.as_bytes(), want.as_bytes());
            let fused = squared_error(&sc, &blend16(&sc), &spans, kept.as_ref(), reference.as_ref());
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
            proptest::prop_assert_eq!(fused + untouched, direct);
        }

        /// Runs cut anywhere inside the footprint spans draw the same pixels.
        #[test]
        fn split_runs_draw_the_same(
            x in 0.0f64..60.0,
            y in 0.0f64..40.0,
            r in 0.5f64..30.0,
            cut in 0u32..64,
            seed in 0u64..1000,
        ) {
            let (w, h) = (64, 40);
            let circle = Circle::new(x, y, r, [0.1, 0.8, 0.4], 0.6).unwrap();
            let sc = SmoothCircle::new(&circle);
            let kept = canvas(w, h, seed);
            let mut spans = Vec::new();
            sc.spans(w, h, &mut spans);
            let mut split = Vec::new();
            for s in &spans {
                let m = cut.clamp(s.x0, s.x1);
                split.extend([Span { y: s.y, x0: s.x0, x1: m }, Span { y: s.y, x0: m, x1: s.x1 }]);
            }
            split.retain(|s| s.x0 < s.x1);
            let (mut whole, mut parts) = (kept.clone(), kept.clone());
            composite_runs(&sc, &blend16(&sc), whole.as_mut(), &spans);
            composite_runs(&sc, &blend16(&sc), parts.as_mut(), &split);
            proptest::prop_assert_eq!(whole.as_bytes(), parts.as_bytes());
        }
    }
}
