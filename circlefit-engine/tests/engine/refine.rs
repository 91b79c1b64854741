//! Joint refinement (`FitSettings::refine`): never worse than polishing left the fit,
//! scored exactly, the same on any number of threads, and with free edges each circle's
//! own width.

use crate::common::*;

/// A 256² photograph-like scene (soft ramps wider than a pixel need 256 px and more).
fn fit(edges: Edges, refine: Option<u32>, threads: usize) -> FitResult {
    let reference = test_image(256, 256);
    let mut settings = FitSettings::recommended(Strategy::Sequential, 12, 3);
    settings.refine = refine.map(Refine::steps);
    Fitter::new(CpuRenderer::with_edges(edges), Mse, small_mayfly(8))
        .settings(settings)
        .threads(threads)
        .fit(reference.as_ref())
        .unwrap()
}

/// The cost of drawing `r`'s circles from scratch with `edges`.
fn rendered_cost(edges: Edges, r: &FitResult) -> f64 {
    let reference = test_image(256, 256);
    let base = Canvas::white(256, 256).unwrap();
    let mut renderer = CpuRenderer::with_edges(edges);
    let canvas = render_new(&mut renderer, base.as_ref(), &r.circles).unwrap();
    Mse.cost(canvas.as_ref(), reference.as_ref()).unwrap()
}

#[test]
fn refinement_lowers_the_cost_exactly_and_keeps_the_resume_point() {
    for edges in [Edges::Soft, Edges::Smooth, Edges::Hard] {
        let before = fit(edges, None, 1);
        let after = fit(edges, Some(60), 1);
        assert!(
            after.cost <= before.cost,
            "{edges}: {} > {}",
            after.cost,
            before.cost
        );
        assert_eq!(after.cost.to_bits(), rendered_cost(edges, &after).to_bits());
        assert_eq!(after.refined_steps, 60);
        // What a resume continues from is what the stages left, refined or not.
        assert_eq!(after.resume_point(), before.resume_point(), "{edges}");
        if edges == Edges::Soft {
            assert!(after.cost < before.cost, "soft: refinement found nothing");
        }
    }
}

#[test]
fn refinement_is_the_same_on_any_number_of_threads() {
    let one = fit(Edges::Soft, Some(50), 1);
    for threads in [2, 3] {
        let r = fit(Edges::Soft, Some(50), threads);
        assert_eq!(r.circles, one.circles, "{threads} threads");
        assert_eq!(r.cost.to_bits(), one.cost.to_bits(), "{threads} threads");
    }
}

#[test]
fn free_edges_give_each_circle_its_own_width() {
    let r = fit(Edges::Free, Some(100), 2);
    assert_eq!(r.cost.to_bits(), rendered_cost(Edges::Free, &r).to_bits());
    let widths: Vec<f64> = r.circles.iter().filter_map(Circle::edge_width).collect();
    assert_eq!(
        widths.len(),
        r.circles.len(),
        "every refined circle carries a width"
    );
    assert!(
        widths
            .iter()
            .all(|w| (MIN_EDGE_WIDTH..=MAX_EDGE_WIDTH).contains(w))
    );
    let (lo, hi) = widths
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &w| (a.min(w), b.max(w)));
    assert!(hi - lo > 0.5, "the widths spread: {widths:?}");
    // And it beats the soft rule it starts from.
    let soft = fit(Edges::Soft, Some(100), 2);
    assert!(r.cost < soft.cost, "free {} vs soft {}", r.cost, soft.cost);
}

#[test]
fn refinement_is_skipped_without_an_edge_model_and_checked_in_the_settings() {
    let reference = test_image(64, 64);
    let mut settings = FitSettings::new(Strategy::Sequential, 4, 3);
    settings.refine = Some(Refine::steps(10));
    let r = Fitter::new(NoSpans(CpuRenderer::new()), Mse, small_mayfly(4))
        .settings(settings)
        .fit(reference.as_ref())
        .unwrap();
    assert_eq!(r.refined_steps, 0);
    assert!(r.refine_skipped.is_some());
    settings.refine = Some(Refine::steps(0));
    assert!(settings.validate().is_err());
    settings.refine = Some(Refine::steps(MAX_REFINE_STEPS + 1));
    assert!(settings.validate().is_err());
}
