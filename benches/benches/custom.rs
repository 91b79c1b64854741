//! The bench suite on a component written outside circlefit: a naive renderer that tests
//! every pixel of a circle's bounding box, measured with the same scenes, figures and
//! helpers as `CpuRenderer` (what a user does in their own CI).

use circlefit::prelude::*;
use circlefit::raster::RasterCircle;
use circlefit::{CanvasMut, Circle};
use circlefit_benches::{Scene, bench_evaluations, bench_joint, bench_render};
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;

/// Hard-edged discs drawn pixel by pixel (same raster rules as the built-in renderer, no
/// spans, so strategies score it on the generic full path).
#[derive(Debug, Clone, Default)]
struct NaiveDiscs;

impl Renderer for NaiveDiscs {
    type Error = std::convert::Infallible;

    fn draw(&mut self, mut canvas: CanvasMut<'_>, circles: &[Circle]) -> Result<(), Self::Error> {
        let (w, h) = (canvas.width(), canvas.height());
        for c in circles {
            let rc = RasterCircle::new(c);
            let clamp = |v: f64, hi: u32| v.clamp(0.0, f64::from(hi)) as u32;
            let (x0, x1) = (
                clamp(c.x() - c.radius() - 1.0, w),
                clamp(c.x() + c.radius() + 2.0, w),
            );
            let (y0, y1) = (
                clamp(c.y() - c.radius() - 1.0, h),
                clamp(c.y() + c.radius() + 2.0, h),
            );
            for y in y0..y1 {
                for x in x0..x1 {
                    if rc.covers(x, y) {
                        rc.composite(canvas.row_segment_mut(y, x, x + 1));
                    }
                }
            }
        }
        Ok(())
    }
}

fn custom(c: &mut Criterion) {
    let scene = Scene::new(256, 256, 30, 7);
    bench_render(c, "naive_discs", &scene, NaiveDiscs);
    bench_render(c, "cpu", &scene, CpuRenderer::new());
    let kept = Scene::new(256, 256, 50, 11);
    bench_evaluations(c, "naive_discs", &kept, NaiveDiscs, Mse, 1);
    bench_joint(c, "naive_discs", &scene, NaiveDiscs, Mse);
}

criterion_group!(benches, custom);
criterion_main!(benches);
