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
/// # Errors
/// [`Error::SizeMismatch`] if the images differ in size.
pub fn ssim(a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Error> {
    check_same_size(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    let kernel = gaussian_kernel();
    let n = w * h;
    let mut total = 0.0;
    let mut planes = vec![vec![0.0f64; n]; 5];
    let mut blurred = vec![vec![0.0f64; n]; 5];
    let mut tmp = vec![0.0f64; n];
    for ch in 0..3 {
        for (i, (p, q)) in a
            .as_bytes()
            .chunks_exact(4)
            .zip(b.as_bytes().chunks_exact(4))
            .enumerate()
        {
            let (x, y) = (f64::from(p[ch]), f64::from(q[ch]));
            planes[0][i] = x;
            planes[1][i] = y;
            planes[2][i] = x * x;
            planes[3][i] = y * y;
            planes[4][i] = x * y;
        }
        for (src, dst) in planes.iter().zip(blurred.iter_mut()) {
            blur(src, dst, &mut tmp, w, h, &kernel);
        }
        let mut sum = 0.0;
        #[allow(clippy::needless_range_loop)] // five parallel planes, read at the same index
        for i in 0..n {
            let (mx, my) = (blurred[0][i], blurred[1][i]);
            let vx = blurred[2][i] - mx * mx;
            let vy = blurred[3][i] - my * my;
            let cov = blurred[4][i] - mx * my;
            sum += ((2.0 * mx * my + C1) * (2.0 * cov + C2))
                / ((mx * mx + my * my + C1) * (vx + vy + C2));
        }
        total += sum / n as f64;
    }
    Ok((total / 3.0).clamp(-1.0, 1.0))
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

fn blur(src: &[f64], dst: &mut [f64], tmp: &mut [f64], w: usize, h: usize, k: &[f64]) {
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (t, kv) in k.iter().enumerate() {
                let xx = reflect(x as isize + t as isize - RADIUS as isize, w);
                s += kv * src[y * w + xx];
            }
            tmp[y * w + x] = s;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (t, kv) in k.iter().enumerate() {
                let yy = reflect(y as isize + t as isize - RADIUS as isize, h);
                s += kv * tmp[yy * w + x];
            }
            dst[y * w + x] = s;
        }
    }
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

    #[test]
    fn constant_offset_matches_closed_form() {
        // Two flat images: SSIM = (2μxμy + C1) / (μx² + μy² + C1) (variances are zero).
        let a = Canvas::filled(12, 12, [100, 100, 100, 255]).unwrap();
        let b = Canvas::filled(12, 12, [150, 150, 150, 255]).unwrap();
        let want = (2.0 * 100.0 * 150.0 + C1) / (100.0f64.powi(2) + 150.0f64.powi(2) + C1);
        assert!((ssim(a.as_ref(), b.as_ref()).unwrap() - want).abs() < 1e-9);
    }
}
