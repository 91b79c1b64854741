//! The main job: fit each input and write its outputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use circlefit::checkpoint::Checkpoint;
use circlefit::io;
use circlefit::mayfly::MayflyConfig;
use circlefit::prelude::*;

use crate::args::{ColorArg, FitArgs, MAX_THREADS, Males, Mode, OnOff};
use crate::error::CliError;
use crate::outputs::{self, Produced};
use crate::progress::Reporter;

/// The bundled 256×256 photo fitted when no input is given (Chelsea the cat, CC0, from
/// scikit-image's sample data).
const BUNDLED: &[u8] = include_bytes!("../assets/chelsea_256.png");
const BUNDLED_NAME: &str = "chelsea";

/// How a run of several inputs ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every input was fitted.
    Done,
    /// Ctrl-C stopped a fit (its best so far was written).
    Interrupted,
}

/// Fits every input in turn. An input that fails is reported and skipped; the run then
/// ends with an error counting them after the others are done.
///
/// # Errors
/// A usage error before any work, the only input's failure, or the count of failed ones.
pub(crate) fn run(args: &FitArgs, cancel: &Arc<AtomicBool>) -> Result<Outcome, CliError> {
    check_flags(args)?;
    let inputs: Vec<Option<PathBuf>> = {
        let all: Vec<PathBuf> = args
            .inputs
            .iter()
            .chain(&args.input_flags)
            .cloned()
            .collect();
        if all.is_empty() {
            vec![None]
        } else {
            all.into_iter().map(Some).collect()
        }
    };
    let prefix = match (&args.out, args.outputs.is_empty()) {
        (Some(p), _) => Some(p.clone()),
        (None, true) if inputs.len() == 1 => Some("out/fit".to_owned()),
        (None, true) => Some("out/{name}".to_owned()),
        (None, false) => None,
    };
    if inputs.len() > 1 && args.resume.is_some() {
        return Err(CliError::usage(
            "--resume continues one fit: give one input",
        ));
    }
    // Every output name is checked before the first fit starts.
    outputs::plan(&args.outputs, prefix.as_deref(), "x")?;
    let mut failed = 0usize;
    for (k, input) in inputs.iter().enumerate() {
        let label = match (inputs.len(), input) {
            (1, _) => name_of(input.as_deref()),
            (n, _) => format!("[{}/{n}] {}", k + 1, name_of(input.as_deref())),
        };
        match fit_one(input.as_deref(), args, prefix.as_deref(), &label, cancel) {
            Ok(true) => {}
            Ok(false) => return Ok(Outcome::Interrupted),
            Err(e) if inputs.len() > 1 => {
                eprintln!("error: {label}: {e}");
                failed += 1;
            }
            Err(e) => return Err(e),
        }
    }
    if failed > 0 {
        return Err(CliError::usage(format!(
            "{failed} of {} inputs failed (reported above)",
            inputs.len()
        )));
    }
    Ok(Outcome::Done)
}

/// The file stem of an input (`{name}` in output names).
fn name_of(input: Option<&Path>) -> String {
    input
        .and_then(|p| p.file_stem())
        .map_or(BUNDLED_NAME.to_owned(), |s| {
            s.to_string_lossy().into_owned()
        })
}

/// Flags that cannot work together, refused before any work.
fn check_flags(args: &FitArgs) -> Result<(), CliError> {
    if !(args.max_memory.is_finite() && args.max_memory > 0.0) {
        return Err(CliError::usage(format!(
            "--max-memory {}: must be a positive number of GiB",
            args.max_memory
        )));
    }
    if args.threads > MAX_THREADS {
        return Err(CliError::usage(format!(
            "--threads {}: at most {MAX_THREADS}",
            args.threads
        )));
    }
    if (args.diff || args.snapshots > 0) && args.out.is_none() && !args.outputs.is_empty() {
        return Err(CliError::usage(
            "--diff and --snapshots write beside --out PREFIX: give --out",
        ));
    }
    if let Some(side) = args.size
        && !(1..=crate::draw::MAX_OUTPUT_SIDE).contains(&side)
    {
        return Err(CliError::usage(format!(
            "-s {side}: the output size must be between 1 and {}",
            crate::draw::MAX_OUTPUT_SIDE
        )));
    }
    if let Some(p) = args.target_psnr
        && !(p.is_finite() && p > 0.0)
    {
        return Err(CliError::usage(format!(
            "--target-psnr {p}: must be a positive number"
        )));
    }
    if args.resume.is_some() {
        let given: [(&str, bool); 22] = [
            ("--mode", args.mode.is_some()),
            ("--batch-size", args.batch_size.is_some()),
            ("--seed", args.seed.is_some()),
            ("--color", args.color.is_some()),
            ("--background", args.background.is_some()),
            ("--iters", args.iters.is_some()),
            ("--pop", args.pop.is_some()),
            ("--males", args.males.is_some()),
            ("--stagnation", args.stagnation.is_some()),
            ("--seeds", args.seeds.is_some()),
            ("--seed-scales", args.seed_scales.is_some()),
            ("--epochs", args.epochs.is_some()),
            ("--stage-budget", args.stage_budget.is_some()),
            ("--searches", args.searches.is_some()),
            ("--climbs", args.climbs.is_some()),
            ("--polish", args.polish.is_some()),
            ("--polish-evals", args.polish_evals.is_some()),
            ("--prune", args.prune.is_some()),
            ("--patience", args.patience.is_some()),
            ("--min-gain", args.min_gain.is_some()),
            ("--target-psnr", args.target_psnr.is_some()),
            ("-r/--resize", args.resize != 256),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(CliError::usage(format!(
                "{flag} cannot be combined with --resume: the saved fit's settings are used (only --circles may change)"
            )));
        }
    }
    Ok(())
}

/// The input image, decoded once its declared size passes the memory budget: decoding
/// (8 bytes per pixel of the full image) plus the fit at its fit size.
fn load(input: Option<&Path>, args: &FitArgs, fit_side: u32) -> Result<Canvas, CliError> {
    let (bytes, name) = match input {
        Some(p) => (io::read_limited(p)?, p.to_owned()),
        None => (BUNDLED.to_vec(), PathBuf::from("<bundled chelsea_256.png>")),
    };
    let (w, h) = io::image_dimensions(&bytes, &name)?;
    let (fw, fh) = if fit_side == 0 || w.max(h) <= fit_side {
        (w, h)
    } else {
        crate::draw::scaled_size(w, h, fit_side)
    };
    // The threads the fit will use (`Fitter::threads` caps them to the cores).
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = if args.threads == 0 {
        cores
    } else {
        args.threads.min(cores)
    };
    let needed = 8 * u64::from(w) * u64::from(h) + circlefit::memory_estimate(fw, fh, threads);
    let limit = (args.max_memory.max(0.0) * f64::from(1u32 << 30)) as u64;
    if needed > limit {
        return Err(CliError::usage(format!(
            "{}: fitting this {w}x{h} image at {fw}x{fh} needs about {:.1} GiB, above --max-memory {} GiB; fit a smaller copy with -r",
            name.display(),
            needed as f64 / f64::from(1u32 << 30),
            args.max_memory
        )));
    }
    Ok(opaque_over_white(io::decode_image(&bytes, &name)?))
}

/// Transparent pixels composited over white (what viewers show), so that invisible colours
/// neither get fitted nor count in the mean background; opaque images are unchanged.
pub(crate) fn opaque_over_white(mut image: Canvas) -> Canvas {
    for px in image.as_bytes_mut().chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a < 255 {
            for c in &mut px[..3] {
                *c = ((u32::from(*c) * a + 255 * (255 - a) + 127) / 255) as u8;
            }
            px[3] = 255;
        }
    }
    image
}

/// A copy of `image` whose longer side is `side` (never upscaled; 0 = as it is).
pub(crate) fn fit_size(image: Canvas, side: u32) -> Result<Canvas, CliError> {
    let (w, h) = (image.width(), image.height());
    if side == 0 || w.max(h) <= side {
        return Ok(image);
    }
    let (nw, nh) = crate::draw::scaled_size(w, h, side);
    resized(&image, nw, nh)
}

/// `image` resized to exactly `w` × `h` (Lanczos, as photo tools do).
pub(crate) fn resized(image: &Canvas, w: u32, h: u32) -> Result<Canvas, CliError> {
    if (image.width(), image.height()) == (w, h) {
        return Ok(image.clone());
    }
    let img = image::RgbaImage::from(image.as_ref());
    let small = image::imageops::resize(&img, w, h, image::imageops::FilterType::Lanczos3);
    Ok(Canvas::try_from(&image::DynamicImage::ImageRgba8(small))?)
}

/// The base canvas a `--background` value asks for, at the reference's size.
fn base_for(spec: &str, reference: &Canvas, original: (u32, u32)) -> Result<Canvas, CliError> {
    let (w, h) = (reference.width(), reference.height());
    match spec {
        "white" => Ok(Canvas::white(w, h)?),
        "mean" => {
            let [r, g, b, _] = reference.mean_color();
            Ok(Canvas::filled(w, h, [r, g, b, 255])?)
        }
        path => {
            // The base's own alpha would otherwise leak into the output pictures.
            let image = opaque_over_white(io::load_image(path)?);
            let size = (image.width(), image.height());
            if size == (w, h) {
                Ok(image)
            } else if size == original {
                // A base made for the full-size input is resized with it.
                resized(&image, w, h)
            } else {
                Err(CliError::usage(format!(
                    "--background {path}: is {}x{} but the input is {}x{} (fitted at {w}x{h})",
                    size.0, size.1, original.0, original.1
                )))
            }
        }
    }
}

/// Settings and Mayfly settings from the flags, with the recommended defaults per mode.
fn settings_from(args: &FitArgs) -> Result<(FitSettings, MayflyConfig), CliError> {
    let circles = args.circles.unwrap_or(100);
    let strategy = match args.mode.unwrap_or(Mode::Sequential) {
        Mode::Joint => Strategy::Joint,
        Mode::Sequential => Strategy::Sequential,
        Mode::Batch => Strategy::batch(args.batch_size.unwrap_or(5).min(circles.max(1))),
    };
    let recommended = FitSettings::recommended(strategy, circles, args.seed.unwrap_or(1));
    let mut s = recommended;
    if let Some(c) = args.color {
        s.color = match c {
            ColorArg::Search => ColorMode::Search,
            ColorArg::ClosedForm => ColorMode::ClosedForm,
        };
    }
    s.residual_seeds = args.seeds.unwrap_or(recommended.residual_seeds);
    if let Some(scales) = args.seed_scales {
        s.seed_scales = scales.into();
    }
    s.restarts = Restarts::runs(args.epochs.unwrap_or(1))
        .with_searches(args.searches.unwrap_or(recommended.restarts.searches));
    s.restarts.stage_budget = args.stage_budget;
    let passes = args
        .polish
        .unwrap_or(recommended.polish.map_or(0, |p| p.passes));
    s.polish = (passes > 0).then(|| {
        let mut p = Polish::passes(passes).with_climbs(
            args.climbs
                .unwrap_or(recommended.polish.map_or(1, |p| p.climbs)),
        );
        p.evaluations = args.polish_evals;
        p
    });
    if let (Strategy::Batch { prune, .. }, Some(on)) = (&mut s.strategy, args.prune) {
        *prune = on == OnOff::On;
    }
    s.target_cost = args.target_psnr.map(mse_for_psnr);
    s.convergence = args
        .patience
        .map(|p| Convergence::new(p, args.min_gain.unwrap_or(0.001)));
    s.validate()?;
    let mut b = Mayfly::builder()
        .population(args.pop.unwrap_or(20))
        .iterations(
            args.iters
                .unwrap_or_else(|| circlefit::iterations_per_search(s.restarts.searches)),
        )
        .synchronous_males(args.males.unwrap_or(Males::Synchronous) == Males::Synchronous);
    if let Some(p) = args.target_psnr {
        b = b.target_cost(mse_for_psnr(p));
    }
    if let Some(n) = args.stagnation {
        b = b.stagnation(n, 0.0);
    }
    Ok((s, b.build()?.config().clone()))
}

/// The edges of a fit without `--edges`: soft fits score +0.10 dB on average over smooth
/// ones at 100 circles on 256² and +0.18 at 64 on 512² (docs/quality.md) for about 15 %
/// more time; smooth fits score +0.2 dB over hard ones.
const DEFAULT_EDGES: Edges = Edges::Soft;

/// The raster model: `--edges`, or a resumed fit's own (a different `--edges` is an error:
/// the saved circles were fitted with theirs).
fn edges_for(args: &FitArgs, saved: Option<&Checkpoint>) -> Result<Edges, CliError> {
    let asked = args.edges.map(Edges::from);
    match (saved, asked) {
        (Some(cp), Some(e)) if e != cp.edges => Err(CliError::usage(format!(
            "--edges {e} differs from the --resume fit's --edges {}",
            cp.edges
        ))),
        (Some(cp), _) => Ok(cp.edges),
        (None, e) => Ok(e.unwrap_or(DEFAULT_EDGES)),
    }
}

/// Fits one input; `Ok(false)` if Ctrl-C cut it short (its best so far is written).
fn fit_one(
    input: Option<&Path>,
    args: &FitArgs,
    prefix: Option<&str>,
    label: &str,
    cancel: &Arc<AtomicBool>,
) -> Result<bool, CliError> {
    let name = name_of(input);
    let outs = outputs::plan(&args.outputs, prefix, &name)?;
    let saved = args
        .resume
        .as_ref()
        .map(|p| Checkpoint::load(p).map_err(|source| CliError::checkpoint(p, source)))
        .transpose()?;
    let fit_side = match &saved {
        Some(cp) => cp.width.max(cp.height),
        None => args.resize,
    };
    let full = load(input, args, fit_side)?;
    let original = (full.width(), full.height());

    let (reference, settings, mayfly, background) = match &saved {
        Some(cp) => {
            if cp.settings.strategy == Strategy::Joint {
                return Err(CliError::usage(
                    "--resume: a joint fit has one stage and cannot be continued",
                ));
            }
            let reference = resized(&full, cp.width, cp.height)?;
            (
                reference,
                cp.settings,
                cp.mayfly.clone(),
                cp.background.clone(),
            )
        }
        None => {
            let (s, m) = settings_from(args)?;
            let bg = args.background.clone().unwrap_or_else(|| "mean".into());
            (fit_size(full, args.resize)?, s, m, bg)
        }
    };
    let base = base_for(&background, &reference, original)?;
    let circles = args.circles.unwrap_or(settings.circles);
    let edges = edges_for(args, saved.as_ref())?;
    let fitter = match &saved {
        Some(cp) => cp
            .resume(reference.as_ref(), base.clone(), circles)
            .map_err(|source| CliError::Checkpoint {
                path: args
                    .resume
                    .as_ref()
                    .expect("saved implies --resume")
                    .display()
                    .to_string(),
                source,
            })?,
        None => Fitter::new(
            CpuRenderer::with_edges(edges),
            Mse,
            Mayfly::from_config(mayfly.clone())?,
        )
        .settings(settings)
        .base(base.clone()),
    };
    let mut fitter = fitter.threads(args.threads).cancel_on(Arc::clone(cancel));
    fitter.check(reference.as_ref())?;
    // Everything is valid: make the output folders (and find unwritable ones) before the
    // fit, not after it.
    outputs::check_writable(&outs)?;
    let started = Instant::now();
    let mut reporter = Reporter::new(label.to_owned());
    let result = fitter.fit_observed(reference.as_ref(), &mut |p| reporter.observe(p))?;
    reporter.finish();
    let seconds = started.elapsed().as_secs_f64();
    let side = args.size.unwrap_or(original.0.max(original.1));
    let mut checkpoint = Checkpoint::new(
        &result,
        *fitter.current_settings(),
        &mayfly,
        &background,
        reference.as_ref(),
        base.as_ref(),
    )
    .with_edges(edges);
    if let Some(cp) = &saved {
        checkpoint = checkpoint.continued_from(cp);
    }
    let mut produced = Produced {
        base: base.as_ref(),
        circles: &result.circles,
        edges,
        side,
        checkpoint: Some(checkpoint),
        reference: Some(reference.as_ref()),
    };
    outputs::write_all(&outs, &mut produced)?;
    if let Some(prefix) = prefix.map(|p| p.replace("{name}", &name)) {
        extras(
            args,
            &prefix,
            base.as_ref(),
            reference.as_ref(),
            &result.circles,
            edges,
        )?;
    }
    let evals_per_s = result.evaluations as f64 / seconds.max(1e-9);
    println!(
        "circles={} cost={:.4} psnr={:.4} evaluations={} seconds={:.3} evals_per_s={:.0}",
        result.circles.len(),
        result.cost,
        psnr(result.cost),
        result.evaluations,
        seconds,
        evals_per_s
    );
    if result.stopped() && cancel.load(Ordering::Relaxed) {
        eprintln!("{label}: interrupted, wrote the best result so far");
        return Ok(false);
    }
    Ok(true)
}

/// `--diff` and `--snapshots`, beside the prefix.
fn extras(
    args: &FitArgs,
    prefix: &str,
    base: CanvasRef<'_>,
    reference: CanvasRef<'_>,
    circles: &[Circle],
    edges: Edges,
) -> Result<(), CliError> {
    let mut r = CpuRenderer::with_edges(edges);
    if args.diff {
        let fit = r.render(base, circles)?.clone();
        let heat = circlefit::diagnostics::diff_heatmap(fit.as_ref(), reference)?;
        io::write_atomic(
            format!("{prefix}-diff.png"),
            &io::encode_png(heat.as_ref())?,
        )?;
    }
    if args.snapshots > 0 {
        for k in (args.snapshots..=circles.len()).step_by(args.snapshots) {
            let snap = r.render(base, &circles[..k])?;
            io::write_atomic(
                format!("{prefix}-snap-{k:04}.png"),
                &io::encode_png(snap.as_ref())?,
            )?;
        }
    }
    Ok(())
}
