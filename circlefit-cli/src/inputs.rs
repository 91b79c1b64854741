//! The images of a run: files, folders (their PNG and JPEG files in name order; with
//! `--recursive`, their sub-folders' too), list files (`@list.txt`, or `-` for standard
//! input: one path a line, blank lines and `#` comments skipped), or the bundled photo.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// The most images one run takes.
pub(crate) const MAX_INPUTS: usize = 100_000;

/// One image to fit.
#[derive(Clone, Debug)]
pub(crate) struct Input {
    /// The file (`None`: the bundled photo).
    pub(crate) path: Option<PathBuf>,
    /// `{name}` in output names: the file stem.
    pub(crate) name: String,
}

impl Input {
    pub(crate) fn file(path: PathBuf) -> Self {
        let name = path
            .file_stem()
            .map_or_else(|| "image".to_owned(), |s| s.to_string_lossy().into_owned());
        Self {
            path: Some(path),
            name,
        }
    }

    /// The bundled cat.
    pub(crate) fn bundled() -> Self {
        Self {
            path: None,
            name: "chelsea".into(),
        }
    }

    /// How the input is named in messages.
    pub(crate) fn label(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| self.name.clone(), |p| p.display().to_string())
    }
}

/// Whether `path` has a PNG or JPEG extension (what a folder contributes).
fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .is_some_and(|e| matches!(e.as_str(), "png" | "jpg" | "jpeg"))
}

/// Expands `given` (as typed) into the images to fit, in order.
///
/// # Errors
/// A folder or list file that cannot be read, a folder without images, more than
/// [`MAX_INPUTS`] images.
pub(crate) fn expand(given: &[PathBuf], recursive: bool) -> Result<Vec<Input>, CliError> {
    let mut out = Vec::new();
    for g in given {
        let text = g.to_string_lossy();
        if text == "-" {
            let lines = std::io::stdin().lock().lines();
            out.extend(listed(lines, "standard input")?);
        } else if let Some(list) = text.strip_prefix('@') {
            let file = std::fs::File::open(list)
                .map_err(|e| CliError::usage(format!("@{list}: cannot read the list: {e}")))?;
            out.extend(listed(std::io::BufReader::new(file).lines(), list)?);
        } else if g.is_dir() {
            let before = out.len();
            walk(g, recursive, &mut out)?;
            if out.len() == before {
                return Err(CliError::usage(format!(
                    "{}: the folder holds no PNG or JPEG files{}",
                    g.display(),
                    if recursive {
                        ""
                    } else {
                        " (--recursive reads its sub-folders)"
                    }
                )));
            }
        } else {
            out.push(Input::file(g.clone()));
        }
        if out.len() > MAX_INPUTS {
            return Err(CliError::usage(format!("more than {MAX_INPUTS} inputs")));
        }
    }
    Ok(out)
}

fn listed(
    lines: impl Iterator<Item = std::io::Result<String>>,
    source: &str,
) -> Result<Vec<Input>, CliError> {
    let mut out = Vec::new();
    for line in lines {
        let line = line.map_err(|e| CliError::usage(format!("{source}: {e}")))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(Input::file(PathBuf::from(line)));
        if out.len() > MAX_INPUTS {
            return Err(CliError::usage(format!(
                "{source}: more than {MAX_INPUTS} inputs"
            )));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, recursive: bool, out: &mut Vec<Input>) -> Result<(), CliError> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| CliError::usage(format!("{}: cannot read the folder: {e}", dir.display())))?;
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if recursive {
                walk(&path, recursive, out)?;
            }
        } else if is_image(&path) {
            out.push(Input::file(path));
            if out.len() > MAX_INPUTS {
                return Err(CliError::usage(format!("more than {MAX_INPUTS} inputs")));
            }
        }
    }
    Ok(())
}
