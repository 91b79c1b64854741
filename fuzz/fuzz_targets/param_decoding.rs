//! Decode arbitrary parameter vectors: raw decoding returns `Ok` or an error, and clamping
//! into the circle bounds always gives decodable, renderable circles.
#![no_main]

use circlefit::prelude::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let xs: Vec<f64> = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut raw = Vec::new();
    let _ = Circle::decode_all(&xs, &mut raw);
    let k = xs.len() / 7;
    if k == 0 || k > 64 {
        return;
    }
    let bounds = Bounds::for_circles(k, 40, 30).unwrap();
    let mut x = xs[..k * 7].to_vec();
    bounds.clamp(&mut x);
    assert!(bounds.contains(&x));
    let mut circles = Vec::new();
    Circle::decode_all(&x, &mut circles).expect("clamped parameters always decode");
    let base = Canvas::white(40, 30).unwrap();
    CpuRenderer::new().render(base.as_ref(), &circles).unwrap();
});
