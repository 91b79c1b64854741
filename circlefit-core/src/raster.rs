//! The raster model: exactly which pixels a circle covers and how it is blended.
//!
//! Every built-in component follows these rules, and the tests pin them with a slow,
//! obvious oracle. A custom renderer may use other rules; it then simply does not claim
//! the fast incremental path (see [`SpanRenderer`](crate::SpanRenderer)).
//!
//! # Geometry (hard edges, no anti-aliasing)
//!
//! Centre and radius are quantised to 1/256 pixel, rounding to nearest:
//! `cx = round(256·x)`, `cy = round(256·y)`, `r = round(256·radius)`. Pixel (`i`, `j`) is
//! sampled at its centre, `(256·i + 128, 256·j + 128)` in the same units, and is covered iff
//!
//! ```text
//! (256·i + 128 − cx)² + (256·j + 128 − cy)² ≤ r²
//! ```
//!
//! computed exactly in `i64`. So the covered pixels of each row form one contiguous
//! [`Span`], found with one integer square root per row.
//!
//! # Compositing (source-over, integer, per layer)
//!
//! Colour channels are quantised to 8 bits, `c = round(255·channel)`, and alpha to
//! 1/256 steps, `a = round(256·alpha)` clamped to `[1, 256]`. Each covered pixel's R, G and
//! B bytes `p` become
//!
//! ```text
//! p' = (c·a + p·(256 − a) + 128) >> 8
//! ```
//!
//! which is `c·α + p·(1 − α)` rounded to nearest (ties up) with `α = a/256`. The alpha byte
//! of the canvas is left as it is. Circles are composited one after another in draw order,
//! re-quantising to 8 bits after each. Opaque circles (`a = 256`) write `c` exactly, and a
//! pixel already equal to `c` never drifts.

use crate::circle::Circle;

/// The covered pixels `x0..x1` (end exclusive) of row `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// Row.
    pub y: u32,
    /// First covered pixel.
    pub x0: u32,
    /// One past the last covered pixel.
    pub x1: u32,
}

impl Span {
    /// Number of pixels.
    pub fn len(&self) -> u32 {
        self.x1 - self.x0
    }

    /// Whether the span covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0
    }
}

/// Fixed-point units per pixel.
pub const SUBPIXELS: i64 = 256;
const HALF: i64 = SUBPIXELS / 2;

/// A circle quantised to the raster model's integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RasterCircle {
    /// Centre x in 1/256 pixel.
    pub cx: i64,
    /// Centre y in 1/256 pixel.
    pub cy: i64,
    /// Radius in 1/256 pixel.
    pub r: i64,
    /// 8-bit straight colour.
    pub rgb: [u8; 3],
    /// Alpha in 1/256 steps, `1..=256`.
    pub alpha: u16,
}

/// `⌊a / 256⌋` (an arithmetic shift rounds towards −∞).
#[inline]
fn floor_div(a: i64) -> i64 {
    a >> 8
}

/// `⌈a / 256⌉`.
#[inline]
fn ceil_div(a: i64) -> i64 {
    -((-a) >> 8)
}

/// Floor of the square root of `v` (`0 <= v < 2⁶⁰`), exact.
#[inline]
fn isqrt(v: i64) -> i64 {
    // The f64 estimate is within one of the truth for these magnitudes; fix it up exactly.
    let mut s = (v as f64).sqrt() as i64;
    while s * s > v {
        s -= 1;
    }
    while (s + 1) * (s + 1) <= v {
        s += 1;
    }
    s
}

/// Below this, one rounded `f64` square root is already exact (see `sqrt_floor_small`):
/// spans of circles with `r² <` this bound may be computed with one correctly rounded
/// square root per row, truncated, by any implementation (as [`RasterCircle::spans`] and
/// `circlefit-render`'s vector copy do).
pub const SQRT_EXACT_BELOW: i64 = 1 << 52;

/// Floor of the square root of `v` for `0 <= v < 2⁵²`, exact without fix-ups: `v` converts
/// to `f64` exactly and the square root is correctly rounded; for `t = ⌊√v⌋ < 2²⁶` the
/// distance from `√v` to `t + 1` (more than `1/(2(t+1))`) and to `t` (for non-squares,
/// more than `1/(2t+1)`) exceeds half an ulp, so rounding cannot cross an integer.
#[inline]
fn sqrt_floor_small(v: i64) -> i64 {
    (v as f64).sqrt() as i64
}

/// Quantises a colour channel in `[0, 1]` to 8 bits.
pub fn quantize_channel(c: f64) -> u8 {
    (c * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Quantises an alpha in `[0, 1]` to 1/256 steps in `1..=256`.
pub fn quantize_alpha(alpha: f64) -> u16 {
    (alpha * 256.0).round().clamp(1.0, 256.0) as u16
}

/// One channel of the compositing formula: `(c·a + p·(256 − a) + 128) >> 8`.
pub fn blend_channel(c: u8, alpha: u16, p: u8) -> u8 {
    let a = u32::from(alpha);
    ((u32::from(c) * a + u32::from(p) * (256 - a) + 128) >> 8) as u8
}

impl RasterCircle {
    /// Quantises `circle`.
    pub fn new(circle: &Circle) -> Self {
        let q = |v: f64| (v * SUBPIXELS as f64).round() as i64;
        let [r, g, b] = circle.color();
        Self {
            cx: q(circle.x()),
            cy: q(circle.y()),
            r: q(circle.radius()),
            rgb: [
                quantize_channel(r),
                quantize_channel(g),
                quantize_channel(b),
            ],
            alpha: quantize_alpha(circle.alpha()),
        }
    }

    /// The coverage rule, pixel by pixel (the definition; slow).
    pub fn covers(&self, i: u32, j: u32) -> bool {
        let dx = i64::from(i) * SUBPIXELS + HALF - self.cx;
        let dy = i64::from(j) * SUBPIXELS + HALF - self.cy;
        dx * dx + dy * dy <= self.r * self.r
    }

    /// The rows `first..=last` that may hold covered pixels on a canvas `height` rows tall,
    /// or `None`.
    pub fn rows(&self, height: u32) -> Option<(u32, u32)> {
        let first = ceil_div(self.cy - self.r - HALF).max(0);
        let last = floor_div(self.cy + self.r - HALF).min(i64::from(height) - 1);
        (first <= last).then_some((first as u32, last as u32))
    }

    /// The covered pixels of row `y` on a canvas `width` pixels wide, as `(x0, x1)` with
    /// `x1` exclusive, or `None`.
    pub fn row_span(&self, y: u32, width: u32) -> Option<(u32, u32)> {
        disc_row_span(self.cx, self.cy, self.r * self.r, y, width)
    }

    /// Appends the spans of this circle on a `width` × `height` canvas to `out`, top to
    /// bottom, at most one per row.
    ///
    /// # Allocation
    /// Only when `out` must grow.
    pub fn spans(&self, width: u32, height: u32, out: &mut Vec<Span>) {
        disc_spans(self.cx, self.cy, self.r * self.r, width, height, out);
    }

    /// Per-byte constants `(mul, add)` of the blend for one RGBA pixel, so that
    /// `p' = (p·mul + add) >> 8` for each of the 4 bytes (the alpha byte maps to itself).
    pub fn blend_constants(&self) -> ([u16; 4], [u16; 4]) {
        let a = self.alpha;
        let inv = 256 - a;
        let add = |c: u8| u16::from(c) * a + 128;
        (
            [inv, inv, inv, 256],
            [add(self.rgb[0]), add(self.rgb[1]), add(self.rgb[2]), 128],
        )
    }

    /// Blends this circle over a run of RGBA pixels (`pixels.len()` a multiple of 4).
    pub fn composite(&self, pixels: &mut [u8]) {
        let (mul, add) = self.blend_constants();
        for px in pixels.chunks_exact_mut(4) {
            for k in 0..4 {
                px[k] = ((u16::from(px[k]) * mul[k] + add[k]) >> 8) as u8;
            }
        }
    }
}

/// Floor of the square root of `v` (`0 <= v < 2⁶⁰`), exact: one rounded square root below
/// [`SQRT_EXACT_BELOW`], fixed up above it.
#[inline]
pub fn floor_sqrt(v: i64) -> i64 {
    if v < SQRT_EXACT_BELOW {
        sqrt_floor_small(v)
    } else {
        isqrt(v)
    }
}

/// The pixels `x0..x1` of a row whose centres lie within a disc around `cx`, given the row's
/// `rem = r2 − dy²`, on a canvas `width` pixels wide, or `None`; `small` says
/// `r2 < SQRT_EXACT_BELOW` (one rounded square root is then exact), decided once per disc.
#[inline]
fn disc_row(cx: i64, rem: i64, width: u32, small: bool) -> Option<(u32, u32)> {
    if rem < 0 {
        return None;
    }
    let h = if small {
        sqrt_floor_small(rem)
    } else {
        isqrt(rem)
    };
    let x0 = ceil_div(cx - h - HALF).max(0);
    let x1 = floor_div(cx + h - HALF).min(i64::from(width) - 1);
    // Lazily: `x1` is negative when the disc lies left of the canvas.
    (x0 <= x1).then(|| (x0 as u32, x1 as u32 + 1))
}

/// The pixels `x0..x1` (end exclusive) of row `y` whose centres lie in the disc
/// `dx² + dy² ≤ r2` around (`cx`, `cy`) (1/256 pixel units) on a canvas `width` pixels wide,
/// or `None`: one row of [`disc_spans`].
pub fn disc_row_span(cx: i64, cy: i64, r2: i64, y: u32, width: u32) -> Option<(u32, u32)> {
    let dy = i64::from(y) * SUBPIXELS + HALF - cy;
    disc_row(cx, r2 - dy * dy, width, r2 < SQRT_EXACT_BELOW)
}

/// The rows `first..=last` of a canvas `height` rows tall whose pixel centres can lie within
/// a disc centred on (`cx`, `cy`) with squared radius `r2` (1/256 pixel units), or `None`.
pub fn disc_rows(cy: i64, r2: i64, height: u32) -> Option<(u32, u32)> {
    if r2 < 0 {
        return None;
    }
    let h = isqrt(r2);
    let first = ceil_div(cy - h - HALF).max(0);
    let last = floor_div(cy + h - HALF).min(i64::from(height) - 1);
    (first <= last).then_some((first as u32, last as u32))
}

/// Appends to `out`, top to bottom, the spans of pixels whose centres lie in the disc
/// `dx² + dy² ≤ r2` around (`cx`, `cy`) (1/256 pixel units) on a `width` × `height` canvas:
/// the walk behind [`RasterCircle::spans`] (`r2 = r²`) and the smooth model's footprint and
/// interior (see [`crate::smooth`]).
///
/// # Allocation
/// Only when `out` must grow.
pub fn disc_spans(cx: i64, cy: i64, r2: i64, width: u32, height: u32, out: &mut Vec<Span>) {
    let Some((first, last)) = disc_rows(cy, r2, height) else {
        return;
    };
    // The row offset is stepped instead of recomputed.
    out.reserve((last - first + 1) as usize);
    let small = r2 < SQRT_EXACT_BELOW;
    let mut dy = i64::from(first) * SUBPIXELS + HALF - cy;
    for y in first..=last {
        if let Some((x0, x1)) = disc_row(cx, r2 - dy * dy, width, small) {
            out.push(Span { y, x0, x1 });
        }
        dy += SUBPIXELS;
    }
}

/// Adds the R, G and B bytes of a run of RGBA pixels to `sums` (a portable kernel).
pub fn add_channel_sums(pixels: &[u8], sums: &mut [u64; 3]) {
    // Two bytes per 32-bit lane (R and B in one, G and A in the other), each in a 16-bit
    // field: 256 pixels cannot carry a field into the next (256·255 < 2¹⁶).
    for block in pixels.chunks(4 * 256) {
        let (mut rb, mut ga) = (0u32, 0u32);
        for px in block.chunks_exact(4) {
            let v = u32::from_le_bytes([px[0], px[1], px[2], px[3]]);
            rb += v & 0x00FF_00FF;
            ga += (v >> 8) & 0x00FF_00FF;
        }
        sums[0] += u64::from(rb & 0xFFFF);
        sums[1] += u64::from(ga & 0xFFFF);
        sums[2] += u64::from(rb >> 16);
    }
}

/// Per-channel R, G, B sums over `spans` of `kept` and of `reference`, with `add` adding one
/// run's sums (a portable or a SIMD kernel).
pub fn covered_sums_with(
    spans: &[Span],
    kept: crate::CanvasRef<'_>,
    reference: crate::CanvasRef<'_>,
    add: impl Fn(&[u8], &mut [u64; 3]),
) -> ([u64; 3], [u64; 3]) {
    let (mut k, mut r) = ([0u64; 3], [0u64; 3]);
    for s in spans {
        let (x0, x1) = (s.x0 as usize * 4, s.x1 as usize * 4);
        add(&kept.row(s.y)[x0..x1], &mut k);
        add(&reference.row(s.y)[x0..x1], &mut r);
    }
    (k, r)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;

    #[test]
    fn the_small_square_root_is_exact_below_its_bound() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let check = |v: i64| {
            if (0..SQRT_EXACT_BELOW).contains(&v) {
                assert_eq!(sqrt_floor_small(v), isqrt(v), "{v}");
            }
        };
        // Around every square near the bound, where rounding is tightest, and at random.
        for k in ((1i64 << 26) - 100_000)..=(1 << 26) {
            for d in [-2, -1, 0, 1, 2] {
                check(k * k + d);
            }
        }
        for k in 0..100_000i64 {
            for d in [-1, 0, 1] {
                check(k * k + d);
            }
        }
        for _ in 0..1_000_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            check((s >> 12) as i64);
        }
    }

    #[test]
    fn isqrt_is_exact() {
        for v in (0..10_000i64).chain([(1 << 56) - 1, 1 << 56, (1 << 56) + 12345]) {
            let s = isqrt(v);
            assert!(s * s <= v && (s + 1) * (s + 1) > v, "{v}");
        }
    }

    #[test]
    fn blend_formula_properties() {
        for c in 0..=255u8 {
            for p in [0u8, 1, 127, 128, 254, 255] {
                assert_eq!(blend_channel(c, 256, p), c);
                assert_eq!(blend_channel(p, 1 + u16::from(c), p), p);
            }
        }
        // The fused constants agree with the formula.
        let circle = Circle::new(0.0, 0.0, 1.0, [0.2, 0.6, 1.0], 0.37).unwrap();
        let rc = RasterCircle::new(&circle);
        for p in 0..=255u8 {
            let mut px = [p, p, p, p];
            rc.composite(&mut px);
            let want = [
                blend_channel(rc.rgb[0], rc.alpha, p),
                blend_channel(rc.rgb[1], rc.alpha, p),
                blend_channel(rc.rgb[2], rc.alpha, p),
                p,
            ];
            assert_eq!(px, want);
        }
    }

    proptest::proptest! {
        /// The stepped span walk equals the coverage rule applied pixel by pixel.
        #[test]
        fn spans_equal_the_coverage_rule(
            x in -20.0f64..60.0,
            y in -20.0f64..60.0,
            r in 0.0f64..40.0,
            w in 1u32..48,
            h in 1u32..48,
        ) {
            let c = Circle::new(x, y, r, [0.5; 3], 0.5).unwrap();
            let rc = RasterCircle::new(&c);
            let mut spans = Vec::new();
            rc.spans(w, h, &mut spans);
            let mut want = Vec::new();
            for j in 0..h {
                let xs: Vec<u32> = (0..w).filter(|&i| rc.covers(i, j)).collect();
                if let (Some(&a), Some(&b)) = (xs.first(), xs.last()) {
                    proptest::prop_assert_eq!(xs.len() as u32, b - a + 1);
                    want.push(Span { y: j, x0: a, x1: b + 1 });
                }
                proptest::prop_assert_eq!(
                    rc.row_span(j, w),
                    xs.first().map(|&a| (a, xs.last().unwrap() + 1))
                );
            }
            proptest::prop_assert_eq!(spans, want);
        }
    }

    #[test]
    fn unit_circle_at_pixel_centre_covers_a_plus() {
        // Radius 1 centred on pixel (2, 2)'s centre: the pixel and its 4 neighbours.
        let c = Circle::new(2.5, 2.5, 1.0, [0.0; 3], 1.0).unwrap();
        let rc = RasterCircle::new(&c);
        let mut spans = Vec::new();
        rc.spans(5, 5, &mut spans);
        assert_eq!(
            spans,
            vec![
                Span { y: 1, x0: 2, x1: 3 },
                Span { y: 2, x0: 1, x1: 4 },
                Span { y: 3, x0: 2, x1: 3 },
            ]
        );
    }
}
