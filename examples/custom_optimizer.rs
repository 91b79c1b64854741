//! Optimizers written against the `Optimizer` trait — pure random search and a (1+1) hill
//! climber — compared with Mayfly on the bundled image at the same evaluation budget.
//!
//! ```text
//! cargo run --release --example custom_optimizer -- [--circles N] [--iters T]
//! ```
//!
//! Each stage of each optimizer gets the evaluations one Mayfly stage of T iterations uses
//! (40 + 61·T at the reference population).

use std::time::Instant;

use circlefit::prelude::*;

/// A tiny xorshift generator: enough for a demo, seeded from the problem.
struct XorShift(u64);

impl XorShift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples uniformly in the box and keeps the best.
#[derive(Debug)]
struct RandomSearch {
    evaluations: u64,
}

impl Optimizer for RandomSearch {
    type Error = std::convert::Infallible;

    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        let mut rng = XorShift(p.seed | 1);
        let n = p
            .max_evaluations
            .map_or(self.evaluations, |m| m.min(self.evaluations));
        let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
        let (mut best_x, mut best_f) = (lo.to_vec(), f64::INFINITY);
        let mut x = vec![0.0; p.dim()];
        for _ in 0..n {
            for ((v, l), h) in x.iter_mut().zip(lo).zip(hi) {
                *v = l + (h - l) * rng.unit();
            }
            let fx = f.evaluate(&x);
            if fx < best_f {
                best_f = fx;
                best_x.copy_from_slice(&x);
            }
            if f.interrupted() {
                break;
            }
        }
        Ok(OptimizeReport::new(
            best_x,
            best_f,
            n,
            n,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

/// Starts at a random point and accepts Gaussian-ish steps that improve, shrinking the step.
#[derive(Debug)]
struct HillClimber {
    evaluations: u64,
}

impl Optimizer for HillClimber {
    type Error = std::convert::Infallible;

    fn minimize(
        &mut self,
        f: &mut dyn Objective,
        p: &Problem<'_>,
    ) -> Result<OptimizeReport, Self::Error> {
        let mut rng = XorShift(p.seed | 1);
        let (lo, hi) = (p.bounds.lower(), p.bounds.upper());
        let mut x: Vec<f64> = lo
            .iter()
            .zip(hi)
            .map(|(l, h)| l + (h - l) * rng.unit())
            .collect();
        let mut fx = f.evaluate(&x);
        let mut y = x.clone();
        let mut step = 0.2;
        for i in 1..self.evaluations {
            for ((v, l), h) in y.iter_mut().zip(lo).zip(hi) {
                let g = rng.unit() + rng.unit() - 1.0; // triangular in (−1, 1)
                *v = (*v + step * (h - l) * g).clamp(*l, *h);
            }
            let fy = f.evaluate(&y);
            if fy < fx {
                fx = fy;
                x.copy_from_slice(&y);
            } else {
                y.copy_from_slice(&x);
            }
            step = 0.2 * (1.0 - i as f64 / self.evaluations as f64) + 0.005;
        }
        Ok(OptimizeReport::new(
            x,
            fx,
            self.evaluations,
            self.evaluations,
            StopReason::Iterations,
            p.seed,
        ))
    }
}

fn arg(name: &str, default: u64) -> Result<u64, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{name} needs a non-negative integer")),
        None => Ok(default),
    }
}

fn run<O: Optimizer>(
    name: &str,
    optimizer: O,
    circles: usize,
    reference: &Canvas,
) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let r = Fitter::new(CpuRenderer::new(), Mse, optimizer)
        .circles(circles)
        .seed(1)
        .fit(reference.as_ref())?;
    println!(
        "| {name} | {:.2} | {} | {:.2} |",
        psnr(r.cost),
        r.evaluations,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let circles = arg("--circles", 50)? as usize;
    let iters = arg("--iters", 30)?;
    let reference = circlefit::io::load_image("assets/chelsea_256.png")?;
    let mayfly = Mayfly::builder().iterations(iters).build()?;
    let budget = mayfly.config().total_evaluations();
    println!("{circles} circles, sequential, {budget} evaluations per stage\n");
    println!("| optimizer | PSNR | evaluations | seconds |");
    println!("|---|---:|---:|---:|");
    run("Mayfly (built-in)", mayfly, circles, &reference)?;
    run(
        "random search (custom)",
        RandomSearch {
            evaluations: budget,
        },
        circles,
        &reference,
    )?;
    run(
        "hill climber (custom)",
        HillClimber {
            evaluations: budget,
        },
        circles,
        &reference,
    )?;
    Ok(())
}
