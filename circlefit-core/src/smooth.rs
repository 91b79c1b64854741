//! The smooth-edged raster model: circles with anti-aliased edges, as SVG viewers draw
//! them, in exact integers.
//!
//! A renderer following it (`circlefit-render`'s `CpuRenderer` with [`Edges::Smooth`])
//! makes the PNG of a fit look like its SVG, and lets a fit place circles a fraction of a
//! pixel apart where the hard-edged model ([`crate::raster`]) can only move whole pixels.
//!
//! # Coverage
//!
//! Centre, radius, colour and alpha are quantised as in the hard model ([`RasterCircle`]).
//! Pixel (`i`, `j`) is sampled at its centre; with `D = dx² + dy²` its squared distance to
//! the centre and `d = ⌊√D⌋` (all in 1/256 pixel, exact in `i64`) its coverage is
//!
//! ```text
//! k = clamp(r + 128 − d, 0, 256)
//! ```
//!
//! a linear ramp one pixel wide centred on the radius: pixels whose centres lie half a pixel
//! or more inside the circle are fully covered (`k = 256`), half a pixel or more outside not
//! at all. The covered area equals the hard disc's to within the rounding.
//!
//! # Compositing
//!
//! The pixel is blended with the effective alpha `e = (a·k + 128) >> 8` (`0..=256`; `e = a`
//! where `k = 256`) by the hard model's formula, `p' = (c·e + p·(256 − e) + 128) >> 8`, which
//! leaves the pixel as it is where `e = 0`.
//!
//! # Soft edges
//!
//! [`Edges::Soft`] widens the ramp with the circle: its width is
//!
//! ```text
//! w = clamp(2·⌊r/4⌋, 256, cap),   cap = 256·max(1, ⌊S/128⌋)
//! ```
//!
//! (half the radius, even, at least one pixel, at most a 128th of `S`, the shorter side of
//! the canvas), and the coverage is
//!
//! ```text
//! k = clamp(⌊(r + w/2 − d)·256 / w⌋, 0, 256)
//! ```
//!
//! a linear ramp `w` wide centred on the radius, exactly the one-pixel ramp where `w = 256`
//! (circles up to 2 px, or a canvas under 256 pixels). An SVG radial gradient draws the same
//! ramp (`circlefit::io::to_svg_with`). Wide ramps let a few circles follow soft shading and
//! out-of-focus detail that hard or one-pixel edges can only cut; the cap keeps large
//! circles from turning into haze. Compositing is as above.
//!
//! # Free edges
//!
//! [`Edges::Free`] gives each circle the ramp it carries ([`Circle::with_edge_width`]):
//! `w = 2·⌊128·width + ½⌋` (the width in pixels to the nearest even 1/256), between 256 and
//! `256·MAX_EDGE_WIDTH`; a circle that carries none gets the soft rule's `w`. Coverage and
//! compositing are the soft model's. Photographs want different edges in different places
//! (a sharp rim here, an out-of-focus patch there); the joint refinement chooses each
//! circle's width.
//!
//! # Spans
//!
//! The pixels with `k > 0` (the *footprint*, `D < (r + w/2 − ⌈w/256⌉ + 1)²`, which is
//! `D < (r + 128)²` for the one-pixel ramp) form one span per row; the fully covered ones
//! (the *interior*, `D < (r − w/2 + 1)²`) form one span inside it. Everything between is
//! the edge, blended pixel by pixel.

use crate::circle::Circle;
use crate::raster::{RasterCircle, SUBPIXELS, Span, disc_row_span, disc_spans, floor_sqrt};

/// Which raster model a renderer draws circles with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Edges {
    /// Hard edges ([`crate::raster`]): a pixel is covered or not.
    #[default]
    Hard,
    /// Anti-aliased edges ([`crate::smooth`]): a one-pixel linear coverage ramp.
    Smooth,
    /// Soft edges ([the soft model](crate::smooth#soft-edges)): a linear coverage ramp half
    /// the radius wide, at least one pixel and at most a 128th of the canvas's shorter side.
    Soft,
    /// Each circle's own ramp ([free edges](crate::smooth#free-edges)): the width the
    /// circle carries ([`Circle::with_edge_width`]), 1 to 32 pixels; a circle without one
    /// gets the soft rule's.
    Free,
}

impl Edges {
    /// The name the command-line tool and the settings files use (`hard`, `smooth`,
    /// `soft`, `free`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Smooth => "smooth",
            Self::Soft => "soft",
            Self::Free => "free",
        }
    }
}

impl std::fmt::Display for Edges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Edges {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "hard" => Ok(Self::Hard),
            "smooth" => Ok(Self::Smooth),
            "soft" => Ok(Self::Soft),
            "free" => Ok(Self::Free),
            _ => Err(crate::Error::UnknownName {
                field: "edges",
                value: s.to_owned(),
                choices: "hard, smooth, soft, free",
            }),
        }
    }
}

const HALF: i64 = SUBPIXELS / 2;

/// A circle quantised to the smooth model's integers (the hard model's, plus the edge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SmoothCircle {
    /// Centre, radius, colour and alpha, quantised as in the hard model.
    pub disc: RasterCircle,
    /// The ramp's width `w` in 1/256 pixel: even, 256 for the one-pixel ramp.
    width: i64,
}

/// The soft model's widest ramp on a canvas whose shorter side is `side` pixels, in 1/256
/// pixel (see [the soft model](self#soft-edges)).
pub fn soft_width_cap(side: u32) -> i64 {
    SUBPIXELS * i64::from((side / 128).max(1))
}

/// How a vector renderer draws `circle` with `edges` on a `width` × `height` canvas where a
/// plain anti-aliased circle would not: `Some((outer, inner))` for a soft ramp wider than a
/// pixel — a radial gradient out to radius `outer` (px, `r + w/2`), at the circle's opacity
/// up to the fraction `inner` of it (`(r − w/2) / outer`, at least 0) and fading linearly to
/// 0 at `outer` — and `None` for a plain circle (hard or smooth edges, one-pixel ramps). The
/// SVG export and the CLI's scaled pictures use it.
pub fn soft_gradient(circle: &Circle, edges: Edges, width: u32, height: u32) -> Option<(f64, f64)> {
    if !matches!(edges, Edges::Soft | Edges::Free) {
        return None;
    }
    let w = SmoothCircle::for_edges(circle, edges, width, height)?.ramp_width();
    (w > SUBPIXELS).then(|| {
        let half = w as f64 / (2 * SUBPIXELS) as f64;
        let outer = circle.radius() + half;
        (outer, ((circle.radius() - half) / outer).max(0.0))
    })
}

impl SmoothCircle {
    /// Quantises `circle` with the one-pixel ramp ([`Edges::Smooth`]).
    pub fn new(circle: &Circle) -> Self {
        Self {
            disc: RasterCircle::new(circle),
            width: SUBPIXELS,
        }
    }

    /// Quantises `circle` with the soft ramp ([`Edges::Soft`]) of a `width` × `height`
    /// canvas.
    pub fn soft(circle: &Circle, width: u32, height: u32) -> Self {
        let disc = RasterCircle::new(circle);
        let w = (2 * (disc.r / 4)).clamp(SUBPIXELS, soft_width_cap(width.min(height)));
        Self { disc, width: w }
    }

    /// Quantises `circle` with its own ramp ([`Edges::Free`]), or the soft ramp of a
    /// `width` × `height` canvas if it carries none.
    pub fn free(circle: &Circle, width: u32, height: u32) -> Self {
        match circle.edge_width() {
            Some(px) => {
                let max = (crate::circle::MAX_EDGE_WIDTH as i64) * SUBPIXELS;
                let w = (2 * (128.0 * px + 0.5).floor() as i64).clamp(SUBPIXELS, max);
                Self {
                    disc: RasterCircle::new(circle),
                    width: w,
                }
            }
            None => Self::soft(circle, width, height),
        }
    }

    /// Quantises `circle` for `edges` on a `width` × `height` canvas; `None` for hard edges,
    /// which [`crate::raster`] draws, not this model.
    #[inline]
    pub fn for_edges(circle: &Circle, edges: Edges, width: u32, height: u32) -> Option<Self> {
        match edges {
            Edges::Soft => Some(Self::soft(circle, width, height)),
            Edges::Free => Some(Self::free(circle, width, height)),
            Edges::Smooth => Some(Self::new(circle)),
            Edges::Hard => None,
        }
    }

    /// The ramp's width `w` in 1/256 pixel (even; 256 is the one-pixel ramp).
    #[inline]
    pub fn ramp_width(&self) -> i64 {
        self.width
    }

    /// `r + w/2`: the distance (1/256 px) at which the ramp reaches 0.
    #[inline]
    pub fn outer(&self) -> i64 {
        self.disc.r + self.width / 2
    }

    /// The squared distance bound of the footprint: `D ≤` this iff `k > 0`.
    pub fn outer_r2(&self) -> i64 {
        // k > 0 iff (r + w/2 − d)·256 ≥ w iff d ≤ r + w/2 − ⌈w/256⌉.
        let r = self.outer() - (self.width + SUBPIXELS - 1) / SUBPIXELS + 1;
        r * r - 1
    }

    /// The squared distance bound of the interior: `D ≤` this iff `k = 256` (negative when
    /// no pixel can be fully covered).
    pub fn inner_r2(&self) -> i64 {
        // k = 256 iff r + w/2 − d ≥ w iff d ≤ r − w/2.
        let r = self.disc.r - self.width / 2 + 1;
        if r <= 0 { -1 } else { r * r - 1 }
    }

    /// The offsets from the centre of pixel (`i`, `j`)'s centre, in 1/256 pixel.
    #[inline]
    pub fn offsets(&self, i: u32, j: u32) -> (i64, i64) {
        (
            i64::from(i) * SUBPIXELS + HALF - self.disc.cx,
            i64::from(j) * SUBPIXELS + HALF - self.disc.cy,
        )
    }

    /// The coverage `k` (`0..=256`) of a pixel whose centre lies at squared distance `d2`.
    #[inline]
    pub fn coverage_at(&self, d2: i64) -> u16 {
        let x = (self.outer() - floor_sqrt(d2)).clamp(0, self.width);
        if self.width == SUBPIXELS {
            x as u16
        } else {
            (x * SUBPIXELS / self.width) as u16
        }
    }

    /// The coverage `k` (`0..=256`) of pixel (`i`, `j`): the definition, pixel by pixel.
    pub fn coverage(&self, i: u32, j: u32) -> u16 {
        let (dx, dy) = self.offsets(i, j);
        self.coverage_at(dx * dx + dy * dy)
    }

    /// The effective alpha `e = (a·k + 128) >> 8` of a pixel with coverage `k`.
    #[inline]
    pub fn effective_alpha(&self, k: u16) -> u16 {
        ((u32::from(self.disc.alpha) * u32::from(k) + 128) >> 8) as u16
    }

    /// Blends this circle over pixel (`i`, `j`), whose RGBA bytes are `px` (the slow
    /// definition; the alpha byte is left as it is).
    pub fn composite_pixel(&self, i: u32, j: u32, px: &mut [u8]) {
        let e = u32::from(self.effective_alpha(self.coverage(i, j)));
        for (p, &c) in px.iter_mut().zip(&self.disc.rgb) {
            *p = ((u32::from(c) * e + u32::from(*p) * (256 - e) + 128) >> 8) as u8;
        }
    }

    /// Appends the footprint's spans (every pixel with `k > 0`) on a `width` × `height`
    /// canvas to `out`, top to bottom, at most one per row.
    ///
    /// # Allocation
    /// Only when `out` must grow.
    pub fn spans(&self, width: u32, height: u32, out: &mut Vec<Span>) {
        disc_spans(
            self.disc.cx,
            self.disc.cy,
            self.outer_r2(),
            width,
            height,
            out,
        );
    }

    /// The fully covered pixels of row `y` on a canvas `width` pixels wide, as `(x0, x1)`
    /// with `x1` exclusive (`x0 >= x1` when there are none).
    pub fn interior(&self, y: u32, width: u32) -> (u32, u32) {
        disc_row_span(self.disc.cx, self.disc.cy, self.inner_r2(), y, width).unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circle(x: f64, y: f64, r: f64) -> SmoothCircle {
        SmoothCircle::new(&Circle::new(x, y, r, [0.2, 0.4, 0.9], 0.7).unwrap())
    }

    #[test]
    fn coverage_ramps_over_one_pixel_around_the_radius() {
        // Radius 4 centred on pixel (10, 10)'s centre: along the row, the pixel centres at
        // distance 3 and less are full, 4 is half (the ramp's middle), 5 is outside.
        let c = circle(10.5, 10.5, 4.0);
        assert_eq!(c.coverage(13, 10), 256);
        assert_eq!(c.coverage(14, 10), 128);
        assert_eq!(c.coverage(15, 10), 0);
        assert_eq!(c.effective_alpha(256), c.disc.alpha);
        assert_eq!(c.effective_alpha(0), 0);
    }

    #[test]
    fn a_pixel_with_no_coverage_keeps_its_value() {
        let c = circle(10.5, 10.5, 4.0);
        let mut px = [17, 99, 200, 255];
        c.composite_pixel(30, 30, &mut px);
        assert_eq!(px, [17, 99, 200, 255]);
    }

    #[test]
    fn soft_ramps_are_half_the_radius_between_one_pixel_and_the_cap() {
        let soft = |r: f64, side: u32| {
            let c = Circle::new(100.5, 100.5, r, [0.2, 0.4, 0.9], 0.7).unwrap();
            SmoothCircle::soft(&c, side, side + 50)
        };
        // Circles up to 2 px and canvases under 256 px keep the one-pixel ramp (and its
        // coverage).
        assert_eq!(soft(2.0, 512).ramp_width(), 256);
        assert_eq!(soft(30.0, 200).ramp_width(), 256);
        let c = soft(2.0, 512);
        let s = circle(100.5, 100.5, 2.0);
        for i in 90..110 {
            assert_eq!(c.coverage(i, 100), s.coverage(i, 100));
        }
        // r = 6: w = 3 px; at 256² the cap is 2 px, at 512² 4 px, at 1024² 8 px.
        assert_eq!(soft(6.0, 512).ramp_width(), 3 * 256);
        assert_eq!(soft(40.0, 256).ramp_width(), 2 * 256);
        assert_eq!(soft(40.0, 512).ramp_width(), 4 * 256);
        assert_eq!(soft(40.0, 1024).ramp_width(), 8 * 256);
        // r = 8, w = 4 px: full up to distance 6, 3/4 at 7, half at 8, 1/4 at 9, none at 10.
        let c = soft(8.0, 512);
        let k: Vec<u16> = (105..=111).map(|i| c.coverage(i, 100)).collect();
        assert_eq!(k, [256, 256, 192, 128, 64, 0, 0]);
    }

    #[test]
    fn free_ramps_are_the_circles_own_to_the_nearest_even_256th() {
        let c = Circle::new(100.5, 100.5, 8.0, [0.2, 0.4, 0.9], 0.7).unwrap();
        let free = |w: f64| SmoothCircle::free(&c.with_edge_width(w).unwrap(), 512, 512);
        assert_eq!(free(1.0).ramp_width(), 256);
        assert_eq!(free(4.0).ramp_width(), 4 * 256);
        assert_eq!(free(2.5).ramp_width(), 640);
        assert_eq!(free(32.0).ramp_width(), 32 * 256);
        // Without a width of its own, the soft rule's (r = 8: 4 px at 512²).
        assert_eq!(SmoothCircle::free(&c, 512, 512).ramp_width(), 4 * 256);
        // The same ramp as soft edges' with the same width: 4 px, full to 6, none at 10.
        let k: Vec<u16> = (105..=111).map(|i| free(4.0).coverage(i, 100)).collect();
        assert_eq!(k, [256, 256, 192, 128, 64, 0, 0]);
        // An SVG gradient for each wide ramp.
        let wide = c.with_edge_width(6.0).unwrap();
        assert_eq!(
            soft_gradient(&wide, Edges::Free, 256, 256),
            Some((11.0, 5.0 / 11.0))
        );
        assert!(c.with_edge_width(0.5).is_err());
        assert!(c.with_edge_width(33.0).is_err());
    }

    #[test]
    fn soft_gradients_span_the_ramp_and_only_wide_ones_exist() {
        let c = |r| Circle::new(100.0, 90.0, r, [0.2, 0.4, 0.9], 0.7).unwrap();
        // 256²: a 2 px ramp at radius 60, from 59 to 61.
        let soft = |r, w, h| soft_gradient(&c(r), Edges::Soft, w, h);
        assert_eq!(soft(60.0, 256, 256), Some((61.0, 59.0 / 61.0)));
        // One-pixel ramps are plain circles: small circles, small canvases; and so are
        // hard and smooth edges.
        assert_eq!(soft(2.0, 512, 512), None);
        assert_eq!(soft(60.0, 255, 400), None);
        assert_eq!(soft_gradient(&c(60.0), Edges::Smooth, 256, 256), None);
        assert_eq!(soft_gradient(&c(60.0), Edges::Hard, 256, 256), None);
    }

    /// The footprint and interior spans of `c` are exactly the pixels with `k > 0` and
    /// `k = 256`, by the definition.
    fn check_spans(
        c: SmoothCircle,
        w: u32,
        h: u32,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut spans = Vec::new();
        c.spans(w, h, &mut spans);
        let mut want = Vec::new();
        for j in 0..h {
            let xs: Vec<u32> = (0..w).filter(|&i| c.coverage(i, j) > 0).collect();
            if let (Some(&a), Some(&b)) = (xs.first(), xs.last()) {
                proptest::prop_assert_eq!(xs.len() as u32, b - a + 1);
                want.push(Span {
                    y: j,
                    x0: a,
                    x1: b + 1,
                });
            }
            let full: Vec<u32> = (0..w).filter(|&i| c.coverage(i, j) == 256).collect();
            let (i0, i1) = c.interior(j, w);
            match (full.first(), full.last()) {
                (Some(&a), Some(&b)) => {
                    proptest::prop_assert_eq!(full.len() as u32, b - a + 1);
                    proptest::prop_assert_eq!((i0, i1), (a, b + 1));
                }
                _ => proptest::prop_assert!(i0 >= i1),
            }
        }
        proptest::prop_assert_eq!(spans, want);
        Ok(())
    }

    proptest::proptest! {
        /// Soft circles' spans follow their coverage, with ramps from one pixel to the cap
        /// (a 512-pixel side allows 8 pixels).
        #[test]
        fn soft_spans_follow_the_coverage(
            x in -20.0f64..80.0,
            y in -20.0f64..80.0,
            r in 0.0f64..60.0,
            w in 1u32..64,
            h in 1u32..64,
            side in 64u32..1200,
        ) {
            let c = Circle::new(x, y, r, [0.2, 0.4, 0.9], 0.7).unwrap();
            check_spans(SmoothCircle::soft(&c, side, side), w, h)?;
        }

        /// Free circles' spans follow their coverage, with ramps from one pixel to the
        /// widest a circle may carry.
        #[test]
        fn free_spans_follow_the_coverage(
            x in -20.0f64..80.0,
            y in -20.0f64..80.0,
            r in 0.0f64..60.0,
            edge in 1.0f64..32.0,
            w in 1u32..64,
            h in 1u32..64,
        ) {
            let c = Circle::new(x, y, r, [0.2, 0.4, 0.9], 0.7).unwrap();
            let c = c.with_edge_width(edge).unwrap();
            check_spans(SmoothCircle::free(&c, 64, 64), w, h)?;
        }

        /// The footprint and interior spans are exactly the pixels with `k > 0` and
        /// `k = 256`, by the definition.
        #[test]
        fn spans_follow_the_coverage(
            x in -20.0f64..60.0,
            y in -20.0f64..60.0,
            r in 0.0f64..30.0,
            w in 1u32..48,
            h in 1u32..48,
        ) {
            check_spans(circle(x, y, r), w, h)?;
        }
    }
}
