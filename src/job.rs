//! [`FitJob`]: one description of a fit — every setting a person may give, each optional —
//! that the command-line tool and the job server both turn into a fitter and into their
//! outputs through the same code, so the two cannot drift apart.
//!
//! A missing setting takes its measured default (the constants below and
//! [`FitSettings::recommended`]); [`FitJob::plan`] checks everything once and gives the
//! library's settings, and [`FitJob::resolved`] writes every default out (what a server
//! stores, so any server runs a job exactly as it was accepted).
//!
//! # Example
//!
//! ```
//! use circlefit::job::{FitJob, Mode};
//! use circlefit::prelude::*;
//!
//! let job = FitJob {
//!     circles: Some(4),
//!     mode: Some("batch".parse()?),
//!     iters: Some(3),
//!     ..FitJob::default()
//! };
//! let plan = job.plan()?;
//! assert_eq!(plan.settings.strategy, Strategy::Batch { size: 4, prune: true });
//! assert_eq!(plan.edges, FitJob::DEFAULT_EDGES);
//! let reference = Canvas::filled(24, 16, [200, 120, 40, 255])?;
//! let base = Canvas::white(24, 16)?;
//! let result = plan.fitter(base)?.fit(reference.as_ref())?;
//! assert!(result.cost < result.initial_cost);
//! let bad = FitJob { circles: Some(0), ..FitJob::default() }.plan().unwrap_err();
//! assert_eq!(bad.field, "circles");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::MAX_CIRCLES;
use crate::mayfly::MayflyConfig;
use crate::prelude::*;

/// How circles are added: the built-in strategies by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Mode {
    /// All circles in one stage ([`Strategy::Joint`]).
    Joint,
    /// One circle per stage ([`Strategy::Sequential`]).
    #[default]
    Sequential,
    /// A few circles per stage ([`Strategy::Batch`], [`FitJob::batch_size`] of them).
    Batch,
}

/// How Mayfly's males move in an iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Males {
    /// All at once, scored as one batch (the default: it parallelises).
    #[default]
    Synchronous,
    /// One after another, each seeing the best the one before found (the paper's order).
    Sequential,
}

circlefit_engine::__by_name!(Mode, "mode", {
    Joint => "joint", Sequential => "sequential", Batch => "batch"
});
circlefit_engine::__by_name!(Males, "males", {
    Synchronous => "synchronous", Sequential => "sequential"
});

/// A fit: every setting optional, with the library's names (the CLI's flags and the
/// server's JSON fields are these).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct FitJob {
    /// Circles to place, 1 to [`MAX_CIRCLES`] (default [`FitJob::DEFAULT_CIRCLES`]).
    pub circles: Option<usize>,
    /// The strategy (default sequential).
    pub mode: Option<Mode>,
    /// Circles per stage in batch mode (default [`FitJob::DEFAULT_BATCH`], at most the
    /// circle count).
    pub batch_size: Option<usize>,
    /// The fit's seed (default 1): same seed, same result.
    pub seed: Option<u64>,
    /// How colours are found (default: the recommended settings' closed form, except in
    /// joint mode).
    pub color: Option<ColorMode>,
    /// The raster model (default [`FitJob::DEFAULT_EDGES`]).
    pub edges: Option<Edges>,
    /// Residual seeds per stage (default: the recommended settings').
    pub residual_seeds: Option<usize>,
    /// Where residual seeds look (default: the recommended settings').
    pub seed_scales: Option<SeedScales>,
    /// Optimizer runs per search (default 1).
    pub epochs: Option<usize>,
    /// The evaluation budget of a stage's search (default none).
    pub stage_budget: Option<u64>,
    /// Independent searches per stage (default 1).
    pub searches: Option<usize>,
    /// Polishing passes, 0 for none (default: the recommended settings').
    pub polish: Option<u32>,
    /// Independent climbs per polished slot (default: the recommended settings').
    pub climbs: Option<u32>,
    /// The evaluation budget of each polished slot (default: the hill climber's own).
    pub polish_evals: Option<u64>,
    /// Joint refinement's gradient steps after polishing, 0 for none (default: the
    /// recommended settings').
    #[cfg_attr(feature = "serde", serde(default))]
    pub refine: Option<u32>,
    /// Prune each batch stage (batch mode; default on).
    pub prune: Option<bool>,
    /// Stop the stages after this many without a gain of `min_gain` (default: never).
    pub patience: Option<usize>,
    /// The relative gain a stage must make to count under `patience` (default
    /// [`FitJob::DEFAULT_MIN_GAIN`]).
    pub min_gain: Option<f64>,
    /// Stop once this PSNR (dB) is reached (default: never).
    pub target_psnr: Option<f64>,
    /// Mayfly's iterations per search (default [`iterations_per_search`]).
    ///
    /// [`iterations_per_search`]: crate::iterations_per_search
    pub iters: Option<u64>,
    /// Mayfly's population per sex (default [`FitJob::DEFAULT_POP`]).
    pub pop: Option<usize>,
    /// How Mayfly's males move (default synchronous).
    pub males: Option<Males>,
    /// End a Mayfly run after this many iterations without improvement (default: never).
    pub stagnation: Option<u64>,
}

/// What a [`FitJob`] runs: the library's settings, Mayfly's, and the raster model.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// The fit's settings, checked.
    pub settings: FitSettings,
    /// Mayfly's settings, checked.
    pub mayfly: MayflyConfig,
    /// The raster model.
    pub edges: Edges,
}

/// A job setting that cannot run: the field it names (the [`FitJob`] field's name) and
/// why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct JobError {
    /// The setting at fault.
    pub field: String,
    /// Why, with the value given.
    pub message: String,
}

/// The [`FitJob`] field a [`FitSettings::validate`] error names (its message keeps the
/// library's own name).
fn job_field(settings_field: &str) -> &str {
    match settings_field {
        "batch size" => "batch_size",
        "convergence minimum gain" => "min_gain",
        "convergence patience" => "patience",
        "polish climbs" => "climbs",
        "polish evaluations" => "polish_evals",
        "polish passes" => "polish",
        "refine steps" => "refine",
        "residual seeds" => "residual_seeds",
        "runs per stage" => "epochs",
        "searches per stage" => "searches",
        "stage budget" => "stage_budget",
        "target cost" => "target_psnr",
        other => other,
    }
}

fn bad(field: &str, message: impl ToString) -> JobError {
    JobError {
        field: field.into(),
        message: message.to_string(),
    }
}

impl FitJob {
    /// Circles of a job that does not say.
    pub const DEFAULT_CIRCLES: usize = 100;
    /// Mayfly's population per sex of a job that does not say.
    pub const DEFAULT_POP: usize = 20;
    /// Circles per batch stage of a job that does not say.
    pub const DEFAULT_BATCH: usize = 5;
    /// The seed of a job that does not say.
    pub const DEFAULT_SEED: u64 = 1;
    /// The convergence rule's minimum relative gain of a job that does not say.
    pub const DEFAULT_MIN_GAIN: f64 = 0.001;
    /// The edges of a job that does not say: with the recommended refinement, free fits
    /// (each circle its own edge width) score +0.29 dB on average over soft ones at 100
    /// circles on 256² and +0.22 at 64 on 512² (docs/quality.md, eighth session) for about
    /// 10 % more time; soft fits scored +0.10 dB over smooth ones, smooth +0.2 dB over hard.
    pub const DEFAULT_EDGES: Edges = Edges::Free;

    /// The strategy the job names, its batch size capped at the circle count.
    fn strategy(&self, circles: usize) -> Strategy {
        match self.mode.unwrap_or_default() {
            Mode::Joint => Strategy::Joint,
            Mode::Sequential => Strategy::Sequential,
            Mode::Batch => Strategy::batch(
                self.batch_size
                    .unwrap_or(Self::DEFAULT_BATCH)
                    .min(circles.max(1)),
            ),
        }
    }

    /// The library's settings: the recommended settings for the mode, then every setting
    /// the job gives.
    fn fit_settings(&self) -> FitSettings {
        let circles = self.circles.unwrap_or(Self::DEFAULT_CIRCLES);
        let seed = self.seed.unwrap_or(Self::DEFAULT_SEED);
        let rec = FitSettings::recommended(self.strategy(circles), circles, seed);
        let mut s = rec;
        s.color = self.color.unwrap_or(rec.color);
        s.residual_seeds = self.residual_seeds.unwrap_or(rec.residual_seeds);
        s.seed_scales = self.seed_scales.unwrap_or(rec.seed_scales);
        s.restarts = Restarts::runs(self.epochs.unwrap_or(1))
            .with_searches(self.searches.unwrap_or(rec.restarts.searches));
        s.restarts.stage_budget = self.stage_budget;
        let passes = self.polish.unwrap_or(rec.polish.map_or(0, |p| p.passes));
        s.polish = (passes > 0).then(|| {
            let climbs = self.climbs.unwrap_or(rec.polish.map_or(1, |p| p.climbs));
            let mut p = Polish::passes(passes).with_climbs(climbs);
            p.evaluations = self.polish_evals;
            p
        });
        let steps = self.refine.unwrap_or(rec.refine.map_or(0, |r| r.steps));
        s.refine = (steps > 0).then(|| Refine::steps(steps));
        if let (Strategy::Batch { prune, .. }, Some(on)) = (&mut s.strategy, self.prune) {
            *prune = on;
        }
        s.target_cost = self.target_psnr.map(mse_for_psnr);
        s.convergence = self
            .patience
            .map(|p| Convergence::new(p, self.min_gain.unwrap_or(Self::DEFAULT_MIN_GAIN)));
        s
    }

    /// Checks every setting and gives what the job runs.
    ///
    /// # Errors
    /// [`JobError`] naming the first setting that cannot run: a circle count of 0 or
    /// above [`MAX_CIRCLES`], a target PSNR that is not a positive number, anything
    /// [`FitSettings::validate`] or Mayfly's builder refuses.
    pub fn plan(&self) -> Result<JobPlan, JobError> {
        let circles = self.circles.unwrap_or(Self::DEFAULT_CIRCLES);
        if circles == 0 || circles > MAX_CIRCLES {
            let why = format!("{circles}: must be between 1 and {MAX_CIRCLES}");
            return Err(bad("circles", why));
        }
        if let Some(p) = self.target_psnr
            && !(p.is_finite() && p > 0.0)
        {
            return Err(bad(
                "target_psnr",
                format!("{p}: must be a positive number"),
            ));
        }
        let settings = self.fit_settings();
        settings.validate().map_err(|e| match &e {
            crate::core::Error::InvalidSetting { field, .. } => bad(job_field(field), &e),
            _ => bad("settings", &e),
        })?;
        let mayfly = self.mayfly(settings.restarts.searches)?;
        let edges = self.edges.unwrap_or(Self::DEFAULT_EDGES);
        Ok(JobPlan {
            settings,
            mayfly,
            edges,
        })
    }

    /// Mayfly's settings for searches of `searches` per stage.
    fn mayfly(&self, searches: usize) -> Result<MayflyConfig, JobError> {
        let iterations = self
            .iters
            .unwrap_or_else(|| crate::iterations_per_search(searches));
        let mut b = Mayfly::builder()
            .population(self.pop.unwrap_or(Self::DEFAULT_POP))
            .iterations(iterations)
            .synchronous_males(self.males.unwrap_or_default() == Males::Synchronous);
        if let Some(p) = self.target_psnr {
            b = b.target_cost(mse_for_psnr(p));
        }
        if let Some(n) = self.stagnation {
            b = b.stagnation(n, 0.0);
        }
        // Named as the job names them (Mayfly's message keeps its own names).
        let built = b.build().map_err(|e| match &e {
            crate::mayfly::MayflyError::InvalidSetting { field, .. } => match *field {
                "males" | "females" | "offspring" | "mutants" => bad("pop", &e),
                "iterations" => bad("iters", &e),
                "min_improvement" => bad("stagnation", &e),
                other => bad(other, &e),
            },
            _ => bad("mayfly", &e),
        })?;
        Ok(built.config().clone())
    }

    /// The same job with every setting written out as [`plan`](Self::plan) runs it.
    ///
    /// # Errors
    /// As [`plan`](Self::plan).
    pub fn resolved(&self) -> Result<FitJob, JobError> {
        let JobPlan {
            settings: s,
            mayfly: m,
            edges,
        } = self.plan()?;
        let (mode, batch_size, prune) = match s.strategy {
            Strategy::Joint => (Mode::Joint, None, None),
            Strategy::Batch { size, prune } => (Mode::Batch, Some(size), Some(prune)),
            _ => (Mode::Sequential, None, None),
        };
        Ok(FitJob {
            circles: Some(s.circles),
            mode: Some(mode),
            batch_size,
            seed: Some(s.seed),
            color: Some(s.color),
            edges: Some(edges),
            residual_seeds: Some(s.residual_seeds),
            seed_scales: Some(s.seed_scales),
            epochs: Some(s.restarts.runs),
            stage_budget: s.restarts.stage_budget,
            searches: Some(s.restarts.searches),
            polish: Some(s.polish.map_or(0, |p| p.passes)),
            climbs: s.polish.map(|p| p.climbs),
            polish_evals: s.polish.and_then(|p| p.evaluations),
            refine: Some(s.refine.map_or(0, |r| r.steps)),
            prune,
            patience: s.convergence.map(|c| c.patience),
            min_gain: s.convergence.map(|c| c.min_gain),
            target_psnr: self.target_psnr,
            iters: Some(m.iterations),
            pop: Some(m.males),
            males: Some(if m.synchronous_males {
                Males::Synchronous
            } else {
                Males::Sequential
            }),
            stagnation: self.stagnation,
        })
    }
}

impl JobPlan {
    /// A fresh fitter of this plan over `base` (one thread; see [`Fitter::threads`]).
    ///
    /// # Errors
    /// [`JobError`] if Mayfly's settings cannot be built (never, for a plan from
    /// [`FitJob::plan`]).
    pub fn fitter(&self, base: Canvas) -> Result<Fitter<CpuRenderer, Mse, Mayfly>, JobError> {
        let mayfly = Mayfly::from_config(self.mayfly.clone()).map_err(|e| bad("mayfly", e))?;
        Ok(
            Fitter::new(CpuRenderer::with_edges(self.edges), Mse, mayfly)
                .settings(self.settings)
                .base(base),
        )
    }

    /// The checkpoint of a fit of this plan that ended in `result`, run with `settings`
    /// (the fitter's current settings: a resumed fit may have changed its circle count),
    /// over `base` (made as `background` says) against `reference`, with the result's
    /// SSIM.
    #[cfg(feature = "serde")]
    pub fn checkpoint(
        &self,
        (result, settings): (&FitResult, FitSettings),
        background: &str,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
    ) -> crate::checkpoint::Checkpoint {
        let mut cp = crate::checkpoint::Checkpoint::new(
            result,
            settings,
            &self.mayfly,
            background,
            reference,
            base,
        )
        .with_edges(self.edges);
        let mut fit = base.to_canvas();
        let Ok(()) = CpuRenderer::with_edges(self.edges).draw(fit.as_mut(), &result.circles);
        cp.ssim = ssim(fit.as_ref(), reference).ok();
        cp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_others_are_refused() {
        for m in [Mode::Joint, Mode::Sequential, Mode::Batch] {
            assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
        }
        for m in [Males::Synchronous, Males::Sequential] {
            assert_eq!(m.to_string().parse::<Males>().unwrap(), m);
        }
        let e = "parallel".parse::<Mode>().unwrap_err().to_string();
        assert!(e.contains("joint, sequential, batch"), "{e}");
    }

    #[test]
    fn resolved_jobs_plan_the_same_as_the_job() {
        let jobs = [
            FitJob::default(),
            FitJob {
                mode: Some(Mode::Batch),
                batch_size: Some(3),
                prune: Some(false),
                circles: Some(7),
                patience: Some(4),
                target_psnr: Some(30.0),
                stagnation: Some(5),
                males: Some(Males::Sequential),
                ..FitJob::default()
            },
            FitJob {
                mode: Some(Mode::Joint),
                polish: Some(0),
                searches: Some(3),
                ..FitJob::default()
            },
        ];
        for job in jobs {
            let resolved = job.resolved().unwrap();
            assert_eq!(resolved.plan().unwrap(), job.plan().unwrap(), "{job:?}");
            assert_eq!(resolved.resolved().unwrap(), resolved);
        }
    }

    #[test]
    fn bad_settings_name_their_field() {
        let cases = [
            (
                FitJob {
                    circles: Some(MAX_CIRCLES + 1),
                    ..FitJob::default()
                },
                "circles",
            ),
            (
                FitJob {
                    pop: Some(0),
                    ..FitJob::default()
                },
                "pop",
            ),
            (
                FitJob {
                    target_psnr: Some(f64::NAN),
                    ..FitJob::default()
                },
                "target_psnr",
            ),
            (
                FitJob {
                    searches: Some(0),
                    ..FitJob::default()
                },
                "searches",
            ),
        ];
        for (job, field) in cases {
            assert_eq!(job.plan().unwrap_err().field, field, "{job:?}");
        }
    }
}
