//! The refinement's differentiable copy of the anti-aliased edge model
//! ([`circlefit_core::smooth`]), in floating point: each circle a linear coverage ramp `w`
//! pixels wide centred on its radius, `cov = clamp((r + w/2 − d) / w, 0, 1)` at a pixel
//! centre's distance `d`, blended as `p' = p + a·cov·(c − p)`; the loss is the sum of
//! squared R, G, B differences from the reference (0–255 scale).
//!
//! The gradient of the loss with respect to every circle's numbers comes from one pass
//! forward (saving each pixel's value under each circle) and one back (the adjoint of
//! the blends, last circle first). Compositing is per pixel, so a band of rows is computed
//! alone: the refinement cuts the canvas into fixed bands ([`BAND_ROWS`]) and sums their
//! gradients in band order, which makes the sum the same on any number of threads.
//!
//! The model is a guide, not the score: the integer model quantises every number and
//! rounds every blend, so each refined set of circles is scored exactly before it is kept.

use circlefit_core::CanvasRef;

/// Numbers per circle in the refinement: x, y, radius, red, green, blue, alpha and the
/// ramp's width `w` (pixels).
pub(crate) const NUMBERS: usize = 8;

/// Rows per band of the gradient: fixed, so the sums do not depend on the thread count.
pub(crate) const BAND_ROWS: u32 = 32;

/// How a circle's ramp width follows from its numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Ramp {
    /// The same width for every circle (1 px: smooth edges, and the surrogate of hard ones).
    Fixed(f32),
    /// Soft edges: half the radius, at least one pixel, at most `cap` pixels.
    Soft {
        /// The widest ramp, pixels.
        cap: f32,
    },
    /// Each circle's own width, its eighth number, clamped to `[min, max]` pixels.
    Free {
        /// The narrowest ramp, pixels.
        min: f32,
        /// The widest ramp, pixels.
        max: f32,
    },
}

impl Ramp {
    /// The ramp width of a circle with radius `r` and width number `w`, and its derivative
    /// with respect to `r` and to `w`.
    fn width(self, r: f32, w: f32) -> (f32, f32, f32) {
        match self {
            Self::Fixed(w) => (w, 0.0, 0.0),
            Self::Soft { cap } => {
                let half = 0.5 * r;
                if half <= 1.0 {
                    (1.0, 0.0, 0.0)
                } else if half >= cap {
                    (cap, 0.0, 0.0)
                } else {
                    (half, 0.5, 0.0)
                }
            }
            Self::Free { min, max } => {
                if w <= min {
                    (min, 0.0, 0.0)
                } else if w >= max {
                    (max, 0.0, 0.0)
                } else {
                    (w, 0.0, 1.0)
                }
            }
        }
    }
}

/// The reference, the base and the edge model, as floats (R, G, B per pixel, 0–255).
#[derive(Debug)]
pub(crate) struct Scene {
    width: u32,
    height: u32,
    reference: Vec<f32>,
    base: Vec<f32>,
    ramp: Ramp,
}

/// A band's share of the loss's gradient (`NUMBERS` per circle; the colour's in units of
/// the `[0, 1]` channel).
#[derive(Debug)]
pub(crate) struct BandGradient {
    pub(crate) grad: Vec<f64>,
}

/// One circle's numbers as the model uses them.
#[derive(Clone, Copy, Debug)]
struct Shape {
    cx: f32,
    cy: f32,
    r: f32,
    rgb: [f32; 3],
    a: f32,
    w: f32,
    dw_dr: f32,
    dw_dw: f32,
}

impl Shape {
    fn of(ramp: Ramp, p: &[f64]) -> Self {
        let r = p[2] as f32;
        let (w, dw_dr, dw_dw) = ramp.width(r, p[7] as f32);
        Self {
            cx: p[0] as f32,
            cy: p[1] as f32,
            r,
            rgb: [
                p[3] as f32 * 255.0,
                p[4] as f32 * 255.0,
                p[5] as f32 * 255.0,
            ],
            a: p[6] as f32,
            w,
            dw_dr,
            dw_dw,
        }
    }

    fn outer(&self) -> f32 {
        self.r + 0.5 * self.w
    }
}

/// One row of a shape's footprint: pixels `x0..x1` of band row `row`, fully covered in
/// `ia..ib` (`x0 <= ia <= ib <= x1`), on the ramp on either side.
#[derive(Clone, Copy, Debug)]
struct Row {
    row: usize,
    dy: f32,
    x0: usize,
    ia: usize,
    ib: usize,
    x1: usize,
}

impl Row {
    /// The ramp pixels: left of the interior, then right of it.
    fn ramp(&self) -> impl Iterator<Item = usize> {
        (self.x0..self.ia).chain(self.ib..self.x1)
    }
}

/// Calls `f` for every row of `y0..y1` that `s` reaches, top to bottom; the forward and
/// backward passes walk the same rows and pixels.
fn for_rows(s: &Shape, (y0, y1): (u32, u32), width: u32, mut f: impl FnMut(Row)) {
    let outer = s.outer();
    let inner = s.r - 0.5 * s.w;
    let inner2 = if inner > 0.0 { inner * inner } else { -1.0 };
    let top = ((s.cy - outer - 0.5).floor().max(y0 as f32)) as u32;
    let bottom = ((s.cy + outer + 0.5).ceil().min(y1 as f32)) as u32;
    let col = |x: f32| x.clamp(0.0, width as f32) as usize;
    for j in top.max(y0)..bottom.min(y1) {
        let dy = j as f32 + 0.5 - s.cy;
        let span2 = outer * outer - dy * dy;
        if span2 <= 0.0 {
            continue;
        }
        let half = span2.sqrt();
        let x0 = col((s.cx - half - 0.5).ceil());
        let x1 = col((s.cx + half - 0.5).floor() + 1.0).max(x0);
        let (ia, ib) = match inner2 - dy * dy {
            in2 if in2 > 0.0 => {
                let h = in2.sqrt();
                let ia = col((s.cx - h - 0.5).ceil()).clamp(x0, x1);
                (ia, col((s.cx + h - 0.5).floor() + 1.0).clamp(ia, x1))
            }
            _ => (x1, x1),
        };
        let row = (j - y0) as usize;
        f(Row {
            row,
            dy,
            x0,
            ia,
            ib,
            x1,
        });
    }
}

/// A ramp pixel's coverage at offset (`dx`, `dy`) from the centre, and its distance when
/// strictly on the ramp (0 where the coverage is clamped to 0 or 1: no slope there).
#[inline]
fn ramp_at(s: &Shape, dx: f32, dy: f32) -> (f32, f32) {
    let d = (dx * dx + dy * dy).sqrt();
    let cov = (s.outer() - d) / s.w;
    if cov >= 1.0 {
        (1.0, 0.0)
    } else if cov <= 0.0 {
        (0.0, 0.0)
    } else {
        (cov, d)
    }
}

impl Scene {
    /// The scene of a fit: its reference and base canvases (the same size) and ramp.
    pub(crate) fn new(reference: CanvasRef<'_>, base: CanvasRef<'_>, ramp: Ramp) -> Self {
        let floats = |c: CanvasRef<'_>| {
            (0..c.height())
                .flat_map(|y| c.row(y).chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]))
                .map(f32::from)
                .collect()
        };
        Self {
            width: reference.width(),
            height: reference.height(),
            reference: floats(reference),
            base: floats(base),
            ramp,
        }
    }

    /// The bands of rows, top to bottom.
    pub(crate) fn bands(&self) -> Vec<(u32, u32)> {
        (0..self.height.div_ceil(BAND_ROWS))
            .map(|b| (b * BAND_ROWS, ((b + 1) * BAND_ROWS).min(self.height)))
            .collect()
    }

    /// The gradient over rows `band` of the loss of circles `params` (`NUMBERS` each, in
    /// draw order). The loss itself is not summed: the refinement scores exactly instead.
    pub(crate) fn band_gradient(&self, params: &[f64], band: (u32, u32)) -> BandGradient {
        let shapes = self.shapes(params);
        let (mut pixels, saved, starts) = self.forward(&shapes, band);
        let (lo, hi) = (self.offset(band.0), self.offset(band.1));
        for (p, q) in pixels.iter_mut().zip(&self.reference[lo..hi]) {
            *p = 2.0 * (*p - q); // dL/dp
        }
        let mut grad = vec![0.0; params.len()];
        for k in (0..shapes.len()).rev() {
            let g = &mut grad[k * NUMBERS..(k + 1) * NUMBERS];
            self.backward(&shapes[k], band, &saved[starts[k]..], &mut pixels, g);
        }
        BandGradient { grad }
    }

    /// The loss over rows `band` of circles `params`: Σ (p − q)² over R, G, B.
    #[cfg(test)]
    fn band_loss(&self, params: &[f64], band: (u32, u32)) -> f64 {
        let (pixels, _, _) = self.forward(&self.shapes(params), band);
        let (lo, hi) = (self.offset(band.0), self.offset(band.1));
        let squares = pixels
            .iter()
            .zip(&self.reference[lo..hi])
            .map(|(p, q)| (p - q) * (p - q));
        squares.map(f64::from).sum()
    }

    fn shapes(&self, params: &[f64]) -> Vec<Shape> {
        params
            .chunks_exact(NUMBERS)
            .map(|p| Shape::of(self.ramp, p))
            .collect()
    }

    /// Index of row `y`'s first channel.
    fn offset(&self, y: u32) -> usize {
        y as usize * self.width as usize * 3
    }

    /// Draws `shapes` over the band's base: the band's pixels, every footprint pixel's
    /// value under each shape (row by row, in drawing order), and where each shape's values
    /// start.
    fn forward(&self, shapes: &[Shape], band: (u32, u32)) -> (Vec<f32>, Vec<f32>, Vec<usize>) {
        let mut pixels = self.base[self.offset(band.0)..self.offset(band.1)].to_vec();
        let mut saved = Vec::new();
        let mut starts = Vec::with_capacity(shapes.len());
        let w = self.width as usize;
        for s in shapes {
            starts.push(saved.len());
            for_rows(s, band, self.width, |r| {
                let line = &mut pixels[3 * r.row * w..3 * (r.row + 1) * w];
                saved.extend_from_slice(&line[3 * r.x0..3 * r.x1]);
                for i in r.ramp() {
                    let (cov, _) = ramp_at(s, i as f32 + 0.5 - s.cx, r.dy);
                    blend(&mut line[3 * i..3 * i + 3], s.a * cov, &s.rgb);
                }
                for px in line[3 * r.ia..3 * r.ib].chunks_exact_mut(3) {
                    blend(px, s.a, &s.rgb);
                }
            });
        }
        (pixels, saved, starts)
    }

    /// The adjoint of drawing `s`: adds its gradient to `g` and turns `adjoint` (dL/dp
    /// after `s`) into dL/dp before it.
    fn backward(
        &self,
        s: &Shape,
        band: (u32, u32),
        saved: &[f32],
        adjoint: &mut [f32],
        g: &mut [f64],
    ) {
        let w = self.width as usize;
        let mut sums = Sums::default();
        let mut at = 0;
        for_rows(s, band, self.width, |r| {
            let under = &saved[at..at + 3 * (r.x1 - r.x0)];
            at += under.len();
            let line = &mut adjoint[3 * r.row * w..3 * (r.row + 1) * w];
            for i in r.ramp() {
                let dx = i as f32 + 0.5 - s.cx;
                let u = &under[3 * (i - r.x0)..3 * (i - r.x0) + 3];
                sums.ramp_pixel(s, (dx, r.dy), u, &mut line[3 * i..3 * i + 3]);
            }
            let u = &under[3 * (r.ia - r.x0)..3 * (r.ib - r.x0)];
            sums.interior_run(s, u, &mut line[3 * r.ia..3 * r.ib]);
        });
        sums.add_to(s, g);
    }
}

/// `p += e·(c − p)` over one pixel's channels.
#[inline]
fn blend(px: &mut [f32], e: f32, rgb: &[f32; 3]) {
    for (p, &c) in px.iter_mut().zip(rgb) {
        *p += e * (c - *p);
    }
}

/// One shape's gradient as the backward pass sums it.
#[derive(Debug, Default)]
struct Sums {
    x: f64,
    y: f64,
    /// d/d(r) through the coverage, before the width's share.
    r: f64,
    rgb: [f64; 3],
    a: f64,
    w: f64,
}

impl Sums {
    /// A ramp pixel at offset `(dx, dy)`, `under` its value before the shape, `adj` dL/dp
    /// after it (turned into dL/dp before it).
    #[inline]
    fn ramp_pixel(&mut self, s: &Shape, (dx, dy): (f32, f32), under: &[f32], adj: &mut [f32]) {
        let (cov, d) = ramp_at(s, dx, dy);
        let e = s.a * cov;
        let mut ge = 0.0f32;
        for ch in 0..3 {
            self.rgb[ch] += f64::from(adj[ch] * e);
            ge += adj[ch] * (s.rgb[ch] - under[ch]);
            adj[ch] *= 1.0 - e;
        }
        self.a += f64::from(ge * cov);
        if d > 0.0 {
            // On the ramp: cov = (r + w/2 − d) / w.
            let gcov = f64::from(ge * s.a / s.w);
            self.x += gcov * f64::from(dx / d);
            self.y += gcov * f64::from(dy / d);
            self.r += gcov;
            self.w += gcov * f64::from(0.5 - cov);
        }
    }

    /// A run of fully covered pixels: only the colour and alpha have a gradient there.
    #[inline]
    fn interior_run(&mut self, s: &Shape, under: &[f32], adj: &mut [f32]) {
        let (mut g, mut ge) = ([0.0f32; 3], 0.0f32);
        let keep = 1.0 - s.a;
        for (a, u) in adj.chunks_exact_mut(3).zip(under.chunks_exact(3)) {
            for ch in 0..3 {
                g[ch] += a[ch];
                ge += a[ch] * (s.rgb[ch] - u[ch]);
                a[ch] *= keep;
            }
        }
        for (sum, g) in self.rgb.iter_mut().zip(g) {
            *sum += f64::from(g * s.a);
        }
        self.a += f64::from(ge);
    }

    /// Adds the sums to `g`, the shape's numbers' gradient (colour per `[0, 1]` channel).
    fn add_to(&self, s: &Shape, g: &mut [f64]) {
        g[0] += self.x;
        g[1] += self.y;
        g[2] += self.r + self.w * f64::from(s.dw_dr);
        for ch in 0..3 {
            g[3 + ch] += self.rgb[ch] * 255.0;
        }
        g[6] += self.a;
        g[7] += self.w * f64::from(s.dw_dw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use circlefit_core::Canvas;

    /// A small scene with a gradient-filled reference.
    fn scene(ramp: Ramp) -> Scene {
        let (w, h) = (40usize, 37usize);
        let data = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [(x * 6) as u8, (y * 5) as u8, ((x + y) * 3) as u8, 255]
            })
            .collect();
        let reference = Canvas::from_vec(w as u32, h as u32, data).unwrap();
        let base = Canvas::white(w as u32, h as u32).unwrap();
        Scene::new(reference.as_ref(), base.as_ref(), ramp)
    }

    fn total(s: &Scene, p: &[f64]) -> (f64, Vec<f64>) {
        let mut loss = 0.0;
        let mut grad = vec![0.0; p.len()];
        for band in s.bands() {
            let b = s.band_gradient(p, band);
            loss += s.band_loss(p, band);
            grad.iter_mut().zip(&b.grad).for_each(|(g, x)| *g += x);
        }
        (loss, grad)
    }

    /// The analytic gradient agrees with central differences of the loss, number by
    /// number, for every ramp rule (away from kinks: widths inside their clamps).
    #[test]
    fn the_gradient_matches_finite_differences() {
        let params = [
            14.3, 12.7, 9.4, 0.8, 0.2, 0.3, 0.6, 3.1, //
            22.1, 25.6, 11.2, 0.1, 0.7, 0.5, 0.5, 5.7, //
            30.4, 9.2, 5.3, 0.4, 0.4, 0.9, 0.8, 2.3,
        ];
        let ramps = [
            Ramp::Fixed(1.0),
            Ramp::Soft { cap: 4.0 },
            Ramp::Free {
                min: 1.0,
                max: 32.0,
            },
        ];
        for ramp in ramps {
            let s = scene(ramp);
            let (_, grad) = total(&s, &params);
            for i in 0..params.len() {
                // Small steps: the ramp's clamps make the loss curve sharply within a pixel.
                let h = 1e-3;
                let (mut up, mut down) = (params, params);
                up[i] += h;
                down[i] -= h;
                let numeric = (total(&s, &up).0 - total(&s, &down).0) / (2.0 * h);
                let scale = numeric.abs().max(grad[i].abs()).max(50.0);
                assert!(
                    (numeric - grad[i]).abs() <= 0.03 * scale,
                    "{ramp:?} number {i}: analytic {} numeric {numeric}",
                    grad[i]
                );
            }
        }
    }

    /// Bands split the canvas: their losses sum to the whole image's.
    #[test]
    fn bands_cover_every_row_once() {
        let s = scene(Ramp::Fixed(1.0));
        let rows: u32 = s.bands().iter().map(|(a, b)| b - a).sum();
        assert_eq!(rows, 37);
        let p = [20.0, 18.0, 30.0, 0.5, 0.5, 0.5, 1.0, 1.0];
        let (loss, _) = total(&s, &p);
        assert!(loss > 0.0);
    }
}
