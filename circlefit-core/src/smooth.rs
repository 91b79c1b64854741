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
//! # Spans
//!
//! The pixels with `k > 0` (the *footprint*, `D < (r + 128)²`) form one span per row; the
//! fully covered ones (the *interior*, `D < (r − 127)²`) form one span inside it. Everything
//! between is the edge, blended pixel by pixel.

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
}

impl Edges {
    /// The name the command-line tool and the settings files use (`hard`, `smooth`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Smooth => "smooth",
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
            _ => Err(crate::Error::UnknownName {
                field: "edges",
                value: s.to_owned(),
                choices: "hard, smooth",
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
}

impl SmoothCircle {
    /// Quantises `circle`.
    pub fn new(circle: &Circle) -> Self {
        Self {
            disc: RasterCircle::new(circle),
        }
    }

    /// The squared distance bound of the footprint: `D ≤` this iff `k > 0`.
    pub fn outer_r2(&self) -> i64 {
        let r = self.disc.r + HALF;
        r * r - 1
    }

    /// The squared distance bound of the interior: `D ≤` this iff `k = 256` (negative when
    /// no pixel can be fully covered).
    pub fn inner_r2(&self) -> i64 {
        let r = self.disc.r - (HALF - 1);
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
        (self.disc.r + HALF - floor_sqrt(d2)).clamp(0, SUBPIXELS) as u16
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

    proptest::proptest! {
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
            let c = circle(x, y, r);
            let mut spans = Vec::new();
            c.spans(w, h, &mut spans);
            let mut want = Vec::new();
            for j in 0..h {
                let xs: Vec<u32> = (0..w).filter(|&i| c.coverage(i, j) > 0).collect();
                if let (Some(&a), Some(&b)) = (xs.first(), xs.last()) {
                    proptest::prop_assert_eq!(xs.len() as u32, b - a + 1);
                    want.push(Span { y: j, x0: a, x1: b + 1 });
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
        }
    }
}
