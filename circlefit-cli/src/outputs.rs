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
            _ => Err(CliError::usage(format!(
                "-o {path}: unknown output format; use .png, .jpg, .svg, .json or .gif"
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
    paths
        .into_iter()
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

/// Checks before fitting that every output's folder exists or can be made and is a folder,
/// and that no output path is a folder.
///
/// # Errors
/// [`CliError::Output`] naming the path.
pub(crate) fn check_writable(outputs: &[Output]) -> Result<(), CliError> {
    for o in outputs {
        let fail = |message: String| CliError::Output {
            path: o.path.display().to_string(),
            message,
        };
        if o.path.is_dir() {
            return Err(fail("is a folder, not a file".into()));
        }
        if let Some(dir) = o.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create its folder: {e}")))?;
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
            Format::Svg => {
                let (w, h) = (p.base.width(), p.base.height());
                io::to_svg_with(w, h, io::Background::of(p.base), p.circles, p.edges)?.into_bytes()
            }
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
        if let Some(reference) = p.reference {
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
