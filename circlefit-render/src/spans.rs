//! A disc's spans, eight rows at a time where AVX-512 is available: the same integers as
//! [`disc_spans`] (one correctly rounded square root per row, truncated, in both), which
//! stays the definition and the fallback.

use circlefit_core::raster::{RasterCircle, SQRT_EXACT_BELOW, Span, disc_spans};

/// Appends `rc`'s spans on a `width` × `height` canvas to `out`, exactly as
/// [`RasterCircle::spans`] does.
pub(crate) fn spans(rc: &RasterCircle, width: u32, height: u32, out: &mut Vec<Span>) {
    disc(rc.cx, rc.cy, rc.r * rc.r, width, height, out);
}

/// Appends the spans of the disc `dx² + dy² ≤ r2` around (`cx`, `cy`) to `out`, exactly
/// as [`disc_spans`] does.
pub(crate) fn disc(cx: i64, cy: i64, r2: i64, width: u32, height: u32, out: &mut Vec<Span>) {
    #[cfg(target_arch = "x86_64")]
    if r2 < SQRT_EXACT_BELOW && avx512::available() {
        // SAFETY: the CPU supports AVX-512F and DQ, checked just above.
        unsafe { avx512::disc(cx, cy, r2, width, height, out) };
        return;
    }
    disc_spans(cx, cy, r2, width, height, out);
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    use super::Span;
    use circlefit_core::raster::disc_rows;

    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
    }

    /// Rows `y..y + 8` of the disc `dx² + dy² ≤ r2` (`r2 < 2⁵²`): per row `rem = r2 − dy²`,
    /// `h = ⌊√rem⌋` (exact below 2⁵²), `x0 = ⌈(cx − h − ½)/256⌉` (at least 0) and
    /// `x1 = ⌊(cx + h − ½)/256⌋` (at most `width − 1`), inclusive; a row has pixels iff
    /// `rem >= 0` and `x0 <= x1`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn rows(cx: i64, cy: i64, r2: i64, y: u32, width: u32) -> [[i64; 8]; 3] {
        let set = _mm512_set1_epi64;
        let lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        let (zero, half) = (_mm512_setzero_si512(), set(128));
        let ys = _mm512_add_epi64(set(i64::from(y)), lanes);
        let dy = _mm512_sub_epi64(_mm512_add_epi64(_mm512_slli_epi64(ys, 8), half), set(cy));
        let r = _mm512_sub_epi64(set(r2), _mm512_mullo_epi64(dy, dy));
        let root = _mm512_sqrt_pd(_mm512_cvtepi64_pd(_mm512_max_epi64(r, zero)));
        let h = _mm512_cvttpd_epi64(root);
        // ⌈a/256⌉ = −⌊−a/256⌋ with an arithmetic shift, as the scalar rule.
        let a = _mm512_sub_epi64(_mm512_sub_epi64(set(cx), h), half);
        let lo = _mm512_sub_epi64(zero, _mm512_srai_epi64(_mm512_sub_epi64(zero, a), 8));
        let b = _mm512_sub_epi64(_mm512_add_epi64(set(cx), h), half);
        let hi = _mm512_min_epi64(_mm512_srai_epi64(b, 8), set(i64::from(width) - 1));
        let mut out = [[0i64; 8]; 3];
        // SAFETY: each array is 64 writable bytes; the stores are unaligned.
        unsafe {
            _mm512_storeu_si512(out[0].as_mut_ptr().cast(), r);
            _mm512_storeu_si512(out[1].as_mut_ptr().cast(), _mm512_max_epi64(lo, zero));
            _mm512_storeu_si512(out[2].as_mut_ptr().cast(), hi);
        }
        out
    }

    /// [`super::disc`] for `r2 < 2⁵²`, eight rows at a time ([`rows`]).
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn disc(cx: i64, cy: i64, r2: i64, width: u32, height: u32, out: &mut Vec<Span>) {
        let Some((first, last)) = disc_rows(cy, r2, height) else {
            return;
        };
        out.reserve((last - first + 1) as usize);
        for y in (first..=last).step_by(8) {
            let [rem, x0, x1] = rows(cx, cy, r2, y, width);
            for i in 0..8 {
                let row = y + i as u32;
                if row > last {
                    break;
                }
                if rem[i] >= 0 && x0[i] <= x1[i] {
                    out.push(Span {
                        y: row,
                        x0: x0[i] as u32,
                        x1: x1[i] as u32 + 1,
                    });
                }
            }
        }
    }

    /// The pixels `x0..x1` (end exclusive; `(0, 0)` for none) of the disc `dx² + dy² ≤ r2`
    /// on rows `y..y + 8` of a canvas `width` pixels wide, as
    /// [`circlefit_core::raster::disc_row_span`] gives them.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and DQ, and `r2 < 2⁵²`.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(crate) unsafe fn row_spans(
        cx: i64,
        cy: i64,
        r2: i64,
        y: u32,
        width: u32,
    ) -> [(u32, u32); 8] {
        let [rem, x0, x1] = rows(cx, cy, r2, y, width);
        let mut out = [(0, 0); 8];
        for (i, o) in out.iter_mut().enumerate() {
            if rem[i] >= 0 && x0[i] <= x1[i] {
                *o = (x0[i] as u32, x1[i] as u32 + 1);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use circlefit_core::raster::disc_row_span;

    proptest::proptest! {
        #[test]
        fn equal_the_raster_rule(
            cx in -300_000i64..300_000,
            cy in -300_000i64..300_000,
            r in 0i64..400_000,
            w in 1u32..1200,
            h in 1u32..1200,
        ) {
            let rc = RasterCircle { cx, cy, r, rgb: [0; 3], alpha: 128 };
            let (mut want, mut got) = (Vec::new(), Vec::new());
            rc.spans(w, h, &mut want);
            spans(&rc, w, h, &mut got);
            proptest::prop_assert_eq!(got, want);
        }

        /// Any squared radius, as the smooth model's footprint and interior use.
        #[test]
        fn discs_equal_the_raster_rule(
            cx in -300_000i64..300_000,
            cy in -300_000i64..300_000,
            r2 in -10i64..160_000_000_000,
            w in 1u32..1200,
            h in 1u32..1200,
        ) {
            let (mut want, mut got) = (Vec::new(), Vec::new());
            disc_spans(cx, cy, r2, w, h, &mut want);
            disc(cx, cy, r2, w, h, &mut got);
            proptest::prop_assert_eq!(got, want);
        }
    }

    proptest::proptest! {
        /// Eight rows' spans at once equal the scalar row rule, rows outside the disc and
        /// the canvas included.
        #[test]
        fn row_spans_equal_the_row_rule(
            cx in -300_000i64..300_000,
            cy in -300_000i64..300_000,
            r2 in -10i64..160_000_000_000,
            y in 0u32..1500,
            w in 1u32..1200,
        ) {
            if !avx512::available() {
                return Ok(());
            }
            // SAFETY: checked just above; r2 is below 2⁵².
            let got = unsafe { avx512::row_spans(cx, cy, r2, y, w) };
            for (i, &g) in got.iter().enumerate() {
                let want = disc_row_span(cx, cy, r2, y + i as u32, w).unwrap_or((0, 0));
                proptest::prop_assert_eq!(g, want, "row {}", y + i as u32);
            }
        }
    }

    #[test]
    fn equal_the_raster_rule_at_the_exactness_bound() {
        for r in [0, 1, 127, 128, 129, 67_108_863, 67_108_864] {
            let rc = RasterCircle {
                cx: 1000,
                cy: -5000,
                r,
                rgb: [0; 3],
                alpha: 1,
            };
            let (mut want, mut got) = (Vec::new(), Vec::new());
            rc.spans(16_384, 300, &mut want);
            spans(&rc, 16_384, 300, &mut got);
            assert_eq!(got, want, "r = {r}");
        }
    }
}
