//! Decode a circles JSON, then render it, score it and export it as SVG: no input may panic.
#![no_main]

use circlefit::io::{Background, to_svg};
use circlefit::prelude::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [w, h, rest @ ..] = data else { return };
    let (w, h) = (1 + u32::from(*w) % 64, 1 + u32::from(*h) % 64);
    let Ok(circles) = serde_json::from_slice::<Vec<Circle>>(rest) else {
        return;
    };
    let base = Canvas::filled(w, h, [200, 100, 50, 77]).unwrap();
    let mut renderer = CpuRenderer::new();
    let out = renderer.render(base.as_ref(), &circles).unwrap();
    // Alpha bytes are never touched; the cost is a finite, non-negative number.
    assert!(out.as_bytes().chunks_exact(4).all(|p| p[3] == 77));
    let cost = Mse.cost(out.as_ref(), base.as_ref()).unwrap();
    assert!(cost.is_finite() && cost >= 0.0);
    assert!(
        to_svg(w, h, Background::White, &circles)
            .unwrap()
            .ends_with("</svg>\n")
    );
});
