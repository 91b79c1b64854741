//! Runs one claimed job: builds the fit from its stored settings (continuing its last stage
//! checkpoint, or its parent's result for an extend), saves a checkpoint after every kept
//! stage and stores the results — every write fenced by the job's lease.

use std::sync::atomic::{AtomicU8, Ordering};

use circlefit::checkpoint::Checkpoint;
use circlefit::io;
use circlefit::job::JobPlan;
use circlefit::prelude::*;

use std::ops::ControlFlow;

use crate::history::{History, HistoryEntry};
use crate::model::{Claimed, Finished, Lease, LiveSaved, Outcome, StageSaved};
use crate::store::{JobStore, StoreError};

/// Why a running fit was asked to stop; a stronger reason overrides a weaker one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum StopReason {
    /// The server is stopping gracefully: give the job back to the queue.
    Release = 1,
    /// A client paused the job: give it back as `paused`, its checkpoint kept.
    Pause = 2,
    /// A client cancelled: store the best so far as `cancelled`.
    Cancel = 3,
    /// The lease is gone: write nothing.
    LeaseLost = 4,
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
            2 => Some(StopReason::Pause),
            3 => Some(StopReason::Cancel),
            4 => Some(StopReason::LeaseLost),
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
    /// Stopped by a pause: the worker gives the job back as paused.
    Pause,
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
pub(crate) struct StageCheckpoint {
    stages_done: usize,
    /// The kept circles, as [`circlefit::checkpoint::exact_bits`] writes them.
    pub(crate) exact: Vec<String>,
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

/// How often the circles are written while polishing or refining (what a live view sees
/// move between stage checkpoints).
const LIVE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// What the fit's observer writes: a stage checkpoint and history entry after every kept
/// stage, the circles as they stand while polishing or refining.
struct Saver<'a> {
    store: &'a dyn JobStore,
    lease: Lease,
    stop: &'a Stop,
    spent: u64,
    history: History,
    /// Seconds the earlier attempts spent (where this attempt's clock starts).
    seconds_before: f64,
    /// When the live circles were last written.
    live_at: Option<std::time::Instant>,
    write_error: Option<String>,
}

impl Saver<'_> {
    fn observe(&mut self, p: &Progress<'_>) -> ControlFlow<()> {
        if self.stop.reason().is_some() {
            return ControlFlow::Break(());
        }
        let written = match (p.resume_point, p.phase, p.circles) {
            (Some((circles, done)), _, _) => self.stage(p, circles, done),
            (None, Phase::Stages, _) | (None, _, None) => return ControlFlow::Continue(()),
            (None, _, Some(circles)) => {
                if self.live_at.is_some_and(|t| t.elapsed() < LIVE_EVERY) {
                    return ControlFlow::Continue(());
                }
                self.live_at = Some(std::time::Instant::now());
                let text = serde_json::to_string(&circlefit::checkpoint::exact_bits(circles))
                    .unwrap_or_default();
                let live = LiveSaved {
                    circles: &text,
                    psnr: psnr(p.cost),
                    evaluations: self.spent + p.evaluations,
                };
                self.store.save_live(self.lease, &live)
            }
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(StoreError::LeaseLost(_)) => {
                self.stop.stop(StopReason::LeaseLost);
                ControlFlow::Break(())
            }
            // A checkpoint that could not be written (the database restarting, say): the
            // fit goes on; the next stage's checkpoint supersedes it.
            Err(e) => {
                self.write_error = Some(e.to_string());
                ControlFlow::Continue(())
            }
        }
    }

    /// Saves the stage checkpoint after `done` stages, with its history entry.
    fn stage(
        &mut self,
        p: &Progress<'_>,
        circles: &[Circle],
        done: usize,
    ) -> Result<(), StoreError> {
        let evaluations = self.spent + p.evaluations;
        self.history
            .push(self.entry("stage", done, circles.len(), p.cost, evaluations, p.elapsed));
        let checkpoint = StageCheckpoint {
            stages_done: done,
            exact: circlefit::checkpoint::exact_bits(circles),
            evaluations,
        };
        let text = serde_json::to_string(&checkpoint).unwrap_or_default();
        let history = self.history.to_json();
        let saved = StageSaved {
            progress: &text,
            history: &history,
            circles: circles.len(),
            psnr: psnr(p.cost),
            evaluations,
        };
        self.live_at = None;
        self.store.save_stage(self.lease, &saved)
    }

    fn entry(
        &self,
        phase: &str,
        stages: usize,
        circles: usize,
        cost: f64,
        evaluations: u64,
        elapsed: std::time::Duration,
    ) -> HistoryEntry {
        let p = psnr(cost);
        HistoryEntry {
            phase: phase.into(),
            stages,
            circles,
            cost,
            psnr: p.is_finite().then_some(p),
            evaluations,
            seconds: self.seconds_before + elapsed.as_secs_f64(),
        }
    }
}

/// Runs a claimed job to its end and stores the outcome (unless stopped to be released or
/// paused, or its lease was lost).
pub(crate) fn run(store: &dyn JobStore, job: &Claimed, stop: &Stop) -> Result<RunEnd, RunError> {
    let Prepared {
        mut fitter,
        reference,
        base,
        plan,
        spent,
    } = prepare(job)?;
    let history = History::resumed(job.history.as_deref());
    let mut saver = Saver {
        store,
        lease: job.lease,
        stop,
        spent,
        seconds_before: history.seconds_before(),
        history,
        live_at: None,
        write_error: None,
    };
    let t0 = std::time::Instant::now();
    let result = fitter
        .fit_observed(reference.as_ref(), &mut |p| saver.observe(p))
        .map_err(job_err)?;
    if let Some(e) = &saver.write_error {
        crate::log!(
            "job {}: a stage checkpoint was not saved: {e}",
            job.lease.job
        );
    }
    let outcome = match (result.stopped(), stop.reason()) {
        (_, Some(StopReason::LeaseLost)) => return Ok(RunEnd::LeaseLost),
        (true, Some(StopReason::Release)) => return Ok(RunEnd::Release),
        (true, Some(StopReason::Pause)) => return Ok(RunEnd::Pause),
        (true, _) => Outcome::Cancelled,
        (false, _) => Outcome::Done,
    };
    let (json, png, svg) = encode(&fitter, &result, &reference, &base, &plan)?;
    let evaluations = spent + result.evaluations;
    let end = saver.entry(
        "end",
        result.stages_done,
        result.circles.len(),
        result.cost,
        evaluations,
        t0.elapsed(),
    );
    saver.history.push(end);
    let history = saver.history.to_json();
    let p = psnr(result.cost);
    let finished = Finished {
        outcome,
        checkpoint: &json,
        png: &png,
        svg: &svg,
        history: &history,
        circles: result.circles.len(),
        psnr: p.is_finite().then_some(p),
        evaluations,
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
