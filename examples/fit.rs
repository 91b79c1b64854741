//! The main job: fit an image with circles and write PNG, SVG and JSON.
//!
//! ```text
//! cargo run --release --example fit -- [INPUT] [--circles N] [--mode joint|sequential|batch]
//!     [--batch-size B] [--iters T] [--pop P] [--seed S] [--color search|closed-form]
//!     [--background white|mean|FILE] [--seeds N] [--epochs E] [--polish N] [--polish-evals B]
//!     [--patience K]
//!     [--min-gain X] [--stagnation N] [--stage-budget N] [--target-psnr DB]
//!     [--males synchronous|one-at-a-time]
//!     [--prune on|off]
//!     [--threads N] [--resume PREFIX.json] [--diff]
//!     [--snapshots N] [--out PREFIX]
//!
//! Defaults are [`FitSettings::recommended`] for the mode (sequential unless `--mode`):
//! closed-form colour (the optimizer searches position, radius and alpha; the colour is
//! solved exactly), `--seeds 10` candidates per stage on the image's worst 8×8 blocks
//! (residual seeding; 0 turns it off) and `--polish 8` passes of local polishing;
//! joint mode searches all 7 numbers and does neither. The canvas starts from the
//! reference's mean colour (`--background mean`), Mayfly's males move together
//! (`--males synchronous`, so every evaluation of an iteration can run in parallel) and
//! every core is used (`--threads 0`). These were measured on four photographs (see the
//! README); results are bit-identical for any thread count.
//!
//! `--resume` continues a sequential or batch fit saved in a JSON this example wrote: same
//! image size, settings, Mayfly settings and background as saved; the saved circles are
//! drawn again and the remaining stages run, so the result equals one uninterrupted run.
//! `--circles` may raise the total. `--diff` also writes `PREFIX-diff.png` (per-pixel error
//! through viridis); `--snapshots N` writes `PREFIX-snap-NNNN.png` every N kept circles.
//! ```
//!
//! Without INPUT it fits the bundled 256×256 cat photo. It writes `PREFIX.png`,
//! `PREFIX.svg` and `PREFIX.json` (atomically), shows progress on stderr and prints one
//! summary line on stdout.
//!
//! [`FitSettings::recommended`]: circlefit::FitSettings::recommended

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use circlefit::io::{self, Background};
use circlefit::prelude::*;

const USAGE: &str = "usage: fit [INPUT] [--circles N] [--mode joint|sequential|batch] \
[--batch-size B] [--iters T] [--pop P] [--seed S] [--color search|closed-form] \
[--background white|mean|FILE] [--seeds N] [--epochs E] [--polish N] [--polish-evals B] \
[--patience K] \
[--min-gain X] [--stagnation N] [--stage-budget N] [--target-psnr DB] \
[--males synchronous|one-at-a-time] \
[--prune on|off] \
[--threads N] [--resume PREFIX.json] [--diff] \
[--snapshots N] [--out PREFIX]";

#[derive(Debug)]
struct Args {
    input: Option<PathBuf>,
    circles: Option<usize>,
    mode: String,
    batch_size: usize,
    iters: u64,
    pop: usize,
    seed: u64,
    color: Option<String>,
    background: String,
    threads: usize,
    seeds: Option<usize>,
    epochs: usize,
    polish: Option<u32>,
    polish_evals: Option<u64>,
    patience: Option<usize>,
    min_gain: f64,
    stagnation: Option<u64>,
    target_psnr: Option<f64>,
    stage_budget: Option<u64>,
    sync_males: bool,
    prune: Option<bool>,
    resume: Option<PathBuf>,
    diff: bool,
    snapshots: usize,
    out: PathBuf,
}

/// What `--resume` reads back from a JSON this example wrote.
#[derive(serde::Deserialize)]
struct Saved {
    width: u32,
    height: u32,
    settings: FitSettings,
    mayfly: circlefit::mayfly::MayflyConfig,
    background: String,
    /// The completed stages' circles as the stages left them (`FitResult::resume_point`).
    resume_circles: Vec<Circle>,
    stages_done: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        input: None,
        circles: None,
        mode: "sequential".into(),
        batch_size: 5,
        iters: 40,
        pop: 20,
        seed: 1,
        color: None,
        background: "mean".into(),
        threads: 0, // 0: every core
        seeds: None,
        epochs: 1,
        polish: None,
        polish_evals: None,
        patience: None,
        min_gain: 0.001,
        stagnation: None,
        target_psnr: None,
        stage_budget: None,
        sync_males: true,
        prune: None,
        resume: None,
        diff: false,
        snapshots: 0,
        out: PathBuf::from("out/fit"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}: '{v}' is not a valid non-negative integer"))
        }
        match a.as_str() {
            "--circles" => args.circles = Some(num("--circles", value("--circles")?)?),
            "--resume" => args.resume = Some(PathBuf::from(value("--resume")?)),
            "--diff" => args.diff = true,
            "--snapshots" => args.snapshots = num("--snapshots", value("--snapshots")?)?,
            "--mode" => args.mode = value("--mode")?,
            "--batch-size" => args.batch_size = num("--batch-size", value("--batch-size")?)?,
            "--iters" => args.iters = num("--iters", value("--iters")?)?,
            "--pop" => args.pop = num("--pop", value("--pop")?)?,
            "--seed" => args.seed = num("--seed", value("--seed")?)?,
            "--out" => args.out = PathBuf::from(value("--out")?),
            "--color" => args.color = Some(value("--color")?),
            "--background" => args.background = value("--background")?,
            "--seeds" => args.seeds = Some(num("--seeds", value("--seeds")?)?),
            "--epochs" => args.epochs = num("--epochs", value("--epochs")?)?,
            "--polish" => args.polish = Some(num("--polish", value("--polish")?)?),
            "--polish-evals" => {
                args.polish_evals = Some(num("--polish-evals", value("--polish-evals")?)?)
            }
            "--patience" => args.patience = Some(num("--patience", value("--patience")?)?),
            "--min-gain" => {
                let v = value("--min-gain")?;
                args.min_gain = v
                    .parse()
                    .map_err(|_| format!("--min-gain: '{v}' is not a number"))?
            }
            "--stage-budget" => {
                args.stage_budget = Some(num("--stage-budget", value("--stage-budget")?)?)
            }
            "--target-psnr" => {
                let v = value("--target-psnr")?;
                args.target_psnr = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|p| p.is_finite() && *p > 0.0)
                        .ok_or(format!("--target-psnr: '{v}' is not a positive number"))?,
                )
            }
            "--males" => {
                args.sync_males = match value("--males")?.as_str() {
                    "synchronous" => true,
                    "one-at-a-time" => false,
                    m => {
                        return Err(format!(
                            "--males: '{m}' is not synchronous or one-at-a-time"
                        ));
                    }
                }
            }
            "--prune" => {
                args.prune = match value("--prune")?.as_str() {
                    "on" => Some(true),
                    "off" => Some(false),
                    p => return Err(format!("--prune: '{p}' is not on or off")),
                }
            }
            "--stagnation" => args.stagnation = Some(num("--stagnation", value("--stagnation")?)?),
            "--threads" => args.threads = num("--threads", value("--threads")?)?,
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            s if args.input.is_none() => args.input = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument {s}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match try_main() {
        Ok(true) => ExitCode::SUCCESS,
        // Interrupted: the best result so far was written, but the fit is not complete.
        Ok(false) => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the job; `Ok(false)` if Ctrl-C cut it short (the partial result is still written).
fn try_main() -> Result<bool, Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let reference = match &args.input {
        Some(p) => io::load_image(p)?,
        None => io::default_image()?,
    };
    let strategy = match args.mode.as_str() {
        "joint" => Strategy::Joint,
        "sequential" => Strategy::Sequential,
        "batch" => Strategy::batch(args.batch_size),
        m => return Err(format!("--mode: '{m}' is not joint, sequential or batch").into()),
    };
    let saved: Option<Saved> = match &args.resume {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--resume {}: {e}", path.display()))?;
            let saved: Saved = serde_json::from_str(&text)
                .map_err(|e| format!("--resume {}: not a saved fit: {e}", path.display()))?;
            if (saved.width, saved.height) != (reference.width(), reference.height()) {
                return Err(format!(
                    "--resume {}: saved for a {}x{} image, this one is {}x{}",
                    path.display(),
                    saved.width,
                    saved.height,
                    reference.width(),
                    reference.height()
                )
                .into());
            }
            if saved.settings.strategy == Strategy::Joint {
                return Err(format!(
                    "--resume {}: a joint fit cannot be continued",
                    path.display()
                )
                .into());
            }
            Some(saved)
        }
        None => None,
    };
    let mayfly = match &saved {
        Some(s) => circlefit::mayfly::MayflyBuilder::from_config(s.mayfly.clone()).build()?,
        None => {
            let mut b = Mayfly::builder()
                .population(args.pop)
                .iterations(args.iters);
            b = b.synchronous_males(args.sync_males);
            if let Some(p) = args.target_psnr {
                b = b.target_cost(mse_for_psnr(p));
            }
            if let Some(n) = args.stagnation {
                b = b.stagnation(n, 0.0);
            }
            b.build()?
        }
    };
    // Defaults: `FitSettings::recommended` for the mode (measured on four photographs, see
    // the README), each overridable by its flag.
    let circles = args.circles.unwrap_or(100);
    let recommended = FitSettings::recommended(strategy, circles, args.seed);
    let color = match args.color.as_deref() {
        None => recommended.color,
        Some("search") => circlefit::ColorMode::Search,
        Some("closed-form") => circlefit::ColorMode::ClosedForm,
        Some(c) => return Err(format!("--color: '{c}' is not search or closed-form").into()),
    };
    let mut settings = match &saved {
        Some(s) => s.settings,
        None => recommended.with_color(color),
    };
    settings.circles = args.circles.unwrap_or(settings.circles);
    if saved.is_none() {
        settings.residual_seeds = args.seeds.unwrap_or(recommended.residual_seeds);
        settings.restarts = Restarts::runs(args.epochs);
        settings.restarts.stage_budget = args.stage_budget;
        let passes = args
            .polish
            .unwrap_or(recommended.polish.map_or(0, |p| p.passes));
        settings.polish = (passes > 0).then(|| {
            let mut p = Polish::passes(passes);
            p.evaluations = args.polish_evals;
            p
        });
        if let (Strategy::Batch { size, prune }, Some(on)) = (&mut settings.strategy, args.prune) {
            let _ = size;
            *prune = on;
        }
        settings.target_cost = args.target_psnr.map(mse_for_psnr);
        settings.convergence = args.patience.map(|p| Convergence::new(p, args.min_gain));
    }
    settings.validate()?;
    let background = saved
        .as_ref()
        .map_or(args.background.clone(), |s| s.background.clone());
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }

    let base = match background.as_str() {
        "white" => Canvas::white(reference.width(), reference.height())?,
        "mean" => {
            let [r, g, b, _] = reference.mean_color();
            Canvas::filled(reference.width(), reference.height(), [r, g, b, 255])?
        }
        path => io::load_image(path)?,
    };
    let mut fitter = Fitter::new(CpuRenderer::new(), Mse, mayfly)
        .settings(settings)
        .base(base.clone());
    let resumed = saved.as_ref().map_or(0, |s| s.resume_circles.len());
    if let Some(s) = saved {
        fitter = fitter.resume(s.resume_circles, s.stages_done);
    }
    // Ctrl-C stops the fit at the optimizer's next check (polishing too); what was found so
    // far is written. A second Ctrl-C ends the process at once, writing nothing.
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    })?;
    let fitter = fitter.cancel_on(cancel);

    let started = Instant::now();
    let polish = settings.polish.map_or(0, |p| p.passes);
    let tty = std::io::stderr().is_terminal();
    // Whether the progress bar's line still needs its newline.
    let bar_open = AtomicBool::new(tty);
    let mut last_decile = 0usize;
    let mut last_draw = Instant::now();
    let mut progress = |p: &circlefit::Progress<'_>| {
        let done = p.stage + usize::from(p.finished.is_some());
        let secs = p.elapsed.as_secs_f64().max(1e-9);
        let width = 24;
        let filled = done * width / p.stages;
        let line = format!(
            "[{}{}] {done}/{} stages, {} circles, psnr {:.2} dB, {:.0} evals/s, {:.1}s",
            "#".repeat(filled),
            "-".repeat(width - filled),
            p.stages,
            p.circles_kept,
            psnr(p.best_cost),
            p.evaluations as f64 / secs,
            secs
        );
        if tty {
            // Redraw the bar at most 10 times a second.
            if p.finished.is_some() || last_draw.elapsed().as_millis() >= 100 {
                eprint!("\r{line}   ");
                last_draw = Instant::now();
            }
        } else if p.finished.is_some() && (done * 10 / p.stages > last_decile || done == p.stages) {
            eprintln!("{line}");
            last_decile = done * 10 / p.stages;
        }
        if p.finished.is_some() && done == p.stages && polish > 0 {
            if tty {
                eprintln!();
            }
            eprintln!("polishing, {polish} passes...");
            bar_open.store(false, Ordering::Relaxed);
        }
        ControlFlow::Continue(())
    };
    // Results are bit-identical for any thread count; by default every core is used
    // (helper threads score shares of each Mayfly batch; polishing runs on one).
    let mut fitter = fitter.threads(args.threads);
    let result = fitter.fit_observed(reference.as_ref(), &mut progress)?;
    let seconds = started.elapsed().as_secs_f64();
    if bar_open.load(Ordering::Relaxed) {
        eprintln!();
    }

    let mut renderer = CpuRenderer::new();
    let canvas = renderer.render(base.as_ref(), &result.circles)?;
    let ssim_value = ssim(canvas.as_ref(), reference.as_ref())?;
    let png = io::encode_png(canvas.as_ref())?;
    let svg = io::to_svg(
        reference.width(),
        reference.height(),
        Background::of(base.as_ref()),
        &result.circles,
    )?;
    let psnr_value = psnr(result.cost);
    let json = serde_json::json!({
        "input": args.input.as_ref().map_or("<bundled chelsea_256.png>".into(), |p| p.display().to_string()),
        "width": reference.width(),
        "height": reference.height(),
        "settings": settings,
        "mayfly": fitter.optimizer_mut().config(),
        "seed": args.seed,
        "background": background,
        "stages_done": result.stages_done,
        "resume_circles": result.resume_point().0,
        "resumed_circles": resumed,
        "mse": result.cost,
        "cost": result.cost,
        "psnr": if psnr_value.is_finite() { Some(psnr_value) } else { None },
        "ssim": ssim_value,
        "initial_cost": result.initial_cost,
        "evaluations": result.evaluations,
        "seconds": seconds,
        "circles": result.circles,
        "stages": result.stages,
    });
    let prefix = args.out.display().to_string();
    io::write_atomic(format!("{prefix}.png"), &png)?;
    io::write_atomic(format!("{prefix}.svg"), svg.as_bytes())?;
    io::write_atomic(
        format!("{prefix}.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    eprintln!("wrote {prefix}.png, {prefix}.svg, {prefix}.json");
    if args.diff {
        let heat = circlefit::diagnostics::diff_heatmap(canvas.as_ref(), reference.as_ref())?;
        io::write_atomic(
            format!("{prefix}-diff.png"),
            &io::encode_png(heat.as_ref())?,
        )?;
        eprintln!("wrote {prefix}-diff.png");
    }
    if args.snapshots > 0 {
        let mut r = CpuRenderer::new();
        for k in (args.snapshots..=result.circles.len()).step_by(args.snapshots) {
            let snap = r.render(base.as_ref(), &result.circles[..k])?;
            io::write_atomic(
                format!("{prefix}-snap-{k:04}.png"),
                &io::encode_png(snap.as_ref())?,
            )?;
        }
        eprintln!("wrote {} snapshots", result.circles.len() / args.snapshots);
    }
    let evals_per_s = result.evaluations as f64 / seconds.max(1e-9);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "circles={} cost={:.4} psnr={:.4} evaluations={} seconds={:.3} evals_per_s={:.0}",
        result.circles.len(),
        result.cost,
        psnr_value,
        result.evaluations,
        seconds,
        evals_per_s
    )?;
    if result.stopped() {
        eprintln!("interrupted: wrote the best result so far");
    }
    Ok(!result.stopped())
}
