//! The smooth-edged (anti-aliased) and soft-edged renderers through the engine: their
//! incremental costs equal a full render, on every path (fused kernel, scratch canvas for a
//! position-dependent blend, polishing).

use crate::common::*;
use proptest::prelude::{ProptestConfig, prop_assert_eq, proptest};
use proptest::strategy::Strategy as _;

const MODES: [Strategy; 3] = [Strategy::Joint, Strategy::Sequential, Strategy::batch(3)];

fn smooth() -> CpuRenderer {
    CpuRenderer::with_edges(Edges::Smooth)
}

fn soft() -> CpuRenderer {
    CpuRenderer::with_edges(Edges::Soft)
}

/// Mse's sums without claiming `PixelTerm::SquaredRgb`: no fused kernel, so a single
/// candidate of a renderer that blends by position goes through the scratch canvas.
#[derive(Debug, Default)]
struct PlainSums;

impl CostFunc for PlainSums {
    type Error = circlefit_cost::Error;
    fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
        Mse.cost(a, b)
    }
    fn as_pixel_sum(&self) -> Option<&dyn PixelSumCost> {
        Some(self)
    }
}

impl PixelSumCost for PlainSums {
    fn sum(&self, candidate: &[u8], reference: &[u8]) -> u64 {
        Mse.as_pixel_sum().unwrap().sum(candidate, reference)
    }
    fn finish(&self, sum: u64, pixels: u64) -> f64 {
        Mse.as_pixel_sum().unwrap().finish(sum, pixels)
    }
}

type Case = (Canvas, Canvas, Vec<Circle>, Vec<Circle>);

/// The engine's random scenes (`strategies.rs`), the kept stages as one list.
fn arb_case() -> impl proptest::strategy::Strategy<Value = Case> {
    crate::strategies::arb_case().prop_map(|(r, b, kept, cand)| (r, b, kept.concat(), cand))
}

/// Soft ramps wider than a pixel need canvases of 256 px and more (the cap is a 128th of
/// the shorter side): canvases of 256–400 px with a few random circles on random pixels.
fn arb_large_case() -> impl proptest::strategy::Strategy<Value = Case> {
    use proptest::prelude::*;
    (256u32..400, 256u32..400, any::<u64>()).prop_flat_map(|(w, h, seed)| {
        let canvas = move |s: u64| {
            let mut rng = SplitMix64::new(s);
            let bytes = (0..w * h * 4)
                .map(|_| (rng.next_u64() >> 56) as u8)
                .collect();
            Canvas::from_vec(w, h, bytes).unwrap()
        };
        (
            prop::collection::vec(crate::strategies::arb_circle(w, h), 0..4),
            prop::collection::vec(crate::strategies::arb_circle(w, h), 1..4),
        )
            .prop_map(move |(kept, cand)| (canvas(seed), canvas(seed ^ 1), kept, cand))
    })
}

/// Every prefix of `cand` over the kept circles, scored by `cost`'s incremental path with
/// `edges`, equals rendering everything from the base and the full cost.
fn check<C: CostFunc>(cost: C, case: &Case) -> Result<(), String> {
    check_edges(Edges::Smooth, cost, case)
}

fn check_edges<C: CostFunc>(
    edges: Edges,
    cost: C,
    (reference, base, kept, cand): &Case,
) -> Result<(), String> {
    let renderer = || CpuRenderer::with_edges(edges);
    let mut fast = Evaluator::new(renderer(), cost, reference.as_ref(), base.as_ref()).unwrap();
    if !fast.is_incremental() {
        return Err(format!(
            "the {edges} renderer should be scored incrementally"
        ));
    }
    fast.commit(kept).unwrap();
    for k in 1..=cand.len() {
        let a = fast.cost_with(&cand[..k]).unwrap();
        let mut all = kept.clone();
        all.extend_from_slice(&cand[..k]);
        let full = render_new(&mut renderer(), base.as_ref(), &all).unwrap();
        let c = Mse.cost(full.as_ref(), reference.as_ref()).unwrap();
        if a.to_bits() != c.to_bits() {
            return Err(format!("{k} candidates: incremental {a} vs full {c}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn incremental_cost_equals_full_render_with_smooth_edges(case in arb_case()) {
        prop_assert_eq!(check(Mse, &case), Ok(()));
        prop_assert_eq!(check(PlainSums, &case), Ok(()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn incremental_cost_equals_full_render_with_soft_edges(case in arb_large_case()) {
        prop_assert_eq!(check_edges(Edges::Soft, Mse, &case), Ok(()));
        prop_assert_eq!(check_edges(Edges::Soft, PlainSums, &case), Ok(()));
    }
}

/// The engine's random scenes with every circle carrying its own edge width, 1 to 32 px.
fn arb_free_case() -> impl proptest::strategy::Strategy<Value = Case> {
    (arb_case(), proptest::prelude::any::<u64>()).prop_map(|((r, b, kept, cand), seed)| {
        let mut rng = SplitMix64::new(seed);
        let mut own = |c: Circle| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            c.with_edge_width(MIN_EDGE_WIDTH + u * (MAX_EDGE_WIDTH - MIN_EDGE_WIDTH))
                .unwrap()
        };
        let kept = kept.into_iter().map(&mut own).collect();
        let cand = cand.into_iter().map(&mut own).collect();
        (r, b, kept, cand)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn incremental_cost_equals_full_render_with_free_edges(case in arb_free_case()) {
        prop_assert_eq!(check_edges(Edges::Free, Mse, &case), Ok(()));
        prop_assert_eq!(check_edges(Edges::Free, PlainSums, &case), Ok(()));
    }
}

#[test]
fn soft_fits_report_the_rendered_cost_and_differ_from_smooth_ones() {
    // 384 × 512: ramps up to 3 px, so polishing must look past radius + 1 px for the later
    // circles a replacement reaches (`SpanRenderer::reach_beyond_radius`).
    let reference = test_image(384, 512);
    let fit = |r: CpuRenderer| {
        Fitter::new(r, Mse, small_mayfly(6))
            .settings(FitSettings::recommended(Strategy::Sequential, 12, 5))
            .fit(reference.as_ref())
            .unwrap()
    };
    let (soft_fit, smooth_fit) = (fit(soft()), fit(smooth()));
    let canvas = render_new(
        &mut soft(),
        Canvas::white(384, 512).unwrap().as_ref(),
        &soft_fit.circles,
    )
    .unwrap();
    assert_eq!(
        Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap(),
        soft_fit.cost
    );
    assert!(soft_fit.cost < soft_fit.initial_cost);
    assert!(soft_fit.polished_slots > 0);
    assert_ne!(soft_fit.circles, smooth_fit.circles);
}

#[test]
fn a_soft_circle_lies_within_its_renderers_reach() {
    // 1024²: ramps up to 8 px, reaching 4 px past the radius.
    let r = soft();
    let margin = r.reach_beyond_radius(1024, 1024);
    assert_eq!(margin, 5.0);
    assert_eq!(r.reach_beyond_radius(512, 512), 3.0);
    for radius in [1.5, 6.0, 30.0, 200.0] {
        let c = Circle::new(250.3, 247.9, radius, [0.0; 3], 1.0).unwrap();
        let mut spans = Vec::new();
        r.spans(&c, 1024, 1024, &mut spans);
        let mut widest = 0.0f64;
        for s in &spans {
            for x in [s.x0, s.x1 - 1] {
                let (dx, dy) = (f64::from(x) + 0.5 - c.x(), f64::from(s.y) + 0.5 - c.y());
                widest = widest.max((dx * dx + dy * dy).sqrt() - radius);
            }
        }
        assert!(widest < margin, "radius {radius}: {widest}");
        // The widest ramps reach past the one pixel hard and smooth edges keep to.
        if radius >= 30.0 {
            assert!(widest > 3.0, "radius {radius}: {widest}");
        }
    }
}

#[test]
fn smooth_fits_report_the_rendered_cost() {
    // (The trajectory against the full path: `strategies.rs`, for both edges.)
    let reference = test_image(24, 16);
    let base = Canvas::filled(24, 16, [30, 90, 160, 255]).unwrap();
    for mode in MODES {
        // The recommended settings (closed-form colour, seeds, polishing, which need
        // spans): the reported cost is the render's.
        let fit = Fitter::new(smooth(), Mse, small_mayfly(6))
            .settings(FitSettings::recommended(mode, 5, 5))
            .base(base.clone())
            .fit(reference.as_ref())
            .unwrap();
        let canvas = render_new(&mut smooth(), base.as_ref(), &fit.circles).unwrap();
        assert_eq!(
            Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap(),
            fit.cost,
            "{mode}"
        );
        assert!(fit.cost < fit.initial_cost, "{mode}");
    }
}

#[test]
fn smooth_and_hard_fits_differ() {
    let reference = test_image(32, 24);
    let fit = |r: CpuRenderer| {
        Fitter::new(r, Mse, small_mayfly(10))
            .settings(FitSettings::recommended(Strategy::Sequential, 6, 3))
            .fit(reference.as_ref())
            .unwrap()
    };
    let (hard, soft) = (fit(CpuRenderer::new()), fit(smooth()));
    assert_ne!(hard.circles, soft.circles);
    assert!(soft.cost < 0.8 * soft.initial_cost);
    // Some pixel of the smooth fit is neither the base nor what a hard edge would leave:
    // the edges blend partially (a hard render of the same circles differs).
    let base = Canvas::white(32, 24).unwrap();
    let s = render_new(&mut smooth(), base.as_ref(), &soft.circles).unwrap();
    let h = render_new(&mut CpuRenderer::new(), base.as_ref(), &soft.circles).unwrap();
    assert_ne!(s, h);
}

#[test]
fn a_smooth_circle_lies_within_a_pixel_of_its_radius() {
    // The engine's polishing skips circles by their radius plus one pixel.
    let c = Circle::new(10.3, 7.9, 4.4, [0.0; 3], 1.0).unwrap();
    let mut spans = Vec::new();
    smooth().spans(&c, 40, 40, &mut spans);
    for s in &spans {
        for x in s.x0..s.x1 {
            let (dx, dy) = (f64::from(x) + 0.5 - c.x(), f64::from(s.y) + 0.5 - c.y());
            assert!(
                (dx * dx + dy * dy).sqrt() < c.radius() + 1.0,
                "({x}, {})",
                s.y
            );
        }
    }
}

#[test]
fn soft_fits_give_one_result_on_any_thread_count() {
    // 512 × 384 (ramps up to 3 px): polishing pairs slots whose reach is disjoint (one
    // climb) or climbs each slot twice side by side; either way soft reach is respected, so
    // the threads cannot see each other's changes.
    let reference = test_image(512, 384);
    for climbs in [1, 2] {
        let mut s = FitSettings::recommended(Strategy::Sequential, 10, 3);
        s.polish = Some(Polish::passes(2).with_evaluations(30).with_climbs(climbs));
        let fit = |threads| {
            Fitter::new(soft(), Mse, small_mayfly(4))
                .settings(s)
                .threads(threads)
                .fit(reference.as_ref())
                .unwrap()
        };
        let serial = fit(1);
        assert!(serial.polished_slots > 0);
        for threads in [2, 3] {
            assert_eq!(fit(threads), serial, "climbs {climbs}, {threads} threads");
        }
    }
}
