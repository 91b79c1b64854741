//! Exact mean squared error and PSNR.

use circlefit_core::{CanvasRef, CostFunc, PixelSumCost};

use crate::{Error, check_same_size};

/// Mean squared error over R, G, B (0..255 scale, alpha ignored):
/// `Σ (ΔR² + ΔG² + ΔB²) / (3·W·H)`, with the sum computed exactly in `u64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mse;

pub use circlefit_simd::sum_squared_error;

/// Peak signal-to-noise ratio in dB for an MSE on the 0..255 scale:
/// `20·log10(255 / √mse)`; `+∞` for `mse == 0`.
pub fn psnr(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        20.0 * (255.0 / mse.sqrt()).log10()
    }
}

/// The MSE (0..255 scale) whose PSNR is `psnr` dB, the inverse of [`psnr`]:
/// `255² / 10^(psnr/10)`; 0 for `+∞`.
///
/// ```
/// use circlefit_cost::{mse_for_psnr, psnr};
/// assert!((psnr(mse_for_psnr(23.5)) - 23.5).abs() < 1e-12);
/// assert_eq!(mse_for_psnr(f64::INFINITY), 0.0);
/// ```
pub fn mse_for_psnr(psnr: f64) -> f64 {
    255.0 * 255.0 / 10f64.powf(psnr / 10.0)
}

impl Mse {
    /// The MSE of two same-sized images.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] if they differ in size.
    pub fn mse(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Error> {
        check_same_size(a, b)?;
        Ok(self.finish(
            sum_squared_error(a.as_bytes(), b.as_bytes()),
            a.pixel_count(),
        ))
    }
}

impl CostFunc for Mse {
    type Error = Error;

    fn cost(&self, candidate: CanvasRef<'_>, reference: CanvasRef<'_>) -> Result<f64, Error> {
        self.mse(candidate, reference)
    }

    fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
        Some(self)
    }
}

impl PixelSumCost for Mse {
    fn sum(&self, candidate: &[u8], reference: &[u8]) -> u64 {
        sum_squared_error(candidate, reference)
    }

    fn finish(&self, sum: u64, pixels: u64) -> f64 {
        sum as f64 / (3 * pixels) as f64
    }

    fn running_sums(&self, candidate: &[u8], reference: &[u8], out: &mut [u64]) {
        let mut acc = 0u64;
        for ((c, r), o) in candidate
            .chunks_exact(4)
            .zip(reference.chunks_exact(4))
            .zip(out)
        {
            let d = |k: usize| (i32::from(c[k]) - i32::from(r[k])).pow(2) as u64;
            acc += d(0) + d(1) + d(2);
            *o = acc;
        }
    }

    fn term(&self) -> circlefit_core::PixelTerm {
        circlefit_core::PixelTerm::SquaredRgb
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;
    use circlefit_core::Canvas;
    use proptest::prelude::*;

    fn naive_mse(a: &[u8], b: &[u8]) -> f64 {
        let mut s = 0.0f64;
        for (p, q) in a.chunks(4).zip(b.chunks(4)) {
            for k in 0..3 {
                s += (f64::from(p[k]) - f64::from(q[k])).powi(2);
            }
        }
        s / (a.len() / 4 * 3) as f64
    }

    proptest! {
        #[test]
        fn mse_matches_naive_f64(w in 1u32..40, h in 1u32..40, seed in any::<u64>()) {
            let mut state = seed;
            let mut next = || { state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (state >> 56) as u8 };
            let n = (w * h * 4) as usize;
            let a: Vec<u8> = (0..n).map(|_| next()).collect();
            let b: Vec<u8> = (0..n).map(|_| next()).collect();
            let ca = Canvas::from_vec(w, h, a.clone()).unwrap();
            let cb = Canvas::from_vec(w, h, b.clone()).unwrap();
            let got = Mse.cost(ca.as_ref(), cb.as_ref()).unwrap();
            let want = naive_mse(&a, &b);
            prop_assert!((got - want).abs() <= 1e-9 * want.max(1.0), "{} vs {}", got, want);
            prop_assert!(got >= 0.0);
            prop_assert_eq!(got == 0.0, a.chunks(4).zip(b.chunks(4)).all(|(p, q)| p[..3] == q[..3]));
        }
    }

    proptest! {
        #[test]
        fn running_sums_equal_the_per_pixel_sums(
            (a, b) in (0usize..300).prop_flat_map(|n| (
                prop::collection::vec(any::<u8>(), 4 * n),
                prop::collection::vec(any::<u8>(), 4 * n),
            )),
        ) {
            let n = a.len() / 4;
            let mut fast = vec![0u64; n];
            Mse.running_sums(&a, &b, &mut fast);
            let mut acc = 0u64;
            for i in 0..n {
                acc += Mse.sum(&a[4 * i..4 * i + 4], &b[4 * i..4 * i + 4]);
                prop_assert_eq!(fast[i], acc);
            }
        }
    }

    #[test]
    fn alpha_is_ignored_and_extremes_exact() {
        let a = Canvas::filled(3, 3, [0, 0, 0, 0]).unwrap();
        let b = Canvas::filled(3, 3, [255, 255, 255, 255]).unwrap();
        assert_eq!(Mse.cost(a.as_ref(), b.as_ref()).unwrap(), 65025.0);
        let c = Canvas::filled(3, 3, [255, 255, 255, 0]).unwrap();
        assert_eq!(Mse.cost(c.as_ref(), b.as_ref()).unwrap(), 0.0);
        assert_eq!(psnr(0.0), f64::INFINITY);
        assert!((psnr(65025.0) - 0.0).abs() < 1e-12);
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let a = Canvas::white(3, 3).unwrap();
        let b = Canvas::white(3, 4).unwrap();
        assert!(matches!(
            Mse.cost(a.as_ref(), b.as_ref()),
            Err(Error::SizeMismatch { .. })
        ));
    }
}
