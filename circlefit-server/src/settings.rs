//! A job's settings as the API takes them: the library's [`FitJob`] (the fit description
//! the CLI turns its flags into), checked against the server's limits, and stored with
//! every default written out, so that whatever server runs (or adopts, or extends) the job
//! runs exactly what was accepted.

use circlefit::job::{FitJob, JobError, JobPlan};
use circlefit::prelude::*;

/// What a stored job without a setting ran with: jobs stored before `edges`,
/// `seed_scales` and `climbs` existed were hard-edged, seeded on 8 px blocks and polished
/// with one climb, and those before `refine` were not refined (new jobs store them all).
pub(crate) fn with_legacy_defaults(mut job: FitJob) -> FitJob {
    job.edges.get_or_insert(Edges::Hard);
    job.seed_scales.get_or_insert(SeedScales::Blocks8);
    job.climbs.get_or_insert(1);
    job.refine.get_or_insert(0);
    job
}

/// What a stored job runs.
///
/// # Errors
/// As [`FitJob::plan`] (a job another server accepted may hold a setting this build does
/// not know how to run).
pub(crate) fn stored_plan(settings: &str) -> Result<JobPlan, String> {
    let job: FitJob = serde_json::from_str(settings).map_err(|e| e.to_string())?;
    with_legacy_defaults(job).plan().map_err(|e| e.to_string())
}

/// Per-job limits a server enforces before it accepts a job (a job it runs is not checked
/// again: another server with other limits may have accepted it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct JobLimits {
    /// `--max-circles`.
    pub(crate) max_circles: usize,
    /// `--max-pop`: Mayfly's population per sex.
    pub(crate) max_pop: usize,
    /// `--max-iters`: Mayfly's iterations per search.
    pub(crate) max_iters: u64,
    /// `--max-job-memory`: the estimated working memory of one fit, in bytes.
    pub(crate) max_job_memory: u64,
}

/// Bytes per number of Mayfly's population: positions, velocities and personal bests of
/// males, females, offspring and mutants, and the sorts' copies (an upper bound: ten
/// vectors of `f64`).
const MAYFLY_BYTES_PER_NUMBER: u64 = 80;

/// Every setting of `job` with its effective value written out (what a server runs),
/// checked against `limits` for an image of `width` × `height`.
///
/// # Errors
/// The first setting that cannot run or is above a limit, by its field.
pub(crate) fn accept(
    job: &FitJob,
    limits: &JobLimits,
    width: u32,
    height: u32,
) -> Result<FitJob, JobError> {
    let bad = |field: &str, message: String| JobError {
        field: field.into(),
        message,
    };
    let resolved = job.resolved()?;
    let JobPlan {
        settings: fit,
        mayfly,
        ..
    } = resolved.plan()?;
    if fit.circles > limits.max_circles {
        return Err(bad(
            "circles",
            format!(
                "{}: must be between 1 and {}",
                fit.circles, limits.max_circles
            ),
        ));
    }
    if mayfly.males > limits.max_pop {
        return Err(bad(
            "pop",
            format!("{}: at most --max-pop {}", mayfly.males, limits.max_pop),
        ));
    }
    if mayfly.iterations > limits.max_iters {
        return Err(bad(
            "iters",
            format!(
                "{}: at most --max-iters {}",
                mayfly.iterations, limits.max_iters
            ),
        ));
    }
    let per_circle: u64 = match fit.color {
        ColorMode::ClosedForm => 4,
        _ => 7,
    };
    let per_stage = match fit.strategy {
        Strategy::Joint => fit.circles,
        Strategy::Batch { size, .. } => size,
        _ => 1,
    };
    let numbers = per_stage as u64 * per_circle;
    let population = mayfly.males as u64 * numbers * MAYFLY_BYTES_PER_NUMBER;
    let bytes = circlefit::memory_estimate(width, height, 1).saturating_add(population);
    if bytes > limits.max_job_memory {
        return Err(bad(
            "pop",
            format!(
                "{} × {numbers} numbers per stage on {width}x{height} needs about {} MiB, more than --max-job-memory {} MiB (fewer circles per stage or a smaller population)",
                mayfly.males,
                bytes >> 20,
                limits.max_job_memory >> 20
            ),
        ));
    }
    Ok(resolved)
}
