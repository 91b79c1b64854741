//! Residual seeding: starting candidates placed where the kept canvas is most wrong.

use super::ColorMode;
use super::evaluator::Evaluator;
use crate::canvas::CanvasRef;
use crate::circle::Circle;
use crate::cost::CostFunc;
use crate::error::Result;
use crate::render::Renderer;

/// Side of the blocks over which the error is summed, in pixels.
const BLOCK: u32 = 8;

/// The centres of the `n` blocks with the largest squared R, G, B error, largest first,
/// no two adjacent (so seeds spread out).
fn worst_blocks(kept: CanvasRef<'_>, reference: CanvasRef<'_>, n: usize) -> Vec<(f64, f64, u64)> {
    let (w, h) = (kept.width(), kept.height());
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut err = vec![0u64; (bw * bh) as usize];
    for y in 0..h {
        let (k, r) = (kept.row(y), reference.row(y));
        for (x, (p, q)) in k.chunks_exact(4).zip(r.chunks_exact(4)).enumerate() {
            let e: u64 = (0..3).map(|c| u64::from(p[c].abs_diff(q[c])).pow(2)).sum();
            err[((y / BLOCK) * bw + x as u32 / BLOCK) as usize] += e;
        }
    }
    let mut order: Vec<usize> = (0..err.len()).collect();
    // Ties by index keep the choice deterministic.
    order.sort_unstable_by(|&a, &b| err[b].cmp(&err[a]).then(a.cmp(&b)));
    let mut picked: Vec<(u32, u32)> = Vec::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    for i in order {
        if out.len() == n || err[i] == 0 {
            break;
        }
        let (bx, by) = (i as u32 % bw, i as u32 / bw);
        if picked
            .iter()
            .any(|&(px, py)| px.abs_diff(bx) <= 1 && py.abs_diff(by) <= 1)
        {
            continue;
        }
        picked.push((bx, by));
        let cx =
            (f64::from(bx * BLOCK) + f64::from(BLOCK.min(w - bx * BLOCK)) / 2.0).min(f64::from(w));
        let cy =
            (f64::from(by * BLOCK) + f64::from(BLOCK.min(h - by * BLOCK)) / 2.0).min(f64::from(h));
        out.push((cx, cy, err[i]));
    }
    out
}

/// Up to `seeds` starting candidates for a stage of `count` circles: each puts its circles
/// on the worst blocks, with radii cycling through 0.5, 1 and 2 blocks, alpha 0.8 and, when
/// colours are searched, the closed-form corrective colour (or mid-grey without spans).
pub(crate) fn residual_seeds<R: Renderer, C: CostFunc>(
    eval: &mut Evaluator<R, C>,
    color: ColorMode,
    count: usize,
    seeds: usize,
) -> Result<Vec<Vec<f64>>> {
    if seeds == 0 {
        return Ok(Vec::new());
    }
    let spots = worst_blocks(eval.kept(), eval.reference(), seeds * count);
    let radii = [0.5, 1.0, 2.0].map(|f| (f * f64::from(BLOCK)).max(1.0));
    let has_spans = eval.renderer().as_span_renderer().is_some();
    let mut out = Vec::with_capacity(seeds);
    for s in 0..seeds {
        let mut x = Vec::with_capacity(count * 7);
        for k in 0..count {
            let Some(&(cx, cy, _)) = spots.get(s + k * seeds) else {
                return Ok(out);
            };
            let r = radii[s % radii.len()];
            match color {
                ColorMode::ClosedForm => x.extend_from_slice(&[cx, cy, r, 0.8]),
                ColorMode::Search => {
                    let shape = Circle::new(cx, cy, r, [0.5; 3], 0.8)?;
                    let c = if has_spans {
                        eval.best_color(&shape)?
                    } else {
                        [0.5; 3]
                    };
                    x.extend_from_slice(&[cx, cy, r, c[0], c[1], c[2], 0.8]);
                }
            }
        }
        out.push(x);
    }
    Ok(out)
}
