//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// The most threads `-j` accepts (more than the cores are capped to the cores anyway).
pub(crate) const MAX_THREADS: usize = 1024;

/// Circles of a fit without `-n` (and without a preset): the fit job's.
pub(crate) const DEFAULT_CIRCLES: usize = circlefit::job::FitJob::DEFAULT_CIRCLES;

/// Mayfly's population per sex without `--pop`: the fit job's.
pub(crate) const DEFAULT_POP: usize = circlefit::job::FitJob::DEFAULT_POP;

/// The fit size without `-r` (and without a preset).
pub(crate) const DEFAULT_RESIZE: u32 = 256;

/// The command line with the defaults that the library decides written into the help
/// from the same values the fit uses (they cannot drift apart).
pub(crate) fn command() -> clap::Command {
    use circlefit::prelude::*;
    let rec = FitSettings::recommended(Strategy::Sequential, DEFAULT_CIRCLES, 1);
    let polish = rec.polish.unwrap_or(Polish::passes(0));
    let texts = [
        (
            "circles",
            format!(
                "Circles to place (default {DEFAULT_CIRCLES}; at most {})",
                circlefit::MAX_CIRCLES
            ),
        ),
        (
            "pop",
            format!("Mayfly population per sex (default {DEFAULT_POP})"),
        ),
        (
            "iters",
            format!(
                "Mayfly iterations per search (default {} shared by the stage's searches: {} with two, so a stage's evaluations stay the same)",
                circlefit::iterations_per_search(1),
                circlefit::iterations_per_search(2)
            ),
        ),
        (
            "searches",
            format!(
                "Independent searches per stage, the best kept; they run side by side on several threads (default {}; at most {})",
                rec.restarts.searches,
                circlefit::MAX_SEARCHES
            ),
        ),
        (
            "climbs",
            format!(
                "Independent climbs per polished slot, sharing its evaluations; they run side by side on several threads (default {}; at most {})",
                polish.climbs,
                circlefit::MAX_POLISH_CLIMBS
            ),
        ),
        (
            "polish",
            format!(
                "Polishing passes over the kept circles (default {}, 0 in joint mode; 0 = off; at most {})",
                polish.passes,
                circlefit::MAX_POLISH_PASSES
            ),
        ),
        (
            "seeds",
            format!(
                "Residual seeds per stage (default {}, 0 in joint mode; at most {})",
                rec.residual_seeds,
                circlefit::MAX_RESIDUAL_SEEDS
            ),
        ),
        (
            "resize",
            format!(
                "Fit a copy resized so its longer side is SIZE (default {DEFAULT_RESIZE}; never upscaled); 0 = full size"
            ),
        ),
    ];
    let apply = |mut c: clap::Command| {
        for (id, text) in &texts {
            c = c.mut_arg(*id, |a| a.help(text.clone()));
        }
        c
    };
    apply(Cli::command()).mut_subcommand("fit", apply)
}

/// A set of defaults for a common use (flags given still win).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Preset {
    /// A web placeholder shown while a photograph loads: 16 circles fitted at 128 px, a
    /// compact SVG blurred by 2 px (about 1 KB; `.uri` gives it as a data URI).
    Placeholder,
}

/// What a preset changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PresetDefaults {
    pub(crate) circles: usize,
    pub(crate) resize: u32,
    pub(crate) compact_svg: bool,
    pub(crate) svg_blur: Option<f64>,
}

impl Preset {
    pub(crate) fn defaults(self) -> PresetDefaults {
        match self {
            Preset::Placeholder => PresetDefaults {
                circles: 16,
                resize: 128,
                compact_svg: true,
                svg_blur: Some(2.0),
            },
        }
    }
}

impl FitArgs {
    /// The circle count: `-n`, the preset's, or [`DEFAULT_CIRCLES`].
    pub(crate) fn circles(&self) -> usize {
        self.circles
            .or(self.preset.map(|p| p.defaults().circles))
            .unwrap_or(DEFAULT_CIRCLES)
    }

    /// The fit size: `-r`, the preset's, or [`DEFAULT_RESIZE`].
    pub(crate) fn resize(&self) -> u32 {
        self.resize
            .or(self.preset.map(|p| p.defaults().resize))
            .unwrap_or(DEFAULT_RESIZE)
    }
}

/// Approximate images with coloured, alpha-blended circles found by the Mayfly
/// metaheuristic.
///
/// With no subcommand, fits each INPUT (or the bundled 256×256 cat photo) and writes the
/// outputs named by -o (and --out PREFIX: PREFIX.png, .svg, .json). Results are identical
/// for any thread count. Ctrl-C stops the fit and writes the best result so far (exit
/// 130); a second Ctrl-C exits at once.
#[derive(Debug, Parser)]
#[command(
    name = "circlefit",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) fit: FitArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Fit images with circles (what `circlefit` does without a subcommand).
    Fit(Box<FitArgs>),
    /// Draw the circles of a saved fit (its JSON) again, at any size.
    Render(RenderArgs),
    /// Score the circles of a saved fit against a reference image: MSE, PSNR, SSIM.
    Score(ScoreArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    Joint,
    Sequential,
    Batch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorArg {
    /// The optimizer searches the colour.
    Search,
    /// The colour is solved exactly for each candidate.
    ClosedForm,
}

/// The blocks of `--seed-scales`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SeedScalesArg {
    /// The worst 8×8 blocks, radii 4, 8 and 16 px.
    Blocks8,
    /// The worst blocks of 4, 8, 16 and 32 px in turn, radius half the block.
    MultiScale,
}

impl From<SeedScalesArg> for circlefit::SeedScales {
    fn from(s: SeedScalesArg) -> Self {
        match s {
            SeedScalesArg::Blocks8 => Self::Blocks8,
            SeedScalesArg::MultiScale => Self::MultiScale,
        }
    }
}

/// The raster model of `--edges`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EdgesArg {
    /// Hard edges: a pixel is covered or not.
    Hard,
    /// Anti-aliased edges (a one-pixel ramp), as SVG viewers draw circles.
    Smooth,
    /// Soft edges: a ramp half the radius wide, from 1 px up to a 128th of the shorter side
    /// (SVG: radial gradients).
    Soft,
    /// Each circle its own ramp, 1 to 32 px, chosen by the joint refinement (new circles
    /// start with the soft rule's; SVG: radial gradients).
    Free,
}

impl From<EdgesArg> for circlefit::Edges {
    fn from(e: EdgesArg) -> Self {
        match e {
            EdgesArg::Hard => Self::Hard,
            EdgesArg::Smooth => Self::Smooth,
            EdgesArg::Soft => Self::Soft,
            EdgesArg::Free => Self::Free,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Males {
    Synchronous,
    OneAtATime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

/// What to fit and how.
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct FitArgs {
    /// Images to fit (PNG or JPEG), folders of them, `@LIST` (a file naming one image a
    /// line) or `-` (such a list on standard input); none: the image a `--resume`
    /// checkpoint records, else the bundled cat photo.
    #[arg(value_name = "INPUT")]
    pub(crate) inputs: Vec<PathBuf>,
    /// Folders given as inputs are read with their sub-folders.
    #[arg(short = 'R', long, help_heading = "Input and output")]
    pub(crate) recursive: bool,
    /// An image to fit (repeatable; the same as a positional INPUT).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "INPUT",
        help_heading = "Input and output"
    )]
    pub(crate) input_flags: Vec<PathBuf>,
    /// An output file, its format chosen by the extension: .png, .jpg, .svg, .json, .gif
    /// (an animation of the circles being added), .uri (the SVG as a data URI).
    /// Repeatable; `{name}` is replaced by the input's file stem. Two inputs that would
    /// write one file (the same stem in two folders) are refused before any fit.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "OUTPUT",
        help_heading = "Input and output"
    )]
    pub(crate) outputs: Vec<String>,
    /// Also write PREFIX.png, PREFIX.svg and PREFIX.json (`{name}` allowed). Default when no
    /// -o is given: out/fit for one input, out/{name} for several.
    #[arg(long = "out", value_name = "PREFIX", help_heading = "Input and output")]
    pub(crate) out: Option<String>,
    /// Fit a copy resized so its longer side is SIZE (never upscaled); 0 = full size.
    #[arg(
        short = 'r',
        long = "resize",
        value_name = "SIZE",
        help_heading = "Input and output"
    )]
    pub(crate) resize: Option<u32>,
    /// The longer side of raster outputs (default: the input's); circles are drawn scaled
    /// and anti-aliased, and at the fit's own size the PNG is exactly the fit's raster.
    #[arg(
        short = 's',
        long = "size",
        value_name = "SIZE",
        help_heading = "Input and output"
    )]
    pub(crate) size: Option<u32>,
    /// Also write PREFIX-diff.png (per-pixel error through viridis; needs --out).
    #[arg(long, help_heading = "Input and output")]
    pub(crate) diff: bool,
    /// Also write PREFIX-snap-NNNN.png every N kept circles (needs --out).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "Input and output"
    )]
    pub(crate) snapshots: usize,
    /// Continue the fit saved in this JSON (the image it records, or the one given, checked
    /// by content; --circles may raise the total).
    #[arg(long, value_name = "FILE.json", help_heading = "Input and output")]
    pub(crate) resume: Option<PathBuf>,
    /// Do not fit an input whose JSON output already records this image file (by content)
    /// and these settings, from a fit that ran to its end, with its other outputs in place:
    /// a re-run after a crash or Ctrl-C does only what is missing.
    #[arg(long = "skip-existing", help_heading = "Input and output")]
    pub(crate) skip_existing: bool,
    /// Write one row per input (status, circles, PSNR, evaluations, seconds, outputs,
    /// error) to FILE: CSV for .csv, else JSON.
    #[arg(long, value_name = "FILE", help_heading = "Input and output")]
    pub(crate) report: Option<PathBuf>,
    /// Defaults for a common use; flags given still win.
    #[arg(long, value_enum, help_heading = "Input and output")]
    pub(crate) preset: Option<Preset>,
    /// Write SVGs small: one decimal, short colours, no repeated defaults (placeholders).
    #[arg(long = "compact-svg", help_heading = "Input and output")]
    pub(crate) compact_svg: bool,
    /// Blur the SVG's circles with this standard deviation in pixels (a compact SVG).
    #[arg(
        long = "svg-blur",
        value_name = "PX",
        help_heading = "Input and output"
    )]
    pub(crate) svg_blur: Option<f64>,

    /// Circles to place.
    #[arg(short = 'n', long = "circles", value_name = "N", help_heading = "Fit")]
    pub(crate) circles: Option<usize>,
    /// How circles are grouped into stages.
    #[arg(long, value_enum, help_heading = "Fit")]
    pub(crate) mode: Option<Mode>,
    /// Circles per stage in batch mode.
    #[arg(long = "batch-size", value_name = "B", help_heading = "Fit")]
    pub(crate) batch_size: Option<usize>,
    /// The seed of the whole fit.
    #[arg(long, help_heading = "Fit")]
    pub(crate) seed: Option<u64>,
    /// How colours are found (default: closed-form; search in joint mode).
    #[arg(long, value_enum, help_heading = "Fit")]
    pub(crate) color: Option<ColorArg>,
    /// The base canvas: white, mean (the reference's mean colour) or an image file.
    #[arg(long, value_name = "white|mean|FILE", help_heading = "Fit")]
    pub(crate) background: Option<String>,
    /// The circles' edges, fitted and drawn (default: free; a resumed fit keeps its own).
    #[arg(long, value_enum, help_heading = "Fit")]
    pub(crate) edges: Option<EdgesArg>,
    /// The most memory the run may take, in GiB, shared by the fits running side by side
    /// (checked against each image's declared size before decoding it, with the fit and
    /// the raster outputs; see `circlefit::memory_estimate`).
    #[arg(
        long = "max-memory",
        value_name = "GIB",
        default_value_t = 8.0,
        help_heading = "Fit"
    )]
    pub(crate) max_memory: f64,
    /// Evaluation threads, at most 1024 (0 = every core; results are identical for any).
    #[arg(
        short = 'j',
        long = "threads",
        value_name = "N",
        default_value_t = 0,
        help_heading = "Fit"
    )]
    pub(crate) threads: usize,
    /// Images fitted side by side (0 = one per core when there are at least as many
    /// images, else one at a time; at most 1024); the cores are shared among them.
    /// Each result is the one that image gets alone.
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Fit")]
    pub(crate) jobs: usize,

    /// Mayfly iterations per search.
    #[arg(long, value_name = "T", help_heading = "Optimizer")]
    pub(crate) iters: Option<u64>,
    /// Mayfly population per sex.
    #[arg(long, value_name = "P", help_heading = "Optimizer")]
    pub(crate) pop: Option<usize>,
    /// Mayfly's males move together (default) or one at a time as in the reference code.
    #[arg(long, value_enum, help_heading = "Optimizer")]
    pub(crate) males: Option<Males>,
    /// End a stage's run after N iterations without a better point.
    #[arg(long, value_name = "N", help_heading = "Optimizer")]
    pub(crate) stagnation: Option<u64>,

    /// Residual seeds per stage.
    #[arg(long, value_name = "N", help_heading = "Quality")]
    pub(crate) seeds: Option<usize>,
    /// Where residual seeds go: the worst blocks of 4 to 32 px in turn (default) or of 8 px.
    #[arg(long = "seed-scales", value_enum, help_heading = "Quality")]
    pub(crate) seed_scales: Option<SeedScalesArg>,
    /// Optimizer runs per stage, each restarting from the best so far (at most 1000).
    #[arg(long, value_name = "E", help_heading = "Quality")]
    pub(crate) epochs: Option<usize>,
    /// At most N evaluations per stage over all its runs (per search).
    #[arg(long = "stage-budget", value_name = "N", help_heading = "Quality")]
    pub(crate) stage_budget: Option<u64>,
    /// Independent searches per stage.
    #[arg(long, value_name = "N", help_heading = "Quality")]
    pub(crate) searches: Option<usize>,
    /// Polishing passes over the kept circles.
    #[arg(long, value_name = "N", help_heading = "Quality")]
    pub(crate) polish: Option<u32>,
    /// Evaluations per polished slot (default 150; at most 1000000).
    #[arg(long = "polish-evals", value_name = "B", help_heading = "Quality")]
    pub(crate) polish_evals: Option<u64>,
    /// Independent climbs per polished slot.
    #[arg(long, value_name = "N", help_heading = "Quality")]
    pub(crate) climbs: Option<u32>,
    /// Joint refinement's gradient steps after polishing (0 = off).
    #[arg(long, value_name = "N", help_heading = "Quality")]
    pub(crate) refine: Option<u32>,
    /// Batch mode: drop batch circles that do not help and refill them (default on).
    #[arg(long, value_enum, help_heading = "Quality")]
    pub(crate) prune: Option<OnOff>,
    /// Stop once K stages in a row each gain less than --min-gain.
    #[arg(long, value_name = "K", help_heading = "Quality")]
    pub(crate) patience: Option<usize>,
    /// The relative gain below which a stage is stale.
    #[arg(long = "min-gain", value_name = "X", help_heading = "Quality")]
    pub(crate) min_gain: Option<f64>,
    /// Stop the stages once the fit reaches this PSNR.
    #[arg(long = "target-psnr", value_name = "DB", help_heading = "Quality")]
    pub(crate) target_psnr: Option<f64>,
}

/// `circlefit render`.
#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// A fit's JSON (as `-o x.json` or `--out` writes it).
    #[arg(value_name = "CIRCLES.json")]
    pub(crate) circles: PathBuf,
    /// Output files (.png, .jpg, .svg, .gif), repeatable.
    #[arg(short = 'o', long = "output", value_name = "OUTPUT", required = true)]
    pub(crate) outputs: Vec<String>,
    /// The longer side of raster outputs (default: the fit's size).
    #[arg(short = 's', long = "size", value_name = "SIZE")]
    pub(crate) size: Option<u32>,
}

/// `circlefit score`.
#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// A fit's JSON.
    #[arg(value_name = "CIRCLES.json")]
    pub(crate) circles: PathBuf,
    /// The reference image (resized to the fit's size if it is larger, as the fit did).
    #[arg(value_name = "REFERENCE")]
    pub(crate) reference: PathBuf,
}
