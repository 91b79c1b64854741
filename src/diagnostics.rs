//! Diagnostics: where a fit is still wrong.

use circlefit_core::{Canvas, CanvasRef};

/// Viridis, sampled at 9 evenly spaced points (perceptually uniform, colour-blind safe).
const VIRIDIS: [[f64; 3]; 9] = [
    [68.0, 1.0, 84.0],
    [71.0, 44.0, 122.0],
    [59.0, 81.0, 139.0],
    [44.0, 113.0, 142.0],
    [33.0, 144.0, 141.0],
    [39.0, 173.0, 129.0],
    [92.0, 200.0, 99.0],
    [170.0, 220.0, 50.0],
    [253.0, 231.0, 37.0],
];

/// The viridis colour for `t` in `[0, 1]` (clamped), linearly interpolated.
pub fn viridis(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * 8.0;
    let i = (t.floor() as usize).min(7);
    let f = t - i as f64;
    std::array::from_fn(|k| (VIRIDIS[i][k] * (1.0 - f) + VIRIDIS[i + 1][k] * f).round() as u8)
}

/// A heatmap of the per-pixel error between `a` and `b`: `(|ΔR| + |ΔG| + |ΔB|) / 3` on a
/// fixed 0..255 scale (so maps of different fits compare), through [`viridis`]. Opaque.
///
/// # Errors
/// [`circlefit_core::Error::SizeMismatch`] if the images differ in size.
pub fn diff_heatmap(a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<Canvas, circlefit_core::Error> {
    if !a.same_size(b) {
        return Err(circlefit_core::Error::SizeMismatch {
            what: "candidate",
            expected_w: b.width(),
            expected_h: b.height(),
            actual_w: a.width(),
            actual_h: a.height(),
        });
    }
    let data = a
        .as_bytes()
        .chunks_exact(4)
        .zip(b.as_bytes().chunks_exact(4))
        .flat_map(|(p, q)| {
            let e: u32 = (0..3).map(|k| u32::from(p[k].abs_diff(q[k]))).sum();
            let [r, g, bl] = viridis(f64::from(e) / (3.0 * 255.0));
            [r, g, bl, 255]
        })
        .collect();
    Canvas::from_vec(a.width(), a.height(), data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_monotone_lightness() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        let luma = |c: [u8; 3]| {
            0.2126 * f64::from(c[0]) + 0.7152 * f64::from(c[1]) + 0.0722 * f64::from(c[2])
        };
        let mut last = -1.0;
        for i in 0..=100 {
            let l = luma(viridis(f64::from(i) / 100.0));
            assert!(l >= last - 1e-9, "lightness must not fall");
            last = l;
        }
    }

    #[test]
    fn heatmap_marks_errors() {
        let a = Canvas::from_vec(2, 1, vec![0, 0, 0, 255, 255, 255, 255, 255]).unwrap();
        let b = Canvas::from_vec(2, 1, vec![0, 0, 0, 9, 0, 0, 0, 255]).unwrap();
        let h = diff_heatmap(a.as_ref(), b.as_ref()).unwrap();
        assert_eq!(h.pixel(0, 0), Some([68, 1, 84, 255]));
        assert_eq!(h.pixel(1, 0), Some([253, 231, 37, 255]));
        assert!(diff_heatmap(a.as_ref(), Canvas::white(1, 1).unwrap().as_ref()).is_err());
    }
}
