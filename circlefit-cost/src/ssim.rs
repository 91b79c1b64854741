//! Structural similarity (SSIM).

use circlefit_core::{CanvasRef, CostFunc};

use crate::{Error, check_same_size};

const RADIUS: usize = 5;
const SIGMA: f64 = 1.5;
const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);

/// SSIM as a cost: `1 − ssim(candidate, reference)` (0 for identical images).
///
/// It is not a per-pixel sum, so strategies score it on the full canvas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ssim;

impl CostFunc for Ssim {
    type Error = Error;

    fn cost(&self, candidate: CanvasRef<'_>, reference: CanvasRef<'_>) -> Result<f64, Error> {
        Ok(1.0 - ssim(candidate, reference)?)
    }
}

/// Mean SSIM over R, G and B: an 11×11 Gaussian window (σ = 1.5) with reflect-101
/// borders, K1 = 0.01, K2 = 0.03, L = 255; each channel's SSIM map is averaged, the three
/// means are averaged, and the result is clamped to `[−1, 1]`. Alpha is ignored.
///
/// # Memory
/// Bounded by the width, not the image: the separable blur keeps the horizontally blurred
/// rows of a sliding 11-row window (5 planes × 11 rows × W × 8 bytes ≈ 440·W bytes, 7 MiB
/// at W = 16384), so a 16384 × 8192 image needs no more than a narrow one of the same width.
///
/// # Errors
/// [`Error::SizeMismatch`] if the images differ in size.
pub fn ssim(a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Error> {
    check_same_size(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    let kernel = gaussian_kernel();
    let mut window = Window::new(w);
    let mut total = 0.0;
    for ch in 0..3 {
        window.clear();
        let mut sum = 0.0;
        let mut blurred = [0.0f64; PLANES];
        for y in 0..h {
            for t in 0..WINDOW {
                window.ensure(
                    reflect(y as isize + t as isize - RADIUS as isize, h),
                    a,
                    b,
                    ch,
                    &kernel,
                );
            }
            for x in 0..w {
                for (p, out) in blurred.iter_mut().enumerate() {
                    let mut s = 0.0;
                    for (t, kv) in kernel.iter().enumerate() {
                        let yy = reflect(y as isize + t as isize - RADIUS as isize, h);
                        s += kv * window.row(yy, p)[x];
                    }
                    *out = s;
                }
                let [mx, my, xx, yy, xy] = blurred;
                let vx = xx - mx * mx;
                let vy = yy - my * my;
                let cov = xy - mx * my;
                sum += ((2.0 * mx * my + C1) * (2.0 * cov + C2))
                    / ((mx * mx + my * my + C1) * (vx + vy + C2));
            }
        }
        total += sum / (w * h) as f64;
    }
    Ok((total / 3.0).clamp(-1.0, 1.0))
}

/// The statistics blurred: x, y, x², y², xy.
const PLANES: usize = 5;
/// Rows in the vertical window.
const WINDOW: usize = 2 * RADIUS + 1;

/// The horizontally blurred rows of the last [`WINDOW`] image rows (slot `row % WINDOW`;
/// any 11 consecutive rows have distinct slots, and a window's reflected rows lie inside it).
struct Window {
    width: usize,
    rows: Vec<f64>,
    held: [Option<usize>; WINDOW],
    line: [Vec<f64>; PLANES],
}

impl Window {
    fn new(width: usize) -> Self {
        Self {
            width,
            rows: vec![0.0; WINDOW * PLANES * width],
            held: [None; WINDOW],
            line: std::array::from_fn(|_| vec![0.0; width]),
        }
    }

    fn clear(&mut self) {
        self.held = [None; WINDOW];
    }

    fn row(&self, y: usize, plane: usize) -> &[f64] {
        let start = ((y % WINDOW) * PLANES + plane) * self.width;
        &self.rows[start..start + self.width]
    }

    /// Makes sure row `y` of channel `ch` is blurred horizontally and held.
    fn ensure(&mut self, y: usize, a: CanvasRef<'_>, b: CanvasRef<'_>, ch: usize, k: &[f64]) {
        let slot = y % WINDOW;
        if self.held[slot] == Some(y) {
            return;
        }
        let w = self.width;
        for (x, (p, q)) in a
            .row(y as u32)
            .chunks_exact(4)
            .zip(b.row(y as u32).chunks_exact(4))
            .enumerate()
        {
            let (u, v) = (f64::from(p[ch]), f64::from(q[ch]));
            let stats = [u, v, u * u, v * v, u * v];
            for (line, s) in self.line.iter_mut().zip(stats) {
                line[x] = s;
            }
        }
        for plane in 0..PLANES {
            let start = (slot * PLANES + plane) * w;
            for x in 0..w {
                let mut s = 0.0;
                for (t, kv) in k.iter().enumerate() {
                    let xx = reflect(x as isize + t as isize - RADIUS as isize, w);
                    s += kv * self.line[plane][xx];
                }
                self.rows[start + x] = s;
            }
        }
        self.held[slot] = Some(y);
    }
}

fn gaussian_kernel() -> [f64; 2 * RADIUS + 1] {
    let mut k = [0.0; 2 * RADIUS + 1];
    for (i, v) in k.iter_mut().enumerate() {
        let d = i as f64 - RADIUS as f64;
        *v = (-d * d / (2.0 * SIGMA * SIGMA)).exp();
    }
    let s: f64 = k.iter().sum();
    k.map(|v| v / s)
}

/// Reflect-101 index into `0..n` (`… 2 1 | 0 1 2 … n-1 | n-2 …`).
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let mut j = i.rem_euclid(period);
    if j >= n as isize {
        j = period - j;
    }
    j as usize
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;
    use circlefit_core::Canvas;

    #[test]
    fn reflect_101() {
        assert_eq!(reflect(-1, 5), 1);
        assert_eq!(reflect(-2, 5), 2);
        assert_eq!(reflect(5, 5), 3);
        assert_eq!(reflect(6, 5), 2);
        assert_eq!(reflect(-7, 2), 1);
        assert_eq!(reflect(3, 1), 0);
    }

    #[test]
    fn identical_is_one_and_different_is_less() {
        let a = Canvas::from_vec(7, 5, (0..140).map(|i| (i * 37 % 251) as u8).collect()).unwrap();
        assert!((ssim(a.as_ref(), a.as_ref()).unwrap() - 1.0).abs() < 1e-12);
        let b = Canvas::white(7, 5).unwrap();
        let s = ssim(a.as_ref(), b.as_ref()).unwrap();
        assert!(s < 0.5, "{s}");
        assert!((Ssim.cost(a.as_ref(), b.as_ref()).unwrap() - (1.0 - s)).abs() < 1e-15);
        let one = Canvas::white(1, 1).unwrap();
        assert!((ssim(one.as_ref(), one.as_ref()).unwrap() - 1.0).abs() < 1e-12);
    }

    /// The whole-image computation the windowed one replaced (88 bytes per pixel).
    fn ssim_whole(a: CanvasRef<'_>, b: CanvasRef<'_>) -> f64 {
        let (w, h) = (a.width() as usize, a.height() as usize);
        let k = gaussian_kernel();
        let n = w * h;
        let blur = |src: &[f64]| -> Vec<f64> {
            let mut tmp = vec![0.0; n];
            let mut dst = vec![0.0; n];
            for y in 0..h {
                for x in 0..w {
                    tmp[y * w + x] = (0..WINDOW)
                        .map(|t| k[t] * src[y * w + reflect(x as isize + t as isize - 5, w)])
                        .fold(0.0, |s, v| s + v);
                }
            }
            for y in 0..h {
                for x in 0..w {
                    dst[y * w + x] = (0..WINDOW)
                        .map(|t| k[t] * tmp[reflect(y as isize + t as isize - 5, h) * w + x])
                        .fold(0.0, |s, v| s + v);
                }
            }
            dst
        };
        let mut total = 0.0;
        for ch in 0..3 {
            let px = |c: CanvasRef<'_>| -> Vec<f64> {
                c.as_bytes()
                    .chunks_exact(4)
                    .map(|p| f64::from(p[ch]))
                    .collect()
            };
            let (x, y) = (px(a), px(b));
            let sq = |u: &[f64], v: &[f64]| -> Vec<f64> {
                u.iter().zip(v).map(|(p, q)| p * q).collect()
            };
            let (mx, my, xx, yy, xy) = (
                blur(&x),
                blur(&y),
                blur(&sq(&x, &x)),
                blur(&sq(&y, &y)),
                blur(&sq(&x, &y)),
            );
            let mut sum = 0.0;
            for i in 0..n {
                let (vx, vy, cov) = (
                    xx[i] - mx[i] * mx[i],
                    yy[i] - my[i] * my[i],
                    xy[i] - mx[i] * my[i],
                );
                sum += ((2.0 * mx[i] * my[i] + C1) * (2.0 * cov + C2))
                    / ((mx[i] * mx[i] + my[i] * my[i] + C1) * (vx + vy + C2));
            }
            total += sum / n as f64;
        }
        (total / 3.0).clamp(-1.0, 1.0)
    }

    #[test]
    fn the_windowed_ssim_equals_the_whole_image_one_bit_for_bit() {
        for (w, h) in [(1u32, 1u32), (3, 17), (17, 3), (12, 12), (40, 31), (6, 11)] {
            let bytes = |seed: u32| -> Vec<u8> {
                (0..w * h * 4)
                    .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
                    .collect()
            };
            let a = Canvas::from_vec(w, h, bytes(1)).unwrap();
            let b = Canvas::from_vec(w, h, bytes(9)).unwrap();
            assert_eq!(
                ssim(a.as_ref(), b.as_ref()).unwrap(),
                ssim_whole(a.as_ref(), b.as_ref()),
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn constant_offset_matches_closed_form() {
        // Two flat images: SSIM = (2μxμy + C1) / (μx² + μy² + C1) (variances are zero).
        let a = Canvas::filled(12, 12, [100, 100, 100, 255]).unwrap();
        let b = Canvas::filled(12, 12, [150, 150, 150, 255]).unwrap();
        let want = (2.0 * 100.0 * 150.0 + C1) / (100.0f64.powi(2) + 150.0f64.powi(2) + C1);
        assert!((ssim(a.as_ref(), b.as_ref()).unwrap() - want).abs() < 1e-9);
    }
}
