//! Residual seeding: starting candidates placed where the kept canvas is most wrong.

use crate::evaluator::Evaluator;
use crate::{ColorMode, SeedScales};
use circlefit_core::CanvasRef;
use circlefit_core::Circle;
use circlefit_core::CostFunc;
use circlefit_core::Renderer;
use circlefit_core::Result;

/// Side of the blocks of [`SeedScales::Blocks8`], in pixels.
const BLOCK: u32 = 8;

/// The block sides of [`SeedScales::MultiScale`], taken in turn, in pixels.
const SCALES: [u32; 4] = [4, 8, 16, 32];

/// The centres of the `n` `block` × `block` blocks with the largest squared R, G, B
/// error, largest first, no two adjacent (so seeds spread out).
fn worst_blocks<R: Renderer, C: CostFunc>(
    eval: &Evaluator<R, C>,
    n: usize,
    block: u32,
) -> Vec<(f64, f64)> {
    let (kept, reference) = (eval.kept(), eval.reference());
    let (w, h) = (kept.width(), kept.height());
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    let mut err = vec![0u64; (bw * bh) as usize];
    // The incremental cache already holds the per-pixel squared errors as row prefix sums.
    if !eval.block_squared_errors(block, &mut err) {
        block_squared_errors(kept, reference, block, &mut err);
    }
    let mut order: Vec<usize> = (0..err.len()).collect();
    // Ties by index keep the choice deterministic (a total order: the same blocks in the
    // same order however they are sorted).
    let worse = |&a: &usize, &b: &usize| err[b].cmp(&err[a]).then(a.cmp(&b));
    // The loop below looks at fewer than 9n blocks: each one it skips touches one already
    // picked, and a block has 8 neighbours. Only those need sorting (4 px blocks make
    // 4,096 on 256², sorted whole once per stage they were 4 % of a fit's time).
    let look = n.saturating_mul(9);
    if look < order.len() {
        order.select_nth_unstable_by(look, worse);
        order.truncate(look);
    }
    order.sort_unstable_by(worse);
    let mut picked: Vec<(u32, u32)> = Vec::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    let centre = |b: u32, size: u32| {
        (f64::from(b * block) + f64::from(block.min(size - b * block)) / 2.0).min(f64::from(size))
    };
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
        out.push((centre(bx, w), centre(by, h)));
    }
    out
}

/// Adds the squared R, G, B error of each `block` × `block` block to `err`, pixel by pixel.
fn block_squared_errors(
    kept: CanvasRef<'_>,
    reference: CanvasRef<'_>,
    block: u32,
    err: &mut [u64],
) {
    let bw = kept.width().div_ceil(block);
    for y in 0..kept.height() {
        let (k, r) = (kept.row(y), reference.row(y));
        for (x, (p, q)) in k.chunks_exact(4).zip(r.chunks_exact(4)).enumerate() {
            let e: u64 = (0..3).map(|c| u64::from(p[c].abs_diff(q[c])).pow(2)).sum();
            err[((y / block) * bw + x as u32 / block) as usize] += e;
        }
    }
}

/// Where each of `seeds` seeds of `count` circles goes: per seed, its circles' centres and
/// one radius.
fn seed_spots<R: Renderer, C: CostFunc>(
    eval: &Evaluator<R, C>,
    scales: SeedScales,
    count: usize,
    seeds: usize,
) -> Vec<(Vec<(f64, f64)>, f64)> {
    match scales {
        SeedScales::Blocks8 => {
            let spots = worst_blocks(eval, seeds * count, BLOCK);
            let radii = [0.5, 1.0, 2.0].map(|f| (f * f64::from(BLOCK)).max(1.0));
            (0..seeds)
                .map(|s| {
                    let at = (0..count).filter_map(|k| spots.get(s + k * seeds).copied());
                    (at.collect(), radii[s % radii.len()])
                })
                .collect()
        }
        SeedScales::MultiScale => {
            // Seed `s` takes scale `s % 4` and that scale's `s / 4`-th worst blocks.
            let per = seeds.div_ceil(SCALES.len());
            let spots: Vec<Vec<(f64, f64)>> = SCALES
                .iter()
                .map(|&b| worst_blocks(eval, per * count, b))
                .collect();
            // A scale that runs out of blocks (a small image has few large ones) drops its
            // seeds; the other scales keep theirs.
            (0..seeds)
                .map(|s| {
                    let (scale, i) = (s % SCALES.len(), s / SCALES.len());
                    let at = (0..count).filter_map(|k| spots[scale].get(i + k * per).copied());
                    (
                        at.collect::<Vec<_>>(),
                        (0.5 * f64::from(SCALES[scale])).max(1.0),
                    )
                })
                .filter(|(at, _)| at.len() == count)
                .collect()
        }
    }
}

/// Up to `seeds` starting candidates for a stage of `count` circles: each puts its circles
/// on the worst blocks `scales` says, alpha 0.8 and, when colours are searched, the
/// closed-form corrective colour (or mid-grey without spans). Seeds stop at the first one
/// that finds too few blocks with any error.
pub(crate) fn residual_seeds<R: Renderer, C: CostFunc>(
    eval: &mut Evaluator<R, C>,
    color: ColorMode,
    scales: SeedScales,
    count: usize,
    seeds: usize,
) -> Result<Vec<Vec<f64>>> {
    if seeds == 0 {
        return Ok(Vec::new());
    }
    let has_spans = eval.renderer().as_span_renderer().is_some();
    let mut out = Vec::with_capacity(seeds);
    for (at, r) in seed_spots(eval, scales, count, seeds) {
        if at.len() < count {
            break;
        }
        let mut x = Vec::with_capacity(count * 7);
        for (cx, cy) in at {
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
    fn multi_scale_seeds_take_each_block_size_in_turn_with_half_its_radius() {
        // One small, very wrong spot at (40, 10) and a large, mildly wrong area below.
        let (w, h) = (64u32, 64u32);
        let mut reference = vec![128u8; (w * h * 4) as usize];
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 4) as usize;
                if (40..42).contains(&x) && (10..12).contains(&y) {
                    reference[i..i + 3].copy_from_slice(&[255, 0, 0]);
                } else if y >= 32 {
                    reference[i..i + 3].copy_from_slice(&[150, 150, 150]);
                }
            }
        }
        let reference = Canvas::from_vec(w, h, reference).unwrap();
        let base = Canvas::filled(w, h, [128, 128, 128, 255]).unwrap();
        let mut eval = Evaluator::new(Discs, Sse, reference.as_ref(), base.as_ref()).unwrap();
        let seeds = residual_seeds(
            &mut eval,
            ColorMode::ClosedForm,
            SeedScales::MultiScale,
            1,
            8,
        )
        .unwrap();
        let radii: Vec<f64> = seeds.iter().map(|x| x[2]).collect();
        // A 64² image has room for one 32 px seed (its four blocks all touch).
        assert_eq!(radii, [2.0, 4.0, 8.0, 16.0, 2.0, 4.0, 8.0]);
        // The finest scale finds the small spot first: its 4 px block's centre.
        assert_eq!((seeds[0][0], seeds[0][1]), (42.0, 10.0));
        // The 8 px seeding of earlier rounds: radii 4, 8, 16 in turn.
        let old =
            residual_seeds(&mut eval, ColorMode::ClosedForm, SeedScales::Blocks8, 1, 4).unwrap();
        let radii: Vec<f64> = old.iter().map(|x| x[2]).collect();
        assert_eq!(radii, [4.0, 8.0, 16.0, 4.0]);
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
            block_squared_errors(eval.kept(), eval.reference(), BLOCK, &mut slow);
            assert_eq!(fast, slow, "{w}x{h}");
        }
    }
}
