//! The circles a page draws while a job runs: where a job's current circles are (its result
//! once ended, else the circles written while polishing or refining, else its last stage
//! checkpoint), each turned into the numbers the SVG export draws it with, and the changes
//! between two such lists, which progress events carry.

use circlefit::checkpoint::{Checkpoint, from_exact_bits};
use circlefit::core::raster::{quantize_alpha, quantize_channel};
use circlefit::core::smooth::soft_gradient;
use circlefit::prelude::*;

use crate::fit::StageCheckpoint;
use crate::model::{CircleSource, JobId, JobStatus};
use crate::store::{JobStore, StoreError};

/// One circle as the SVG export draws it: `[x, y, r, red, green, blue, opacity]`, and for a
/// soft edge two more, the gradient's outer radius and where its fade starts
/// (`<radialGradient>` from `inner` to 1 of `outer`).
pub(crate) type Drawn = Vec<f64>;

/// What every drawn circle of a job sits on.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub(crate) struct Frame {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The base the circles are drawn over: the reference's mean colour.
    pub(crate) background: [u8; 3],
    pub(crate) edges: Edges,
}

impl Frame {
    /// The frame of a job from its upload and stored settings.
    pub(crate) fn of(upload: &[u8], settings: &str) -> Result<Self, String> {
        let plan = crate::settings::stored_plan(settings)?;
        let (reference, _) = crate::fit::images(upload)?;
        let [r, g, b, _] = reference.mean_color();
        Ok(Self {
            width: reference.width(),
            height: reference.height(),
            background: [r, g, b],
            edges: plan.edges,
        })
    }

    /// `circles` as drawn on this frame.
    pub(crate) fn draw(&self, circles: &[Circle]) -> Vec<Drawn> {
        circles.iter().map(|c| self.draw_one(c)).collect()
    }

    fn draw_one(&self, c: &Circle) -> Drawn {
        let [r, g, b] = c.color().map(quantize_channel);
        let a = f64::from(quantize_alpha(c.alpha())) / 256.0;
        let mut d = vec![c.x(), c.y(), c.radius(), r.into(), g.into(), b.into(), a];
        if let Some((outer, inner)) = soft_gradient(c, self.edges, self.width, self.height) {
            d.extend([outer, inner]);
        }
        d
    }
}

/// A job's circles now, with its status and the frame they sit on.
pub(crate) struct Live {
    pub(crate) status: JobStatus,
    pub(crate) frame: Frame,
    pub(crate) circles: Vec<Circle>,
}

/// Reads job `id`'s circles now (`None`: no such job), with its frame: `frame` when the
/// caller has it already (an event stream reads it once), else from the upload. Blocking:
/// it decodes.
///
/// # Errors
///
/// The store's, or [`StoreError::Corrupt`] for an upload, settings or checkpoint stored
/// that cannot be read.
pub(crate) fn load(
    store: &dyn JobStore,
    id: JobId,
    frame: Option<Frame>,
) -> Result<Option<Live>, StoreError> {
    let Some(source) = store.circles(id)? else {
        return Ok(None);
    };
    let frame = match frame {
        Some(frame) => frame,
        None => {
            let Some((upload, settings)) = store.source(id)? else {
                return Ok(None);
            };
            Frame::of(&upload, &settings).map_err(StoreError::Corrupt)?
        }
    };
    let circles = current(&source).map_err(StoreError::Corrupt)?;
    Ok(Some(Live {
        status: source.status,
        frame,
        circles,
    }))
}

/// A job's current circles (none for a job that has not kept a stage yet, or failed).
///
/// # Errors
///
/// A stored checkpoint that cannot be read.
fn current(source: &CircleSource) -> Result<Vec<Circle>, String> {
    if source.status.is_terminal() {
        return match &source.checkpoint {
            Some(json) => Ok(Checkpoint::from_json(json)
                .map_err(|e| e.to_string())?
                .circles),
            None => Ok(Vec::new()),
        };
    }
    let bits: Vec<String> = match (&source.live, &source.progress) {
        (Some(live), _) => serde_json::from_str(live).map_err(|e| e.to_string())?,
        (None, Some(progress)) => {
            let p: StageCheckpoint = serde_json::from_str(progress).map_err(|e| e.to_string())?;
            p.exact
        }
        (None, None) => return Ok(Vec::new()),
    };
    from_exact_bits(&bits).map_err(|e| e.to_string())
}

/// What changed from `old` to `new`: `(index, circle)` for every circle that is new or
/// moved, and the new count (a client sets each index, then truncates to the count).
pub(crate) fn changes<'a>(old: &[Drawn], new: &'a [Drawn]) -> Vec<(usize, &'a Drawn)> {
    new.iter()
        .enumerate()
        .filter(|(i, d)| old.get(*i) != Some(*d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_new_and_moved_circles_only() {
        let a = vec![vec![1.0], vec![2.0], vec![3.0]];
        let b = vec![vec![1.0], vec![9.0], vec![3.0], vec![4.0]];
        let c = changes(&a, &b);
        assert_eq!(c, vec![(1, &vec![9.0]), (3, &vec![4.0])]);
        assert!(changes(&b, &b).is_empty());
        assert_eq!(changes(&[], &a).len(), 3);
    }
}
