//! Parallel batch evaluation gives bit-identical results for any thread count.
#![cfg(feature = "rayon")]

use circlefit_core::{Bounds, Optimizer, Problem};
use circlefit_mayfly::{Mayfly, ParallelFn, Variant};

fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (std::f64::consts::TAU * v).cos())
            .sum::<f64>()
}

#[test]
fn parallel_equals_serial_for_one_and_two_threads() {
    let b = Bounds::uniform(12, -5.12, 5.12).unwrap();
    for v in [Variant::Standard, Variant::desma(), Variant::olce()] {
        for sync in [false, true] {
            let mut m = Mayfly::builder()
                .iterations(40)
                .variant(v)
                .synchronous_males(sync)
                .build()
                .unwrap();
            let serial = m.minimize(&mut rastrigin, &Problem::new(&b, 77)).unwrap();
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let par = pool.install(|| {
                    m.minimize(&mut ParallelFn(rastrigin), &Problem::new(&b, 77))
                        .unwrap()
                });
                assert_eq!(par, serial, "{v:?} sync={sync} threads={threads}");
                assert_eq!(par.best_f.to_bits(), serial.best_f.to_bits());
            }
        }
    }
}
