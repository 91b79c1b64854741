//! Output files: the format from the extension, `{name}` filled in, written atomically, the
//! JSON last so that it always describes the pictures beside it.

use std::path::{Path, PathBuf};

use circlefit::checkpoint::Checkpoint;
use circlefit::io;
use circlefit::prelude::*;

use crate::draw;
use crate::error::CliError;

/// An output's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Jpeg,
    Svg,
    Json,
    Gif,
    /// The SVG as a `data:` URI (`.uri`), for inlining a placeholder in HTML or CSS.
    Uri,
}

/// One output file to write.
#[derive(Clone, Debug)]
pub(crate) struct Output {
    pub(crate) path: PathBuf,
    pub(crate) format: Format,
}

impl Format {
    /// The format an output path asks for, by its extension.
    ///
    /// # Errors
    /// [`CliError::Usage`] for a missing or unknown extension.
    pub(crate) fn of(path: &str) -> Result<Self, CliError> {
        let ext = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Self::Png),
            Some("jpg" | "jpeg") => Ok(Self::Jpeg),
            Some("svg") => Ok(Self::Svg),
            Some("json") => Ok(Self::Json),
            Some("gif") => Ok(Self::Gif),
            Some("uri") => Ok(Self::Uri),
            _ => Err(CliError::usage(format!(
                "-o {path}: unknown output format; use .png, .jpg, .svg, .uri (the SVG as a data URI), .json or .gif"
            ))),
        }
    }
}

/// The outputs for one input named `name`: each `-o` pattern, then `--out PREFIX`'s three.
///
/// # Errors
/// [`CliError::Usage`] for an unknown extension or an empty path.
pub(crate) fn plan(
    patterns: &[String],
    prefix: Option<&str>,
    name: &str,
) -> Result<Vec<Output>, CliError> {
    let mut paths: Vec<String> = patterns.iter().map(|p| p.replace("{name}", name)).collect();
    if let Some(prefix) = prefix {
        let prefix = prefix.replace("{name}", name);
        if prefix.is_empty() || prefix.ends_with('/') {
            return Err(CliError::usage(format!(
                "--out {prefix:?}: give a file prefix such as out/fit"
            )));
        }
        paths.extend(["png", "svg", "json"].map(|e| format!("{prefix}.{e}")));
    }
    let mut seen = std::collections::HashSet::new();
    paths
        .into_iter()
        // One file named twice (`-o a.json --out a`) is one output.
        .filter(|p| seen.insert(normalized(Path::new(p))))
        .map(|p| {
            let format = Format::of(&p)?;
            if Path::new(&p)
                .file_stem()
                .is_none_or(|s| s.is_empty() || s.to_string_lossy().starts_with('.'))
            {
                return Err(CliError::usage(format!(
                    "-o {p:?}: the file needs a name before the extension"
                )));
            }
            Ok(Output {
                path: PathBuf::from(p),
                format,
            })
        })
        .collect()
}

/// `path` without `.` components, so `./a.png` and `a.png` are one output.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Checks before fitting, without making anything, that every output could be written:
/// no output path is a folder, and a file can be created (a probe, removed at once) in its
/// folder or, where that does not exist yet, in the nearest folder above it that does.
///
/// # Errors
/// [`CliError::Output`] naming the path.
pub(crate) fn check_writable(outputs: &[Output]) -> Result<(), CliError> {
    let mut probed = std::collections::HashSet::new();
    for o in outputs {
        let fail = |message: String| CliError::Output {
            path: o.path.display().to_string(),
            message,
        };
        if o.path.is_dir() {
            return Err(fail("is a folder, not a file".into()));
        }
        let mut dir = o
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        while !dir.exists() {
            dir = dir
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
        }
        if !dir.is_dir() {
            return Err(fail(format!("{} is not a folder", dir.display())));
        }
        if probed.insert(dir.to_owned()) {
            let probe = dir.join(format!(".circlefit-probe-{}", std::process::id()));
            std::fs::File::create(&probe)
                .map_err(|e| fail(format!("cannot write in {}: {e}", dir.display())))?;
            let _ = std::fs::remove_file(&probe);
        }
    }
    Ok(())
}

/// Makes the outputs' folders (just before writing them).
///
/// # Errors
/// [`CliError::Output`] naming the path whose folder cannot be made.
pub(crate) fn make_folders(outputs: &[Output]) -> Result<(), CliError> {
    for o in outputs {
        if let Some(dir) = o.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| CliError::Output {
                path: o.path.display().to_string(),
                message: format!("cannot create its folder: {e}"),
            })?;
        }
    }
    Ok(())
}

/// What a fit produced, ready to be written.
pub(crate) struct Produced<'a> {
    pub(crate) base: CanvasRef<'a>,
    pub(crate) circles: &'a [Circle],
    /// The raster model the circles were fitted with.
    pub(crate) edges: Edges,
    /// The raster outputs' longer side.
    pub(crate) side: u32,
    /// The checkpoint, written to every JSON output (SSIM filled in just before).
    pub(crate) checkpoint: Option<Checkpoint>,
    /// The reference at fit size, for the SSIM in the JSON.
    pub(crate) reference: Option<CanvasRef<'a>>,
    /// How SVG and URI outputs are written.
    pub(crate) svg: SvgStyle,
}

/// `--compact-svg` and `--svg-blur`: full precision, or a placeholder's compact SVG.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SvgStyle {
    pub(crate) compact: bool,
    pub(crate) blur: Option<f64>,
}

impl SvgStyle {
    /// The style the flags (and `--preset`) ask for.
    pub(crate) fn of(args: &crate::args::FitArgs) -> Self {
        let preset = args.preset.map(crate::args::Preset::defaults);
        Self {
            compact: args.compact_svg || preset.is_some_and(|p| p.compact_svg),
            blur: args.svg_blur.or(preset.and_then(|p| p.svg_blur)),
        }
    }

    /// The SVG of `p` in this style (a URI output is always compact).
    fn svg(self, p: &Produced<'_>, uri: bool) -> Result<String, CliError> {
        let (w, h) = (p.base.width(), p.base.height());
        let background = io::Background::of(p.base);
        if self.compact || uri || self.blur.is_some() {
            let style = match self.blur {
                Some(sigma) => io::CompactSvg::blurred(sigma),
                None => io::CompactSvg::new(),
            };
            Ok(io::to_svg_compact(
                w, h, background, p.circles, p.edges, style,
            )?)
        } else {
            Ok(io::to_svg_with(w, h, background, p.circles, p.edges)?)
        }
    }
}

/// Writes every output: the pictures as one set (`io::write_set`: nothing is renamed into
/// place until all are written), then — the pictures safe on disk before any optional
/// metric runs — the SSIM, then the JSON naming each picture's content hash, last.
///
/// # Errors
/// The first failure, naming its path.
pub(crate) fn write_all(outputs: &[Output], p: &mut Produced<'_>) -> Result<(), CliError> {
    let mut picture: Option<Canvas> = None;
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::with_capacity(outputs.len());
    for o in outputs.iter().filter(|o| o.format != Format::Json) {
        let path = o.path.display().to_string();
        let bytes = match o.format {
            Format::Png | Format::Jpeg => {
                if picture.is_none() {
                    picture = Some(draw::picture(p.base, p.circles, p.side, p.edges)?);
                }
                let canvas = picture.as_ref().expect("drawn just above");
                encode(canvas.as_ref(), o.format, &path)?
            }
            Format::Svg => p.svg.svg(p, false)?.into_bytes(),
            Format::Uri => io::svg_data_uri(&p.svg.svg(p, true)?).into_bytes(),
            Format::Gif => draw::gif(p.base, p.circles, p.side, p.edges, &path)?,
            Format::Json => unreachable!("filtered out above"),
        };
        files.push((o.path.clone(), bytes));
    }
    io::write_set(&files)?;
    let jsons: Vec<&Output> = outputs
        .iter()
        .filter(|o| o.format == Format::Json)
        .collect();
    if let (false, Some(cp)) = (jsons.is_empty(), p.checkpoint.as_mut()) {
        if let (None, Some(reference)) = (cp.ssim, p.reference) {
            let mut fit = p.base.to_canvas();
            let Ok(()) = CpuRenderer::with_edges(p.edges).draw(fit.as_mut(), p.circles);
            cp.ssim = Some(ssim(fit.as_ref(), reference)?);
        }
        cp.files = files
            .iter()
            .map(|(path, bytes)| {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                (name, circlefit::checkpoint::content_hash(bytes))
            })
            .collect();
        let text = cp.to_json().map_err(|e| CliError::Output {
            path: jsons[0].path.display().to_string(),
            message: e.to_string(),
        })?;
        let set: Vec<(PathBuf, Vec<u8>)> = jsons
            .iter()
            .map(|o| (o.path.clone(), text.clone().into_bytes()))
            .collect();
        io::write_set(&set)?;
    }
    Ok(())
}

fn encode(canvas: CanvasRef<'_>, format: Format, path: &str) -> Result<Vec<u8>, CliError> {
    match format {
        Format::Png => Ok(io::encode_png(canvas)?),
        _ => {
            let rgb = image::DynamicImage::ImageRgba8(image::RgbaImage::from(canvas)).to_rgb8();
            let mut out = std::io::Cursor::new(Vec::new());
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
                .encode_image(&rgb)
                .map_err(|e| CliError::Output {
                    path: path.into(),
                    message: format!("cannot encode JPEG: {e}"),
                })?;
            Ok(out.into_inner())
        }
    }
}
