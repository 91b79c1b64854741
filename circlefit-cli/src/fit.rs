//! One fit: an input loaded (within the memory budget), fitted with the flags' settings
//! (or continued from a checkpoint), and its outputs written.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use circlefit::checkpoint::Checkpoint;
use circlefit::io;
use circlefit::job::{self, FitJob, JobPlan};
use circlefit::prelude::*;

use crate::args::{ColorArg, FitArgs, MAX_THREADS, Males, Mode, OnOff};
use crate::error::CliError;
use crate::inputs::Input;
use crate::outputs::{self, Output, Produced};
use crate::progress::Reporter;

/// The bundled 256×256 photo fitted when no input is given (Chelsea the cat, CC0, from
/// scikit-image's sample data).
const BUNDLED: &[u8] = include_bytes!("../assets/chelsea_256.png");

/// One fit of a run: what the batch hands each fit.
pub(crate) struct Job<'a> {
    pub(crate) input: &'a Input,
    pub(crate) outputs: &'a [Output],
    /// `--out PREFIX` (or the default), for `--diff` and `--snapshots`.
    pub(crate) prefix: Option<&'a str>,
    pub(crate) label: &'a str,
    /// Threads for this fit.
    pub(crate) threads: usize,
    /// This fit's share of `--max-memory`, in GiB.
    pub(crate) max_memory: f64,
    /// The `--resume` checkpoint.
    pub(crate) saved: Option<&'a Checkpoint>,
    pub(crate) multi: &'a crate::progress::Multi,
}

/// What one fit did.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fitted {
    pub(crate) circles: usize,
    pub(crate) psnr: Option<f64>,
    pub(crate) evaluations: u64,
    pub(crate) seconds: f64,
    /// Stopped by Ctrl-C or SIGTERM (its best so far was written).
    pub(crate) interrupted: bool,
    /// Not fitted: `--skip-existing` found its outputs made from this image and settings.
    pub(crate) skipped: bool,
}

impl Fitted {
    /// A fit that Ctrl-C or SIGTERM stopped before it began (nothing written).
    fn not_run() -> Self {
        Self {
            interrupted: true,
            ..Self::default()
        }
    }
}

/// Flags that cannot work together, refused before any work.
pub(crate) fn check_flags(args: &FitArgs) -> Result<(), CliError> {
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
    if args.jobs > crate::batch::MAX_JOBS {
        return Err(CliError::usage(format!(
            "--jobs {}: at most {}",
            args.jobs,
            crate::batch::MAX_JOBS
        )));
    }
    if let Some(b) = args.svg_blur
        && !(b.is_finite() && (0.0..=1000.0).contains(&b))
    {
        return Err(CliError::usage(format!(
            "--svg-blur {b}: must be between 0 and 1000 pixels"
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
        let given: [(&str, bool); 25] = [
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
            ("--refine", args.refine.is_some()),
            ("--prune", args.prune.is_some()),
            ("--patience", args.patience.is_some()),
            ("--min-gain", args.min_gain.is_some()),
            ("--target-psnr", args.target_psnr.is_some()),
            ("-r/--resize", args.resize.is_some()),
            ("--preset", args.preset.is_some()),
            ("--skip-existing", args.skip_existing),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(CliError::usage(format!(
                "{flag} cannot be combined with --resume: the saved fit's settings are used (only --circles may change)"
            )));
        }
    }
    Ok(())
}

/// An input's bytes, its absolute path and their content hash (recorded in the checkpoint).
pub(crate) struct Source {
    pub(crate) bytes: Vec<u8>,
    pub(crate) name: PathBuf,
    /// The absolute path and the bytes' content hash (`None`: the bundled photo).
    pub(crate) recorded: Option<(String, String)>,
}

fn read(input: &Input) -> Result<Source, CliError> {
    Ok(match &input.path {
        Some(p) => {
            let bytes = io::read_limited(p)?;
            let absolute = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            let hash = circlefit::checkpoint::content_hash(&bytes);
            Source {
                bytes,
                name: p.clone(),
                recorded: Some((absolute.display().to_string(), hash)),
            }
        }
        None => Source {
            bytes: BUNDLED.to_vec(),
            name: PathBuf::from("<bundled chelsea_256.png>"),
            recorded: None,
        },
    })
}

/// The input image, decoded once its declared size passes the memory budget: decoding
/// (8 bytes per pixel of the full image), the fit at its fit size, and the raster outputs
/// (12 bytes per output pixel: the picture, tiny-skia's and the encoder's buffers).
fn load(src: &Source, job: &Job<'_>, args: &FitArgs, fit_side: u32) -> Result<Canvas, CliError> {
    let (w, h) = io::image_dimensions(&src.bytes, &src.name)?;
    let (fw, fh) = if fit_side == 0 || w.max(h) <= fit_side {
        (w, h)
    } else {
        crate::draw::scaled_size(w, h, fit_side)
    };
    // The threads the fit will use (`Fitter::threads` caps them to the cores).
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = job.threads.clamp(1, cores);
    let raster = job
        .outputs
        .iter()
        .any(|o| matches!(o.format, outputs::Format::Png | outputs::Format::Jpeg));
    let side = args.size.unwrap_or(w.max(h));
    let (ow, oh) = crate::draw::scaled_size(w, h, side);
    let pictures = if raster {
        12 * u64::from(ow) * u64::from(oh)
    } else {
        0
    };
    let needed =
        8 * u64::from(w) * u64::from(h) + circlefit::memory_estimate(fw, fh, threads) + pictures;
    let limit = (job.max_memory.max(0.0) * f64::from(1u32 << 30)) as u64;
    if needed > limit {
        return Err(CliError::usage(format!(
            "{}: fitting this {w}x{h} image at {fw}x{fh}{} needs about {:.2} GiB, above --max-memory {} GiB{}; fit a smaller copy with -r{}",
            src.name.display(),
            if raster {
                format!(" and drawing it at {ow}x{oh}")
            } else {
                String::new()
            },
            needed as f64 / f64::from(1u32 << 30),
            args.max_memory,
            if job.max_memory < args.max_memory {
                " (shared by the fits running side by side)"
            } else {
                ""
            },
            if raster {
                " or draw smaller pictures with -s"
            } else {
                ""
            },
        )));
    }
    Ok(io::decode_image(&src.bytes, &src.name)?)
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
            // Opaque: the loader composites transparency over white.
            let image = io::load_image(path)?;
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

/// The flags as the fit job the server also runs (the same defaults, the same checks).
pub(crate) fn job_of(args: &FitArgs) -> FitJob {
    FitJob {
        circles: Some(args.circles()),
        mode: args.mode.map(|m| match m {
            Mode::Joint => job::Mode::Joint,
            Mode::Sequential => job::Mode::Sequential,
            Mode::Batch => job::Mode::Batch,
        }),
        batch_size: args.batch_size,
        seed: args.seed,
        color: args.color.map(|c| match c {
            ColorArg::Search => ColorMode::Search,
            ColorArg::ClosedForm => ColorMode::ClosedForm,
        }),
        edges: args.edges.map(Edges::from),
        residual_seeds: args.seeds,
        seed_scales: args.seed_scales.map(Into::into),
        epochs: args.epochs,
        stage_budget: args.stage_budget,
        searches: args.searches,
        polish: args.polish,
        climbs: args.climbs,
        polish_evals: args.polish_evals,
        refine: args.refine,
        prune: args.prune.map(|p| p == OnOff::On),
        patience: args.patience,
        min_gain: args.min_gain,
        target_psnr: args.target_psnr,
        iters: args.iters,
        pop: args.pop,
        males: args.males.map(|m| match m {
            Males::Synchronous => job::Males::Synchronous,
            Males::OneAtATime => job::Males::Sequential,
        }),
        stagnation: args.stagnation,
    }
}

/// What the flags ask a new fit to run, checked (the flag at fault named).
pub(crate) fn plan_of(args: &FitArgs) -> Result<JobPlan, CliError> {
    job_of(args).plan().map_err(|e| {
        let flag = match e.field.as_str() {
            "residual_seeds" => "seeds".to_owned(),
            "polish_evals" => "polish-evals".to_owned(),
            field => field.replace('_', "-"),
        };
        CliError::usage(format!("--{flag}: {}", e.message))
    })
}

/// The raster model: `--edges`, or a resumed fit's own (a different `--edges` is an error:
/// the saved circles were fitted with theirs).
pub(crate) fn edges_for(args: &FitArgs, saved: Option<&Checkpoint>) -> Result<Edges, CliError> {
    let asked = args.edges.map(Edges::from);
    match (saved, asked) {
        (Some(cp), Some(e)) if e != cp.edges => Err(CliError::usage(format!(
            "--edges {e} differs from the --resume fit's --edges {}",
            cp.edges
        ))),
        (Some(cp), _) => Ok(cp.edges),
        (None, e) => Ok(e.unwrap_or(FitJob::DEFAULT_EDGES)),
    }
}

/// What a fit runs on: the reference at fit size, its base, the settings, and how the
/// base was made.
struct Plan {
    full_size: (u32, u32),
    reference: Canvas,
    base: Canvas,
    /// The settings, Mayfly's settings and the edges: the flags', or the resumed fit's.
    job: JobPlan,
    background: String,
}

fn plan(job: &Job<'_>, args: &FitArgs, src: &Source) -> Result<Plan, CliError> {
    let fit_side = job
        .saved
        .map_or(args.resize(), |cp| cp.width.max(cp.height));
    let full = load(src, job, args, fit_side)?;
    let full_size = (full.width(), full.height());
    let (reference, settings, mayfly, background) = match job.saved {
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
            let plan = plan_of(args)?;
            let bg = args.background.clone().unwrap_or_else(|| "mean".into());
            (
                fit_size(full, args.resize())?,
                plan.settings,
                plan.mayfly,
                bg,
            )
        }
    };
    let base = base_for(&background, &reference, full_size)?;
    let edges = edges_for(args, job.saved)?;
    Ok(Plan {
        full_size,
        reference,
        base,
        job: JobPlan {
            settings,
            mayfly,
            edges,
        },
        background,
    })
}

/// The fitter: fresh from the plan's settings, or continuing the `--resume` checkpoint.
fn fitter_for(
    job: &Job<'_>,
    args: &FitArgs,
    plan: &Plan,
) -> Result<Fitter<CpuRenderer, Mse, Mayfly>, CliError> {
    let circles = args.circles.unwrap_or(plan.job.settings.circles);
    let fitter = match job.saved {
        Some(cp) => cp
            .resume(plan.reference.as_ref(), plan.base.clone(), circles)
            .map_err(|source| {
                let path = args.resume.as_ref().expect("saved implies --resume");
                let e = CliError::checkpoint(path, source);
                match &job.input.path {
                    Some(image) => e.with_hint(&format!(
                        "the image read was {} (name the image the fit was made from)",
                        image.display()
                    )),
                    None => e.with_hint(
                        "the checkpoint does not record its image: name it, as in `circlefit IMAGE --resume FILE.json`",
                    ),
                }
            })?,
        None => plan
            .job
            .fitter(plan.base.clone())
            .map_err(|e| CliError::usage(e.to_string()))?,
    };
    Ok(fitter.threads(job.threads))
}

/// Fits one input and writes its outputs (the best so far if Ctrl-C or SIGTERM cut it
/// short), or skips it when `--skip-existing` finds them made from the same image and
/// settings.
pub(crate) fn fit_one(
    job: &Job<'_>,
    args: &FitArgs,
    cancel: &Arc<AtomicBool>,
) -> Result<Fitted, CliError> {
    let src = read(job.input)?;
    if args.skip_existing
        && let Some(done) = crate::skip::already_done(job.outputs, args, &src)
    {
        return Ok(done);
    }
    let plan = plan(job, args, &src)?;
    let mut fitter = fitter_for(job, args, &plan)?.cancel_on(Arc::clone(cancel));
    fitter.check(plan.reference.as_ref())?;
    let started = Instant::now();
    let mut reporter = Reporter::new(job.label.to_owned(), job.multi);
    if cancel.load(Ordering::Relaxed) {
        // Ctrl-C before this fit began: nothing to write.
        reporter.finish();
        return Ok(Fitted::not_run());
    }
    let result = match fitter.fit_observed(plan.reference.as_ref(), &mut |p| reporter.observe(p)) {
        // The flag was set in the instant between the check above and the fit's own.
        Err(_) if cancel.load(Ordering::Relaxed) => {
            reporter.finish();
            return Ok(Fitted::not_run());
        }
        r => r?,
    };
    reporter.finish();
    let seconds = started.elapsed().as_secs_f64();
    write_outputs(job, args, &src, &plan, &fitter, &result)?;
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
    let interrupted = result.stopped() && cancel.load(Ordering::Relaxed);
    if interrupted {
        crate::log_line(&format!(
            "{}: interrupted, wrote the best result so far",
            job.label
        ));
    }
    let p = psnr(result.cost);
    Ok(Fitted {
        circles: result.circles.len(),
        psnr: p.is_finite().then_some(p),
        evaluations: result.evaluations,
        seconds,
        interrupted,
        skipped: false,
    })
}

/// The outputs of a finished (or stopped) fit: the pictures, the checkpoint, and `--diff`
/// and `--snapshots` beside the prefix.
fn write_outputs(
    job: &Job<'_>,
    args: &FitArgs,
    src: &Source,
    plan: &Plan,
    fitter: &Fitter<CpuRenderer, Mse, Mayfly>,
    result: &FitResult,
) -> Result<(), CliError> {
    let side = args.size.unwrap_or(plan.full_size.0.max(plan.full_size.1));
    let ran = (result, *fitter.current_settings());
    let (reference, base) = (plan.reference.as_ref(), plan.base.as_ref());
    let mut checkpoint = plan.job.checkpoint(ran, &plan.background, reference, base);
    if let Some((path, hash)) = &src.recorded {
        checkpoint = checkpoint.with_input(path.clone(), hash.clone());
    }
    if let Some(cp) = job.saved {
        checkpoint = checkpoint.continued_from(cp);
    }
    let mut produced = Produced {
        base: plan.base.as_ref(),
        circles: &result.circles,
        edges: plan.job.edges,
        side,
        checkpoint: Some(checkpoint),
        reference: Some(plan.reference.as_ref()),
        svg: crate::outputs::SvgStyle::of(args),
    };
    outputs::make_folders(job.outputs)?;
    outputs::write_all(job.outputs, &mut produced)?;
    if let Some(prefix) = job.prefix.map(|p| p.replace("{name}", &job.input.name)) {
        extras(
            args,
            &prefix,
            plan.base.as_ref(),
            plan.reference.as_ref(),
            &result.circles,
            plan.job.edges,
        )?;
    }
    Ok(())
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
