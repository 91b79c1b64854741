//! What the CLI's tests share: running the binary in a folder of its own, test images.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Quick fits: few circles, a small optimizer.
pub const QUICK: &[&str] = &["-n", "6", "--iters", "4", "--pop", "10", "--polish", "1"];

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_circlefit"))
}

/// A fresh, empty folder for one test.
pub fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn run(args: &[&str], cwd: &Path) -> Output {
    bin().args(args).current_dir(cwd).output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `w` × `h` PNG with a gradient and a disc, written to `path`.
pub fn photo(path: &Path, w: u32, h: u32) {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        let inside = (x as f64 - w as f64 * 0.4).powi(2) + (y as f64 - h as f64 * 0.5).powi(2)
            < (w.min(h) as f64 * 0.25).powi(2);
        if inside {
            image::Rgba([200, 60, 40, 255])
        } else {
            image::Rgba([(x * 255 / w) as u8, (y * 255 / h) as u8, 120, 255])
        }
    });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
