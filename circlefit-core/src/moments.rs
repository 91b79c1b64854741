//! [`RowMoments`]: per-row prefix sums of a reference image's channels and squares, so the
//! squared error of any run of one colour costs two lookups.

use crate::{BYTES_PER_PIXEL, CanvasRef};

/// Per-row prefix sums of an image's R, G, B bytes and of `R² + G² + B²`.
///
/// Over a run of pixels that all hold one colour `c` (as on a uniform canvas under the same
/// set of circles), `Σ (c − t)² = n·c² − 2c·Σt + Σt²` per channel, so the run's squared
/// error against this image follows from the sums at its two ends, whatever its length:
/// what [`SpanRenderer::uniform_squared_error`](crate::SpanRenderer::uniform_squared_error)
/// reads. Exact in `u32`: a row is at most [`MAX_DIMENSION`](crate::MAX_DIMENSION) =
/// 16,384 pixels, and 16,384 · 3 · 255² < 2³².
///
/// # Allocation
/// 16 bytes per pixel plus one entry per row, allocated once by [`new`](Self::new).
///
/// # Example
///
/// ```
/// use circlefit_core::{Canvas, RowMoments};
/// let image = Canvas::filled(3, 1, [1, 2, 3, 255])?;
/// let m = RowMoments::new(image.as_ref());
/// assert_eq!(m.row(0)[3], [3, 6, 9, 3 * (1 + 4 + 9)]);
/// # Ok::<(), circlefit_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowMoments {
    width: u32,
    height: u32,
    /// `width + 1` entries per row: `[ΣR, ΣG, ΣB, Σ(R² + G² + B²)]` of the pixels before.
    sums: Vec<[u32; 4]>,
}

impl RowMoments {
    /// The moments of `image`.
    pub fn new(image: CanvasRef<'_>) -> Self {
        let (w, h) = (image.width(), image.height());
        let mut sums = Vec::with_capacity((w as usize + 1) * h as usize);
        for y in 0..h {
            let mut acc = [0u32; 4];
            sums.push(acc);
            for px in image.row(y).chunks_exact(BYTES_PER_PIXEL) {
                let [r, g, b] = [px[0], px[1], px[2]].map(u32::from);
                acc = [
                    acc[0] + r,
                    acc[1] + g,
                    acc[2] + b,
                    acc[3] + r * r + g * g + b * b,
                ];
                sums.push(acc);
            }
        }
        Self {
            width: w,
            height: h,
            sums,
        }
    }

    /// The image's width.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// The image's height.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Row `y`'s `width + 1` prefix sums: entry `x` sums pixels `0..x`.
    ///
    /// # Panics
    /// If `y` is not below the height.
    pub fn row(&self, y: u32) -> &[[u32; 4]] {
        assert!(y < self.height, "row {y} of {}", self.height);
        let stride = self.width as usize + 1;
        &self.sums[y as usize * stride..(y as usize + 1) * stride]
    }
}
