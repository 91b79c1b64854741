//! The stages, the first pass: asks the schedule for each stage, runs the optimizer on it
//! (with restarts and a budget), prunes, keeps what lowers the cost, and ends the stages on
//! a target, on convergence or on a stop.

use std::ops::{ControlFlow, RangeInclusive};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use circlefit_core::{Bounds, CostFunc, Error, Optimizer, Renderer, Result};

use crate::evaluator::Evaluator;
use crate::objective::{ParamObjective, StageContext};
use crate::pass::{FitContext, Parts, Pass};
use crate::passes::{prune, seeding};
use crate::replica::{FitTeam, Replica, commit_everywhere};
use crate::search::{SearchJob, SearchOutcome, best_of, run_on_replica};
use crate::team::{Remote, Team};
use crate::{
    ColorMode, FitEnd, FitResult, FitState, Phase, Progress, StagePlan, StageRecord, stage_seed,
};

/// The stages as a pass: an evaluator over the fit's renderer and cost (with the resume
/// point's circles drawn, on every replica too), then the schedule's stages from
/// `result.stages_done` on.
pub(crate) struct StagesPass;

impl<R: Renderer, C: CostFunc, O: Optimizer> Pass<R, C, O> for StagesPass {
    fn run(
        &mut self,
        parts: Parts<'_, R, C, O>,
        fit: &mut FitContext<'_, '_, R, C, O>,
        result: &mut FitResult,
    ) -> Result<()> {
        let mut eval = Evaluator::new(parts.renderer, parts.cost, fit.reference, fit.base)?;
        if !result.circles.is_empty() {
            let prefix = &result.circles;
            commit_everywhere(fit.team, prefix, || eval.commit(prefix))?;
            result.cost = eval.kept_cost();
        }
        StageRunner {
            eval: &mut eval,
            optimizer: parts.optimizer,
            fit,
        }
        .run(result)
    }
}

/// The stages under way: the calling thread's evaluator and optimizer, and the fit.
struct StageRunner<'a, 'e, 'f, 's, R, C, O> {
    /// The calling thread's evaluator, over the fit's own renderer and cost.
    eval: &'a mut Evaluator<&'e mut R, &'e C>,
    optimizer: &'a mut O,
    fit: &'a mut FitContext<'f, 's, R, C, O>,
}

/// Checks a stage plan against the state it was planned for.
///
/// # Errors
/// [`Error::InvalidSetting`] for a stage of no circles or more than remain to the
/// fit's maximum, or a radius range outside `[1, longer side]` or inverted.
pub(crate) fn check_plan(plan: &StagePlan, state: &FitState) -> Result<()> {
    if plan.circles == 0 || plan.circles > crate::MAX_CIRCLES {
        return Err(Error::InvalidSetting {
            field: "stage circles",
            value: plan.circles.to_string(),
            reason: "a stage must have between 1 and 100000 circles",
        });
    }
    if let Some(r) = &plan.radius {
        let max = f64::from(state.width.max(state.height));
        let (lo, hi) = (*r.start(), *r.end());
        if !(lo.is_finite() && hi.is_finite() && 1.0 <= lo && lo <= hi && hi <= max) {
            return Err(Error::InvalidSetting {
                field: "stage radius",
                value: format!("{lo}..={hi}"),
                reason: "must lie within 1 and the image's longer side, smallest first",
            });
        }
    }
    Ok(())
}

/// The parameter bounds of a stage: the default box of its circles, the radius narrowed
/// to the plan's range.
fn stage_bounds(plan: &StagePlan, color: ColorMode, width: u32, height: u32) -> Result<Bounds> {
    let bounds = match color {
        ColorMode::Search => Bounds::for_circles(plan.circles, width, height)?,
        ColorMode::ClosedForm => Bounds::for_circle_geometry(plan.circles, width, height)?,
    };
    match &plan.radius {
        None => Ok(bounds),
        Some(r) => with_radius(&bounds, color.params_per_circle(), r),
    }
}

fn with_radius(bounds: &Bounds, per_circle: usize, r: &RangeInclusive<f64>) -> Result<Bounds> {
    let (mut lo, mut hi) = (bounds.lower().to_vec(), bounds.upper().to_vec());
    for (l, h) in lo
        .chunks_exact_mut(per_circle)
        .zip(hi.chunks_exact_mut(per_circle))
    {
        // The radius is the third number of a circle in both encodings.
        (l[2], h[2]) = (*r.start(), *r.end());
    }
    Bounds::new(lo, hi)
}

impl<'s, R: Renderer, C: CostFunc, O: Optimizer> StageRunner<'_, '_, '_, 's, R, C, O> {
    /// Runs the schedule's stages from `result.stages_done` on, adding to `result`.
    ///
    /// # Errors
    /// A component's error, an optimizer point of the wrong size, or an invalid stage plan.
    fn run(&mut self, result: &mut FitResult) -> Result<()> {
        let (w, h) = (
            self.eval.reference().width(),
            self.eval.reference().height(),
        );
        let start = FitState::new(self.fit.settings.circles, w, h);
        let mut stale = 0usize;
        let mut stage = result.stages_done;
        loop {
            let state = start.at(stage, result.circles.len());
            let Some(plan) = self.fit.schedule.next_stage(&state) else {
                return Ok(());
            };
            check_plan(&plan, &state)?;
            if self.cancelled() {
                result.end = FitEnd::Stopped;
                return Ok(());
            }
            let stages = self.fit.schedule.planned_stages(&state).max(stage + 1);
            let done = self.run_stage(stage, stages, &plan, result)?;
            let last = stage + 1 >= stages;
            let record = result.stages.last().expect("run_stage records the stage");
            let complete = done.is_continue();
            let next_stale = if record.gain() < self.convergence_gain() {
                stale + 1
            } else {
                0
            };
            let early = self
                .early_end(result.cost, next_stale)
                .filter(|_| complete && !last);
            let progress = stage_progress(result, stage, stages, record);
            let flow = self.fit.reporter.report(progress);
            if !complete {
                result.end = FitEnd::Stopped;
                return Ok(());
            }
            result.stages_done = stage + 1;
            stale = next_stale;
            if let Some(end) = early {
                result.end = end;
                return Ok(());
            }
            if flow.is_break() || self.cancelled() {
                result.end = FitEnd::Stopped;
                return Ok(());
            }
            stage += 1;
        }
    }

    fn cancelled(&self) -> bool {
        self.fit.cancelled()
    }

    fn convergence_gain(&self) -> f64 {
        self.fit.settings.convergence.map_or(0.0, |c| c.min_gain)
    }

    /// The target or the convergence rule, if either ends the stages now.
    fn early_end(&self, cost: f64, stale: usize) -> Option<FitEnd> {
        if self.fit.settings.target_cost.is_some_and(|t| cost <= t) {
            return Some(FitEnd::ReachedTarget);
        }
        self.fit
            .settings
            .convergence
            .is_some_and(|c| stale >= c.patience)
            .then_some(FitEnd::Converged)
    }

    /// Runs a stage's searches: one, its batches shared with the helpers; or several
    /// independent ones ([`Restarts::searches`](crate::Restarts::searches)), the helpers
    /// taking whole searches, and the best is kept.
    fn search(
        &mut self,
        job: &SearchJob,
        stage: usize,
        stages: usize,
        result: &FitResult,
    ) -> Result<SearchOutcome> {
        let (eval, optimizer) = (&mut *self.eval, &mut *self.optimizer);
        let (cancel, kept) = (self.fit.cancel, result.circles.len());
        let reporter = &mut self.fit.reporter;
        let mut before = result.evaluations;
        let mut here = |job: &SearchJob, team: &mut FitTeam<'s, R, C, O>| {
            let context = StageContext {
                reporter: reporter.reborrow(),
                stage,
                stages,
                circles_kept: kept,
                evaluations_before: before,
            };
            let objective = ParamObjective::new(
                &mut *eval,
                &job.bounds,
                job.color,
                team,
                cancel,
                Some(context),
            );
            let searched = job.run(&mut *optimizer, objective);
            if let Ok(s) = &searched {
                before += s.evaluations;
            }
            searched
        };
        let searches = self.fit.settings.restarts.searches;
        if searches == 1 {
            return here(job, self.fit.team);
        }
        let jobs: Vec<SearchJob> = (0..searches)
            .map(|s| SearchJob {
                seed: crate::seeds::search_seed(job.seed, s as u64),
                ..job.clone()
            })
            .collect();
        let remote: Remote<'s, Replica<R, C, O>, SearchJob, Result<SearchOutcome>> =
            Arc::new(|w: &mut Replica<R, C, O>, job: SearchJob| run_on_replica(w, &job));
        // This thread's search stopping (or failing) halts the helpers' searches in flight.
        let halt = self.fit.halt;
        let stop = |s: &Result<SearchOutcome>| {
            let stopped = s.as_ref().map_or(true, |s| s.stopped);
            if stopped {
                halt.store(true, Ordering::SeqCst);
            }
            stopped
        };
        halt.store(false, Ordering::SeqCst);
        // Each search scores its own points: the helpers are busy with theirs.
        let outcomes =
            self.fit
                .team
                .each(jobs, &remote, &mut |j| here(&j, &mut Team::solo()), &stop);
        halt.store(false, Ordering::SeqCst);
        best_of(outcomes.into_iter().flatten().collect())
    }

    /// Runs one stage: optimise, prune, keep if it lowers the cost, record. `Break` if a
    /// stop cut it short (its best is still kept if it helps, as partial circles).
    fn run_stage(
        &mut self,
        stage: usize,
        stages: usize,
        plan: &StagePlan,
        result: &mut FitResult,
    ) -> Result<ControlFlow<()>> {
        let (w, h) = (
            self.eval.reference().width(),
            self.eval.reference().height(),
        );
        let color = self.fit.settings.color;
        let bounds = stage_bounds(plan, color, w, h)?;
        let seed = stage_seed(self.fit.settings.seed, stage as u64);
        let initial = seeding::residual_seeds(
            self.eval,
            color,
            self.fit.settings.seed_scales,
            plan.circles,
            self.fit.settings.residual_seeds,
        )?;
        let job = SearchJob {
            bounds,
            color,
            seed,
            initial,
            runs: self.fit.settings.restarts.runs,
            budget: plan.budget.or(self.fit.settings.restarts.stage_budget),
        };
        let mut opt = self.search(&job, stage, stages, result)?;
        let pruned = if plan.prune && !opt.stopped {
            let (pruned, used) = prune::prune(self.eval, &mut opt.circles, &mut opt.cost)?;
            opt.evaluations += used;
            pruned
        } else {
            0
        };
        result.evaluations += opt.evaluations;
        let cost_before = self.eval.kept_cost();
        let keep = opt.cost < cost_before;
        if keep {
            let eval = &mut *self.eval;
            commit_everywhere(self.fit.team, &opt.circles, || eval.commit(&opt.circles))?;
            result.circles.extend_from_slice(&opt.circles);
            if opt.stopped {
                result.partial = opt.circles.len();
            }
        }
        result.cost = self.eval.kept_cost();
        result.stages.push(StageRecord {
            index: stage,
            circles: plan.circles,
            kept: keep,
            cost_before,
            cost_after: result.cost,
            evaluations: opt.evaluations,
            pruned,
            stop: opt.report.stop,
            seed,
            complete: !opt.stopped,
        });
        Ok(if opt.stopped {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    }
}

/// The progress after stage `stage` of `stages` has finished as `record`.
fn stage_progress<'r>(
    result: &'r FitResult,
    stage: usize,
    stages: usize,
    record: &'r StageRecord,
) -> Progress<'r> {
    let kept = result.circles.len();
    Progress {
        finished: Some(record),
        resume_point: record.complete.then(|| {
            let whole = kept - result.partial;
            (&result.circles[..whole], stage + 1)
        }),
        circles: Some(&result.circles),
        ..Progress::at(
            Phase::Stages,
            (stage, stages),
            kept,
            result.cost,
            result.evaluations,
        )
    }
}
