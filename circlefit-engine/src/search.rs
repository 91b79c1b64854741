//! A stage's search: the optimizer's runs from the residual seeds (restarts within the
//! stage budget), then the best point scored once more. A stage runs one search or
//! several independent ones ([`Restarts::searches`](crate::Restarts::searches)) and keeps
//! the best; helper threads run theirs on their own copies of the fit.

use circlefit_core::{Bounds, Circle, CostFunc, Error, OptimizeReport, Optimizer, Problem};
use circlefit_core::{Renderer, Result};

use crate::ColorMode;
use crate::objective::{ParamObjective, ScoresBatch};
use crate::replica::Replica;
use crate::seeds::stage_seed;
use crate::team::Team;

/// One search of a stage, as the stage runner hands it to a thread.
#[derive(Clone, Debug)]
pub(crate) struct SearchJob {
    pub(crate) bounds: Bounds,
    pub(crate) color: ColorMode,
    /// The first run's seed (search `s` of a stage: `search_seed(stage seed, s)`).
    pub(crate) seed: u64,
    /// The residual seeds every search starts from.
    pub(crate) initial: Vec<Vec<f64>>,
    /// Optimizer runs (restarts) of the search.
    pub(crate) runs: usize,
    /// The most evaluations of the search over its runs.
    pub(crate) budget: Option<u64>,
}

/// What one search found: the optimizer's report of its best run, that point's circles
/// and exact cost, the evaluations used, and whether a stop cut it short.
pub(crate) struct SearchOutcome {
    pub(crate) report: OptimizeReport,
    pub(crate) circles: Vec<Circle>,
    pub(crate) cost: f64,
    pub(crate) evaluations: u64,
    pub(crate) stopped: bool,
}

impl SearchJob {
    /// Runs the search: the first run from the residual seeds, each later one (up to
    /// `runs`) from the best so far with a fresh seed, within the budget; then the best
    /// point is scored once more, by us.
    ///
    /// # Errors
    /// The optimizer's error, or the first error the objective recorded.
    pub(crate) fn run<'s, R: Renderer, C: CostFunc, O: Optimizer, W: ScoresBatch + 's>(
        &self,
        optimizer: &mut O,
        mut objective: ParamObjective<'_, 's, R, C, W>,
    ) -> Result<SearchOutcome> {
        let (bounds, budget) = (&self.bounds, self.budget);
        // With a budget, every run gets what the earlier ones left.
        fn capped(p: Problem<'_>, budget: Option<u64>, used: u64) -> Problem<'_> {
            match budget {
                Some(b) => p.with_max_evaluations(b.saturating_sub(used)),
                None => p,
            }
        }
        let first = Problem::new(bounds, self.seed).with_initial(&self.initial);
        let mut report = optimizer
            .minimize(&mut objective, &capped(first, budget, 0))
            .map_err(|e| Error::Optimizer(Box::new(e)))?;
        let mut restart = Vec::with_capacity(self.initial.len() + 1);
        for run in 1..self.runs {
            if objective.ended() || budget.is_some_and(|b| objective.evaluations() >= b) {
                break;
            }
            restart.clear();
            restart.push(report.best_x.clone());
            restart.extend_from_slice(&self.initial);
            let used = objective.evaluations();
            let problem =
                Problem::new(bounds, stage_seed(self.seed, run as u64)).with_initial(&restart);
            let again = optimizer
                .minimize(&mut objective, &capped(problem, budget, used))
                .map_err(|e| Error::Optimizer(Box::new(e)))?;
            if again.best_f < report.best_f {
                report = again;
            }
        }
        let cost = objective.rescore(&report.best_x)?;
        let score = objective.finish()?;
        Ok(SearchOutcome {
            report,
            circles: score.circles,
            cost,
            evaluations: score.evaluations,
            stopped: score.stopped,
        })
    }
}

/// Runs `job` on a helper's replica: its own optimizer copy scores its own points,
/// reports no progress, and ends early on the cancel flag or the halt.
///
/// # Errors
/// As [`SearchJob::run`].
pub(crate) fn run_on_replica<R: Renderer, C: CostFunc, O: Optimizer>(
    w: &mut Replica<R, C, O>,
    job: &SearchJob,
) -> Result<SearchOutcome> {
    let mut solo = Team::<Replica<R, C, O>>::solo();
    let Replica {
        eval,
        optimizer,
        stops,
        ..
    } = w;
    let objective = ParamObjective::new(
        eval,
        &job.bounds,
        job.color,
        &mut solo,
        stops.cancel.as_deref(),
        None,
    )
    .halted_by(&stops.halt);
    job.run(optimizer, objective)
}

/// The best of a stage's searches (the lowest exact cost, the first of equals), with the
/// evaluations of all and stopped if any was; the first error, in search order.
///
/// # Errors
/// The first search's error.
pub(crate) fn best_of(outcomes: Vec<Result<SearchOutcome>>) -> Result<SearchOutcome> {
    let searched = outcomes
        .into_iter()
        .collect::<Result<Vec<SearchOutcome>>>()?;
    let evaluations = searched.iter().map(|s| s.evaluations).sum();
    let stopped = searched.iter().any(|s| s.stopped);
    // The first search always runs (on the calling thread or a helper).
    let mut best = crate::best::first_lowest(searched, |s| Some(s.cost)).ok_or_else(|| {
        Error::InvalidSetting {
            field: "searches per stage",
            value: "0".into(),
            reason: "a stage runs at least one search",
        }
    })?;
    best.evaluations = evaluations;
    best.stopped = stopped;
    Ok(best)
}
