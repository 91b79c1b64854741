//! Whatever a user passes in gives a result or a typed error, never a panic.

// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

mod common;

use circlefit::core::Error;
use circlefit::mayfly::MayflyError;
use circlefit::prelude::*;

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
