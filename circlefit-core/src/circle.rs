//! [`Circle`], its flat parameter encoding and the search bounds for a canvas size.

use crate::error::{Error, Result, check_finite, check_range};

/// Numbers per circle in a flat parameter vector: x, y, radius, red, green, blue, alpha.
pub const PARAMS_PER_CIRCLE: usize = 7;

/// The smallest alpha: the least opacity that can change an 8-bit channel.
pub const MIN_ALPHA: f64 = 1.0 / 255.0;

/// The narrowest edge ramp a circle may carry ([`Circle::with_edge_width`]), in pixels:
/// the one-pixel anti-aliased edge.
pub const MIN_EDGE_WIDTH: f64 = 1.0;

/// The widest edge ramp a circle may carry ([`Circle::with_edge_width`]), in pixels.
pub const MAX_EDGE_WIDTH: f64 = 32.0;

/// The largest distance, in pixels, that a centre may lie from the origin or a radius may
/// reach. It keeps the fixed-point geometry of the [raster model](crate::raster) exact in
/// `i64`; it is far beyond anything a fit of a [`MAX_DIMENSION`](crate::MAX_DIMENSION) image
/// needs.
pub const MAX_COORDINATE: f64 = 1_048_576.0;

/// One coloured, alpha-blended disc.
///
/// Coordinates are in pixels with the origin at the top-left corner of the image: pixel
/// (`i`, `j`) has its centre at (`i + 0.5`, `j + 0.5`) (see [`raster`](crate::raster) for
/// exactly which pixels a circle covers). Colour is straight (not premultiplied) RGB in
/// `[0, 1]`; alpha is in [`[MIN_ALPHA, 1]`](MIN_ALPHA).
///
/// A circle may also carry its own edge width ([`Circle::with_edge_width`]), which the
/// per-circle edge model ([`Edges::Free`](crate::Edges::Free)) draws; the other models
/// ignore it. It is an eighth number beside the seven of the flat encoding, not part of
/// it.
///
/// A `Circle` is always valid: the constructors check every field.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Circle {
    x: f64,
    y: f64,
    r: f64,
    color: [f64; 3],
    alpha: f64,
    /// The edge ramp's width in pixels (`None`: the edge model's own rule).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    edge: Option<f64>,
}

impl Circle {
    /// A circle centred at (`x`, `y`) with radius `r`, colour `color` (RGB in `[0, 1]`) and
    /// opacity `alpha`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for NaN or infinite values; [`Error::OutOfRange`] for a centre
    /// beyond ±[`MAX_COORDINATE`], a radius outside `[0, MAX_COORDINATE]`, a colour channel
    /// outside `[0, 1]` or an alpha outside `[MIN_ALPHA, 1]`.
    pub fn new(x: f64, y: f64, r: f64, color: [f64; 3], alpha: f64) -> Result<Self> {
        check_range("x", x, -MAX_COORDINATE, MAX_COORDINATE)?;
        check_range("y", y, -MAX_COORDINATE, MAX_COORDINATE)?;
        check_range("radius", r, 0.0, MAX_COORDINATE)?;
        for (field, c) in ["red", "green", "blue"].into_iter().zip(color) {
            check_range(field, c, 0.0, 1.0)?;
        }
        check_range("alpha", alpha, MIN_ALPHA, 1.0)?;
        Ok(Self {
            x,
            y,
            r,
            color,
            alpha,
            edge: None,
        })
    }

    /// The same circle with its own edge ramp `width` pixels wide (see
    /// [`Edges::Free`](crate::Edges::Free)).
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfRange`] for a width outside
    /// `[MIN_EDGE_WIDTH, MAX_EDGE_WIDTH]`.
    pub fn with_edge_width(self, width: f64) -> Result<Self> {
        check_range("edge width", width, MIN_EDGE_WIDTH, MAX_EDGE_WIDTH)?;
        Ok(Self {
            edge: Some(width),
            ..self
        })
    }

    /// The circle's own edge width in pixels, if it carries one.
    pub fn edge_width(&self) -> Option<f64> {
        self.edge
    }

    /// Decodes one circle from 7 numbers in the order x, y, r, red, green, blue, alpha.
    ///
    /// # Errors
    /// [`Error::ParamLength`] unless `params` has exactly 7 numbers; otherwise as
    /// [`Circle::new`].
    pub fn from_params(params: &[f64]) -> Result<Self> {
        match *params {
            [x, y, r, red, green, blue, alpha] => Self::new(x, y, r, [red, green, blue], alpha),
            _ => Err(Error::ParamLength { len: params.len() }),
        }
    }

    /// Decodes a flat vector of 7 numbers per circle, appending to `out`.
    ///
    /// # Errors
    /// [`Error::ParamLength`] if the length is not a multiple of 7; otherwise as
    /// [`Circle::new`] for the first invalid circle (nothing is appended then).
    pub fn decode_all(params: &[f64], out: &mut Vec<Circle>) -> Result<()> {
        if !params.len().is_multiple_of(PARAMS_PER_CIRCLE) {
            return Err(Error::ParamLength { len: params.len() });
        }
        let start = out.len();
        for chunk in params.chunks_exact(PARAMS_PER_CIRCLE) {
            match Self::from_params(chunk) {
                Ok(c) => out.push(c),
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The 7 numbers x, y, r, red, green, blue, alpha.
    pub fn to_params(&self) -> [f64; PARAMS_PER_CIRCLE] {
        let [red, green, blue] = self.color;
        [self.x, self.y, self.r, red, green, blue, self.alpha]
    }

    /// Centre x in pixels.
    pub fn x(&self) -> f64 {
        self.x
    }

    /// Centre y in pixels.
    pub fn y(&self) -> f64 {
        self.y
    }

    /// Radius in pixels.
    pub fn radius(&self) -> f64 {
        self.r
    }

    /// Straight RGB colour, each channel in `[0, 1]`.
    pub fn color(&self) -> [f64; 3] {
        self.color
    }

    /// Opacity in `[MIN_ALPHA, 1]`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The same circle with another colour (its edge width kept).
    ///
    /// # Errors
    /// As [`Circle::new`] for the colour.
    pub fn with_color(self, color: [f64; 3]) -> Result<Self> {
        let c = Self::new(self.x, self.y, self.r, color, self.alpha)?;
        Ok(Self {
            edge: self.edge,
            ..c
        })
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Circle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            x: f64,
            y: f64,
            r: f64,
            color: [f64; 3],
            alpha: f64,
            #[serde(default)]
            edge: Option<f64>,
        }
        let raw = Raw::deserialize(d)?;
        let c = Circle::new(raw.x, raw.y, raw.r, raw.color, raw.alpha);
        match raw.edge {
            Some(w) => c.and_then(|c| c.with_edge_width(w)),
            None => c,
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The most numbers [`Bounds::for_circles`] lays out (a million: 142,857 searched circles,
/// more than any fit asks for).
pub const MAX_BOUNDS_DIM: usize = 1_000_000;

/// Per-dimension box bounds: `lower[i] <= x[i] <= upper[i]`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Bounds {
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl Bounds {
    /// Bounds from lower and upper limits per dimension.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for an empty box or lengths that differ;
    /// [`Error::NonFinite`] for a NaN or infinite limit, or a range `upper[i] − lower[i]`
    /// too wide for an `f64` (such as ±1e308, where optimizers' steps overflow);
    /// [`Error::OutOfRange`] where `lower[i] > upper[i]`.
    pub fn new(lower: Vec<f64>, upper: Vec<f64>) -> Result<Self> {
        if lower.is_empty() || lower.len() != upper.len() {
            return Err(Error::InvalidSetting {
                field: "bounds",
                value: format!("{} lower / {} upper", lower.len(), upper.len()),
                reason: "need the same non-zero number of lower and upper limits",
            });
        }
        for (&lo, &hi) in lower.iter().zip(&upper) {
            check_finite("lower bound", lo)?;
            check_finite("upper bound", hi)?;
            if lo > hi {
                return Err(Error::OutOfRange {
                    field: "lower bound",
                    value: lo,
                    min: f64::NEG_INFINITY,
                    max: hi,
                });
            }
            check_finite("bounds range (upper - lower)", hi - lo)?;
        }
        Ok(Self { lower, upper })
    }

    /// The same interval `[lower, upper]` in each of `dim` dimensions.
    ///
    /// # Errors
    /// As [`Bounds::new`].
    pub fn uniform(dim: usize, lower: f64, upper: f64) -> Result<Self> {
        Self::new(vec![lower; dim], vec![upper; dim])
    }

    /// The bounds of `circles` circles on a `width` × `height` canvas: centres up to half a
    /// canvas outside each edge (`x ∈ [−W/2, 3W/2]`, `y ∈ [−H/2, 3H/2]`), radius in
    /// `[1, max(W, H)]`, colour channels in `[0, 1]`, alpha in `[MIN_ALPHA, 1]`.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for zero circles or more than [`MAX_BOUNDS_DIM`] numbers;
    /// [`Error::EmptyImage`] for a zero-sized canvas.
    pub fn for_circles(circles: usize, width: u32, height: u32) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::EmptyImage { width, height });
        }
        let (w, h) = (f64::from(width), f64::from(height));
        let lo = [-0.5 * w, -0.5 * h, 1.0, 0.0, 0.0, 0.0, MIN_ALPHA];
        let hi = [1.5 * w, 1.5 * h, w.max(h), 1.0, 1.0, 1.0, 1.0];
        let Some(dim) = circles
            .checked_mul(PARAMS_PER_CIRCLE)
            .filter(|&d| d <= MAX_BOUNDS_DIM)
        else {
            return Err(Error::InvalidSetting {
                field: "circles",
                value: circles.to_string(),
                reason: "too many circles for one parameter box (at most 1000000 numbers)",
            });
        };
        let lower = lo.iter().copied().cycle().take(dim).collect();
        let upper = hi.iter().copied().cycle().take(dim).collect();
        Self::new(lower, upper).map_err(|_| Error::InvalidSetting {
            field: "circles",
            value: circles.to_string(),
            reason: "must be at least 1",
        })
    }

    /// The bounds of `circles` circles' geometry and opacity only — 4 numbers each: x, y,
    /// radius, alpha, with the same limits as [`Bounds::for_circles`] — for strategies that
    /// solve the colour in closed form.
    ///
    /// # Errors
    /// As [`Bounds::for_circles`].
    pub fn for_circle_geometry(circles: usize, width: u32, height: u32) -> Result<Self> {
        let full = Self::for_circles(circles, width, height)?;
        let pick = |v: &[f64]| {
            v.chunks_exact(PARAMS_PER_CIRCLE)
                .flat_map(|c| [c[0], c[1], c[2], c[6]])
                .collect()
        };
        Self::new(pick(&full.lower), pick(&full.upper))
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.lower.len()
    }

    /// Lower limits.
    pub fn lower(&self) -> &[f64] {
        &self.lower
    }

    /// Upper limits.
    pub fn upper(&self) -> &[f64] {
        &self.upper
    }

    /// Clamps `x` into the box in place; NaN becomes the lower limit.
    pub fn clamp(&self, x: &mut [f64]) {
        for ((v, &lo), &hi) in x.iter_mut().zip(&self.lower).zip(&self.upper) {
            *v = if v.is_nan() { lo } else { v.clamp(lo, hi) };
        }
    }

    /// Whether `x` has the right length and lies inside the box.
    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.dim()
            && x.iter()
                .zip(&self.lower)
                .zip(&self.upper)
                .all(|((v, lo), hi)| (*lo..=*hi).contains(v))
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;

    #[test]
    fn params_round_trip() {
        let c = Circle::new(1.5, -2.0, 3.0, [0.1, 0.2, 0.3], 0.5).unwrap();
        assert_eq!(Circle::from_params(&c.to_params()).unwrap(), c);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(matches!(
            Circle::new(f64::NAN, 0.0, 1.0, [0.0; 3], 1.0),
            Err(Error::NonFinite { field: "x", .. })
        ));
        assert!(matches!(
            Circle::new(0.0, 0.0, 1.0, [0.0, 1.5, 0.0], 1.0),
            Err(Error::OutOfRange { field: "green", .. })
        ));
        assert!(matches!(
            Circle::new(0.0, 0.0, 1.0, [0.0; 3], 0.0),
            Err(Error::OutOfRange { field: "alpha", .. })
        ));
        assert!(matches!(
            Circle::from_params(&[0.0; 6]),
            Err(Error::ParamLength { len: 6 })
        ));
        let mut out = Vec::new();
        let mut p = [0.5; 14];
        p[13] = f64::INFINITY;
        assert!(Circle::decode_all(&p, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn bounds_for_circles() {
        let b = Bounds::for_circles(2, 100, 50).unwrap();
        assert_eq!(b.dim(), 14);
        assert_eq!(
            &b.lower()[..7],
            &[-50.0, -25.0, 1.0, 0.0, 0.0, 0.0, MIN_ALPHA]
        );
        assert_eq!(&b.upper()[7..], &[150.0, 75.0, 100.0, 1.0, 1.0, 1.0, 1.0]);
        assert!(Bounds::for_circles(0, 10, 10).is_err());
        assert!(Bounds::new(vec![1.0], vec![0.0]).is_err());
        assert!(Bounds::new(vec![f64::NAN], vec![0.0]).is_err());
    }
}
