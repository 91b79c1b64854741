//! Benchmark scenes, a counting allocator and a report, for circlefit's own benches and
//! for yours.
//!
//! Everything here is generic over circlefit's traits, so a custom [`Renderer`],
//! [`CostFunc`] or [`Optimizer`] is measured on the same scenes and
//! reported with the same figures (time **and** heap allocations per operation) as the
//! built-in ones.
//!
//! Heap allocations are counted by [`CountingAlloc`] once a binary installs it as its
//! global allocator (linking this crate installs nothing, so your own allocator stays
//! yours).
//!
//! # Example
//!
//! ```no_run
//! use circlefit::prelude::*;
//! use circlefit_benches::{CountingAlloc, Scene, bench_render};
//! use criterion::Criterion;
//!
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc;
//!
//! let mut c = Criterion::default();
//! let scene = Scene::new(256, 256, 30, 1);
//! bench_render(&mut c, "my-renderer", &scene, CpuRenderer::new());
//! ```

// The counting allocator needs `unsafe`; it only forwards to `System` and counts.
#![allow(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use circlefit::SplitMix64;
use circlefit::engine::Evaluator;
use circlefit::prelude::*;
use criterion::{Criterion, Throughput};

mod alloc;

pub use alloc::CountingAlloc;

/// Wraps a renderer and hides its span description, forcing strategies onto the generic
/// full path (copy the kept canvas, draw, score the whole image): the baseline the
/// incremental path is measured against.
#[derive(Debug, Default, Clone)]
pub struct FullPath<R>(pub R);

impl<R: Renderer> Renderer for FullPath<R> {
    type Error = R::Error;
    fn draw(
        &mut self,
        canvas: circlefit::CanvasMut<'_>,
        circles: &[Circle],
    ) -> Result<(), R::Error> {
        self.0.draw(canvas, circles)
    }
}

/// A reproducible benchmark scene: a reference image and circles.
///
/// [`Scene::new`]: centres uniform over the canvas, radius uniform in `[4, 64]`, alpha
/// uniform in `[0.25, 1]`, colours uniform, over white. [`Scene::fit_bounds`]: what a joint
/// or batch fit really evaluates — every number uniform in the fit's own bounds
/// ([`Bounds::for_circles`]: centres up to half a canvas outside, radius up to the image's
/// longer side), over the reference's mean colour. Both from a fixed seed (SplitMix64).
#[derive(Debug, Clone)]
pub struct Scene {
    /// The reference image (a smooth procedural picture).
    pub reference: Canvas,
    /// The base canvas.
    pub base: Canvas,
    /// The circles.
    pub circles: Vec<Circle>,
    /// Whether circles come from the fit's bounds ([`Scene::fit_bounds`]).
    pub from_fit_bounds: bool,
}

impl Scene {
    /// A `width` × `height` scene with `n` circles from `seed`.
    ///
    /// # Panics
    /// If the size is not a valid canvas size.
    pub fn new(width: u32, height: u32, n: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let circles = Self::random_circles(&mut rng, width, height, n);
        let mut data = Vec::with_capacity((width * height * 4) as usize);
        for y in 0..height {
            for x in 0..width {
                let (fx, fy) = (
                    f64::from(x) / f64::from(width),
                    f64::from(y) / f64::from(height),
                );
                let r = 128.0 + 100.0 * (fx * 9.0).sin() * (fy * 4.0).cos();
                let g = 60.0 + 150.0 * fy;
                let b = 200.0 - 150.0 * fx * fy;
                data.extend_from_slice(&[r as u8, g as u8, b as u8, 255]);
            }
        }
        Self {
            reference: Canvas::from_vec(width, height, data).expect("valid size"),
            base: Canvas::white(width, height).expect("valid size"),
            circles,
            from_fit_bounds: false,
        }
    }

    /// A `width` × `height` scene with `n` circles drawn from the fit's own bounds, over
    /// the reference's mean colour (what the seed report's joint workload evaluates).
    ///
    /// # Panics
    /// If the size is not a valid canvas size.
    pub fn fit_bounds(width: u32, height: u32, n: usize, seed: u64) -> Self {
        let mut scene = Self::new(width, height, 0, seed);
        let [r, g, b, _] = scene.reference.mean_color();
        scene.base = Canvas::filled(width, height, [r, g, b, 255]).expect("valid size");
        scene.from_fit_bounds = true;
        scene.circles = scene.candidates(n, seed);
        scene
    }

    fn bounded_circles(rng: &mut SplitMix64, w: u32, h: u32, n: usize) -> Vec<Circle> {
        let bounds = Bounds::for_circles(1, w, h).expect("valid size");
        (0..n)
            .map(|_| {
                let x: Vec<f64> = bounds
                    .lower()
                    .iter()
                    .zip(bounds.upper())
                    .map(|(lo, hi)| lo + (hi - lo) * rng.next_f64())
                    .collect();
                Circle::from_params(&x).expect("inside the bounds")
            })
            .collect()
    }

    fn random_circles(rng: &mut SplitMix64, w: u32, h: u32, n: usize) -> Vec<Circle> {
        (0..n)
            .map(|_| {
                let x = rng.next_f64() * f64::from(w);
                let y = rng.next_f64() * f64::from(h);
                let r = 4.0 + 60.0 * rng.next_f64();
                let c = [rng.next_f64(), rng.next_f64(), rng.next_f64()];
                let a = 0.25 + 0.75 * rng.next_f64();
                Circle::new(x, y, r, c, a).expect("in range")
            })
            .collect()
    }

    /// `n` more circles of the same distribution from another seed (candidates).
    pub fn candidates(&self, n: usize, seed: u64) -> Vec<Circle> {
        let mut rng = SplitMix64::new(seed ^ 0xC1C1_EF17);
        let (w, h) = (self.reference.width(), self.reference.height());
        if self.from_fit_bounds {
            Self::bounded_circles(&mut rng, w, h, n)
        } else {
            Self::random_circles(&mut rng, w, h, n)
        }
    }

    /// Pixels in the image.
    pub fn pixels(&self) -> u64 {
        self.reference.as_ref().pixel_count()
    }
}

/// Times `op` with criterion and records allocations per call in the same run; prints
/// `allocs/op` and `bytes/op` after criterion's line.
pub fn bench_op(c: &mut Criterion, group: &str, id: &str, elements: u64, op: impl FnMut()) {
    bench_sampled(c, group, id, elements, None, op);
}

/// [`bench_op`] with criterion's sample size set (`None`: criterion's default).
fn bench_sampled(
    c: &mut Criterion,
    group: &str,
    id: &str,
    elements: u64,
    samples: Option<usize>,
    mut op: impl FnMut(),
) {
    // Warm up first, so buffers reach their steady-state size before anything is counted
    // (criterion's `--test` mode runs the routine only once).
    for _ in 0..3 {
        op();
    }
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(elements));
    if let Some(n) = samples {
        g.sample_size(n);
    }
    let mut per_op = (0.0, 0.0);
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let (a0, b0) = CountingAlloc::snapshot();
            let t0 = Instant::now();
            for _ in 0..iters {
                op();
            }
            let elapsed: Duration = t0.elapsed();
            let (a1, b1) = CountingAlloc::snapshot();
            per_op = (
                (a1 - a0) as f64 / iters as f64,
                (b1 - b0) as f64 / iters as f64,
            );
            elapsed
        })
    });
    g.finish();
    if CountingAlloc::installed() {
        println!(
            "{group}/{id}: allocs/op = {:.3}, bytes/op = {:.1}",
            per_op.0, per_op.1
        );
    } else {
        println!("{group}/{id}: allocs/op = n/a (install CountingAlloc to count)");
    }
}

/// Benchmarks a full render of the scene's circles over its base with `renderer`.
pub fn bench_render<R: Renderer>(c: &mut Criterion, name: &str, scene: &Scene, mut renderer: R) {
    let mut out = scene.base.clone();
    let id = format!(
        "{name}/{}px_{}c",
        scene.reference.width(),
        scene.circles.len()
    );
    bench_op(c, "render", &id, 1, || {
        renderer
            .render_into(scene.base.as_ref(), black_box(&scene.circles), &mut out)
            .expect("render");
        black_box(&out);
    });
}

/// Benchmarks a full cost of the scene's base against its reference.
pub fn bench_cost<C: CostFunc>(c: &mut Criterion, name: &str, scene: &Scene, cost: C) {
    let id = format!("{name}/{}px", scene.reference.width());
    bench_op(c, "cost", &id, scene.pixels(), || {
        black_box(
            cost.cost(black_box(scene.base.as_ref()), scene.reference.as_ref())
                .expect("cost"),
        );
    });
}

/// Benchmarks strategy evaluations: `group` candidates of `batch` circles each, scored over
/// the scene's circles already kept (what one Sequential or Batch stage evaluates).
/// Throughput is in evaluations.
///
/// # Panics
/// If the components fail.
pub fn bench_evaluations<R: Renderer, C: CostFunc>(
    c: &mut Criterion,
    name: &str,
    scene: &Scene,
    renderer: R,
    cost: C,
    batch: usize,
) {
    let mut eval = scene_evaluator(scene, renderer, cost, true);
    let sets: Vec<Vec<Circle>> = (0..64).map(|s| scene.candidates(batch, s)).collect();
    let id = format!(
        "{name}/{}px_{}kept_b{batch}",
        scene.reference.width(),
        scene.circles.len()
    );
    let mut i = 0;
    bench_op(c, "evaluate", &id, 1, || {
        black_box(
            eval.cost_with(black_box(&sets[i % sets.len()]))
                .expect("eval"),
        );
        i += 1;
    });
}

/// Benchmarks joint evaluations: the scene's circles re-drawn over the base and scored
/// (what a Joint fit evaluates).
///
/// # Panics
/// If the components fail.
pub fn bench_joint<R: Renderer, C: CostFunc>(
    c: &mut Criterion,
    name: &str,
    scene: &Scene,
    renderer: R,
    cost: C,
) {
    let mut eval = scene_evaluator(scene, renderer, cost, false);
    let id = format!(
        "{name}/{}px_k{}",
        scene.reference.width(),
        scene.circles.len()
    );
    bench_op(c, "joint", &id, 1, || {
        black_box(eval.cost_with(black_box(&scene.circles)).expect("eval"));
    });
}

/// Benchmarks closed-form-colour evaluations of one circle over the scene's circles kept:
/// solve the colour, then score the circle with it (what a
/// [`ColorMode::ClosedForm`] Sequential stage evaluates).
///
/// # Panics
/// If the components fail.
pub fn bench_closed_form<R: Renderer, C: CostFunc>(
    c: &mut Criterion,
    name: &str,
    scene: &Scene,
    renderer: R,
    cost: C,
) {
    let mut eval = scene_evaluator(scene, renderer, cost, true);
    let shapes = scene.candidates(64, 99);
    let id = format!(
        "{name}/{}px_{}kept_b1",
        scene.reference.width(),
        scene.circles.len()
    );
    let mut i = 0;
    bench_op(c, "evaluate_closed_form", &id, 1, || {
        let shape = &shapes[i % shapes.len()];
        let color = eval.best_color(shape).expect("colour");
        let circle = shape.with_color(color).expect("valid colour");
        black_box(eval.cost_with(&[circle]).expect("eval"));
        i += 1;
    });
}

/// Benchmarks a whole fit of `reference` with `fitter` (any renderer, cost, optimizer,
/// schedule and thread count), as evaluations per second, with criterion's smallest
/// sample size (10: a fit takes a while).
///
/// # Panics
/// If the fit fails.
pub fn bench_fit<R: Renderer, C: CostFunc, O: Optimizer>(
    c: &mut Criterion,
    name: &str,
    reference: &Canvas,
    fitter: &mut Fitter<R, C, O>,
) {
    let evaluations = fitter.fit(reference.as_ref()).expect("fit").evaluations;
    bench_sampled(c, "fit", name, evaluations, Some(10), || {
        black_box(fitter.fit(reference.as_ref()).expect("fit"));
    });
}

/// Benchmarks `optimizer` minimising `f` over `bounds` with seed 1 (Mayfly or your own:
/// the optimizer's own overhead per evaluation when `f` is cheap).
///
/// # Panics
/// If the optimizer fails.
pub fn bench_optimizer<O: Optimizer>(
    c: &mut Criterion,
    name: &str,
    optimizer: &mut O,
    f: fn(&[f64]) -> f64,
    bounds: &Bounds,
) {
    let problem = Problem::new(bounds, 1);
    let mut objective = f;
    let evaluations = optimizer
        .minimize(&mut objective, &problem)
        .expect("optimizer")
        .evaluations;
    bench_op(c, "optimizer", name, evaluations, || {
        black_box(
            optimizer
                .minimize(&mut objective, &problem)
                .expect("optimizer"),
        );
    });
}

/// An evaluator of `scene` over its base, with the scene's circles kept if `keep` is set.
///
/// # Panics
/// If the components fail.
pub fn scene_evaluator<R: Renderer, C: CostFunc>(
    scene: &Scene,
    renderer: R,
    cost: C,
    keep: bool,
) -> Evaluator<R, C> {
    let mut eval = Evaluator::new(
        renderer,
        cost,
        scene.reference.as_ref(),
        scene.base.as_ref(),
    )
    .expect("evaluator");
    if keep {
        eval.commit(&scene.circles).expect("commit");
    }
    eval
}
