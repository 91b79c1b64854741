//! The objective a strategy hands to the optimizer: parameters → circles → cost.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::evaluator::Evaluator;
use crate::team::Team;
use crate::{ColorMode, Progress};
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

/// A copy of the evaluator that scores points on another thread (kept in step with the
/// main one by committing the same circles).
#[cfg_attr(not(feature = "rayon"), allow(dead_code))]
pub(crate) trait PointScorer: Send {
    /// Scores the points of `xs` (runs of `bounds.dim()` numbers) into `out`.
    ///
    /// # Errors
    /// The first error; later points are left unscored.
    fn score_points(
        &mut self,
        bounds: &Bounds,
        color: ColorMode,
        xs: &[f64],
        out: &mut [f64],
    ) -> Result<()>;

    /// Draws `circles` onto this copy's kept canvas.
    ///
    /// # Errors
    /// As [`Evaluator::commit`].
    fn commit(&mut self, circles: &[Circle]) -> Result<()>;
}

/// An owned evaluator with its decoding buffers.
#[cfg_attr(not(feature = "rayon"), allow(dead_code))]
pub(crate) struct Worker<R, C> {
    pub(crate) eval: Evaluator<R, C>,
    x: Vec<f64>,
    circles: Vec<Circle>,
}

impl<R, C> Worker<R, C> {
    #[cfg_attr(not(feature = "rayon"), allow(dead_code))]
    pub(crate) fn new(eval: Evaluator<R, C>) -> Self {
        Self {
            eval,
            x: Vec::new(),
            circles: Vec::new(),
        }
    }
}

impl<R: Renderer + Send, C: CostFunc + Send> PointScorer for Worker<R, C> {
    fn score_points(
        &mut self,
        bounds: &Bounds,
        color: ColorMode,
        xs: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        for (x, o) in xs.chunks_exact(bounds.dim()).zip(out.iter_mut()) {
            decode(
                &mut self.eval,
                bounds,
                color,
                x,
                &mut self.x,
                &mut self.circles,
            )?;
            *o = self.eval.cost_with(&self.circles)?;
        }
        Ok(())
    }

    fn commit(&mut self, circles: &[Circle]) -> Result<()> {
        self.eval.commit(circles).map(|_| ())
    }
}

/// Decodes parameter vectors into circles and scores them with an [`Evaluator`]; batches
/// are shared with the helper threads when there are any.
///
/// The first error stops the run through [`Objective::interrupted`] and is handed back to
/// the strategy.
pub(crate) struct ParamObjective<'a, 'w, R, C> {
    pub(crate) eval: &'a mut Evaluator<R, C>,
    pub(crate) bounds: &'a Bounds,
    pub(crate) color: ColorMode,
    pub(crate) team: &'a mut Team<'w>,
    pub(crate) x: Vec<f64>,
    pub(crate) circles: Vec<Circle>,
    /// The order in which a shared batch's points are handed out.
    order: Vec<usize>,
    pub(crate) error: Option<Error>,
    pub(crate) evaluations: u64,
    pub(crate) cancel: Option<&'a AtomicBool>,
    pub(crate) context: Option<StageContext<'a>>,
    pub(crate) observer_stopped: bool,
}

/// What the objective needs to report progress within a stage.
pub(crate) struct StageContext<'a> {
    pub(crate) observer: &'a mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    pub(crate) stage: usize,
    pub(crate) stages: usize,
    pub(crate) circles_kept: usize,
    pub(crate) evaluations_before: u64,
    pub(crate) started: Instant,
}

impl<'a, 'w, R: Renderer, C: CostFunc> ParamObjective<'a, 'w, R, C> {
    pub(crate) fn new(
        eval: &'a mut Evaluator<R, C>,
        bounds: &'a Bounds,
        color: ColorMode,
        team: &'a mut Team<'w>,
    ) -> Self {
        Self {
            eval,
            bounds,
            color,
            team,
            x: Vec::with_capacity(bounds.dim()),
            circles: Vec::with_capacity(bounds.dim() / 4),
            order: Vec::new(),
            error: None,
            evaluations: 0,
            cancel: None,
            context: None,
            observer_stopped: false,
        }
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
        let (eval, x, circles) = (&mut *self.eval, &mut self.x, &mut self.circles);
        self.team.score(bounds, color, xs, &self.order, out, |p| {
            decode(eval, bounds, color, p, x, circles)?;
            eval.cost_with(circles)
        })
    }
}

impl<R: Renderer, C: CostFunc> Objective for ParamObjective<'_, '_, R, C> {
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
        let Some(ctx) = self.context.as_mut() else {
            return ControlFlow::Continue(());
        };
        let progress = Progress {
            stage: ctx.stage,
            stages: ctx.stages,
            finished: None,
            iteration,
            circles_kept: ctx.circles_kept,
            cost: kept,
            best_cost: best.min(kept),
            evaluations: ctx.evaluations_before + evaluations,
            elapsed: ctx.started.elapsed(),
        };
        let flow = (ctx.observer)(&progress);
        self.observer_stopped |= flow.is_break();
        flow
    }

    fn interrupted(&self) -> bool {
        self.error.is_some() || self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}
