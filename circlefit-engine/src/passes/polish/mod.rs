//! Polishing: re-optimise kept circles in their draw slots, the others fixed.
//!
//! Replacing circle `i` changes only the pixels the old or the new circle covers. For a
//! slot, the canvas of the circles before it (`under`) and the full canvas (`full`, with
//! per-row prefix sums of its cost terms) are kept ([`canvases`]); each candidate then
//! copies `under`'s segments of those pixels into a scratch canvas, draws the candidate and
//! the later circles that can reach them, and scores just those segments ([`slot`]). The
//! result is exactly the cost of rendering the whole modified list (tested), at a fraction
//! of the work. Slots whose search boxes reach disjoint pixels are searched at the same
//! time ([`grouping`]).

pub(crate) mod canvases;
mod grouping;
mod slot;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use circlefit_core::{Bounds, CanvasRef, Circle, CostFunc, Error, Objective, Optimizer};
use circlefit_core::{Problem, Renderer, Result};

use canvases::SlotCanvases;
use canvases::needs_spans;
use grouping::{extend_group, local_box};
use slot::{Scene, SlotJob, SlotOutcome, SlotSearch, hill_climb, search_slot};

use crate::pass::{FitContext, Parts, Pass};
use crate::replica::{FitTeam, Replica};
use crate::team::{Remote, Team};
use crate::{FitEnd, FitResult, Phase, PolishSearch, Progress, render_new};

/// Polishing as a pass, after complete stages with circles kept: the circles re-optimised
/// in place, then scored afresh with a full render.
pub(crate) struct PolishPass(pub(crate) crate::Polish);

impl<R: Renderer, C: CostFunc, O: Optimizer> Pass<R, C, O> for PolishPass {
    fn run(
        &mut self,
        parts: Parts<'_, R, C, O>,
        fit: &mut FitContext<'_, '_, R, C, O>,
        result: &mut FitResult,
    ) -> Result<()> {
        if result.circles.is_empty() || result.stopped() {
            return Ok(());
        }
        let before = result.circles.clone();
        let (stage, cost, kept, evaluations) = (
            result.stages_done,
            result.cost,
            result.circles.len(),
            result.evaluations,
        );
        let reporter = &mut fit.reporter;
        let mut after_slot =
            |slot: usize, slots: usize, spent: u64, gain: f64, circles: &[Circle]| {
                // The polished cost so far (as the slots' exact scores give it; the result's
                // final cost is scored afresh).
                let phase = Phase::Polishing { slot, slots };
                let now = cost - gain;
                let at = (stage, stage);
                let progress = Progress {
                    circles: Some(circles),
                    ..Progress::at(phase, at, kept, now, evaluations + spent)
                };
                reporter.report(progress)
            };
        let input = PolishInput {
            renderer: &mut *parts.renderer,
            cost: parts.cost,
            optimizer: parts.optimizer,
            reference: fit.reference,
            base: fit.base,
            cancel: fit.cancel,
        };
        let seed = crate::seeds::polish_seed(fit.settings.seed);
        let report = polish(
            input,
            fit.team,
            &mut result.circles,
            &self.0,
            seed,
            &mut after_slot,
        )?;
        result.polish_evaluations = report.evaluations;
        result.polished_slots = report.slots;
        result.evaluations += report.evaluations;
        if report.stopped {
            result.end = FitEnd::Stopped;
        }
        if result.circles != before {
            result.unpolished = Some(before);
        }
        let canvas = render_new(parts.renderer, fit.base, &result.circles)?;
        result.cost = crate::checked::cost_of(parts.cost, canvas.as_ref(), fit.reference)?;
        Ok(())
    }
}

/// Polishing's observer: `(done, slots, evaluations, gain, circles)` after each group.
pub(crate) type AfterSlot<'a> =
    dyn FnMut(usize, usize, u64, f64, &[Circle]) -> ControlFlow<()> + 'a;

/// What polishing did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PolishReport {
    /// Evaluations used.
    pub(crate) evaluations: u64,
    /// Slots searched.
    pub(crate) slots: usize,
    /// Whether a stop ended it before its last slot.
    pub(crate) stopped: bool,
}

/// The fit's parts that polishing works with.
pub(crate) struct PolishInput<'a, R, C, O> {
    pub(crate) renderer: &'a mut R,
    pub(crate) cost: &'a C,
    pub(crate) optimizer: &'a mut O,
    pub(crate) reference: CanvasRef<'a>,
    pub(crate) base: CanvasRef<'a>,
    pub(crate) cancel: Option<&'a AtomicBool>,
}

/// Re-optimises `slots` kept circles one after another — spread evenly over the draw order,
/// or, for more slots than circles, whole passes in draw order — each within ±5 % of every
/// parameter's range around it, colour included (searched even when the stages solve it
/// in closed form: that solution ignores the circles drawn later, which a slot must not;
/// measured +0.02 dB and 15 % faster on the cat); a replacement is committed only if it
/// lowers the total cost.
///
/// With the hill climber, slots go in groups of up to [`grouping::GROUP`]: the first
/// unsearched slot and the next of the following [`grouping::LOOKAHEAD`] whose search boxes can reach no pixel any
/// other of the group can. Such slots cannot see each other's changes (the pixels each
/// reads and writes are disjoint, and a replacement elsewhere shifts every cost a slot
/// compares by the same exact amount), so searching them at the same time — a helper thread
/// taking one whenever it is free — gives exactly what searching them one after the other
/// gives: the schedule and the result do not depend on the number of threads.
///
/// `after_slot(done, slots, evaluations, gain, circles)` is called after each group (`gain`:
/// how much the replacements so far lowered the cost; `circles`: as they stand); `Break`
/// stops polishing there, as does the cancel flag (the slot in flight then ends early and
/// its replacement is still kept if it lowers the cost).
///
/// Needs a span renderer and a pixel-sum cost (the fitter checks before the stages).
pub(crate) fn polish<R: Renderer, C: CostFunc, O: Optimizer>(
    input: PolishInput<'_, R, C, O>,
    team: &mut FitTeam<'_, R, C, O>,
    circles: &mut [Circle],
    settings: &crate::Polish,
    seed: u64,
    after_slot: &mut AfterSlot<'_>,
) -> Result<PolishReport> {
    let plan = Plan::new(circles.len(), settings, &input, seed)?;
    let cancel = input.cancel;
    // Helpers climb only with the hill climber.
    let mut solo = Team::solo();
    let team = match settings.search {
        PolishSearch::HillClimb => team,
        PolishSearch::Optimizer => &mut solo,
    };
    let mut run = Run {
        input,
        search: settings.search,
        canvases: None,
        report: PolishReport::default(),
        gain: 0.0,
    };
    let mut done = vec![false; plan.slots];
    for k in 0..plan.slots {
        if done[k] {
            continue;
        }
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            run.report.stopped = true;
            break;
        }
        done[k] = true;
        let changes = if settings.climbs > 1 {
            let tasks = plan.climbs(k, circles)?;
            let outcomes = run.search(team, &tasks, circles)?;
            vec![(tasks[0].i, SlotOutcome::best_of(&outcomes))]
        } else {
            let tasks = plan.group(k, circles, &mut done)?;
            let outcomes = run.search(team, &tasks, circles)?;
            tasks.iter().map(|t| t.i).zip(outcomes).collect()
        };
        run.apply(changes, circles);
        let r = run.report;
        if after_slot(r.slots, plan.slots, r.evaluations, run.gain, circles).is_break() {
            run.report.stopped = r.slots < plan.slots;
            break;
        }
    }
    Ok(run.report)
}

/// Which slots polishing searches, with which boxes, seeds and budgets.
struct Plan<'s> {
    settings: &'s crate::Polish,
    /// The box of any one circle.
    bounds: Bounds,
    /// The renderer's reach beyond a circle's radius.
    margin: f64,
    circles: usize,
    slots: usize,
    seed: u64,
}

impl<'s> Plan<'s> {
    fn new<R: Renderer, C, O>(
        circles: usize,
        settings: &'s crate::Polish,
        input: &PolishInput<'_, R, C, O>,
        seed: u64,
    ) -> Result<Self> {
        let (w, h) = (input.reference.width(), input.reference.height());
        let margin = input
            .renderer
            .as_span_renderer()
            .ok_or_else(needs_spans)?
            .reach_beyond_radius(w, h);
        Ok(Self {
            settings,
            bounds: Bounds::for_circles(1, w, h)?,
            margin,
            circles,
            slots: circles.saturating_mul(settings.passes as usize),
            seed,
        })
    }

    /// The circle of slot `k`: slots spread evenly over the draw order, or whole passes.
    fn circle(&self, k: usize) -> usize {
        let (n, slots) = (self.circles, self.slots);
        if slots <= n { k * n / slots } else { k % n }
    }

    /// Slot `k`'s climbs: one task each, with its own seed and share of the budget.
    fn climbs(&self, k: usize, circles: &[Circle]) -> Result<Vec<SlotSearch>> {
        let i = self.circle(k);
        let local = local_box(&self.bounds, &circles[i])?;
        let slot_seed = crate::seeds::stage_seed(self.seed, k as u64);
        Ok((0..self.settings.climbs)
            .map(|c| SlotSearch {
                i,
                local: local.clone(),
                seed: crate::seeds::search_seed(slot_seed, u64::from(c)),
                budget: self.settings.climb_budget(c),
            })
            .collect())
    }

    /// Slot `k` and (with the hill climber) the slots that can be searched with it, marked
    /// as taken in `done`.
    fn group(&self, k: usize, circles: &[Circle], done: &mut [bool]) -> Result<Vec<SlotSearch>> {
        let i = self.circle(k);
        let mut group = vec![(k, i, local_box(&self.bounds, &circles[i])?)];
        if self.settings.search == PolishSearch::HillClimb {
            let slot = |k: usize| self.circle(k);
            extend_group(&self.bounds, self.margin, circles, done, &mut group, &slot)?;
        }
        Ok(group
            .into_iter()
            .map(|(k, i, local)| SlotSearch {
                i,
                local,
                seed: crate::seeds::stage_seed(self.seed, k as u64),
                budget: self.settings.climb_budget(0),
            })
            .collect())
    }
}

/// Polishing under way: the calling thread's parts and canvases, and what it did so far.
struct Run<'a, R, C, O> {
    input: PolishInput<'a, R, C, O>,
    search: PolishSearch,
    canvases: Option<SlotCanvases>,
    report: PolishReport,
    /// How much the replacements so far lowered the cost.
    gain: f64,
}

impl<R: Renderer, C: CostFunc, O: Optimizer> Run<'_, R, C, O> {
    /// Searches tasks against the same circles (the slots of a group, or one slot's
    /// climbs), each on whoever is free: outcomes in task order. A group's slots reach
    /// disjoint pixels and a slot's climbs change nothing, so which thread searches which,
    /// and when, changes nothing.
    fn search<'s>(
        &mut self,
        team: &mut FitTeam<'s, R, C, O>,
        tasks: &[SlotSearch],
        circles: &[Circle],
    ) -> Result<Vec<SlotOutcome>> {
        let shared: Arc<[Circle]> = circles.into();
        let jobs = tasks
            .iter()
            .map(|task| SlotJob {
                circles: Arc::clone(&shared),
                task: task.clone(),
            })
            .collect();
        let remote: Remote<'s, Replica<R, C, O>, SlotJob, Result<SlotOutcome>> =
            Arc::new(|w: &mut Replica<R, C, O>, job: SlotJob| slot::search_on_replica(w, &job));
        let outcomes = team.each(jobs, &remote, &mut |job| self.search_here(&job), &|_| false);
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Ok(SlotOutcome::default())))
            .collect()
    }

    /// A slot job on the calling thread, with the settings' search.
    fn search_here(&mut self, job: &SlotJob) -> Result<SlotOutcome> {
        let PolishInput {
            renderer,
            cost,
            optimizer,
            reference,
            base,
            cancel,
        } = &mut self.input;
        let scene = Scene {
            renderer: &mut **renderer,
            cost: *cost,
            reference: *reference,
            base: *base,
        };
        let mut minimize = |objective: &mut dyn Objective, problem: &Problem<'_>| match self.search
        {
            PolishSearch::HillClimb => hill_climb(objective, problem),
            PolishSearch::Optimizer => optimizer
                .minimize(objective, problem)
                .map(|_| ())
                .map_err(|e| Error::Optimizer(Box::new(e))),
        };
        let canvases = &mut self.canvases;
        search_slot(
            scene,
            canvases,
            &job.circles,
            &job.task,
            &mut minimize,
            *cancel,
        )
    }

    /// Commits the replacements that lower the cost.
    fn apply(&mut self, changes: Vec<(usize, SlotOutcome)>, circles: &mut [Circle]) {
        for (i, outcome) in changes {
            self.report.evaluations += outcome.evaluations;
            self.report.slots += 1;
            if let Some((f, c)) = outcome.better {
                circles[i] = c;
                self.gain += outcome.before - f;
            }
        }
    }
}
