//! `--skip-existing`: an input whose outputs are already there — its JSON recording the same
//! image file (by content hash), the same settings and a fit that ran to its end, and every
//! other output present with the content the JSON lists — is not fitted again. A re-run
//! after a crash or Ctrl-C does only what is missing.

use circlefit::checkpoint::{Checkpoint, content_hash};
use circlefit::io;

use crate::args::FitArgs;
use crate::fit::{Fitted, Source};
use crate::outputs::{Format, Output};

/// The saved fit's figures if `outputs` already hold this input's finished fit.
pub(crate) fn already_done(outputs: &[Output], args: &FitArgs, src: &Source) -> Option<Fitted> {
    let json = outputs.iter().find(|o| o.format == Format::Json)?;
    let cp = Checkpoint::load(&json.path).ok()?;
    let (_, hash) = src.recorded.as_ref()?;
    if cp.stopped || cp.input_hash.as_deref() != Some(hash.as_str()) {
        return None;
    }
    let plan = crate::fit::plan_of(args).ok()?;
    let background = args.background.as_deref().unwrap_or("mean");
    if cp.settings != plan.settings
        || cp.mayfly != plan.mayfly
        || cp.edges != plan.edges
        || cp.background != background
    {
        return None;
    }
    let (w, h) = io::image_dimensions(&src.bytes, &src.name).ok()?;
    let side = args.resize();
    let fit = if side == 0 || w.max(h) <= side {
        (w, h)
    } else {
        crate::draw::scaled_size(w, h, side)
    };
    if (cp.width, cp.height) != fit {
        return None;
    }
    for o in outputs.iter().filter(|o| o.format != Format::Json) {
        let name = o.path.file_name()?.to_string_lossy().into_owned();
        let bytes = std::fs::read(&o.path).ok()?;
        if cp.files.get(&name) != Some(&content_hash(&bytes)) {
            return None;
        }
    }
    Some(Fitted {
        circles: cp.circles.len(),
        psnr: cp.psnr,
        evaluations: cp.evaluations,
        seconds: 0.0,
        interrupted: false,
        skipped: true,
    })
}
