//! The folder measurement: the CLI on a folder of photographs, one fit at a time on one
//! thread, one at a time on every core, and one fit per core (`--jobs 2`), interleaved in one
//! run, then a re-run with `--skip-existing`; the results must be identical.
//!
//! ```text
//! cargo build --release -p circlefit-cli -p circlefit-benches --bin batch
//! target/release/batch [--circlefit PATH] [--images 50] [--rounds 2] [--work DIR]
//! ```
//!
//! The photographs are crops of `assets/photos/source/` (11 photographs; see its README):
//! image `k` is the `k`-th of a fixed series of windows (60–100 % of the shorter side, at
//! varying positions) resized (Lanczos-3) so its longer side is 320 to 480 px. Each fit
//! runs with the CLI's defaults (100 circles at 256 px).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cli =
        arg("--circlefit").map_or_else(|| root.join("target/release/circlefit"), PathBuf::from);
    let images: u32 = arg("--images").map_or(Ok(50), |v| v.parse())?;
    let rounds: u32 = arg("--rounds").map_or(Ok(2), |v| v.parse())?;
    let work = arg("--work").map_or_else(|| root.join("target/batch"), PathBuf::from);
    let _ = std::fs::remove_dir_all(&work);
    let photos = work.join("photos");
    make_photos(&root.join("assets/photos/source"), &photos, images)?;
    // One fit at a time on one thread; one at a time on every core (the CLI before
    // `--jobs`); one fit per core.
    let runs: [(&str, &str, &[&str]); 3] = [
        ("one", "`--jobs 1 -j 1`", &["--jobs", "1", "-j", "1"]),
        ("all", "`--jobs 1`", &["--jobs", "1"]),
        ("two", "`--jobs 2`", &["--jobs", "2"]),
    ];
    println!(
        "| run | {} | {} | {} | speed-up over the first | over the second |",
        runs[0].1, runs[1].1, runs[2].1
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut times: [Vec<f64>; 3] = Default::default();
    for r in 0..rounds {
        let mut row = [0.0; 3];
        for (k, (dir, _, extra)) in runs.iter().enumerate() {
            row[k] = fit(&cli, &photos, &work.join(dir), extra)?;
            times[k].push(row[k]);
        }
        println!(
            "| {} | {:.2} s | {:.2} s | {:.2} s | {:.2}× | {:.2}× |",
            r + 1,
            row[0],
            row[1],
            row[2],
            row[0] / row[2],
            row[1] / row[2]
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let m: Vec<f64> = times.iter_mut().map(median).collect();
    println!(
        "| median | {:.2} s | {:.2} s | {:.2} s | **{:.2}×** | **{:.2}×** |",
        m[0],
        m[1],
        m[2],
        m[0] / m[2],
        m[1] / m[2]
    );
    let mut same = 0;
    for k in 0..images {
        let read = |d: &str| std::fs::read_to_string(work.join(d).join(format!("p{k:02}.json")));
        let circles = |t: String| -> Result<serde_json::Value, serde_json::Error> {
            Ok(serde_json::from_str::<serde_json::Value>(&t)?["circles"].clone())
        };
        let two = circles(read("two")?)?;
        if circles(read("one")?)? == two && circles(read("all")?)? == two {
            same += 1;
        }
    }
    println!("\n{same} of {images} fits identical in all three runs.");
    let t0 = Instant::now();
    let skip = fit(
        &cli,
        &photos,
        &work.join("two"),
        &["--jobs", "2", "--skip-existing"],
    )?;
    println!(
        "A re-run with `--skip-existing` over the same folder: {skip:.2} s ({:.2} s with the process start).",
        t0.elapsed().as_secs_f64()
    );
    if same != images {
        return Err("the fits differ".into());
    }
    Ok(())
}

/// Fits the folder into `out`; the wall time in seconds.
fn fit(
    cli: &Path,
    photos: &Path,
    out: &Path,
    extra: &[&str],
) -> Result<f64, Box<dyn std::error::Error>> {
    let pattern = out.join("{name}");
    let t0 = Instant::now();
    let o = Command::new(cli)
        .arg(photos)
        .args(["-o", &format!("{}.json", pattern.display())])
        .args(["-o", &format!("{}.png", pattern.display())])
        .args(extra)
        .output()?;
    let seconds = t0.elapsed().as_secs_f64();
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned().into());
    }
    if let Some(last) = String::from_utf8_lossy(&o.stderr).lines().last() {
        eprintln!("{last}");
    }
    Ok(seconds)
}

/// `n` crops of the source photographs, as described in the module docs.
fn make_photos(sources: &Path, out: &Path, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(sources)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let images: Vec<image::RgbaImage> = files
        .iter()
        .map(|f| image::open(f).map(|i| i.to_rgba8()))
        .collect::<Result<_, _>>()?;
    for k in 0..n {
        let img = &images[k as usize % images.len()];
        let short = img.width().min(img.height());
        let side = short * (60 + (k * 37) % 41) / 100;
        let (w, h) = if k % 3 == 0 {
            (side, side * 3 / 4)
        } else {
            (side, side)
        };
        let x = (img.width() - w) * ((k * 13) % 11) / 10;
        let y = (img.height() - h) * ((k * 7) % 5) / 4;
        let crop = image::imageops::crop_imm(img, x, y, w, h).to_image();
        let long = 320 + (k * 17) % 161;
        let (rw, rh) = if w >= h {
            (long, long * h / w)
        } else {
            (long * w / h, long)
        };
        let small = image::imageops::resize(&crop, rw, rh, image::imageops::FilterType::Lanczos3);
        small.save(out.join(format!("p{k:02}.png")))?;
    }
    Ok(())
}
