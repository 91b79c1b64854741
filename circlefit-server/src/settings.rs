//! A job's settings as the API takes them: checked against the server's limits, and stored
//! with every default written out, so that whatever server runs (or adopts, or extends) the
//! job runs exactly what was accepted.

use circlefit::mayfly::MayflyConfig;
use circlefit::prelude::*;

/// The settings a client may give (the library's names); every field is optional.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobSettings {
    pub(crate) circles: Option<usize>,
    pub(crate) mode: Option<String>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) seed: Option<u64>,
    pub(crate) iters: Option<u64>,
    pub(crate) pop: Option<usize>,
    pub(crate) polish: Option<u32>,
    pub(crate) residual_seeds: Option<usize>,
    pub(crate) color: Option<String>,
    /// `hard` or `smooth`. A new job without it gets [`DEFAULT_EDGES`] (written into its
    /// stored settings); a stored job without it predates the setting and was hard-edged.
    pub(crate) edges: Option<String>,
    /// `blocks8` or `multi_scale` (see `SeedScales`). A new job without it gets
    /// `multi_scale` (written into its stored settings); a stored job without it predates
    /// the setting and was seeded on 8 px blocks.
    pub(crate) seed_scales: Option<String>,
    /// Independent searches per stage (`Restarts::searches`; default 1). Mayfly's
    /// iterations, unless given, are 40 shared by them.
    pub(crate) searches: Option<usize>,
    /// Independent climbs per polished slot (`Polish::climbs`). A new job without it gets
    /// [`DEFAULT_CLIMBS`] (written into its stored settings); a stored job without it
    /// predates the setting and polished with one.
    pub(crate) climbs: Option<u32>,
}

/// The polishing climbs of a new job that does not name them (the library's
/// recommended settings).
pub(crate) const DEFAULT_CLIMBS: u32 = 2;

/// The edges of a new job that does not name them (the CLI's and the library's default).
pub(crate) const DEFAULT_EDGES: Edges = Edges::Soft;

/// A setting the fit cannot run, with the field it names.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub(crate) field: String,
    pub(crate) message: String,
}

impl JobSettings {
    /// The raster model (stored jobs without one were hard-edged).
    pub(crate) fn edges(&self) -> Result<Edges, Invalid> {
        self.edges
            .as_deref()
            .map_or(Ok(Edges::Hard), str::parse)
            .map_err(|e: circlefit::core::Error| Invalid {
                field: "edges".into(),
                message: e.to_string(),
            })
    }

    /// The library's settings, checked (`max_circles` is the server's limit).
    pub(crate) fn build(&self, max_circles: usize) -> Result<(FitSettings, MayflyConfig), Invalid> {
        let bad = |field: &str, message: String| Invalid {
            field: field.into(),
            message,
        };
        let circles = self.circles.unwrap_or(50);
        if circles == 0 || circles > max_circles {
            return Err(bad(
                "circles",
                format!("{circles}: must be between 1 and {max_circles}"),
            ));
        }
        let strategy = match self.mode.as_deref().unwrap_or("sequential") {
            "sequential" => Strategy::Sequential,
            "joint" => Strategy::Joint,
            "batch" => Strategy::batch(self.batch_size.unwrap_or(5).min(circles)),
            m => {
                return Err(bad(
                    "mode",
                    format!("{m:?}: not joint, sequential or batch"),
                ));
            }
        };
        self.edges()?;
        let mut s = FitSettings::recommended(strategy, circles, self.seed.unwrap_or(1));
        match self.color.as_deref() {
            None => {}
            Some("search") => s.color = ColorMode::Search,
            Some("closed_form") => s.color = ColorMode::ClosedForm,
            Some(c) => return Err(bad("color", format!("{c:?}: not search or closed_form"))),
        }
        if let Some(n) = self.residual_seeds {
            s.residual_seeds = n;
        }
        s.seed_scales = match self.seed_scales.as_deref() {
            None | Some("blocks8") => SeedScales::Blocks8,
            Some("multi_scale") => SeedScales::MultiScale,
            Some(v) => {
                return Err(bad(
                    "seed_scales",
                    format!("{v:?}: not blocks8 or multi_scale"),
                ));
            }
        };
        if let Some(p) = self.polish {
            s.polish = (p > 0).then(|| Polish::passes(p));
        }
        s.polish = s.polish.map(|p| p.with_climbs(self.climbs.unwrap_or(1)));
        let searches = self.searches.unwrap_or(1);
        s.restarts = s.restarts.with_searches(searches);
        s.validate().map_err(|e| match e {
            circlefit::core::Error::InvalidSetting { field, .. } => bad(field, e.to_string()),
            e => bad("settings", e.to_string()),
        })?;
        let mayfly = Mayfly::builder()
            .population(self.pop.unwrap_or(20))
            .iterations(
                self.iters
                    .unwrap_or_else(|| circlefit::iterations_per_search(searches)),
            )
            .synchronous_males(true)
            .build()
            .map_err(|e| match &e {
                circlefit::mayfly::MayflyError::InvalidSetting { field, .. } => {
                    bad(field, e.to_string())
                }
                _ => bad("mayfly", e.to_string()),
            })?;
        Ok((s, mayfly.config().clone()))
    }
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

impl JobSettings {
    /// Every setting with its effective value written out (what `build` runs), checked
    /// against `limits` for an image of `width` × `height`.
    pub(crate) fn accept(
        mut self,
        limits: &JobLimits,
        width: u32,
        height: u32,
    ) -> Result<JobSettings, Invalid> {
        let (fit, mayfly) = self.build(limits.max_circles)?;
        let bad = |field: &str, message: String| Invalid {
            field: field.into(),
            message,
        };
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
        self.circles = Some(fit.circles);
        (self.mode, self.batch_size) = match fit.strategy {
            Strategy::Joint => (Some("joint".into()), None),
            Strategy::Batch { size, .. } => (Some("batch".into()), Some(size)),
            _ => (Some("sequential".into()), None),
        };
        self.seed = Some(fit.seed);
        self.iters = Some(mayfly.iterations);
        self.pop = Some(mayfly.males);
        self.polish = Some(fit.polish.map_or(0, |p| p.passes));
        self.residual_seeds = Some(fit.residual_seeds);
        self.color = Some(
            match fit.color {
                ColorMode::ClosedForm => "closed_form",
                _ => "search",
            }
            .into(),
        );
        self.searches = Some(fit.restarts.searches);
        Ok(self)
    }
}
