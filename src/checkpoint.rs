//! [`Checkpoint`]: a saved fit, as the command-line tool writes it, that resumes exactly.

use std::path::Path;

use circlefit_core::{Canvas, CanvasRef, Circle, Edges, PARAMS_PER_CIRCLE};
use circlefit_cost::Mse;
use circlefit_engine::{FitResult, FitSettings, Fitter, StageRecord};
use circlefit_mayfly::{Mayfly, MayflyConfig};
use circlefit_render::CpuRenderer;

/// The `format` field of every checkpoint.
pub const FORMAT: &str = "circlefit-checkpoint";
/// The version this crate writes and reads.
pub const VERSION: u32 = 1;

/// Why a checkpoint cannot be read or resumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not JSON, or not a checkpoint's fields.
    #[error("not a circlefit checkpoint: {0}")]
    Parse(#[from] serde_json::Error),
    /// Another format or a newer version.
    #[error(
        "unsupported checkpoint: format {format:?} version {version} (this build reads {FORMAT:?} version {VERSION})"
    )]
    Version {
        /// The file's format field.
        format: String,
        /// The file's version.
        version: u32,
    },
    /// The exact circle encoding is damaged or disagrees with the circle count.
    #[error("checkpoint's exact circles are damaged: {0}")]
    Exact(String),
    /// The checkpoint was made for something else than what it is resumed with.
    #[error(
        "checkpoint does not match: {what} is {actual} but the checkpoint was saved with {saved}"
    )]
    Mismatch {
        /// What differs (`"image size"`, `"reference image"`, `"base canvas"`).
        what: &'static str,
        /// What the checkpoint holds.
        saved: String,
        /// What it is resumed with.
        actual: String,
    },
    /// The saved settings or circles are invalid.
    #[error(transparent)]
    Core(#[from] circlefit_core::Error),
    /// The saved Mayfly settings are invalid.
    #[error(transparent)]
    Mayfly(#[from] circlefit_mayfly::MayflyError),
    /// Reading or writing the file.
    #[error(transparent)]
    Io(#[from] crate::io::Error),
}

/// A fit saved to JSON: its settings, Mayfly settings, background, circles, scores and
/// per-stage history, with what a resume depends on.
///
/// [`resume`](Checkpoint::resume) continues it to exactly the result of one uninterrupted run
/// (more circles may be asked for): it rebuilds the fitter from the saved settings and checks
/// that the reference and the base are the ones it was saved with (by size and content hash).
/// The resume point is stored twice: as readable circles and as the exact bits of every
/// number (`resume_exact`), so it round-trips whatever float parser reads the JSON.
///
/// # Example
///
/// ```
/// use circlefit::prelude::*;
/// use circlefit::checkpoint::Checkpoint;
///
/// let reference = Canvas::filled(24, 16, [40, 120, 200, 255])?;
/// let base = Canvas::white(24, 16)?;
/// let mayfly = Mayfly::builder().iterations(3).build()?;
/// let mut fitter = Fitter::new(CpuRenderer::new(), Mse, mayfly.clone())
///     .circles(2)
///     .base(base.clone());
/// let half = fitter.fit(reference.as_ref())?;
/// let saved = Checkpoint::new(&half, *fitter.current_settings(), mayfly.config(),
///     "white", reference.as_ref(), base.as_ref());
/// let json = saved.to_json()?;
/// // Later: the same fit, continued to 4 circles.
/// let back = Checkpoint::from_json(&json)?;
/// let mut rest = back.resume(reference.as_ref(), base, 4)?;
/// let result = rest.fit(reference.as_ref())?;
/// assert!(result.circles.len() <= 4 && result.cost <= half.cost);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// The fitted image's width (after any resize).
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// FNV-1a of the reference's RGBA bytes, hex.
    pub reference_hash: String,
    /// How the base was made (`white`, `mean`, or a file name), for people and tools.
    pub background: String,
    /// FNV-1a of the base canvas's RGBA bytes, hex.
    pub base_hash: String,
    /// The base's colour when it is one opaque colour (white, or the mean), so the circles
    /// can be drawn again without the reference.
    pub base_color: Option<[u8; 3]>,
    /// The fit's settings.
    pub settings: FitSettings,
    /// The optimizer's settings.
    pub mayfly: MayflyConfig,
    /// The fit's seed (also in `settings`).
    pub seed: u64,
    /// The kept circles, in draw order (polished, if polishing ran).
    pub circles: Vec<Circle>,
    /// MSE of the circles over the base (0..255 scale).
    pub cost: f64,
    /// PSNR in dB (`None` for a perfect fit).
    pub psnr: Option<f64>,
    /// SSIM, when computed.
    pub ssim: Option<f64>,
    /// The base's MSE.
    pub initial_cost: f64,
    /// Evaluations of this run.
    pub evaluations: u64,
    /// One record per stage run.
    pub history: Vec<StageRecord>,
    /// The completed stages' circles as the stages left them: where a resume starts.
    pub resume_circles: Vec<Circle>,
    /// The same circles' numbers as exact bits (16 hex digits each, 7 per circle).
    pub resume_exact: Vec<String>,
    /// Stages completed, counting resumed ones.
    pub stages_done: usize,
    /// The files written with this checkpoint, by file name, with their content hashes
    /// ([`content_hash`]): a reader can tell whether the pictures beside it are the ones it
    /// describes.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    /// The raster model the circles were fitted and are drawn with (`hard` in checkpoints
    /// written before it existed).
    #[serde(default)]
    pub edges: Edges,
    /// The image file the fit was made from, as an absolute path (`None` for an image that
    /// is not a file, and in checkpoints written before it was recorded): what a resume
    /// reads when it is given no image (it still checks the content hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// [`content_hash`] of that file's bytes, so a tool can tell whether a saved fit is of
    /// the file now at that path without decoding it (`None` where `input` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hash: Option<String>,
    /// The fit was stopped before its end (a cancel, Ctrl-C): it holds the best so far,
    /// and a resume continues it.
    #[serde(default)]
    pub stopped: bool,
}

/// FNV-1a of `bytes`, as 16 hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The exact bits of `circles`' numbers: one line per circle, 7 × 16 hex digits, an eighth
/// for a circle that carries its own edge width (what [`Checkpoint::resume_exact`] holds),
/// so they round-trip through any text format.
pub fn exact_bits(circles: &[Circle]) -> Vec<String> {
    circles
        .iter()
        .map(|c| {
            c.to_params()
                .iter()
                .chain(c.edge_width().as_ref())
                .map(|v| format!("{:016x}", v.to_bits()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

impl Checkpoint {
    /// A checkpoint of `result`, fitted with `settings` and `mayfly` on `reference` over
    /// `base` (made as `background` says).
    pub fn new(
        result: &FitResult,
        settings: FitSettings,
        mayfly: &MayflyConfig,
        background: &str,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
    ) -> Self {
        let (resume_circles, stages_done) = result.resume_point();
        let psnr = circlefit_cost::psnr(result.cost);
        Self {
            format: FORMAT.into(),
            version: VERSION,
            width: reference.width(),
            height: reference.height(),
            reference_hash: content_hash(reference.as_bytes()),
            background: background.into(),
            base_hash: content_hash(base.as_bytes()),
            base_color: match crate::io::Background::of(base) {
                crate::io::Background::White => Some([255; 3]),
                crate::io::Background::Solid(rgb) => Some(rgb),
                _ => None,
            },
            settings,
            mayfly: mayfly.clone(),
            seed: settings.seed,
            circles: result.circles.clone(),
            cost: result.cost,
            psnr: psnr.is_finite().then_some(psnr),
            ssim: None,
            initial_cost: result.initial_cost,
            evaluations: result.evaluations,
            history: result.stages.clone(),
            resume_exact: exact_bits(&resume_circles),
            resume_circles,
            stages_done,
            files: std::collections::BTreeMap::new(),
            edges: Edges::Hard,
            input: None,
            input_hash: None,
            stopped: result.stopped(),
        }
    }

    /// The same checkpoint, recording the image file it was fitted from (its absolute
    /// path) and the file's [`content_hash`].
    pub fn with_input(mut self, path: impl Into<String>, hash: impl Into<String>) -> Self {
        self.input = Some(path.into());
        self.input_hash = Some(hash.into());
        self
    }

    /// The same checkpoint for a fit drawn with `edges` (the renderer's
    /// [`CpuRenderer::edges`]); [`resume`](Checkpoint::resume) continues with them.
    pub fn with_edges(mut self, edges: Edges) -> Self {
        self.edges = edges;
        self
    }

    /// A renderer that draws these circles as they were fitted.
    pub fn renderer(&self) -> CpuRenderer {
        CpuRenderer::with_edges(self.edges)
    }

    /// The same checkpoint with `earlier`'s history in front of its own: what a resumed
    /// fit saves, so the history covers every stage from the first.
    pub fn continued_from(mut self, earlier: &Checkpoint) -> Self {
        // The earlier run's stages up to where this one started (a cut-short stage, or
        // stages a changed total made this run plan again, are replaced by this run's).
        let start = self.history.first().map_or(self.stages_done, |s| s.index);
        let mut history: Vec<StageRecord> = earlier
            .history
            .iter()
            .filter(|s| s.index < start)
            .cloned()
            .collect();
        history.extend(self.history);
        self.history = history;
        self
    }

    /// The resume point for a fit of `circles` circles: the saved one, or, when the total
    /// changes what the saved stages would have been (a last, smaller batch, say), the
    /// point before the first stage the new total plans differently.
    fn resume_point_for(&self, circles: usize) -> Result<(Vec<Circle>, usize), CheckpointError> {
        use circlefit_engine::{FitState, Schedule};
        let (old, done) = (self.settings.circles, self.stages_done);
        if circles == old {
            return Ok((self.resume_circles.clone(), done));
        }
        let complete: Vec<&StageRecord> = self.history.iter().filter(|s| s.complete).collect();
        if complete.len() != done {
            return Err(CheckpointError::Exact(format!(
                "the history holds {} complete stages but {done} are done: the circle count cannot change",
                complete.len()
            )));
        }
        let schedule = self.settings.strategy;
        let (at_old, at_new) = (
            FitState::new(old, self.width, self.height),
            FitState::new(circles, self.width, self.height),
        );
        let mut kept = 0usize;
        for (i, stage) in complete.iter().enumerate() {
            let (a, b) = (
                schedule.next_stage(&at_old.at(i, kept)),
                schedule.next_stage(&at_new.at(i, kept)),
            );
            if a != b {
                return Ok((
                    self.resume_circles[..kept.min(self.resume_circles.len())].to_vec(),
                    i,
                ));
            }
            if stage.kept {
                kept += stage.circles - stage.pruned;
            }
        }
        Ok((self.resume_circles.clone(), done))
    }

    /// The checkpoint as pretty JSON.
    ///
    /// # Errors
    /// [`CheckpointError::Parse`] only if serialisation fails (it does not for valid data).
    pub fn to_json(&self) -> Result<String, CheckpointError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Reads a checkpoint from JSON, checking its format, version and exact circles.
    ///
    /// # Errors
    /// [`CheckpointError::Parse`] for text that is not a checkpoint (invalid circles
    /// included), [`CheckpointError::Version`] for another format or version,
    /// [`CheckpointError::Exact`] if the exact encoding is damaged.
    pub fn from_json(json: &str) -> Result<Self, CheckpointError> {
        #[derive(serde::Deserialize)]
        struct Head {
            format: String,
            version: u32,
        }
        let head: Head = serde_json::from_str(json)?;
        if head.format != FORMAT || head.version != VERSION {
            return Err(CheckpointError::Version {
                format: head.format,
                version: head.version,
            });
        }
        let mut c: Self = serde_json::from_str(json)?;
        c.resume_circles = c.exact_resume_circles()?;
        Ok(c)
    }

    /// Reads a checkpoint file.
    ///
    /// # Errors
    /// [`CheckpointError::Io`] if it cannot be read, else as [`from_json`](Self::from_json).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| crate::io::Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// The resume circles decoded from their exact bits.
    fn exact_resume_circles(&self) -> Result<Vec<Circle>, CheckpointError> {
        if self.resume_exact.len() != self.resume_circles.len() {
            return Err(CheckpointError::Exact(format!(
                "{} exact circles for {} circles",
                self.resume_exact.len(),
                self.resume_circles.len()
            )));
        }
        from_exact_bits(&self.resume_exact)
    }
}

/// Circles back from [`exact_bits`] lines.
///
/// # Errors
/// [`CheckpointError::Exact`] for a damaged line, [`CheckpointError::Core`] for numbers that
/// are no valid circle.
pub fn from_exact_bits(lines: &[String]) -> Result<Vec<Circle>, CheckpointError> {
    lines
        .iter()
        .map(|line| {
            let params = line
                .split(' ')
                .map(|h| u64::from_str_radix(h, 16).map(f64::from_bits))
                .collect::<Result<Vec<f64>, _>>()
                .map_err(|e| CheckpointError::Exact(format!("{line:?}: {e}")))?;
            match params.split_at_checked(PARAMS_PER_CIRCLE) {
                Some((p, [])) => Ok(Circle::from_params(p)?),
                Some((p, [w])) => Ok(Circle::from_params(p)?.with_edge_width(*w)?),
                _ => Err(CheckpointError::Exact(format!(
                    "{line:?}: not 7 or 8 numbers"
                ))),
            }
        })
        .collect()
}

impl Checkpoint {
    /// Checks that `reference` and `base` are the images this checkpoint was saved with.
    ///
    /// # Errors
    /// [`CheckpointError::Mismatch`] naming the first difference.
    pub fn check(
        &self,
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
    ) -> Result<(), CheckpointError> {
        let size = |w: u32, h: u32| format!("{w}x{h}");
        if (reference.width(), reference.height()) != (self.width, self.height) {
            return Err(CheckpointError::Mismatch {
                what: "image size",
                saved: size(self.width, self.height),
                actual: size(reference.width(), reference.height()),
            });
        }
        for (what, saved, canvas) in [
            ("reference image", &self.reference_hash, reference),
            ("base canvas", &self.base_hash, base),
        ] {
            let actual = content_hash(canvas.as_bytes());
            if &actual != saved {
                return Err(CheckpointError::Mismatch {
                    what,
                    saved: format!("content hash {saved}"),
                    actual: format!("content hash {actual}"),
                });
            }
        }
        Ok(())
    }

    /// A fitter that continues this fit to `circles` circles (at least the saved count) on
    /// `reference` over `base`: the saved settings and Mayfly settings, resumed from the
    /// completed stages — back to before the first stage the new total plans differently,
    /// such as a batch cut short by the old total — so it reaches exactly what one
    /// uninterrupted run of `circles` circles would. Threads, a cancel flag and an observer can be added to it.
    ///
    /// # Errors
    /// [`CheckpointError::Mismatch`] if `reference` or `base` differ from the saved ones;
    /// [`CheckpointError::Core`] for invalid saved settings or too few circles;
    /// [`CheckpointError::Mayfly`] for invalid Mayfly settings.
    pub fn resume(
        &self,
        reference: CanvasRef<'_>,
        base: Canvas,
        circles: usize,
    ) -> Result<Fitter<CpuRenderer, Mse, Mayfly>, CheckpointError> {
        self.check(reference, base.as_ref())?;
        let mut settings = self.settings;
        settings.circles = circles;
        settings.validate()?;
        let mayfly = Mayfly::from_config(self.mayfly.clone())?;
        let (circles, stages) = self.resume_point_for(circles)?;
        let fitter = Fitter::new(self.renderer(), Mse, mayfly)
            .settings(settings)
            .base(base)
            .resume(circles, stages);
        fitter.check(reference)?;
        Ok(fitter)
    }
}
