//! A renderer written against the `Renderer` trait — soft-edged (anti-aliased) discs — used
//! in a Sequential fit and compared with the built-in hard-edged `CpuRenderer`.
//!
//! ```text
//! cargo run --release --example custom_renderer -- [--circles N] [--iters T]
//! ```
//!
//! The soft renderer has no span description, so the strategy scores it on the generic
//! full path (copy, draw, full MSE); it still works in every strategy, only slower.

use std::time::Instant;

use circlefit::prelude::*;
use circlefit::{CanvasMut, ColorMode};

/// Discs whose edge fades out over one pixel: coverage = clamp(r + 0.5 − d, 0, 1).
#[derive(Debug, Default, Clone)]
struct SoftDiscs;

impl Renderer for SoftDiscs {
    type Error = std::convert::Infallible;

    fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
        let (w, h) = (canvas.width(), canvas.height());
        for c in circles {
            let rgb = c.color().map(|v| v * 255.0);
            let reach = c.radius() + 1.0;
            let y0 = (c.y() - reach).floor().clamp(0.0, f64::from(h)) as u32;
            let y1 = (c.y() + reach).ceil().clamp(0.0, f64::from(h)) as u32;
            let x0 = (c.x() - reach).floor().clamp(0.0, f64::from(w)) as u32;
            let x1 = (c.x() + reach).ceil().clamp(0.0, f64::from(w)) as u32;
            for y in y0..y1 {
                let row = canvas.row_segment_mut(y, x0, x1);
                for (i, px) in row.chunks_exact_mut(4).enumerate() {
                    let (px_x, px_y) = (f64::from(x0) + i as f64 + 0.5, f64::from(y) + 0.5);
                    let d = (px_x - c.x()).hypot(px_y - c.y());
                    let a = c.alpha() * (c.radius() + 0.5 - d).clamp(0.0, 1.0);
                    if a > 0.0 {
                        for k in 0..3 {
                            px[k] = (rgb[k] * a + f64::from(px[k]) * (1.0 - a)).round() as u8;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn arg(name: &str, default: u64) -> Result<u64, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{name} needs a non-negative integer")),
        None => Ok(default),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let circles = arg("--circles", 40)? as usize;
    let iters = arg("--iters", 20)?;
    let reference = circlefit::io::load_image("assets/chelsea_256.png")?;
    println!("| renderer | PSNR | evaluations | seconds |");
    println!("|---|---:|---:|---:|");
    let mayfly = || Mayfly::builder().population(20).iterations(iters).build();
    let t = Instant::now();
    let soft = Fitter::new(SoftDiscs, Mse, mayfly()?)
        .circles(circles)
        .seed(1)
        .fit(reference.as_ref())?;
    println!(
        "| soft discs (custom, full path) | {:.2} | {} | {:.2} |",
        psnr(soft.cost),
        soft.evaluations,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let hard = Fitter::new(CpuRenderer::new(), Mse, mayfly()?)
        .circles(circles)
        .color(ColorMode::Search)
        .seed(1)
        .fit(reference.as_ref())?;
    println!(
        "| CpuRenderer (built-in, incremental) | {:.2} | {} | {:.2} |",
        psnr(hard.cost),
        hard.evaluations,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
