//! `circlefit render` and `circlefit score`: a saved fit drawn again, or checked against
//! an image, without the library.

use circlefit::checkpoint::Checkpoint;
use circlefit::io;
use circlefit::prelude::*;

use crate::args::{RenderArgs, ScoreArgs};
use crate::error::CliError;
use crate::outputs::{self, Format, Produced};

fn load(path: &std::path::Path) -> Result<Checkpoint, CliError> {
    Checkpoint::load(path).map_err(|source| CliError::checkpoint(path, source))
}

/// The saved fit's base: its colour, or the background image it names (at fit size).
fn base_of(cp: &Checkpoint) -> Result<Canvas, CliError> {
    if let Some([r, g, b]) = cp.base_color {
        return Ok(Canvas::filled(cp.width, cp.height, [r, g, b, 255])?);
    }
    let image = io::load_image(&cp.background).map_err(|e| {
        CliError::usage(format!(
            "the fit was drawn over the image {:?}, which cannot be read: {e}",
            cp.background
        ))
    })?;
    crate::fit::resized(&image, cp.width, cp.height)
}

/// Draws a saved fit's circles into each output.
///
/// # Errors
/// An unreadable checkpoint, a JSON output (it would only copy the input), or a write.
pub(crate) fn render(args: &RenderArgs) -> Result<(), CliError> {
    let cp = load(&args.circles)?;
    let outs = outputs::plan(&args.outputs, None, "render")?;
    if let Some(o) = outs.iter().find(|o| o.format == Format::Json) {
        return Err(CliError::usage(format!(
            "-o {}: render writes pictures (.png, .jpg, .svg, .gif)",
            o.path.display()
        )));
    }
    outputs::check_writable(&outs)?;
    let base = base_of(&cp)?;
    outputs::make_folders(&outs)?;
    let mut produced = Produced {
        base: base.as_ref(),
        circles: &cp.circles,
        edges: cp.edges,
        side: args.size.unwrap_or(cp.width.max(cp.height)),
        checkpoint: None,
        reference: None,
        svg: outputs::SvgStyle::default(),
    };
    outputs::write_all(&outs, &mut produced)
}

/// Prints the MSE, PSNR and SSIM of a saved fit against a reference image.
///
/// # Errors
/// An unreadable checkpoint or image, or an image of another shape than the fit's.
pub(crate) fn score(args: &ScoreArgs) -> Result<(), CliError> {
    let cp = load(&args.circles)?;
    let image = io::load_image(&args.reference)?;
    let (w, h) = (image.width(), image.height());
    // Same aspect within a pixel of rounding: the fit may have been made on a resized copy.
    if u64::from(w) * u64::from(cp.height) != u64::from(h) * u64::from(cp.width)
        && crate::draw::scaled_size(w, h, cp.width.max(cp.height)) != (cp.width, cp.height)
    {
        return Err(CliError::usage(format!(
            "{}: is {w}x{h}, which is not the shape of the fit ({}x{})",
            args.reference.display(),
            cp.width,
            cp.height
        )));
    }
    let reference = crate::fit::resized(&image, cp.width, cp.height)?;
    let base = base_of(&cp)?;
    let mut fit = base.clone();
    let Ok(()) = cp.renderer().draw(fit.as_mut(), &cp.circles);
    let mse = Mse.cost(fit.as_ref(), reference.as_ref())?;
    let s = ssim(fit.as_ref(), reference.as_ref())?;
    println!(
        "mse={mse:.4} psnr={:.4} ssim={s:.4} circles={}",
        psnr(mse),
        cp.circles.len()
    );
    Ok(())
}
