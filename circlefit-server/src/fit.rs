//! Runs one claimed job: builds the fit from its stored settings (continuing its last stage
//! checkpoint, or its parent's result for an extend), saves a checkpoint after every kept
//! stage and stores the results — every write fenced by the job's lease.

use std::sync::atomic::{AtomicU8, Ordering};

use circlefit::checkpoint::Checkpoint;
use circlefit::io;
use circlefit::job::JobPlan;
use circlefit::prelude::*;

use crate::model::{Claimed, Finished, Outcome, StageSaved};
use crate::store::{JobStore, StoreError};

/// Why a running fit was asked to stop; a stronger reason overrides a weaker one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum StopReason {
    /// The server is stopping gracefully: give the job back to the queue.
    Release = 1,
    /// A client cancelled: store the best so far as `cancelled`.
    Cancel = 2,
    /// The lease is gone: write nothing.
    LeaseLost = 3,
}

/// Whether a running fit was asked to stop, and the strongest reason given. The fit's
/// observer reads it after every optimizer iteration, stage and polished slot.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    reason: AtomicU8,
}

impl Stop {
    /// Asks the fit to stop at its next check.
    pub(crate) fn stop(&self, reason: StopReason) {
        self.reason.fetch_max(reason as u8, Ordering::SeqCst);
    }

    /// The strongest reason given, if any.
    pub(crate) fn reason(&self) -> Option<StopReason> {
        match self.reason.load(Ordering::SeqCst) {
            1 => Some(StopReason::Release),
            2 => Some(StopReason::Cancel),
            3 => Some(StopReason::LeaseLost),
            _ => None,
        }
    }
}

/// How a fit run ended, as far as the worker must act on it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// The results are stored.
    Stored(Outcome),
    /// Stopped for a graceful shutdown: the worker gives the lease back.
    Release,
    /// The lease was lost: nothing more may be written.
    LeaseLost,
}

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// The job itself cannot run (its settings, image or checkpoint): it fails.
    #[error("{0}")]
    Job(String),
    /// The store could not be written: the job stays as it is and is retried.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn job_err(e: impl std::fmt::Display) -> RunError {
    RunError::Job(e.to_string())
}

/// A stage checkpoint: the resume point so far and the evaluations spent to reach it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StageCheckpoint {
    stages_done: usize,
    exact: Vec<String>,
    /// Missing in checkpoints written before it was recorded.
    #[serde(default)]
    evaluations: u64,
}

/// The reference a job fits (its upload, decoded) and its mean-colour base.
pub(crate) fn images(bytes: &[u8]) -> Result<(Canvas, Canvas), String> {
    let reference = io::decode_image(bytes, "upload".as_ref()).map_err(|e| e.to_string())?;
    let [r, g, b, _] = reference.mean_color();
    let base = Canvas::filled(reference.width(), reference.height(), [r, g, b, 255])
        .map_err(|e| e.to_string())?;
    Ok((reference, base))
}

/// A fit ready to run: the fitter and what storing its results needs.
struct Prepared {
    fitter: Fitter<CpuRenderer, Mse, Mayfly>,
    reference: Canvas,
    base: Canvas,
    /// What the job runs (the CLI's fits are planned by the same code).
    plan: JobPlan,
    /// Evaluations spent before the fitter starts (a resumed job's earlier attempts).
    spent: u64,
}

fn prepare(job: &Claimed) -> Result<Prepared, RunError> {
    let plan = crate::settings::stored_plan(&job.settings).map_err(RunError::Job)?;
    let (reference, base) = images(&job.image).map_err(RunError::Job)?;
    let fresh = plan.fitter(base.clone()).map_err(job_err)?;
    let (fitter, spent) = if let Some(p) = &job.progress {
        // An earlier attempt's last stage checkpoint: continue exactly from there.
        let p: StageCheckpoint = serde_json::from_str(p).map_err(job_err)?;
        let circles = circlefit::checkpoint::from_exact_bits(&p.exact).map_err(job_err)?;
        (fresh.resume(circles, p.stages_done), p.evaluations)
    } else if let Some(parent) = &job.parent_checkpoint {
        let cp = Checkpoint::from_json(parent).map_err(job_err)?;
        let fitter = cp
            .resume(reference.as_ref(), base.clone(), plan.settings.circles)
            .map_err(job_err)?;
        (fitter, 0)
    } else {
        (fresh, 0)
    };
    // Stops reach the fit through the observer (after every optimizer iteration, stage
    // and polished slot), not a cancel flag: a stop that lands before the fit starts
    // is then a stop like any other, where the library reports a flag set beforehand.
    Ok(Prepared {
        fitter: fitter.threads(1),
        reference,
        base,
        plan,
        spent,
    })
}

/// Runs a claimed job to its end and stores the outcome (unless stopped to be released or
/// its lease was lost).
pub(crate) fn run(store: &dyn JobStore, job: &Claimed, stop: &Stop) -> Result<RunEnd, RunError> {
    let Prepared {
        mut fitter,
        reference,
        base,
        plan,
        spent,
    } = prepare(job)?;
    let lease = job.lease;
    let mut write_error = None;
    let result = fitter
        .fit_observed(reference.as_ref(), &mut |p| {
            if stop.reason().is_some() {
                return std::ops::ControlFlow::Break(());
            }
            let Some((circles, done)) = p.resume_point else {
                return std::ops::ControlFlow::Continue(());
            };
            let evaluations = spent + p.evaluations;
            let checkpoint = StageCheckpoint {
                stages_done: done,
                exact: circlefit::checkpoint::exact_bits(circles),
                evaluations,
            };
            let text = serde_json::to_string(&checkpoint).unwrap_or_default();
            let saved = StageSaved {
                progress: &text,
                circles: circles.len(),
                psnr: psnr(p.cost),
                evaluations,
            };
            match store.save_stage(lease, &saved) {
                Ok(()) => std::ops::ControlFlow::Continue(()),
                Err(StoreError::LeaseLost(_)) => {
                    stop.stop(StopReason::LeaseLost);
                    std::ops::ControlFlow::Break(())
                }
                // A checkpoint that could not be written (the database restarting, say):
                // the fit goes on; the next stage's checkpoint supersedes it.
                Err(e) => {
                    write_error = Some(e.to_string());
                    std::ops::ControlFlow::Continue(())
                }
            }
        })
        .map_err(job_err)?;
    if let Some(e) = write_error {
        crate::log!("job {}: a stage checkpoint was not saved: {e}", lease.job);
    }
    let outcome = match (result.stopped(), stop.reason()) {
        (_, Some(StopReason::LeaseLost)) => return Ok(RunEnd::LeaseLost),
        (true, Some(StopReason::Release)) => return Ok(RunEnd::Release),
        (true, _) => Outcome::Cancelled,
        (false, _) => Outcome::Done,
    };
    let (json, png, svg) = encode(&fitter, &result, &reference, &base, &plan)?;
    let p = psnr(result.cost);
    let finished = Finished {
        outcome,
        checkpoint: &json,
        png: &png,
        svg: &svg,
        circles: result.circles.len(),
        psnr: p.is_finite().then_some(p),
        evaluations: spent + result.evaluations,
    };
    store_finished(store, job, &finished)?;
    Ok(RunEnd::Stored(outcome))
}

/// The result files: the checkpoint JSON, the PNG (the fit's own raster) and the SVG.
fn encode(
    fitter: &Fitter<CpuRenderer, Mse, Mayfly>,
    result: &FitResult,
    reference: &Canvas,
    base: &Canvas,
    plan: &JobPlan,
) -> Result<(String, Vec<u8>, String), RunError> {
    let ran = (result, *fitter.current_settings());
    let checkpoint = plan.checkpoint(ran, "mean", reference.as_ref(), base.as_ref());
    let json = checkpoint.to_json().map_err(job_err)?;
    let mut canvas = base.clone();
    let Ok(()) = CpuRenderer::with_edges(plan.edges).draw(canvas.as_mut(), &result.circles);
    let png = io::encode_png(canvas.as_ref()).map_err(job_err)?;
    let background = io::Background::of(base.as_ref());
    let (w, h) = (base.width(), base.height());
    let svg = io::to_svg_with(w, h, background, &result.circles, plan.edges).map_err(job_err)?;
    Ok((json, png, svg))
}

/// Stores a job's results, retrying a failing store for up to a minute (a restarting
/// database) before giving the job up to its lease's expiry.
fn store_finished(
    store: &dyn JobStore,
    job: &Claimed,
    finished: &Finished<'_>,
) -> Result<(), StoreError> {
    let mut delay = std::time::Duration::from_millis(100);
    let t0 = std::time::Instant::now();
    loop {
        match store.finish(job.lease, finished) {
            Ok(()) => return Ok(()),
            Err(e @ StoreError::LeaseLost(_)) => return Err(e),
            Err(e) if t0.elapsed() > std::time::Duration::from_secs(60) => return Err(e),
            Err(e) => {
                crate::log!(
                    "job {}: storing the result failed ({e}); retrying",
                    job.lease.job
                );
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
        }
    }
}
