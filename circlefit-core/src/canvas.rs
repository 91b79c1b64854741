//! 8-bit RGBA pixel buffers: owned [`Canvas`], borrowed [`CanvasRef`] and [`CanvasMut`].
//!
//! The layout is the one the `image` crate's `RgbaImage` uses: rows top to bottom, pixels
//! left to right, 4 bytes per pixel in R, G, B, A order, no padding. The same type holds the
//! reference image and every candidate canvas.

use crate::error::{Error, Result};

/// The largest supported width or height, in pixels.
///
/// Sums of squared differences are accumulated in `u64`; at this size the largest possible
/// sum (16384² pixels × 3 channels × 255²) is about 5.2·10¹³, far below `u64::MAX`, so
/// costs stay exact.
pub const MAX_DIMENSION: u32 = 16_384;

/// Bytes per pixel (RGBA8).
pub const BYTES_PER_PIXEL: usize = 4;

fn check_size(width: u32, height: u32) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::EmptyImage { width, height });
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(Error::ImageTooLarge {
            width,
            height,
            max: MAX_DIMENSION,
        });
    }
    Ok(width as usize * height as usize * BYTES_PER_PIXEL)
}

fn check_buffer(width: u32, height: u32, actual: usize) -> Result<()> {
    let expected = check_size(width, height)?;
    if expected == actual {
        Ok(())
    } else {
        Err(Error::BufferLength {
            width,
            height,
            expected,
            actual,
        })
    }
}

/// An owned RGBA8 image.
///
/// The layout is the one the `image` crate's `RgbaImage` uses: rows top to bottom, pixels
/// left to right, 4 bytes per pixel in R, G, B, A order, no padding.
///
/// # Allocation
/// Construction allocates once; [`Canvas::copy_from`] reuses the buffer when the size
/// is unchanged, which is how renderers and strategies keep a steady state free of heap
/// allocations.
#[derive(Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Canvas {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl std::fmt::Debug for Canvas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canvas")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl Canvas {
    /// A canvas filled with one colour.
    ///
    /// # Errors
    /// [`Error::EmptyImage`] or [`Error::ImageTooLarge`] for an unsupported size.
    pub fn filled(width: u32, height: u32, rgba: [u8; 4]) -> Result<Self> {
        let len = check_size(width, height)?;
        let data = rgba.iter().copied().cycle().take(len).collect();
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// An opaque white canvas, the default base of a fit.
    ///
    /// # Errors
    /// As [`Canvas::filled`].
    pub fn white(width: u32, height: u32) -> Result<Self> {
        Self::filled(width, height, [255; 4])
    }

    /// Wraps an RGBA8 buffer (layout: see [`Canvas`]).
    ///
    /// # Errors
    /// [`Error::EmptyImage`], [`Error::ImageTooLarge`] or [`Error::BufferLength`].
    pub fn from_vec(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        check_buffer(width, height, data.len())?;
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGBA8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The RGBA8 bytes, mutable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Gives up the buffer.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> CanvasRef<'_> {
        CanvasRef {
            width: self.width,
            height: self.height,
            data: &self.data,
        }
    }

    /// A mutable borrowed view.
    pub fn as_mut(&mut self) -> CanvasMut<'_> {
        CanvasMut {
            width: self.width,
            height: self.height,
            data: &mut self.data,
        }
    }

    /// Makes this canvas a copy of `src`, reusing the allocation when the size is unchanged.
    pub fn copy_from(&mut self, src: CanvasRef<'_>) {
        self.width = src.width;
        self.height = src.height;
        if self.data.len() == src.data.len() {
            self.data.copy_from_slice(src.data);
        } else {
            self.data.clear();
            self.data.extend_from_slice(src.data);
        }
    }

    /// The pixel at (`x`, `y`), or `None` outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        self.as_ref().pixel(x, y)
    }

    /// The mean colour of the image (alpha included), rounded to nearest.
    pub fn mean_color(&self) -> [u8; 4] {
        self.as_ref().mean_color()
    }
}

/// A borrowed RGBA8 image.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CanvasRef<'a> {
    width: u32,
    height: u32,
    data: &'a [u8],
}

impl std::fmt::Debug for CanvasRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanvasRef")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl<'a> CanvasRef<'a> {
    /// Borrows an RGBA8 buffer (layout: see [`Canvas`]).
    ///
    /// # Errors
    /// [`Error::EmptyImage`], [`Error::ImageTooLarge`] or [`Error::BufferLength`].
    pub fn from_slice(width: u32, height: u32, data: &'a [u8]) -> Result<Self> {
        check_buffer(width, height, data.len())?;
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Number of pixels.
    pub fn pixel_count(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// The RGBA8 bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The bytes of row `y` (`4 * width` long).
    ///
    /// # Panics
    /// If `y >= height`.
    #[inline]
    pub fn row(&self, y: u32) -> &'a [u8] {
        let stride = self.width as usize * BYTES_PER_PIXEL;
        let start = y as usize * stride;
        &self.data[start..start + stride]
    }

    /// The pixel at (`x`, `y`), or `None` outside the canvas.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * BYTES_PER_PIXEL;
        Some([
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ])
    }

    /// Copies into a new owned [`Canvas`].
    pub fn to_canvas(&self) -> Canvas {
        Canvas {
            width: self.width,
            height: self.height,
            data: self.data.to_vec(),
        }
    }

    /// The mean colour of the image (alpha included), rounded to nearest.
    pub fn mean_color(&self) -> [u8; 4] {
        let mut sums = [0u64; 4];
        for px in self.data.chunks_exact(BYTES_PER_PIXEL) {
            for (s, &v) in sums.iter_mut().zip(px) {
                *s += u64::from(v);
            }
        }
        let n = self.pixel_count();
        sums.map(|s| ((s + n / 2) / n) as u8)
    }

    /// Whether `other` has the same width and height.
    pub fn same_size(&self, other: CanvasRef<'_>) -> bool {
        self.width == other.width && self.height == other.height
    }
}

/// A mutable borrowed RGBA8 image.
#[derive(PartialEq, Eq, Hash)]
pub struct CanvasMut<'a> {
    width: u32,
    height: u32,
    data: &'a mut [u8],
}

impl std::fmt::Debug for CanvasMut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanvasMut")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl<'a> CanvasMut<'a> {
    /// Borrows a mutable RGBA8 buffer (layout: see [`Canvas`]).
    ///
    /// # Errors
    /// [`Error::EmptyImage`], [`Error::ImageTooLarge`] or [`Error::BufferLength`].
    pub fn from_slice(width: u32, height: u32, data: &'a mut [u8]) -> Result<Self> {
        check_buffer(width, height, data.len())?;
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The RGBA8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.data
    }

    /// The RGBA8 bytes, mutable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.data
    }

    /// A shared view of the same pixels.
    pub fn as_ref(&self) -> CanvasRef<'_> {
        CanvasRef {
            width: self.width,
            height: self.height,
            data: self.data,
        }
    }

    /// Reborrows, so the view can be passed on and used again afterwards.
    pub fn reborrow(&mut self) -> CanvasMut<'_> {
        CanvasMut {
            width: self.width,
            height: self.height,
            data: self.data,
        }
    }

    /// The bytes of pixels `x0..x1` of row `y`, mutable.
    ///
    /// # Panics
    /// If the range lies outside the canvas.
    #[inline]
    pub fn row_segment_mut(&mut self, y: u32, x0: u32, x1: u32) -> &mut [u8] {
        let start = (y as usize * self.width as usize + x0 as usize) * BYTES_PER_PIXEL;
        let end = (y as usize * self.width as usize + x1 as usize) * BYTES_PER_PIXEL;
        &mut self.data[start..end]
    }
}

impl<'a> From<&'a Canvas> for CanvasRef<'a> {
    fn from(c: &'a Canvas) -> Self {
        c.as_ref()
    }
}

impl<'a> From<&'a mut Canvas> for CanvasMut<'a> {
    fn from(c: &'a mut Canvas) -> Self {
        c.as_mut()
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_sizes() {
        assert!(matches!(
            Canvas::white(0, 3),
            Err(Error::EmptyImage { width: 0, .. })
        ));
        assert!(matches!(
            Canvas::white(MAX_DIMENSION + 1, 1),
            Err(Error::ImageTooLarge { .. })
        ));
        assert!(matches!(
            Canvas::from_vec(2, 2, vec![0; 15]),
            Err(Error::BufferLength {
                expected: 16,
                actual: 15,
                ..
            })
        ));
    }

    #[test]
    fn copy_from_reuses_and_resizes() {
        let a = Canvas::filled(3, 2, [1, 2, 3, 4]).unwrap();
        let mut b = Canvas::white(1, 1).unwrap();
        b.copy_from(a.as_ref());
        assert_eq!(a, b);
        assert_eq!(b.pixel(2, 1), Some([1, 2, 3, 4]));
        assert_eq!(b.pixel(3, 1), None);
    }

    #[test]
    fn mean_color_rounds() {
        let c = Canvas::from_vec(2, 1, vec![0, 0, 0, 255, 255, 1, 2, 255]).unwrap();
        assert_eq!(c.mean_color(), [128, 1, 1, 255]);
    }
}
