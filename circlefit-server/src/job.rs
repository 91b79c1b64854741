//! A job's settings as the API takes them, and the fit that runs them.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use circlefit::checkpoint::Checkpoint;
use circlefit::io;
use circlefit::mayfly::MayflyConfig;
use circlefit::prelude::*;

use crate::state::{Event, Shared};

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

/// A stage checkpoint: the resume point so far.
#[derive(serde::Serialize, serde::Deserialize)]
struct Progress {
    stages_done: usize,
    exact: Vec<String>,
}

/// The reference a job fits (its upload, decoded) and its mean-colour base.
pub(crate) fn images(bytes: &[u8]) -> Result<(Canvas, Canvas), String> {
    let reference = io::decode_image(bytes, "upload".as_ref()).map_err(|e| e.to_string())?;
    let [r, g, b, _] = reference.mean_color();
    let base = Canvas::filled(reference.width(), reference.height(), [r, g, b, 255])
        .map_err(|e| e.to_string())?;
    Ok((reference, base))
}

/// Runs one claimed job to its end and stores the outcome.
pub(crate) fn run(shared: &Shared, work: crate::db::JobWork) {
    let id = work.id;
    let cancel = Arc::new(AtomicBool::new(false));
    shared
        .cancels
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id, Arc::clone(&cancel));
    let outcome = fit(shared, &work, &cancel);
    shared
        .cancels
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&id);
    let event = match outcome {
        Ok(stopped) => {
            if stopped {
                "cancelled"
            } else {
                "done"
            }
        }
        Err(message) => {
            let _ = shared
                .db
                .finish(id, "failed", None, None, None, 0, None, 0, Some(&message));
            "failed"
        }
    };
    let row = shared.db.get(id).ok().flatten();
    shared.send(Event {
        id,
        name: event.into(),
        data: serde_json::to_string(&row).unwrap_or_default(),
    });
}

/// The fit itself; `Ok(true)` if it was cancelled (its best so far is stored).
fn fit(
    shared: &Shared,
    work: &crate::db::JobWork,
    cancel: &Arc<AtomicBool>,
) -> Result<bool, String> {
    let settings: JobSettings = serde_json::from_str(&work.settings).map_err(|e| e.to_string())?;
    let (fit_settings, mayfly) = settings.build(usize::MAX).map_err(|e| e.message)?;
    let edges = settings.edges().map_err(|e| e.message)?;
    let (reference, base) = images(&work.image)?;
    let optimizer = Mayfly::from_config(mayfly.clone()).map_err(|e| e.to_string())?;
    let fresh = Fitter::new(CpuRenderer::with_edges(edges), Mse, optimizer)
        .settings(fit_settings)
        .base(base.clone());
    let fitter = if let Some(p) = &work.progress {
        // A server killed mid-job: continue from its last stage checkpoint.
        let p: Progress = serde_json::from_str(p).map_err(|e| e.to_string())?;
        let circles =
            circlefit::checkpoint::from_exact_bits(&p.exact).map_err(|e| e.to_string())?;
        fresh.resume(circles, p.stages_done)
    } else if let Some(parent) = &work.parent_checkpoint {
        let cp = Checkpoint::from_json(parent).map_err(|e| e.to_string())?;
        cp.resume(reference.as_ref(), base.clone(), fit_settings.circles)
            .map_err(|e| e.to_string())?
    } else {
        fresh
    };
    let mut fitter = fitter.threads(1).cancel_on(Arc::clone(cancel));
    let id = work.id;
    let result = fitter
        .fit_observed(reference.as_ref(), &mut |p| {
            if let Some((circles, done)) = p.resume_point {
                let progress = Progress {
                    stages_done: done,
                    exact: circlefit::checkpoint::exact_bits(circles),
                };
                let text = serde_json::to_string(&progress).unwrap_or_default();
                let _ = shared.db.save_progress(id, &text, circles.len(), psnr(p.cost), p.evaluations);
                shared.send(Event {
                    id,
                    name: "progress".into(),
                    data: serde_json::json!({"circles": p.circles_kept, "psnr": psnr(p.cost), "evaluations": p.evaluations}).to_string(),
                });
            }
            std::ops::ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
    let checkpoint = Checkpoint::new(
        &result,
        *fitter.current_settings(),
        &mayfly,
        "mean",
        reference.as_ref(),
        base.as_ref(),
    )
    .with_edges(edges);
    let json = checkpoint.to_json().map_err(|e| e.to_string())?;
    let mut canvas = base.clone();
    let Ok(()) = CpuRenderer::with_edges(edges).draw(canvas.as_mut(), &result.circles);
    let png = io::encode_png(canvas.as_ref()).map_err(|e| e.to_string())?;
    let svg = io::to_svg_with(
        base.width(),
        base.height(),
        io::Background::of(base.as_ref()),
        &result.circles,
        edges,
    )
    .map_err(|e| e.to_string())?;
    let stopped = result.stopped();
    let p = psnr(result.cost);
    shared
        .db
        .finish(
            id,
            if stopped { "cancelled" } else { "done" },
            Some(&json),
            Some(&png),
            Some(&svg),
            result.circles.len(),
            p.is_finite().then_some(p),
            result.evaluations,
            None,
        )
        .map_err(|e| e.to_string())?;
    Ok(stopped)
}
