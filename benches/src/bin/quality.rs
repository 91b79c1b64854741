//! The fit-quality table: circlefit against purr (the Rust port of fogleman/primitive) on
//! the photographs in `assets/photos/source/`, side by side in one run.
//!
//! ```text
//! cargo build --release -p circlefit-cli -p circlefit-benches --bin quality
//! cargo install purrmitive --features cli --bin purr        # once
//! target/release/quality [--purr PATH] [--circlefit PATH] [--sizes 256:100,512:64] [--threads 2]
//!                         [--variant 'LABEL=EXTRA ARGS']...
//! ```
//!
//! Each `--variant` runs circlefit once more per reference with the extra arguments (for
//! example `--variant 'smooth=--edges smooth'`), as its own columns; without one, circlefit
//! runs with its defaults alone.
//!
//! Each photograph's centre square is resized (Lanczos-3) to each size and written as the
//! reference PNG both tools read; each tool's output PNG is scored against that reference
//! by one function (PSNR over R, G, B, alpha ignored). Both run with their defaults, circle
//! mode for purr (`-m 4`), the same thread count. The table goes to stdout as Markdown.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use circlefit::prelude::*;

/// One tool's result on one reference.
struct Outcome {
    psnr: f64,
    seconds: f64,
}

struct Options {
    purr: PathBuf,
    circlefit: PathBuf,
    sizes: Vec<(u32, usize)>,
    threads: usize,
    photos: PathBuf,
    work: PathBuf,
    /// Labelled circlefit runs: extra arguments each.
    variants: Vec<(String, Vec<String>)>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("quality: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    std::fs::create_dir_all(&o.work)?;
    let mut photos: Vec<PathBuf> = std::fs::read_dir(&o.photos)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("png" | "jpg")))
        .collect();
    photos.sort();
    let labels: Vec<&str> = o.variants.iter().map(|v| v.0.as_str()).collect();
    let cols =
        |f: &dyn Fn(&str) -> String| labels.iter().map(|l| f(l)).collect::<Vec<_>>().join(" | ");
    println!(
        "| image | size | circles | {} | purr dB | {} | {} | purr s | speed × |",
        cols(&|l| format!("{l} dB")),
        cols(&|l| format!("Δ {l}")),
        cols(&|l| format!("{l} s")),
    );
    println!(
        "|---|---:|---:|{}---:|{}---:|---:|",
        "---:|".repeat(2 * labels.len()),
        "---:|".repeat(labels.len())
    );
    for &(size, circles) in &o.sizes {
        // Per variant: (Δ dB, image, our time / purr's).
        let mut deltas: Vec<Vec<(f64, String, f64)>> = vec![Vec::new(); labels.len()];
        for photo in &photos {
            let name = photo
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("photo");
            let reference = prepare(photo, size, &o.work.join(format!("{name}_{size}.png")))?;
            let mut ours = Vec::new();
            for (label, extra) in &o.variants {
                ours.push(run_circlefit(
                    &o,
                    &reference,
                    circles,
                    &format!("{name}_{size}_{label}"),
                    extra,
                )?);
            }
            let theirs = run_purr(&o, &reference, size, circles, &format!("{name}_{size}"))?;
            let show =
                |f: &dyn Fn(&Outcome) -> String| ours.iter().map(f).collect::<Vec<_>>().join(" | ");
            println!(
                "| {name} | {size}² | {circles} | {} | {:.2} | {} | {} | {:.1} | {:.1} |",
                show(&|r| format!("{:.2}", r.psnr)),
                theirs.psnr,
                show(&|r| format!("{:+.2}", r.psnr - theirs.psnr)),
                show(&|r| format!("{:.2}", r.seconds)),
                theirs.seconds,
                theirs.seconds / ours[0].seconds
            );
            for (d, r) in deltas.iter_mut().zip(&ours) {
                d.push((
                    r.psnr - theirs.psnr,
                    name.to_string(),
                    r.seconds / theirs.seconds,
                ));
            }
        }
        for (label, d) in labels.iter().zip(&deltas) {
            let mean = d.iter().map(|d| d.0).sum::<f64>() / d.len().max(1) as f64;
            if let Some(worst) = d.iter().min_by(|a, b| a.0.total_cmp(&b.0)) {
                let slowest = d.iter().map(|d| d.2).fold(0.0, f64::max);
                println!(
                    "| **{label}, {size}², {circles} circles: mean Δ {mean:+.2} dB, worst {} {:+.2} dB, time at most {:.3}× purr's** |{}",
                    worst.1,
                    worst.0,
                    slowest,
                    " |".repeat(8 + 3 * (labels.len() - 1))
                );
            }
        }
    }
    Ok(())
}

fn options() -> Result<Options, Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut o = Options {
        purr: PathBuf::from("purr"),
        circlefit: root.join("target/release/circlefit"),
        sizes: vec![(256, 100), (512, 64)],
        threads: 2,
        photos: root.join("assets/photos/source"),
        work: std::env::temp_dir().join("circlefit-quality"),
        variants: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--purr" => o.purr = value.into(),
            "--circlefit" => o.circlefit = value.into(),
            "--threads" => o.threads = value.parse()?,
            "--photos" => o.photos = value.into(),
            "--work" => o.work = value.into(),
            "--variant" => {
                let (label, extra) = value
                    .split_once('=')
                    .ok_or("--variant wants LABEL=EXTRA ARGS")?;
                let extra = extra.split_whitespace().map(str::to_owned).collect();
                o.variants.push((label.to_owned(), extra));
            }
            "--sizes" => {
                o.sizes = value
                    .split(',')
                    .map(|p| {
                        let (s, n) = p.split_once(':').ok_or("--sizes wants SIZE:CIRCLES,...")?;
                        Ok((s.parse()?, n.parse()?))
                    })
                    .collect::<Result<_, Box<dyn std::error::Error>>>()?;
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if o.variants.is_empty() {
        o.variants.push(("circlefit".into(), Vec::new()));
    }
    Ok(o)
}

/// Writes `photo`'s centre square resized to `size`² to `out` and returns its path.
fn prepare(photo: &Path, size: u32, out: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let img = image::open(photo)?.to_rgba8();
    let side = img.width().min(img.height());
    let (x, y) = ((img.width() - side) / 2, (img.height() - side) / 2);
    let square = image::imageops::crop_imm(&img, x, y, side, side).to_image();
    let small = image::imageops::resize(&square, size, size, image::imageops::FilterType::Lanczos3);
    small.save(out)?;
    Ok(out.to_path_buf())
}

/// PSNR of `output` against `reference` over R, G, B (alpha ignored): the one scoring
/// function for both tools.
fn score(output: &Path, reference: &Path) -> Result<f64, Box<dyn std::error::Error>> {
    let (a, b) = (
        circlefit::io::load_image(output)?,
        circlefit::io::load_image(reference)?,
    );
    if !a.as_ref().same_size(b.as_ref()) {
        return Err(format!("{} is not the reference's size", output.display()).into());
    }
    Ok(circlefit::cost::psnr(Mse.cost(a.as_ref(), b.as_ref())?))
}

fn timed(cmd: &mut Command) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let out = cmd.output()?;
    let seconds = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(seconds)
}

fn run_circlefit(
    o: &Options,
    reference: &Path,
    circles: usize,
    name: &str,
    extra: &[String],
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let prefix = o.work.join(format!("{name}_circlefit"));
    let seconds = timed(
        Command::new(&o.circlefit)
            .arg("fit")
            .arg(reference)
            .args([
                "-n",
                &circles.to_string(),
                "-j",
                &o.threads.to_string(),
                "-r",
                "0",
            ])
            .args(extra)
            .arg("--out")
            .arg(&prefix),
    )?;
    let png = prefix.with_extension("png");
    Ok(Outcome {
        psnr: score(&png, reference)?,
        seconds,
    })
}

fn run_purr(
    o: &Options,
    reference: &Path,
    size: u32,
    circles: usize,
    name: &str,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let png = o.work.join(format!("{name}_purr.png"));
    let (size, n, j) = (size.to_string(), circles.to_string(), o.threads.to_string());
    let seconds = timed(
        Command::new(&o.purr)
            .arg("-i")
            .arg(reference)
            .arg("-o")
            .arg(&png)
            .args(["-n", &n, "-m", "4", "-r", &size, "-s", &size, "-j", &j]),
    )?;
    Ok(Outcome {
        psnr: score(&png, reference)?,
        seconds,
    })
}
