//! `CpuRenderer` against a slow, obvious oracle of the documented semantics.

// These tests check exactness: comparing floats bit for bit is the point.
#![allow(clippy::float_cmp)]

use circlefit_core::{Canvas, Circle, MIN_ALPHA, Renderer, SpanRenderer};
use circlefit_render::CpuRenderer;
use proptest::prelude::*;

/// The rendering rules exactly as the docs state them, pixel by pixel, no shortcuts.
fn oracle(base: &Canvas, circles: &[Circle]) -> Canvas {
    let mut out = base.clone();
    let (w, h) = (base.width(), base.height());
    for c in circles {
        let cx = (c.x() * 256.0).round() as i128;
        let cy = (c.y() * 256.0).round() as i128;
        let r = (c.radius() * 256.0).round() as i128;
        let rgb = c.color().map(|v| (v * 255.0).round() as u32);
        let a = ((c.alpha() * 256.0).round() as u32).clamp(1, 256);
        let bytes = out.as_bytes_mut();
        for j in 0..h {
            for i in 0..w {
                let dx = 256 * i as i128 + 128 - cx;
                let dy = 256 * j as i128 + 128 - cy;
                if dx * dx + dy * dy <= r * r {
                    let p = ((j * w + i) * 4) as usize;
                    for k in 0..3 {
                        let old = u32::from(bytes[p + k]);
                        bytes[p + k] = ((rgb[k] * a + old * (256 - a) + 128) >> 8) as u8;
                    }
                }
            }
        }
    }
    out
}

fn arb_alpha() -> impl Strategy<Value = f64> {
    prop_oneof![Just(MIN_ALPHA), Just(1.0), MIN_ALPHA..=1.0]
}

fn arb_circle(w: u32, h: u32) -> impl Strategy<Value = Circle> {
    let (w, h) = (f64::from(w), f64::from(h));
    let m = w.max(h);
    (
        -w..2.0 * w,
        -h..2.0 * h,
        prop_oneof![0.0..2.0, 0.0..2.0 * m, Just(0.5), Just(1.0)],
        prop::array::uniform3(prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0]),
        arb_alpha(),
    )
        .prop_map(|(x, y, r, c, a)| Circle::new(x, y, r, c, a).unwrap())
}

/// Also lands centres exactly on pixel centres and edges (tangent rows).
fn arb_grid_circle(w: u32, h: u32) -> impl Strategy<Value = Circle> {
    (0..=2 * w, 0..=2 * h, 1u32..=8, arb_alpha()).prop_map(|(x, y, r, a)| {
        Circle::new(
            f64::from(x) / 2.0,
            f64::from(y) / 2.0,
            f64::from(r) / 2.0,
            [0.25, 0.5, 0.75],
            a,
        )
        .unwrap()
    })
}

fn arb_scene() -> impl Strategy<Value = (Canvas, Vec<Circle>)> {
    (1u32..24, 1u32..24).prop_flat_map(|(w, h)| {
        let n = (w * h * 4) as usize;
        (
            prop::collection::vec(any::<u8>(), n),
            prop::collection::vec(prop_oneof![arb_circle(w, h), arb_grid_circle(w, h)], 0..8),
        )
            .prop_map(move |(px, circles)| (Canvas::from_vec(w, h, px).unwrap(), circles))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn cpu_renderer_equals_oracle((base, circles) in arb_scene()) {
        let want = oracle(&base, &circles);
        let mut r = CpuRenderer::new();
        let got = r.render(base.as_ref(), &circles).unwrap().clone();
        prop_assert_eq!(got.as_bytes(), want.as_bytes());
        // Drawing one circle at a time gives the same picture.
        let mut step = base.clone();
        for c in &circles {
            r.draw(step.as_mut(), std::slice::from_ref(c)).unwrap();
        }
        prop_assert_eq!(step.as_bytes(), want.as_bytes());
    }

    #[test]
    fn spans_describe_exactly_what_draw_changes((base, circles) in arb_scene()) {
        let r = CpuRenderer::new();
        let (w, h) = (base.width(), base.height());
        for c in &circles {
            let mut spans = Vec::new();
            r.spans(c, w, h, &mut spans);
            // In bounds, one per row, top to bottom.
            prop_assert!(spans.windows(2).all(|p| p[0].y < p[1].y));
            prop_assert!(spans.iter().all(|s| s.x0 < s.x1 && s.x1 <= w && s.y < h));
            // Covered set = pixels inside by the oracle rule.
            let mut marked = Canvas::filled(w, h, [0, 0, 0, 255]).unwrap();
            let white = Circle::new(c.x(), c.y(), c.radius(), [1.0; 3], 1.0).unwrap();
            let want = oracle(&marked, &[white]);
            for s in &spans {
                for px in marked.as_mut().row_segment_mut(s.y, s.x0, s.x1).chunks_exact_mut(4) {
                    px[..3].copy_from_slice(&[255; 3]);
                }
            }
            prop_assert_eq!(marked.as_bytes(), want.as_bytes());
        }
    }
}

#[test]
fn alpha_channel_is_kept_and_nothing_outside_is_written() {
    let base = Canvas::filled(5, 5, [10, 20, 30, 77]).unwrap();
    let c = Circle::new(-3.0, -3.0, 2.0, [1.0, 1.0, 1.0], 1.0).unwrap();
    let mut r = CpuRenderer::new();
    assert_eq!(r.render(base.as_ref(), &[c]).unwrap(), &base);
    let c = Circle::new(2.5, 2.5, 100.0, [1.0, 1.0, 1.0], 1.0).unwrap();
    let out = r.render(base.as_ref(), &[c]).unwrap();
    assert!(out.as_bytes().chunks(4).all(|p| p == [255, 255, 255, 77]));
}

#[test]
fn golden_scene_3x3() {
    // A half-transparent red disc of radius 1 centred on the middle pixel of a white 3×3
    // canvas covers a plus shape; red stays 255, green and blue become
    // (0·128 + 255·128 + 128) >> 8 = 128.
    let base = Canvas::white(3, 3).unwrap();
    let c = Circle::new(1.5, 1.5, 1.0, [1.0, 0.0, 0.0], 0.5).unwrap();
    let mut r = CpuRenderer::new();
    let out = r.render(base.as_ref(), &[c]).unwrap();
    let w = [255, 255, 255, 255];
    let p = [255, 128, 128, 255];
    let want: Vec<u8> = [w, p, w, p, p, p, w, p, w].concat();
    assert_eq!(out.as_bytes(), &want[..]);
}
