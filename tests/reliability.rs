//! Whatever a user passes in gives a result or a typed error, never a panic.

// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

mod common;

use circlefit::mayfly::MayflyError;
use circlefit::prelude::*;
use circlefit::{ColorMode, Error, MAX_CIRCLES};
use proptest::prelude::{
    Just, ProptestConfig, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};

fn any_f64() -> impl proptest::strategy::Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(1.0),
        Just(-1e300),
        -2.0..2.0f64,
        any::<f64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn circle_new_accepts_exactly_the_documented_ranges(
        x in any_f64(), y in any_f64(), r in any_f64(),
        c in prop::array::uniform3(any_f64()), a in any_f64(),
    ) {
        let coord_ok = |v: f64| v.is_finite() && v.abs() <= circlefit::MAX_COORDINATE;
        let valid = coord_ok(x) && coord_ok(y) && r.is_finite() && (0.0..=circlefit::MAX_COORDINATE).contains(&r)
            && c.iter().all(|v| (0.0..=1.0).contains(v))
            && (circlefit::MIN_ALPHA..=1.0).contains(&a);
        prop_assert_eq!(Circle::new(x, y, r, c, a).is_ok(), valid);
    }

    #[test]
    fn bounds_new_accepts_exactly_finite_ordered_boxes(
        lo in prop::collection::vec(any_f64(), 0..4),
        hi in prop::collection::vec(any_f64(), 0..4),
    ) {
        let valid = !lo.is_empty() && lo.len() == hi.len()
            && lo.iter().zip(&hi).all(|(l, h)| l.is_finite() && h.is_finite() && l <= h);
        prop_assert_eq!(Bounds::new(lo, hi).is_ok(), valid);
    }

    #[test]
    fn random_valid_settings_never_panic_and_never_worsen(
        w in 1u32..14, h in 1u32..14,
        mode in 0u8..3, circles in 1usize..5, batch in 1usize..5,
        closed in any::<bool>(), pop in 2usize..6, iters in 1u64..3, seed in any::<u64>(),
    ) {
        let strategy = match mode {
            0 => Strategy::Joint,
            1 => Strategy::Sequential,
            _ => Strategy::batch(batch.min(circles)),
        };
        let color = if closed { ColorMode::ClosedForm } else { ColorMode::Search };
        let reference = common::test_image(w, h);
        let mayfly = Mayfly::builder().population(pop).iterations(iters).build().unwrap();
        let r = Fitter::new(CpuRenderer::new(), Mse, mayfly)
            .strategy(strategy)
            .color(color)
            .circles(circles)
            .seed(seed)
            .fit(reference.as_ref())
            .unwrap();
        prop_assert!(r.cost >= 0.0 && r.cost <= r.initial_cost);
        prop_assert!(r.circles.len() <= circles);
        for s in r.stages.windows(2) {
            prop_assert!(s[1].cost_before <= s[0].cost_before);
        }
    }

    #[test]
    fn random_invalid_settings_always_error(
        which in 0u8..6, n in any::<usize>(), seed in any::<u64>(),
    ) {
        let reference = common::test_image(8, 8);
        let ok_mayfly = || Mayfly::builder().population(4).iterations(1).build().unwrap();
        let outcome: Result<(), String> = match which {
            0 => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly()).circles(0).seed(seed)
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
            1 => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly()).circles(MAX_CIRCLES + 1 + n % 1000)
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
            2 => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly()).circles(3)
                .strategy(Strategy::batch(if n % 2 == 0 { 0 } else { 4 + n % 100 }))
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
            3 => Mayfly::builder().population(n % 2).build().map(|_| ()).map_err(|e| e.to_string()),
            4 => Mayfly::builder().iterations(0).build().map(|_| ()).map_err(|e| e.to_string()),
            _ => Fitter::new(CpuRenderer::new(), Mse, ok_mayfly())
                .base(Canvas::white(8, 1 + (n % 7) as u32).unwrap())
                .fit(reference.as_ref()).map(|_| ()).map_err(|e| e.to_string()),
        };
        let msg = outcome.unwrap_err();
        prop_assert!(!msg.is_empty());
    }
}

#[test]
fn errors_name_the_field_and_the_value() {
    let e = Mayfly::builder().population(1).build().unwrap_err();
    assert!(
        matches!(&e, MayflyError::InvalidSetting { field: "males", value, .. } if value == "1"),
        "{e}"
    );
    let e = Circle::new(0.0, 0.0, 1.0, [0.0, 2.0, 0.0], 1.0).unwrap_err();
    assert!(
        e.to_string().contains("green") && e.to_string().contains('2'),
        "{e}"
    );
    let e = Bounds::new(vec![2.0], vec![1.0]).unwrap_err();
    assert!(e.to_string().contains("lower bound"), "{e}");
    let e = Canvas::white(0, 5).unwrap_err();
    assert!(
        matches!(
            e,
            Error::EmptyImage {
                width: 0,
                height: 5
            }
        ),
        "{e}"
    );
}

#[test]
fn squared_error_sums_do_not_overflow_at_8192_squared() {
    // The worst case: every R, G, B differs by 255.
    let black = Canvas::filled(8192, 8192, [0, 0, 0, 255]).unwrap();
    let white = Canvas::white(8192, 8192).unwrap();
    assert_eq!(Mse.cost(black.as_ref(), white.as_ref()).unwrap(), 65025.0);
    assert_eq!(
        circlefit::cost::sum_squared_error(black.as_bytes(), white.as_bytes()),
        3 * 65025 * 8192 * 8192
    );
}

#[test]
fn a_failed_atomic_write_leaves_the_old_file_and_no_temporary() {
    let dir = std::env::temp_dir().join(format!("circlefit-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("fit.json");
    circlefit::io::write_atomic(&target, b"old").unwrap();
    // Simulate a failure at the last step: the destination is replaced by a directory the
    // rename cannot overwrite.
    let blocked = dir.join("blocked.json");
    std::fs::create_dir_all(blocked.join("inner")).unwrap();
    assert!(circlefit::io::write_atomic(&blocked, b"new").is_err());
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
