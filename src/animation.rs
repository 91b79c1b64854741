//! Animated GIFs of a fit forming: the base, then the circles added a few at a time, the
//! finished picture held at the end. The CLI's `-o fit.gif` and the server's `result.gif`
//! both draw theirs with it.

use circlefit_core::{Canvas, Circle};

use crate::io::Error;

/// The most frames an animation gets besides the base: one per circle up to this many,
/// else one per step of several circles.
pub const MAX_GIF_FRAMES: usize = 60;

/// The largest side an animation's frames are drawn at by the CLI and the server (a
/// larger fit is drawn smaller): a GIF's frames are stored whole, so size grows fast.
pub const MAX_GIF_SIDE: u32 = 512;

/// How long each frame shows, and the last one (milliseconds).
const FRAME_MS: u32 = 80;
const LAST_FRAME_MS: u32 = 2000;

/// How many circles each frame of an animation of `n` circles shows: 0 (the base) up to `n`.
///
/// ```
/// assert_eq!(circlefit::animation::gif_steps(3), vec![0, 1, 2, 3]);
/// assert_eq!(circlefit::animation::gif_steps(600).len(), 61);
/// ```
pub fn gif_steps(n: usize) -> Vec<usize> {
    let frames = n.clamp(1, MAX_GIF_FRAMES);
    (0..=frames).map(|k| k * n / frames).collect()
}

/// An animated, looping GIF of `circles` being added: frame `k` is what `frame` draws for
/// the first [`gif_steps`]`[k]` circles; the last frame is held for two seconds.
///
/// # Errors
///
/// What `frame` returns, or [`Error::Encode`] (converted) when the GIF cannot be encoded.
///
/// # Example
///
/// ```
/// use circlefit::prelude::*;
///
/// let base = Canvas::filled(16, 16, [200, 200, 200, 255])?;
/// let circles = [Circle::new(8.0, 8.0, 4.0, [0.9, 0.1, 0.1], 0.8)?];
/// let gif = circlefit::animation::encode_gif(&circles, |shown| -> Result<_, circlefit::Error> {
///     let mut canvas = base.clone();
///     let Ok(()) = CpuRenderer::new().draw(canvas.as_mut(), shown);
///     Ok(canvas)
/// })?;
/// assert!(gif.starts_with(b"GIF89a"));
/// # Ok::<(), circlefit::Error>(())
/// ```
pub fn encode_gif<E: From<Error>>(
    circles: &[Circle],
    mut frame: impl FnMut(&[Circle]) -> Result<Canvas, E>,
) -> Result<Vec<u8>, E> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(Error::Encode)?;
        let steps = gif_steps(circles.len());
        for (i, &k) in steps.iter().enumerate() {
            let picture = frame(&circles[..k])?;
            let ms = if i + 1 == steps.len() {
                LAST_FRAME_MS
            } else {
                FRAME_MS
            };
            let img = image::RgbaImage::from(picture.as_ref());
            let delay = Delay::from_numer_denom_ms(ms, 1);
            encoder
                .encode_frame(Frame::from_parts(img, 0, 0, delay))
                .map_err(Error::Encode)?;
        }
    }
    Ok(bytes)
}
