//! Which polishing slots can be searched at the same time: their search boxes, what pixels
//! those can reach, and the groups of slots whose reaches are disjoint.

use circlefit_core::{Bounds, Circle, Result};

/// Half-width of the polishing search box around a circle, as a fraction of each range.
const LOCAL: f64 = 0.05;

/// A circle's bounding box `[x0, y0, x1, y1]`, `margin` (the renderer's reach beyond the
/// radius) wider on every side.
pub(super) fn bounding_box(c: &Circle, margin: f64) -> [f64; 4] {
    let r = c.radius() + margin;
    [c.x() - r, c.y() - r, c.x() + r, c.y() + r]
}

/// The smallest box holding both.
pub(super) fn union_box(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// The search box of a slot: ±5 % of every range around `old`'s parameters, inside
/// `bounds`.
pub(super) fn local_box(bounds: &Bounds, old: &Circle) -> Result<Bounds> {
    let start = old.to_params();
    let (lo, hi) = (bounds.lower(), bounds.upper());
    let near = |j: usize, f: f64| {
        let r = LOCAL * (hi[j] - lo[j]);
        (start[j] + f * r).clamp(lo[j], hi[j])
    };
    Bounds::new(
        (0..start.len()).map(|j| near(j, -1.0)).collect(),
        (0..start.len()).map(|j| near(j, 1.0)).collect(),
    )
}

/// The pixels any circle of a slot's search box can cover, as `[x0, y0, x1, y1]` (with
/// `margin`, the renderer's reach beyond the radius).
pub(super) fn reach(local: &Bounds, margin: f64) -> [f64; 4] {
    let (lo, hi) = (local.lower(), local.upper());
    let r = hi[2] + margin;
    [lo[0] - r, lo[1] - r, hi[0] + r, hi[1] + r]
}

pub(super) fn disjoint(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[2] < b[0] || b[2] < a[0] || a[3] < b[1] || b[3] < a[1]
}

/// How far ahead (in slots) polishing looks for a partner slot to search alongside.
pub(super) const LOOKAHEAD: usize = 24;

/// Slots polishing searches at once, at most: the first unsearched one and the next ones
/// (within [`LOOKAHEAD`]) whose search boxes reach no pixel any other of the group can.
/// Groups of 4 and 8 were measured on the default fit: no faster on two threads (there the
/// loss is each thread keeping its own canvases in step, not waiting for the slower slot),
/// and a different schedule, so pairs stay.
pub(super) const GROUP: usize = 2;

/// Adds to `group` (holding the first slot) up to [`GROUP`] − 1 of the next
/// [`LOOKAHEAD`] unsearched slots, each of another circle and with a search box that
/// reaches none of the pixels the group's boxes reach, marked as taken.
pub(super) fn extend_group(
    bounds: &Bounds,
    margin: f64,
    circles: &[Circle],
    done: &mut [bool],
    group: &mut Vec<(usize, usize, Bounds)>,
    slot: &dyn Fn(usize) -> usize,
) -> Result<()> {
    let k = group[0].0;
    let mut reaches = vec![reach(&group[0].2, margin)];
    let ahead = (k + 1 + LOOKAHEAD).min(done.len());
    for (kk, taken) in done.iter_mut().enumerate().take(ahead).skip(k + 1) {
        if group.len() == GROUP {
            break;
        }
        let j = slot(kk);
        if *taken || group.iter().any(|g| g.1 == j) {
            continue;
        }
        let other = local_box(bounds, &circles[j])?;
        let r = reach(&other, margin);
        if reaches.iter().all(|g| disjoint(g, &r)) {
            *taken = true;
            reaches.push(r);
            group.push((kk, j, other));
        }
    }
    Ok(())
}
