//! JSON round trips of everything users save, and resuming a fit from saved circles.
#![cfg(feature = "serde")]
// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

mod common;

use std::ops::ControlFlow;

use circlefit::mayfly::{MayflyConfig, Variant};
use circlefit::prelude::*;
use circlefit::{ColorMode, OptimizeReport, StopReason};
use common::*;

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

#[test]
fn json_round_trips_are_exact() {
    let c = Circle::new(1.0 / 3.0, -2.5, 7.25, [0.1, 0.2, 0.3], 0.75).unwrap();
    assert_eq!(round_trip(&c), c);
    let settings =
        FitSettings::new(Strategy::Batch { size: 3 }, 9, 42).with_color(ColorMode::ClosedForm);
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

#[test]
fn resuming_from_saved_circles_equals_one_uninterrupted_run() {
    let reference = test_image(24, 20);
    for (mode, prune) in [
        (Strategy::Sequential, false),
        (Strategy::Batch { size: 2 }, false),
        (Strategy::Batch { size: 3 }, true),
    ] {
        for color in [ColorMode::Search, ColorMode::ClosedForm] {
            let fitter = || {
                Fitter::new(CpuRenderer::new(), Mse, small_mayfly(5))
                    .strategy(mode)
                    .color(color)
                    .circles(8)
                    .seed(4)
                    .settings_mut(|s| s.prune = prune)
            };
            let full = fitter().fit(reference.as_ref()).unwrap();
            let part = fitter()
                .fit_observed(reference.as_ref(), &mut |p| {
                    if p.finished.is_some() && p.stage == 1 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap();
            assert_eq!(part.stages.len(), 2);
            let saved: Vec<Circle> = round_trip(&part.circles);
            let rest = fitter()
                .resume(saved, part.stages.len())
                .fit(reference.as_ref())
                .unwrap();
            assert_eq!(rest.circles, full.circles, "{mode} {color:?}");
            assert_eq!(rest.cost.to_bits(), full.cost.to_bits());
            assert_eq!(&rest.stages[..], &full.stages[2..]);
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
            circlefit::Error::InvalidSetting {
                field: "resume",
                ..
            }
        ),
        "{e}"
    );
}
