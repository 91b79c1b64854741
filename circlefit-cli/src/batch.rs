//! A run over many images: the inputs expanded, every output planned and checked before
//! the first fit (no two inputs may write one file), the fits run side by side (`--jobs`),
//! each exactly as it would run alone, then a summary and an optional report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use circlefit::checkpoint::Checkpoint;

use crate::args::FitArgs;
use crate::error::CliError;
use crate::fit::{Fitted, Job};
use crate::inputs::Input;
use crate::outputs::{self, Output};

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every input was fitted (or skipped as already done).
    Done,
    /// Ctrl-C or SIGTERM stopped the run (the fits in flight wrote their best so far).
    Interrupted,
}

/// The most fits `--jobs` runs side by side.
pub(crate) const MAX_JOBS: usize = 1024;

/// One input's row and, if it failed, its error.
pub(crate) type Ended = (Row, Option<CliError>);

/// What became of one input, as the summary and the report show it.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Row {
    pub(crate) input: String,
    /// `done`, `skipped` (its outputs were already there, made from the same image and
    /// settings), `interrupted`, `failed` or `not started`.
    pub(crate) status: &'static str,
    pub(crate) circles: Option<usize>,
    pub(crate) psnr: Option<f64>,
    pub(crate) evaluations: Option<u64>,
    pub(crate) seconds: Option<f64>,
    pub(crate) outputs: Vec<String>,
    pub(crate) error: Option<String>,
}

/// Fits every input, `--jobs` at a time. An input that fails is reported and the others
/// go on; the run then ends with an error counting the failures.
///
/// # Errors
/// A usage error before any work, the only input's failure, or the count of failed ones.
pub(crate) fn run(args: &FitArgs, cancel: &Arc<AtomicBool>) -> Result<Outcome, CliError> {
    crate::fit::check_flags(args)?;
    let saved = args
        .resume
        .as_ref()
        .map(|p| Checkpoint::load(p).map_err(|source| CliError::checkpoint(p, source)))
        .transpose()?;
    let inputs = inputs_of(args, saved.as_ref())?;
    if inputs.len() > 1 && args.resume.is_some() {
        return Err(CliError::usage(
            "--resume continues one fit: give one input",
        ));
    }
    let prefix = match (&args.out, args.outputs.is_empty()) {
        (Some(p), _) => Some(p.clone()),
        (None, true) if inputs.len() == 1 => Some("out/fit".to_owned()),
        (None, true) => Some("out/{name}".to_owned()),
        (None, false) => None,
    };
    let plans = plan_all(args, &inputs, prefix.as_deref())?;
    let jobs = jobs_for(args.jobs, inputs.len());
    let started = Instant::now();
    let run = Planned {
        inputs: &inputs,
        plans: &plans,
        prefix: prefix.as_deref(),
        saved: saved.as_ref(),
    };
    let rows = fit_all(args, &run, jobs, cancel);
    if inputs.len() > 1 {
        crate::report::summary(&rows, started.elapsed().as_secs_f64());
    }
    if let Some(path) = &args.report {
        crate::report::write(path, &rows)?;
    }
    finish(&inputs, rows)
}

/// The run's end from its rows: the single input's own error, the count of failures, or
/// whether it was interrupted.
fn finish(inputs: &[Input], rows: Vec<Ended>) -> Result<Outcome, CliError> {
    let interrupted = rows
        .iter()
        .any(|(r, _)| matches!(r.status, "interrupted" | "not started"));
    let failed = rows.iter().filter(|(r, _)| r.status == "failed").count();
    if inputs.len() == 1
        && let Some((_, Some(e))) = rows.into_iter().next()
    {
        return Err(e);
    }
    if failed > 0 {
        return Err(CliError::usage(format!(
            "{failed} of {} inputs failed (reported above)",
            inputs.len()
        )));
    }
    Ok(if interrupted {
        Outcome::Interrupted
    } else {
        Outcome::Done
    })
}

/// The inputs as given, or the image a `--resume` checkpoint recorded, or the bundled cat.
fn inputs_of(args: &FitArgs, saved: Option<&Checkpoint>) -> Result<Vec<Input>, CliError> {
    let given: Vec<PathBuf> = args
        .inputs
        .iter()
        .chain(&args.input_flags)
        .cloned()
        .collect();
    let inputs = crate::inputs::expand(&given, args.recursive)?;
    if !inputs.is_empty() {
        return Ok(inputs);
    }
    Ok(vec![match saved.and_then(|cp| cp.input.as_ref()) {
        Some(path) => Input::file(PathBuf::from(path)),
        None => Input::bundled(),
    }])
}

/// Every input's outputs, checked before any fit: formats, no file written by two inputs,
/// every folder writable.
fn plan_all(
    args: &FitArgs,
    inputs: &[Input],
    prefix: Option<&str>,
) -> Result<Vec<Vec<Output>>, CliError> {
    let mut owner: std::collections::HashMap<PathBuf, usize> = Default::default();
    let mut plans = Vec::with_capacity(inputs.len());
    for (k, input) in inputs.iter().enumerate() {
        let outs = outputs::plan(&args.outputs, prefix, &input.name)?;
        for o in &outs {
            if let Some(&j) = owner.get(&o.path).filter(|&&j| j != k) {
                return Err(CliError::usage(format!(
                    "{} and {} would both write {}: their outputs need distinct names (the inputs share the file name {:?}; put {{name}} in a folder per input, or fit them in separate runs)",
                    inputs[j].label(),
                    input.label(),
                    o.path.display(),
                    input.name
                )));
            }
            owner.insert(o.path.clone(), k);
        }
        if args.skip_existing && !outs.iter().any(|o| o.format == outputs::Format::Json) {
            return Err(CliError::usage(
                "--skip-existing judges a fit by its JSON output: add -o …{name}.json or --out",
            ));
        }
        plans.push(outs);
    }
    let all: Vec<Output> = plans.iter().flatten().cloned().collect();
    outputs::check_writable(&all)?;
    Ok(plans)
}

/// Fits side by side: `--jobs`, or one per core when there are at least as many inputs.
fn jobs_for(asked: usize, inputs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let jobs = match asked {
        0 if inputs >= cores => cores,
        0 => 1,
        n => n,
    };
    jobs.min(inputs).max(1)
}

/// A run's inputs with their checked outputs: what the fits share.
struct Planned<'a> {
    inputs: &'a [Input],
    plans: &'a [Vec<Output>],
    /// `--out PREFIX` or its default.
    prefix: Option<&'a str>,
    /// The `--resume` checkpoint.
    saved: Option<&'a Checkpoint>,
}

/// Runs the fits on `jobs` threads, each taking the next input; rows in input order.
fn fit_all(args: &FitArgs, run: &Planned<'_>, jobs: usize, cancel: &Arc<AtomicBool>) -> Vec<Ended> {
    let Planned {
        inputs,
        plans,
        prefix,
        saved,
    } = *run;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // Every fit gets its share of the cores and of the memory budget.
    let threads = if args.threads == 0 {
        (cores / jobs).max(1)
    } else {
        args.threads
    };
    let memory = args.max_memory / jobs as f64;
    let multi = crate::progress::Multi::new(jobs > 1);
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<Ended>>> = Mutex::new((0..inputs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= inputs.len() || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let label = match inputs.len() {
                        1 => inputs[k].name.clone(),
                        n => format!("[{}/{n}] {}", k + 1, inputs[k].name),
                    };
                    let job = Job {
                        input: &inputs[k],
                        outputs: &plans[k],
                        prefix,
                        label: &label,
                        threads,
                        max_memory: memory,
                        saved,
                        multi: &multi,
                    };
                    let row = row_of(
                        &inputs[k],
                        &plans[k],
                        crate::fit::fit_one(&job, args, cancel),
                        &label,
                        inputs.len(),
                    );
                    rows.lock().unwrap_or_else(PoisonError::into_inner)[k] = Some(row);
                }
            });
        }
    });
    let rows = rows.into_inner().unwrap_or_else(PoisonError::into_inner);
    rows.into_iter()
        .zip(inputs.iter().zip(plans))
        .map(|(row, (input, outs))| row.unwrap_or_else(|| (not_started(input, outs), None)))
        .collect()
}

fn output_names(outs: &[Output]) -> Vec<String> {
    outs.iter().map(|o| o.path.display().to_string()).collect()
}

fn not_started(input: &Input, outs: &[Output]) -> Row {
    Row {
        input: input.label(),
        status: "not started",
        circles: None,
        psnr: None,
        evaluations: None,
        seconds: None,
        outputs: output_names(outs),
        error: None,
    }
}

/// The row of a fit (an error of one of several inputs is reported here, on stderr).
fn row_of(
    input: &Input,
    outs: &[Output],
    fitted: Result<Fitted, CliError>,
    label: &str,
    inputs: usize,
) -> Ended {
    let mut row = not_started(input, outs);
    match fitted {
        Ok(f) => {
            row.status = if f.skipped {
                "skipped"
            } else if f.interrupted {
                "interrupted"
            } else {
                "done"
            };
            row.circles = Some(f.circles);
            row.psnr = f.psnr;
            row.evaluations = Some(f.evaluations);
            row.seconds = Some(f.seconds);
            (row, None)
        }
        Err(e) => {
            row.status = "failed";
            row.error = Some(e.to_string());
            if inputs > 1 {
                crate::log_line(&format!("error: {label}: {e}"));
            }
            (row, Some(e))
        }
    }
}
