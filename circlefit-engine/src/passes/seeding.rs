//! Residual seeding: starting candidates placed where the kept canvas is most wrong.

use crate::ColorMode;
use crate::evaluator::Evaluator;
use circlefit_core::CanvasRef;
use circlefit_core::Circle;
use circlefit_core::CostFunc;
use circlefit_core::Renderer;
use circlefit_core::Result;

/// Side of the blocks over which the error is summed, in pixels.
const BLOCK: u32 = 8;

/// The centres of the `n` blocks with the largest squared R, G, B error, largest first,
/// no two adjacent (so seeds spread out).
fn worst_blocks<R: Renderer, C: CostFunc>(
    eval: &Evaluator<R, C>,
    n: usize,
) -> Vec<(f64, f64, u64)> {
    let (kept, reference) = (eval.kept(), eval.reference());
    let (w, h) = (kept.width(), kept.height());
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut err = vec![0u64; (bw * bh) as usize];
    // The incremental cache already holds the per-pixel squared errors as row prefix sums.
    if !eval.block_squared_errors(BLOCK, &mut err) {
        block_squared_errors(kept, reference, &mut err);
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

/// Adds the squared R, G, B error of each block to `err`, pixel by pixel.
fn block_squared_errors(kept: CanvasRef<'_>, reference: CanvasRef<'_>, err: &mut [u64]) {
    let bw = kept.width().div_ceil(BLOCK);
    for y in 0..kept.height() {
        let (k, r) = (kept.row(y), reference.row(y));
        for (x, (p, q)) in k.chunks_exact(4).zip(r.chunks_exact(4)).enumerate() {
            let e: u64 = (0..3).map(|c| u64::from(p[c].abs_diff(q[c])).pow(2)).sum();
            err[((y / BLOCK) * bw + x as u32 / BLOCK) as usize] += e;
        }
    }
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
    let spots = worst_blocks(eval, seeds * count);
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

#[cfg(test)]
mod tests {
    use super::*;
    use circlefit_core::PixelSumCost;
    use circlefit_core::raster::RasterCircle;
    use circlefit_core::{Canvas, CanvasMut};
    use circlefit_core::{Circle, Span};
    use circlefit_core::{Renderer, SpanRenderer};

    #[derive(Debug)]
    struct Discs;
    impl Renderer for Discs {
        type Error = std::convert::Infallible;
        fn draw(&mut self, mut c: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
            let (w, h) = (c.width(), c.height());
            for k in circles {
                let mut s = Vec::new();
                self.spans(k, w, h, &mut s);
                for s in s {
                    self.composite(k, c.row_segment_mut(s.y, s.x0, s.x1));
                }
            }
            Ok(())
        }
        fn as_span_renderer(&self) -> Option<&dyn SpanRenderer> {
            Some(self)
        }
    }
    impl SpanRenderer for Discs {
        fn spans(&self, c: &Circle, w: u32, h: u32, out: &mut Vec<Span>) {
            RasterCircle::new(c).spans(w, h, out);
        }
        fn composite(&self, c: &Circle, px: &mut [u8]) {
            RasterCircle::new(c).composite(px);
        }
    }
    #[derive(Debug)]
    struct Sse;
    impl PixelSumCost for Sse {
        fn sum(&self, a: &[u8], b: &[u8]) -> u64 {
            a.chunks_exact(4)
                .zip(b.chunks_exact(4))
                .map(|(p, q)| {
                    (0..3)
                        .map(|k| u64::from(p[k].abs_diff(q[k])).pow(2))
                        .sum::<u64>()
                })
                .sum()
        }
        fn finish(&self, s: u64, n: u64) -> f64 {
            s as f64 / n as f64
        }
        fn term(&self) -> circlefit_core::PixelTerm {
            circlefit_core::PixelTerm::SquaredRgb
        }
    }
    impl CostFunc for Sse {
        type Error = std::convert::Infallible;
        fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
            Ok(self.finish(self.sum(a.as_bytes(), b.as_bytes()), a.pixel_count()))
        }
        fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
            Some(self)
        }
    }

    #[test]
    fn block_errors_from_the_cache_equal_the_pixel_sums() {
        for (w, h) in [(37u32, 29u32), (8, 8), (1, 17), (64, 3)] {
            let bytes = |seed: u32| -> Vec<u8> {
                (0..w * h * 4)
                    .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
                    .collect()
            };
            let reference = Canvas::from_vec(w, h, bytes(1)).unwrap();
            let base = Canvas::from_vec(w, h, bytes(7)).unwrap();
            let mut eval = Evaluator::new(Discs, Sse, reference.as_ref(), base.as_ref()).unwrap();
            eval.commit(&[Circle::new(5.0, 6.0, 4.0, [0.2, 0.9, 0.4], 0.6).unwrap()])
                .unwrap();
            let n = (w.div_ceil(BLOCK) * h.div_ceil(BLOCK)) as usize;
            let (mut fast, mut slow) = (vec![0u64; n], vec![0u64; n]);
            assert!(eval.block_squared_errors(BLOCK, &mut fast));
            block_squared_errors(eval.kept(), eval.reference(), &mut slow);
            assert_eq!(fast, slow, "{w}x{h}");
        }
    }
}
