//! Shared helpers for the engine's tests: the sibling crates' components and a test image.
#![allow(dead_code, unreachable_pub)]

pub use circlefit_core::*;
pub use circlefit_cost::Mse;
pub use circlefit_engine::*;
pub use circlefit_mayfly::Mayfly;
pub use circlefit_render::CpuRenderer;

/// A smooth, deterministic test image with a few shapes.
pub fn test_image(w: u32, h: u32) -> Canvas {
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (f64::from(x) / f64::from(w), f64::from(y) / f64::from(h));
            let inside = (fx - 0.4).powi(2) + (fy - 0.5).powi(2) < 0.06;
            let r = if inside { 200.0 } else { 40.0 + 120.0 * fx };
            let g = if inside { 60.0 } else { 90.0 + 100.0 * fy };
            let b = 30.0 + 180.0 * (1.0 - fx) * fy;
            data.extend_from_slice(&[r as u8, g as u8, b as u8, 255]);
        }
    }
    Canvas::from_vec(w, h, data).unwrap()
}

/// Delegates to `CpuRenderer` but hides its span description: forces the full path.
#[derive(Debug, Default)]
pub struct NoSpans(pub CpuRenderer);

impl Renderer for NoSpans {
    type Error = std::convert::Infallible;
    fn draw(&mut self, canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
        self.0.draw(canvas, circles)
    }
}

/// Delegates to `Mse` but hides its pixel-sum form: forces the full path.
#[derive(Debug, Default)]
pub struct OpaqueMse;

impl CostFunc for OpaqueMse {
    type Error = circlefit_cost::Error;
    fn cost(&self, a: CanvasRef<'_>, b: CanvasRef<'_>) -> Result<f64, Self::Error> {
        Mse.cost(a, b)
    }
}

/// Keeps spans but exposes them only through the trait objects (checks the generic path).
pub fn _assert_object_safe(_: &dyn SpanRenderer, _: &dyn PixelSumCost) {}

pub fn small_mayfly(iters: u64) -> Mayfly {
    Mayfly::builder()
        .population(10)
        .iterations(iters)
        .build()
        .unwrap()
}
