//! PSNR and wall time of each mode on one image and circle count, with the fit example's
//! defaults (population 20, 40 iterations, seed 1; closed-form colour and 10 residual seeds
//! for sequential and batch, searched colour for joint).
//!
//! ```text
//! cargo run --release --example compare -- [INPUT] [--circles N]
//! ```

use std::time::Instant;

use circlefit::ColorMode;
use circlefit::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut input, mut circles) = (None, 100usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--circles" => {
                circles = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--circles needs a positive integer")?
            }
            path => input = Some(path.to_owned()),
        }
    }
    let reference = match &input {
        Some(p) => circlefit::io::load_image(p)?,
        None => circlefit::io::default_image()?,
    };
    println!(
        "{} ({}x{}), {circles} circles\n",
        input.as_deref().unwrap_or("bundled cat"),
        reference.width(),
        reference.height()
    );
    println!("| mode | colour | seeds | PSNR | seconds | evaluations |");
    println!("|---|---|---:|---:|---:|---:|");
    let modes = [
        (Strategy::Sequential, ColorMode::ClosedForm, 10),
        (
            Strategy::Batch {
                size: 5.min(circles),
            },
            ColorMode::ClosedForm,
            10,
        ),
        (Strategy::Joint, ColorMode::Search, 0),
    ];
    for (mode, color, seeds) in modes {
        let mayfly = Mayfly::builder().population(20).iterations(40).build()?;
        let mut fitter = Fitter::new(CpuRenderer::new(), Mse, mayfly)
            .strategy(mode)
            .color(color)
            .residual_seeds(seeds)
            .circles(circles)
            .seed(1);
        let t = Instant::now();
        let r = fitter.fit(reference.as_ref())?;
        println!(
            "| {mode} | {color:?} | {seeds} | {:.2} dB | {:.2} | {} |",
            psnr(r.cost),
            t.elapsed().as_secs_f64(),
            r.evaluations
        );
    }
    Ok(())
}
