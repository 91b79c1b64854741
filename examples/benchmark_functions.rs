//! Mayfly on the classic benchmark functions: every variant, several seeds, one table.
//!
//! ```text
//! cargo run --release --example benchmark_functions -- [--json] [--shift X] [--iters T]
//!     [--seeds N] [--dim D]
//! ```
//!
//! Defaults: D = 30, the reference population (20 + 20), 1000 iterations, seeds 0..9.
//! `--shift X` (X in [0, 0.5]) moves every optimum by X·(half the box width) along each
//! axis, which catches implementations biased towards the centre of the box.

use std::time::Instant;

use circlefit::mayfly::{Mayfly, Variant, functions};
use circlefit::{Bounds, Optimizer, Problem};

struct Args {
    json: bool,
    shift: f64,
    iters: u64,
    seeds: u64,
    dim: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        json: false,
        shift: 0.0,
        iters: 1000,
        seeds: 10,
        dim: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |n: &str| it.next().ok_or(format!("{n} needs a value"));
        match arg.as_str() {
            "--json" => a.json = true,
            "--shift" => {
                a.shift = val("--shift")?
                    .parse()
                    .map_err(|_| "--shift: not a number".to_string())?
            }
            "--iters" => {
                a.iters = val("--iters")?
                    .parse()
                    .map_err(|_| "--iters: not an integer")?
            }
            "--seeds" => {
                a.seeds = val("--seeds")?
                    .parse()
                    .map_err(|_| "--seeds: not an integer")?
            }
            "--dim" => a.dim = val("--dim")?.parse().map_err(|_| "--dim: not an integer")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(0.0..=0.5).contains(&a.shift) {
        return Err(format!("--shift {} is outside [0, 0.5]", a.shift));
    }
    if a.seeds == 0 || a.dim == 0 {
        return Err("--seeds and --dim must be at least 1".into());
    }
    Ok(a)
}

struct Row {
    function: &'static str,
    variant: &'static str,
    mean: f64,
    std: f64,
    best: f64,
    median: f64,
    evaluations: u64,
    ms: f64,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let mut rows = Vec::new();
    for tf in functions::ALL {
        let bounds = Bounds::uniform(args.dim, -tf.half_width, tf.half_width)?;
        let offset = args.shift * tf.half_width;
        for variant in [Variant::Standard, Variant::desma(), Variant::olce()] {
            let mut mayfly = Mayfly::builder()
                .iterations(args.iters)
                .variant(variant)
                .build()?;
            let mut values = Vec::new();
            let mut evaluations = 0;
            let mut shifted = vec![0.0; args.dim];
            let started = Instant::now();
            for seed in 0..args.seeds {
                let mut f = |x: &[f64]| {
                    for (s, v) in shifted.iter_mut().zip(x) {
                        *s = v - offset;
                    }
                    (tf.f)(&shifted)
                };
                let report = mayfly.minimize(&mut f, &Problem::new(&bounds, seed))?;
                values.push(report.best_f);
                evaluations = report.evaluations;
            }
            let ms = started.elapsed().as_secs_f64() * 1000.0 / args.seeds as f64;
            values.sort_by(f64::total_cmp);
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            let median = if values.len() % 2 == 1 {
                values[values.len() / 2]
            } else {
                0.5 * (values[values.len() / 2 - 1] + values[values.len() / 2])
            };
            rows.push(Row {
                function: tf.name,
                variant: variant.name(),
                mean,
                std,
                best: values[0],
                median,
                evaluations,
                ms,
            });
        }
    }
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "function": r.function, "variant": r.variant, "mean": r.mean, "std": r.std,
                    "best": r.best, "median": r.median, "evaluations": r.evaluations, "ms": r.ms,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "D = {}, {} iterations, seeds 0..{}, shift {}",
            args.dim,
            args.iters,
            args.seeds - 1,
            args.shift
        );
        println!();
        println!("| function | variant | mean | std | best | median | evaluations/run | ms/run |");
        println!("|---|---|---:|---:|---:|---:|---:|---:|");
        for r in &rows {
            println!(
                "| {} | {} | {:.3e} | {:.3e} | {:.3e} | {:.3e} | {} | {:.1} |",
                r.function, r.variant, r.mean, r.std, r.best, r.median, r.evaluations, r.ms
            );
        }
    }
    Ok(())
}
