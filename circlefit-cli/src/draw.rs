//! Raster pictures of a fit at any size: exactly the fit's raster at its own size (hard,
//! smooth or soft edges, as fitted), and scaled, anti-aliased circles (tiny-skia) at any
//! other, soft ones filled with the radial gradient of their ramp (as in the SVG).

use circlefit::prelude::*;
use circlefit::raster::{quantize_alpha, quantize_channel};
use tiny_skia::{
    Color, FillRule, GradientStop, Paint, PathBuilder, Pixmap, PixmapPaint, Point, RadialGradient,
    SpreadMode, Transform,
};

use crate::error::CliError;

/// The largest raster output side (the canvas limit of the library).
pub(crate) const MAX_OUTPUT_SIDE: u32 = circlefit::MAX_DIMENSION;

/// The size of a picture whose longer side is `side`, for a fit of `w` × `h`.
pub(crate) fn scaled_size(w: u32, h: u32, side: u32) -> (u32, u32) {
    let long = w.max(h);
    let scale = |v: u32| {
        ((u64::from(v) * u64::from(side) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    (scale(w), scale(h))
}

/// `circles` over `base` (the fit's size), drawn with the longer side `side`.
///
/// # Errors
/// [`CliError::Usage`] for a side of 0 or above [`MAX_OUTPUT_SIDE`].
pub(crate) fn picture(
    base: CanvasRef<'_>,
    circles: &[Circle],
    side: u32,
    edges: Edges,
) -> Result<Canvas, CliError> {
    if side == 0 || side > MAX_OUTPUT_SIDE {
        return Err(CliError::usage(format!(
            "-s {side}: the output size must be between 1 and {MAX_OUTPUT_SIDE}"
        )));
    }
    let (w, h) = (base.width(), base.height());
    if side == w.max(h) {
        let mut out = base.to_canvas();
        let Ok(()) = CpuRenderer::with_edges(edges).draw(out.as_mut(), circles);
        return Ok(out);
    }
    let (ow, oh) = scaled_size(w, h, side);
    let mut pixmap = Pixmap::new(ow, oh).ok_or_else(|| CliError::usage("output too large"))?;
    let (sx, sy) = (f64::from(ow) / f64::from(w), f64::from(oh) / f64::from(h));
    draw_base(&mut pixmap, base, sx, sy);
    let scale = sx.max(sy);
    for c in circles {
        // A soft ramp wider than a pixel is a radial gradient (as in the SVG).
        let gradient = circlefit::smooth::soft_gradient(c, edges, w, h);
        let (cx, cy) = ((c.x() * sx) as f32, (c.y() * sy) as f32);
        let outer = gradient.map_or(c.radius(), |(outer, _)| outer);
        let Some(path) = PathBuilder::from_circle(cx, cy, (outer * scale) as f32) else {
            continue;
        };
        let [r, g, b] = c.color().map(quantize_channel);
        // The raster model's alpha is a/256; tiny-skia's is 8-bit.
        let a = (f64::from(quantize_alpha(c.alpha())) * 255.0 / 256.0).round() as u8;
        let mut paint = Paint::default();
        paint.set_color_rgba8(r, g, b, a);
        paint.anti_alias = true;
        if let Some((_, inner)) = gradient {
            let stops = vec![
                GradientStop::new(inner as f32, Color::from_rgba8(r, g, b, a)),
                GradientStop::new(1.0, Color::from_rgba8(r, g, b, 0)),
            ];
            let centre = Point::from_xy(cx, cy);
            let radius = (outer * scale) as f32;
            if let Some(shader) = RadialGradient::new(
                centre,
                centre,
                radius,
                stops,
                SpreadMode::Pad,
                Transform::identity(),
            ) {
                paint.shader = shader;
            }
        }
        pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
    // The base is opaque, so the premultiplied pixels are the straight ones.
    Ok(Canvas::from_vec(ow, oh, pixmap.take())?)
}

/// The base scaled to the pixmap: one colour filled, or the image drawn bilinearly.
fn draw_base(pixmap: &mut Pixmap, base: CanvasRef<'_>, sx: f64, sy: f64) {
    match circlefit::io::Background::of(base) {
        circlefit::io::Background::White => pixmap.fill(tiny_skia::Color::WHITE),
        circlefit::io::Background::Solid([r, g, b]) => {
            pixmap.fill(tiny_skia::Color::from_rgba8(r, g, b, 255));
        }
        _ => {
            let mut opaque = base.to_canvas();
            for px in opaque.as_mut().as_bytes_mut().chunks_exact_mut(4) {
                px[3] = 255;
            }
            if let Some(src) = Pixmap::from_vec(
                opaque.as_ref().as_bytes().to_vec(),
                tiny_skia::IntSize::from_wh(base.width(), base.height())
                    .expect("a canvas is never empty"),
            ) {
                let paint = PixmapPaint {
                    quality: tiny_skia::FilterQuality::Bilinear,
                    ..PixmapPaint::default()
                };
                pixmap.draw_pixmap(
                    0,
                    0,
                    src.as_ref(),
                    &paint,
                    Transform::from_scale(sx as f32, sy as f32),
                    None,
                );
            }
        }
    }
}

/// An animated GIF of the circles being added ([`circlefit::animation::encode_gif`]),
/// longer side `side` (at most [`MAX_GIF_SIDE`](circlefit::animation::MAX_GIF_SIDE), whatever
/// `-s` says).
///
/// # Errors
/// [`CliError::Output`] if encoding fails.
pub(crate) fn gif(
    base: CanvasRef<'_>,
    circles: &[Circle],
    side: u32,
    edges: Edges,
    path: &str,
) -> Result<Vec<u8>, CliError> {
    let side = side.min(circlefit::animation::MAX_GIF_SIDE);
    circlefit::animation::encode_gif(circles, |shown| picture(base, shown, side, edges)).map_err(
        |e| match e {
            CliError::Circlefit(e) => CliError::Output {
                path: path.into(),
                message: format!("cannot encode GIF: {e}"),
            },
            e => e,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean channel difference between `exact` and `big` (twice its size) averaged
    /// down 2 × 2.
    fn mean_difference(exact: &Canvas, big: &Canvas) -> f64 {
        let (w, h) = (exact.width(), exact.height());
        let mut sum = 0u64;
        for j in 0..h {
            for i in 0..w {
                let e = exact.pixel(i, j).unwrap();
                for (k, &v) in e.iter().take(3).enumerate() {
                    let s: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                        .iter()
                        .map(|&(a, b)| u32::from(big.pixel(2 * i + a, 2 * j + b).unwrap()[k]))
                        .sum();
                    sum += u64::from((s + 2) / 4).abs_diff(u64::from(v));
                }
            }
        }
        sum as f64 / f64::from(w * h * 3)
    }

    #[test]
    fn scaled_soft_pictures_follow_the_fitted_ramps() {
        // 512²: ramps up to 4 px. Drawn twice as large, soft circles take their gradients
        // (averaged back down they match the fit's raster); plain circles would not.
        let base = Canvas::filled(512, 512, [250, 250, 250, 255]).unwrap();
        let circles: Vec<Circle> = (0..6)
            .map(|i| {
                let t = f64::from(i);
                let c = [(t * 0.37) % 1.0, (t * 0.61) % 1.0, (t * 0.13) % 1.0];
                Circle::new(80.0 + t * 70.0, 100.0 + t * 50.0, 20.0 + t * 9.0, c, 0.9).unwrap()
            })
            .collect();
        let exact = picture(base.as_ref(), &circles, 512, Edges::Soft).unwrap();
        let soft = picture(base.as_ref(), &circles, 1024, Edges::Soft).unwrap();
        let plain = picture(base.as_ref(), &circles, 1024, Edges::Smooth).unwrap();
        let (near, far) = (
            mean_difference(&exact, &soft),
            mean_difference(&exact, &plain),
        );
        eprintln!("scaled soft picture: gradients {near:.3}, plain circles {far:.3}");
        assert!(near * 3.0 < far, "{near} vs {far}");
        assert!(near < 0.5, "{near}");
    }
}
