//! The contract's constructors accept exactly their documented ranges and refuse the rest
//! with typed errors, never a panic.

use circlefit_core::{Bounds, Circle, MAX_BOUNDS_DIM, MAX_COORDINATE, MIN_ALPHA};
use proptest::prelude::{Just, ProptestConfig, any, prop, prop_assert_eq, prop_oneof, proptest};

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
        let coord_ok = |v: f64| v.is_finite() && v.abs() <= MAX_COORDINATE;
        let valid = coord_ok(x) && coord_ok(y) && r.is_finite() && (0.0..=MAX_COORDINATE).contains(&r)
            && c.iter().all(|v| (0.0..=1.0).contains(v))
            && (MIN_ALPHA..=1.0).contains(&a);
        prop_assert_eq!(Circle::new(x, y, r, c, a).is_ok(), valid);
    }

    #[test]
    fn bounds_new_accepts_exactly_finite_ordered_boxes(
        lo in prop::collection::vec(any_f64(), 0..4),
        hi in prop::collection::vec(any_f64(), 0..4),
    ) {
        let valid = !lo.is_empty() && lo.len() == hi.len()
            && lo.iter().zip(&hi).all(|(l, h)| l.is_finite() && h.is_finite() && l <= h && (h - l).is_finite());
        prop_assert_eq!(Bounds::new(lo, hi).is_ok(), valid);
    }
}

#[test]
fn huge_circle_counts_and_ranges_are_refused_not_wrapped() {
    // `usize::MAX / 7 + 1` circles used to wrap to a 5-number box.
    for n in [usize::MAX / 7 + 1, usize::MAX, MAX_BOUNDS_DIM / 7 + 1] {
        assert!(Bounds::for_circles(n, 10, 10).is_err(), "{n}");
        assert!(Bounds::for_circle_geometry(n, 10, 10).is_err(), "{n}");
    }
    assert_eq!(
        Bounds::for_circles(MAX_BOUNDS_DIM / 7, 10, 10)
            .unwrap()
            .dim()
            % 7,
        0
    );
    // ±1e308 is finite, but its range is not: optimizers would step to infinity.
    assert!(Bounds::uniform(3, -1e308, 1e308).is_err());
    assert!(Bounds::uniform(3, -1e307, 1e307).is_ok());
}
