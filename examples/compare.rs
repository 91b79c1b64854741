//! PSNR and wall time of each mode on one image and circle count, with the `fit` example's
//! defaults: [`FitSettings::recommended`] per mode, Mayfly with population 20, 40
//! iterations and synchronous males, seed 1, the reference's mean colour as background,
//! every core.
//!
//! ```text
//! cargo run --release --example compare -- [INPUT] [--circles N]
//! ```
//!
//! [`FitSettings::recommended`]: circlefit::FitSettings::recommended

use std::time::Instant;

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
                    .filter(|&n| n > 0)
                    .ok_or("--circles needs a positive integer")?
            }
            path => input = Some(path.to_owned()),
        }
    }
    let reference = match &input {
        Some(p) => circlefit::io::load_image(p)?,
        None => circlefit::io::load_image("assets/chelsea_256.png")?,
    };
    let [r, g, b, _] = reference.mean_color();
    let base = Canvas::filled(reference.width(), reference.height(), [r, g, b, 255])?;
    println!(
        "{} ({}x{}), {circles} circles, {} threads\n",
        input.as_deref().unwrap_or("bundled cat"),
        reference.width(),
        reference.height(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!("| mode | colour | seeds | polish passes | PSNR | seconds | evaluations |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let modes = [
        Strategy::Sequential,
        Strategy::batch(5.min(circles)),
        Strategy::Joint,
    ];
    for mode in modes {
        let settings = FitSettings::recommended(mode, circles, 1);
        let mayfly = Mayfly::builder()
            .population(20)
            .iterations(40)
            .synchronous_males(true)
            .build()?;
        let mut fitter = Fitter::new(CpuRenderer::new(), Mse, mayfly)
            .settings(settings)
            .base(base.clone())
            .threads(0);
        let t = Instant::now();
        let r = fitter.fit(reference.as_ref())?;
        println!(
            "| {mode} | {:?} | {} | {} | {:.2} dB | {:.2} | {} |",
            settings.color,
            settings.residual_seeds,
            settings.polish.map_or(0, |p| p.passes),
            psnr(r.cost),
            t.elapsed().as_secs_f64(),
            r.evaluations
        );
    }
    Ok(())
}
