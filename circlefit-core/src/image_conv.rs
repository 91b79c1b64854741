//! Lossless conversions to and from the `image` crate's buffers (feature `image`).

use crate::canvas::{Canvas, CanvasRef};
use crate::error::{Error, Result};

impl TryFrom<image::RgbaImage> for Canvas {
    type Error = Error;

    /// Takes the image's buffer as it is (same layout, no copy).
    fn try_from(img: image::RgbaImage) -> Result<Self> {
        let (w, h) = img.dimensions();
        Canvas::from_vec(w, h, img.into_raw())
    }
}

impl TryFrom<&image::DynamicImage> for Canvas {
    type Error = Error;

    /// Converts any decoded image to RGBA8 (the `image` crate's own conversion).
    fn try_from(img: &image::DynamicImage) -> Result<Self> {
        Canvas::try_from(img.to_rgba8())
    }
}

impl From<Canvas> for image::RgbaImage {
    fn from(c: Canvas) -> Self {
        let (w, h) = (c.width(), c.height());
        image::RgbaImage::from_raw(w, h, c.into_vec())
            .expect("a Canvas always holds exactly 4*w*h bytes")
    }
}

impl From<CanvasRef<'_>> for image::RgbaImage {
    fn from(c: CanvasRef<'_>) -> Self {
        image::RgbaImage::from(c.to_canvas())
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_lossless() {
        let img = image::RgbaImage::from_fn(3, 2, |x, y| image::Rgba([x as u8, y as u8, 7, 200]));
        let canvas = Canvas::try_from(img.clone()).unwrap();
        assert_eq!(canvas.pixel(2, 1), Some([2, 1, 7, 200]));
        assert_eq!(image::RgbaImage::from(canvas), img);
        let empty = image::RgbaImage::new(0, 5);
        assert!(matches!(
            Canvas::try_from(empty),
            Err(Error::EmptyImage { .. })
        ));
    }
}
