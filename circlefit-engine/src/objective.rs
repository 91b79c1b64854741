//! The objective a strategy hands to the optimizer: parameters → circles → cost.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::evaluator::Evaluator;
use crate::replica::Replica;
use crate::report::Reporter;
use crate::team::{Batch, SharedTask, Team};
use crate::{ColorMode, Phase, Progress};
use circlefit_core::CostFunc;
use circlefit_core::Objective;
use circlefit_core::Renderer;
use circlefit_core::{Bounds, Circle};
use circlefit_core::{Error, Result};

/// Decodes a parameter vector into `circles`: clamped into the bounds first (a custom
/// optimizer may step outside them; NaN maps to the lower bound), colours solved in closed
/// form if asked.
pub(crate) fn decode<R: Renderer, C: CostFunc>(
    eval: &mut Evaluator<R, C>,
    bounds: &Bounds,
    color: ColorMode,
    x: &[f64],
    xbuf: &mut Vec<f64>,
    circles: &mut Vec<Circle>,
) -> Result<()> {
    if x.len() != bounds.dim() {
        return Err(Error::OptimizerDimension {
            expected: bounds.dim(),
            actual: x.len(),
        });
    }
    xbuf.clear();
    xbuf.extend_from_slice(x);
    bounds.clamp(xbuf);
    circles.clear();
    match color {
        ColorMode::Search => Circle::decode_all(xbuf, circles),
        ColorMode::ClosedForm => {
            for g in xbuf.chunks_exact(4) {
                let shape = Circle::new(g[0], g[1], g[2], [0.0; 3], g[3])?;
                let c = eval.best_color(&shape)?;
                circles.push(shape.with_color(c)?);
            }
            Ok(())
        }
    }
}

/// The value of a scored point, or `+∞` after recording the first error (which then
/// stops the run through [`Objective::interrupted`]).
pub(crate) fn value_or_record(scored: Result<f64>, error: &mut Option<Error>) -> f64 {
    scored.unwrap_or_else(|e| {
        error.get_or_insert(e);
        f64::INFINITY
    })
}

/// What the objective needs to report progress within a stage.
pub(crate) struct StageContext<'a> {
    pub(crate) reporter: Reporter<'a>,
    pub(crate) stage: usize,
    pub(crate) stages: usize,
    pub(crate) circles_kept: usize,
    pub(crate) evaluations_before: u64,
}

/// Decodes parameter vectors into circles and scores them with an [`Evaluator`]; batches
/// are shared with the helper threads when there are any.
///
/// The first error stops the run through [`Objective::interrupted`] and is handed back by
/// [`finish`](Self::finish), as is a stop (the cancel flag, or the observer's `Break`).
pub(crate) struct ParamObjective<'a, 's, R, C, W> {
    eval: &'a mut Evaluator<R, C>,
    bounds: &'a Bounds,
    color: ColorMode,
    team: &'a mut Team<'s, W>,
    /// The batch shared with the helpers and the task that scores it on each, made on the
    /// first shared batch and reused.
    shared: Option<(Arc<Batch>, SharedTask<'s, W>)>,
    /// This thread's share of a shared batch.
    values: Vec<(usize, f64)>,
    x: Vec<f64>,
    circles: Vec<Circle>,
    /// The order in which a shared batch's points are handed out.
    order: Vec<usize>,
    error: Option<Error>,
    evaluations: u64,
    cancel: Option<&'a AtomicBool>,
    /// A helper's search also ends when the main thread halts it.
    halt: Option<&'a AtomicBool>,
    /// Where progress within the stage goes (none for a helper's search).
    context: Option<StageContext<'a>>,
    observer_stopped: bool,
}

/// How a stage's optimizer runs ended, seen from the objective.
pub(crate) struct StageScore {
    /// The circles of the last point scored by [`ParamObjective::rescore`].
    pub(crate) circles: Vec<Circle>,
    /// Evaluations of the stage.
    pub(crate) evaluations: u64,
    /// Whether the cancel flag or the observer stopped it.
    pub(crate) stopped: bool,
}

/// A helper's state that scores its share of a batch of parameter points.
pub(crate) trait ScoresBatch {
    /// Scores points of `batch` (decoded with `bounds` and `color`) until none is left.
    fn score_share(&mut self, batch: &Batch, bounds: &Bounds, color: ColorMode);
}

impl<R: Renderer, C: CostFunc, O> ScoresBatch for Replica<R, C, O> {
    fn score_share(&mut self, batch: &Batch, bounds: &Bounds, color: ColorMode) {
        let Replica {
            eval,
            x,
            circles,
            values,
            ..
        } = self;
        batch.take(values, |p| {
            decode(eval, bounds, color, p, x, circles)?;
            eval.cost_with(circles)
        });
    }
}

impl<'a, 's, R: Renderer, C: CostFunc, W: ScoresBatch + 's> ParamObjective<'a, 's, R, C, W> {
    /// An objective over `eval`'s kept canvas whose batches `team` shares, reporting to
    /// `context` (if any) after each iteration.
    pub(crate) fn new(
        eval: &'a mut Evaluator<R, C>,
        bounds: &'a Bounds,
        color: ColorMode,
        team: &'a mut Team<'s, W>,
        cancel: Option<&'a AtomicBool>,
        context: Option<StageContext<'a>>,
    ) -> Self {
        Self {
            eval,
            bounds,
            color,
            team,
            shared: None,
            values: Vec::new(),
            x: Vec::with_capacity(bounds.dim()),
            circles: Vec::with_capacity(bounds.dim() / 4),
            order: Vec::new(),
            error: None,
            evaluations: 0,
            cancel,
            halt: None,
            context,
            observer_stopped: false,
        }
    }

    /// The same objective, also stopped by `halt`.
    pub(crate) fn halted_by(mut self, halt: &'a AtomicBool) -> Self {
        self.halt = Some(halt);
        self
    }

    fn flagged(&self) -> bool {
        let set = |f: Option<&AtomicBool>| f.is_some_and(|f| f.load(Ordering::Relaxed));
        set(self.cancel) || set(self.halt)
    }

    /// Evaluations so far.
    pub(crate) fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Whether the run must not restart: an error, a cancellation or the observer's stop.
    pub(crate) fn ended(&self) -> bool {
        self.interrupted() || self.observer_stopped
    }

    /// Scores `x` once more and keeps its circles (what the stage would keep): what is
    /// kept must be true even if an optimizer misreports its best value.
    ///
    /// # Errors
    /// The first error of the stage, or this scoring's.
    pub(crate) fn rescore(&mut self, x: &[f64]) -> Result<f64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.evaluations += 1;
        self.score(x)
    }

    /// The stage's outcome, or its first error.
    ///
    /// # Errors
    /// The first error recorded during the runs.
    pub(crate) fn finish(self) -> Result<StageScore> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let stopped = self.observer_stopped || self.flagged();
        Ok(StageScore {
            circles: self.circles,
            evaluations: self.evaluations,
            stopped,
        })
    }

    fn score(&mut self, x: &[f64]) -> Result<f64> {
        decode(
            self.eval,
            self.bounds,
            self.color,
            x,
            &mut self.x,
            &mut self.circles,
        )?;
        self.eval.cost_with(&self.circles)
    }

    /// Scores the batch `xs` with the helper threads, the points with the largest
    /// circles (the slowest to score) handed out first.
    fn score_shared(&mut self, xs: &[f64], out: &mut [f64]) -> Result<()> {
        let (bounds, color) = (self.bounds, self.color);
        let (dim, per_circle) = (bounds.dim(), color.params_per_circle());
        let area = |p: &[f64]| -> f64 { p.chunks_exact(per_circle).map(|c| c[2] * c[2]).sum() };
        self.order.clear();
        self.order.extend(0..out.len());
        self.order.sort_by(|&a, &b| {
            area(&xs[b * dim..(b + 1) * dim]).total_cmp(&area(&xs[a * dim..(a + 1) * dim]))
        });
        let (batch, task) = self
            .shared
            .get_or_insert_with(|| scoring_task(bounds.clone(), color));
        batch.fill(xs, dim, &self.order);
        let (eval, x, circles) = (&mut *self.eval, &mut self.x, &mut self.circles);
        let values = &mut self.values;
        self.team.broadcast(task, || {
            batch.take(values, |p| {
                decode(eval, bounds, color, p, x, circles)?;
                eval.cost_with(circles)
            });
        });
        batch.finish(out)
    }
}

/// A batch shared with the helpers and the task that scores it on each of them.
fn scoring_task<'s, W: ScoresBatch + 's>(
    bounds: Bounds,
    color: ColorMode,
) -> (Arc<Batch>, SharedTask<'s, W>) {
    let batch = Arc::new(Batch::default());
    let theirs = Arc::clone(&batch);
    let task: SharedTask<'s, W> = Arc::new(move |w: &mut W| w.score_share(&theirs, &bounds, color));
    (batch, task)
}

impl<'s, R: Renderer, C: CostFunc, W: ScoresBatch + 's> Objective
    for ParamObjective<'_, 's, R, C, W>
{
    fn evaluate(&mut self, x: &[f64]) -> f64 {
        if self.error.is_some() {
            return f64::INFINITY;
        }
        self.evaluations += 1;
        let scored = self.score(x);
        value_or_record(scored, &mut self.error)
    }

    fn evaluate_batch(&mut self, xs: &[f64], dim: usize, out: &mut [f64]) {
        if !self.team.is_empty()
            && out.len() > 1
            && dim == self.bounds.dim()
            && self.error.is_none()
        {
            let n = out.len().min(xs.len() / dim);
            self.evaluations += n as u64;
            if let Err(e) = self.score_shared(&xs[..n * dim], &mut out[..n]) {
                out.fill(f64::INFINITY);
                self.error = Some(e);
            }
            return;
        }
        for (x, o) in xs.chunks_exact(dim).zip(out.iter_mut()) {
            *o = self.evaluate(x);
        }
    }

    fn iteration_done(&mut self, iteration: u64, evaluations: u64, best: f64) -> ControlFlow<()> {
        let kept = self.eval.kept_cost();
        let Some(ctx) = &mut self.context else {
            return ControlFlow::Continue(());
        };
        let progress = Progress {
            iteration,
            best_cost: best.min(kept),
            ..Progress::at(
                Phase::Stages,
                (ctx.stage, ctx.stages),
                ctx.circles_kept,
                kept,
                ctx.evaluations_before + evaluations,
            )
        };
        let flow = ctx.reporter.report(progress);
        self.observer_stopped |= flow.is_break();
        flow
    }

    fn interrupted(&self) -> bool {
        self.error.is_some() || self.flagged()
    }
}
