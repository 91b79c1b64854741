//! JSON round trips of everything users save, and resuming a fit from saved circles.
#![cfg(feature = "serde")]
// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

mod common;

use std::ops::ControlFlow;

use circlefit::mayfly::{MayflyConfig, Variant};
use circlefit::prelude::*;
use circlefit::{ColorMode, FitEnd, OptimizeReport, Polish, StopReason};
use common::*;

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

#[test]
fn json_round_trips_are_exact() {
    let c = Circle::new(1.0 / 3.0, -2.5, 7.25, [0.1, 0.2, 0.3], 0.75).unwrap();
    assert_eq!(round_trip(&c), c);
    let settings =
        FitSettings::recommended(Strategy::batch(3), 9, 42).with_color(ColorMode::ClosedForm);
    assert_eq!(round_trip(&settings), settings);
    let mut cfg = MayflyConfig::default();
    cfg.variant = Variant::olce();
    cfg.target_cost = Some(1.5);
    assert_eq!(round_trip(&cfg), cfg);
    let report = OptimizeReport::new(vec![0.5, -1.0], 0.25, 100, 2, StopReason::Budget, 7);
    assert_eq!(round_trip(&report), report);
    let reference = test_image(16, 12);
    let result = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(3))
        .circles(3)
        .fit(reference.as_ref())
        .unwrap();
    assert_eq!(round_trip(&result), result);
}

#[test]
fn invalid_circles_in_json_are_errors_not_panics() {
    for bad in [
        r#"{"x":1,"y":2,"r":3,"color":[0,0,2],"alpha":1}"#,
        r#"{"x":1,"y":2,"r":-3,"color":[0,0,0],"alpha":1}"#,
        r#"{"x":1,"y":2,"r":3,"color":[0,0,0],"alpha":0}"#,
        r#"{"x":1e400,"y":2,"r":3,"color":[0,0,0],"alpha":1}"#,
        r#"{"x":1,"y":2,"r":3,"color":[0,0],"alpha":1}"#,
        r#"{"x":"a","y":2,"r":3,"color":[0,0,0],"alpha":1}"#,
    ] {
        assert!(serde_json::from_str::<Circle>(bad).is_err(), "{bad}");
    }
}

/// Stops a fit after stage 1 ends (`within`: false) or in the middle of stage 2.
fn stop_at(within: bool) -> impl FnMut(&circlefit::Progress<'_>) -> ControlFlow<()> {
    move |p| match (within, p.finished) {
        (false, Some(_)) if p.stage == 1 => ControlFlow::Break(()),
        (true, None) if p.stage == 2 && p.iteration == 2 => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    }
}

#[test]
fn resuming_from_saved_circles_equals_one_uninterrupted_run() {
    let reference = test_image(24, 20);
    let modes = [
        Strategy::Sequential,
        Strategy::batch(2),
        Strategy::Batch {
            size: 3,
            prune: true,
        },
    ];
    for mode in modes {
        for color in [ColorMode::Search, ColorMode::ClosedForm] {
            for polish in [None, Some(Polish::passes(2))] {
                let fitter = || {
                    let mut f = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(5))
                        .strategy(mode)
                        .color(color)
                        .circles(8)
                        .seed(4);
                    f.settings_mut().polish = polish;
                    f
                };
                let full = fitter().fit(reference.as_ref()).unwrap();
                for within in [false, true] {
                    let part = fitter()
                        .fit_observed(reference.as_ref(), &mut stop_at(within))
                        .unwrap();
                    assert_eq!(part.end, FitEnd::Stopped);
                    assert_eq!(part.stages_done, 2);
                    assert_eq!(part.polished_slots, 0, "no polishing after a stop");
                    let (circles, done) = part.resume_point();
                    let saved: Vec<Circle> = round_trip(&circles);
                    let rest = fitter()
                        .resume(saved, done)
                        .fit(reference.as_ref())
                        .unwrap();
                    let what = format!("{mode} {color:?} {polish:?} within {within}");
                    assert_eq!(rest.circles, full.circles, "{what}");
                    assert_eq!(rest.cost.to_bits(), full.cost.to_bits(), "{what}");
                    assert_eq!(&rest.stages[..], &full.stages[2..], "{what}");
                    // A finished, polished fit resumes from its unpolished circles.
                    let (unpolished, stages) = full.resume_point();
                    let again = fitter()
                        .resume(unpolished, stages)
                        .fit(reference.as_ref())
                        .unwrap();
                    assert_eq!(again.circles, full.circles, "{what}");
                }
            }
        }
    }
    // A saved fit longer than the one asked for is refused.
    let e = Fitter::new(CpuRenderer::new(), Mse, small_mayfly(2))
        .circles(2)
        .resume(Vec::new(), 5)
        .fit(reference.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            circlefit::core::Error::InvalidSetting {
                field: "resume",
                ..
            }
        ),
        "{e}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any stop point — the observer's `Break` after a random number of reports, within a
    /// stage, between stages or while polishing — resumes to exactly the uninterrupted fit.
    #[test]
    fn a_random_stop_point_resumes_to_the_uninterrupted_result(
        after in 1usize..120, mode in 0u8..3, seed in 0u64..50,
    ) {
        let reference = test_image(24, 20);
        let strategy = match mode {
            0 => Strategy::Sequential,
            1 => Strategy::batch(3),
            _ => Strategy::Batch { size: 2, prune: true },
        };
        let fitter = || {
            Fitter::new(CpuRenderer::new(), Mse, small_mayfly(4))
                .strategy(strategy)
                .circles(7)
                .seed(seed)
                .polish(Polish::passes(1))
        };
        let full = fitter().fit(reference.as_ref()).unwrap();
        let mut calls = 0;
        let part = fitter()
            .fit_observed(reference.as_ref(), &mut |_| {
                calls += 1;
                if calls >= after { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .unwrap();
        let (circles, done) = part.resume_point();
        let rest = fitter().resume(circles, done).fit(reference.as_ref()).unwrap();
        proptest::prop_assert_eq!(&rest.circles, &full.circles);
        proptest::prop_assert_eq!(rest.cost.to_bits(), full.cost.to_bits());
    }
}

#[test]
fn a_smooth_checkpoint_resumes_smooth_and_an_old_one_reads_as_hard() {
    use circlefit::checkpoint::Checkpoint;
    let reference = test_image(24, 20);
    let base = Canvas::white(24, 20).unwrap();
    let mayfly = small_mayfly(5);
    let fitter = |circles| {
        Fitter::new(CpuRenderer::with_edges(Edges::Smooth), Mse, mayfly.clone())
            .settings(FitSettings::recommended(Strategy::Sequential, circles, 4))
            .base(base.clone())
    };
    let whole = fitter(8).fit(reference.as_ref()).unwrap();
    let half = fitter(4).fit(reference.as_ref()).unwrap();
    let saved = Checkpoint::new(
        &half,
        FitSettings::recommended(Strategy::Sequential, 4, 4),
        mayfly.config(),
        "white",
        reference.as_ref(),
        base.as_ref(),
    )
    .with_edges(Edges::Smooth);
    let text = saved.to_json().unwrap();
    let back = Checkpoint::from_json(&text).unwrap();
    assert_eq!(back.edges, Edges::Smooth);
    let rest = back
        .resume(reference.as_ref(), base.clone(), 8)
        .unwrap()
        .fit(reference.as_ref())
        .unwrap();
    assert_eq!(rest.circles, whole.circles);
    assert_eq!(rest.cost.to_bits(), whole.cost.to_bits());
    // A checkpoint written before the field existed: hard edges, as it was fitted.
    let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
    old.as_object_mut().unwrap().remove("edges");
    let old = Checkpoint::from_json(&old.to_string()).unwrap();
    assert_eq!(old.edges, Edges::Hard);
    assert_eq!(old.renderer().edges(), Edges::Hard);
}

#[test]
fn settings_saved_before_seed_scales_existed_read_as_eight_pixel_blocks() {
    let recommended = FitSettings::recommended(Strategy::Sequential, 10, 3);
    assert_eq!(recommended.seed_scales, SeedScales::MultiScale);
    let mut json = serde_json::to_value(recommended).unwrap();
    assert_eq!(json["seed_scales"], "multi_scale");
    json.as_object_mut().unwrap().remove("seed_scales");
    let old: FitSettings = serde_json::from_value(json).unwrap();
    assert_eq!(old.seed_scales, SeedScales::Blocks8);
    assert_eq!(round_trip(&recommended), recommended);
}

#[test]
fn settings_saved_before_searches_and_climbs_existed_read_as_one_each() {
    let mut settings = FitSettings::recommended(Strategy::Sequential, 10, 3);
    settings.restarts = Restarts::runs(1).with_searches(2);
    settings.polish = Some(Polish::passes(4).with_climbs(3));
    assert_eq!(round_trip(&settings), settings);
    let mut json = serde_json::to_value(settings).unwrap();
    assert_eq!(json["restarts"]["searches"], 2);
    assert_eq!(json["polish"]["climbs"], 3);
    json["restarts"].as_object_mut().unwrap().remove("searches");
    json["polish"].as_object_mut().unwrap().remove("climbs");
    let old: FitSettings = serde_json::from_value(json).unwrap();
    assert_eq!(old.restarts.searches, 1);
    assert_eq!(old.polish.map(|p| p.climbs), Some(1));
}
