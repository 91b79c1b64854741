//! The SVG export draws the same picture: rasterised with resvg, it matches our own render.

mod common;

use circlefit::io::{Background, to_svg};
use circlefit::prelude::*;

/// Rasterises an SVG with resvg at its own pixel size, as RGBA8 (straight alpha).
fn rasterise(svg: &str, w: u32, h: u32) -> Vec<u8> {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).unwrap();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    // Opaque results: premultiplied and straight colours coincide.
    pixmap.data().to_vec()
}

/// Whether pixel (i, j)'s centre lies within `margin` px of any circle's edge.
fn near_an_edge(circles: &[Circle], i: u32, j: u32, margin: f64) -> bool {
    let (x, y) = (f64::from(i) + 0.5, f64::from(j) + 0.5);
    circles
        .iter()
        .any(|c| ((x - c.x()).hypot(y - c.y()) - c.radius()).abs() < margin)
}

fn compare(base: &Canvas, background: Background<'_>, circles: &[Circle]) -> (usize, usize) {
    let (w, h) = (base.width(), base.height());
    let ours = CpuRenderer::new()
        .render(base.as_ref(), circles)
        .unwrap()
        .clone();
    let theirs = rasterise(&to_svg(w, h, background, circles).unwrap(), w, h);
    let (mut compared, mut worst) = (0, 0);
    for j in 0..h {
        for i in 0..w {
            // Edges differ by design: resvg anti-aliases, we sample pixel centres.
            if near_an_edge(circles, i, j, 1.0) {
                continue;
            }
            let p = ((j * w + i) * 4) as usize;
            for k in 0..3 {
                worst = worst.max(usize::from(ours.as_bytes()[p + k].abs_diff(theirs[p + k])));
            }
            compared += 1;
        }
    }
    (compared, worst)
}

fn circles() -> Vec<Circle> {
    (0..12)
        .map(|i| {
            let t = f64::from(i);
            Circle::new(
                (t * 13.7) % 64.0,
                (t * 7.9 + 5.0) % 48.0,
                4.0 + (t * 5.3) % 20.0,
                [(t * 0.37) % 1.0, (t * 0.61) % 1.0, (t * 0.13) % 1.0],
                0.2 + (t * 0.29) % 0.8,
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn svg_matches_our_render_away_from_edges() {
    // Away from edges both renderers composite the same 8-bit colours with the same alpha
    // (a/256) in the same order; they round differently per layer (we round each layer to
    // nearest, tiny-skia works in premultiplied 8-bit with its own rounding), so values may
    // differ by a few levels after 12 overlapping layers. We allow 4 of 255.
    let circles = circles();
    let white = Canvas::white(64, 48).unwrap();
    let (compared, worst) = compare(&white, Background::White, &circles);
    assert!(
        compared > 64 * 48 / 2,
        "too few interior pixels: {compared}"
    );
    assert!(worst <= 4, "worst channel difference {worst}");

    let solid = Canvas::filled(64, 48, [30, 120, 200, 255]).unwrap();
    let (_, worst) = compare(&solid, Background::of(solid.as_ref()), &circles);
    assert!(worst <= 4, "solid background: worst {worst}");

    let image = common::test_image(64, 48);
    let (_, worst) = compare(&image, Background::of(image.as_ref()), &circles);
    assert!(worst <= 4, "image background: worst {worst}");
}

/// The mean and the worst channel difference between our render with `edges` and resvg's
/// over the pixels within a pixel of a circle's edge.
fn edge_difference(edges: Edges, circles: &[Circle]) -> (f64, u8) {
    let (w, h) = (64, 48);
    let white = Canvas::white(w, h).unwrap();
    let ours = CpuRenderer::with_edges(edges)
        .render(white.as_ref(), circles)
        .unwrap()
        .clone();
    let theirs = rasterise(&to_svg(w, h, Background::White, circles).unwrap(), w, h);
    let (mut sum, mut n, mut worst) = (0u64, 0u64, 0u8);
    for j in 0..h {
        for i in 0..w {
            if !near_an_edge(circles, i, j, 1.0) {
                continue;
            }
            let p = ((j * w + i) * 4) as usize;
            for k in 0..3 {
                let d = ours.as_bytes()[p + k].abs_diff(theirs[p + k]);
                sum += u64::from(d);
                worst = worst.max(d);
                n += 1;
            }
        }
    }
    (sum as f64 / n as f64, worst)
}

#[test]
fn smooth_edges_match_the_svg_at_the_edges_too() {
    // SVG viewers anti-alias; the smooth model's one-pixel ramp follows them at the edges,
    // where the hard model can only be right or wrong by a whole pixel.
    let circles = circles();
    let (hard_mean, hard_worst) = edge_difference(Edges::Hard, &circles);
    let (smooth_mean, smooth_worst) = edge_difference(Edges::Smooth, &circles);
    eprintln!(
        "edge pixels: hard mean {hard_mean:.2} worst {hard_worst}, smooth mean {smooth_mean:.2} worst {smooth_worst}"
    );
    assert!(
        smooth_mean * 3.0 < hard_mean,
        "{smooth_mean} vs {hard_mean}"
    );
    assert!(
        smooth_worst < hard_worst / 2,
        "{smooth_worst} vs {hard_worst}"
    );
}

#[test]
fn soft_edges_match_their_radial_gradients() {
    // 512 × 384: ramps up to 3 px. Near the edges (within the widest ramp), the soft render
    // follows the SVG's gradients, not the plain circles a smooth fit exports.
    let (w, h) = (512, 384);
    let circles: Vec<Circle> = (0..10)
        .map(|i| {
            let t = f64::from(i);
            Circle::new(
                40.0 + (t * 97.3) % 430.0,
                40.0 + (t * 61.7) % 300.0,
                8.0 + (t * 17.9) % 60.0,
                [(t * 0.37) % 1.0, (t * 0.61) % 1.0, (t * 0.13) % 1.0],
                0.3 + (t * 0.29) % 0.7,
            )
            .unwrap()
        })
        .collect();
    let white = Canvas::white(w, h).unwrap();
    let ours = CpuRenderer::with_edges(Edges::Soft)
        .render(white.as_ref(), &circles)
        .unwrap()
        .clone();
    let svg = circlefit::io::to_svg_with(w, h, Background::White, &circles, Edges::Soft).unwrap();
    let gradients = rasterise(&svg, w, h);
    let plain = rasterise(&to_svg(w, h, Background::White, &circles).unwrap(), w, h);
    let (mut near, mut far, mut n) = (0u64, 0u64, 0u64);
    let mut worst = 0u8;
    for j in 0..h {
        for i in 0..w {
            if !near_an_edge(&circles, i, j, 2.0) {
                continue;
            }
            let p = ((j * w + i) * 4) as usize;
            for k in 0..3 {
                let o = ours.as_bytes()[p + k];
                near += u64::from(o.abs_diff(gradients[p + k]));
                far += u64::from(o.abs_diff(plain[p + k]));
                worst = worst.max(o.abs_diff(gradients[p + k]));
                n += 1;
            }
        }
    }
    let (near, far) = (near as f64 / n as f64, far as f64 / n as f64);
    eprintln!("soft edge pixels: gradients mean {near:.2} worst {worst}, plain circles {far:.2}");
    assert!(near * 3.0 < far, "{near} vs {far}");
    assert!(near < 1.0 && worst <= 10, "{near}, worst {worst}");
}

/// PSNR of an RGBA8 raster against the reference (R, G, B).
fn psnr_of(raster: &[u8], reference: &Canvas) -> f64 {
    let sum: u64 = raster
        .chunks_exact(4)
        .zip(reference.as_bytes().chunks_exact(4))
        .map(|(a, b)| {
            (0..3)
                .map(|k| (i64::from(a[k]) - i64::from(b[k])).pow(2) as u64)
                .sum::<u64>()
        })
        .sum();
    psnr(sum as f64 / (3 * reference.as_ref().pixel_count()) as f64)
}

/// The placeholder's compact SVG (one decimal, short colours) scores as the full-precision
/// SVG does, rasterised by resvg: within 0.05 dB, for the default (soft) and smooth edges
/// at 64 to 256 px. The bytes for 8, 16 and 32 circles are printed (sqip's placeholders
/// are about 1 KB).
#[test]
fn the_compact_svg_scores_as_the_full_one() {
    let cat = circlefit::io::decode_image(
        include_bytes!("../assets/chelsea_256.png"),
        std::path::Path::new("cat"),
    )
    .unwrap();
    for (side, edges) in [(64, Edges::Soft), (128, Edges::Smooth), (256, Edges::Soft)] {
        let img = image::imageops::resize(
            &image::RgbaImage::from(cat.as_ref()),
            side,
            side,
            image::imageops::FilterType::Triangle,
        );
        let reference = Canvas::try_from(&image::DynamicImage::ImageRgba8(img)).unwrap();
        let mut fitter = circlefit::recommended(reference.as_ref(), 32)
            .unwrap()
            .seed(3);
        *fitter.renderer_mut() = CpuRenderer::with_edges(edges);
        let result = fitter.fit(reference.as_ref()).unwrap();
        let [r, g, b, _] = reference.mean_color();
        let bg = Background::Solid([r, g, b]);
        for n in [8, 16, 32].map(|n: usize| n.min(result.circles.len())) {
            let circles = &result.circles[..n];
            let full = circlefit::io::to_svg_with(side, side, bg, circles, edges).unwrap();
            let compact = circlefit::io::to_svg_compact(
                side,
                side,
                bg,
                circles,
                edges,
                circlefit::io::CompactSvg::new(),
            )
            .unwrap();
            let (a, c) = (
                psnr_of(&rasterise(&full, side, side), &reference),
                psnr_of(&rasterise(&compact, side, side), &reference),
            );
            let blurred = circlefit::io::to_svg_compact(
                side,
                side,
                bg,
                circles,
                edges,
                circlefit::io::CompactSvg::blurred(2.0),
            )
            .unwrap();
            eprintln!(
                "{side}px {edges:?} {n} circles: full {} B {a:.3} dB, compact {} B {c:.3} dB, blurred {} B",
                full.len(),
                compact.len(),
                blurred.len()
            );
            assert!((a - c).abs() <= 0.05, "{side} px, {n} circles: {a} vs {c}");
            assert!(
                compact.len() * 10 < full.len() * 8,
                "{} vs {}",
                compact.len(),
                full.len()
            );
        }
    }
}
