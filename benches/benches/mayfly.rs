//! Mayfly's own overhead: a full default run on 30-D Sphere (1000 iterations,
//! 40 + 61·1000 = 61,040 evaluations), per variant.

use std::hint::black_box;

use circlefit::mayfly::{Mayfly, Variant, functions};
use circlefit::{Bounds, Optimizer, Problem};
use circlefit_benches::bench_op;
use criterion::{Criterion, criterion_group, criterion_main};

fn mayfly(c: &mut Criterion) {
    let bounds = Bounds::uniform(30, -100.0, 100.0).expect("bounds");
    for variant in [Variant::Standard, Variant::desma(), Variant::olce()] {
        let mut m = Mayfly::builder()
            .iterations(1000)
            .variant(variant)
            .build()
            .expect("settings");
        let evals = m.config().total_evaluations();
        let id = format!("sphere30_1000it_{}", variant.name());
        bench_op(c, "mayfly", &id, evals, || {
            let r = m
                .minimize(&mut functions::sphere, &Problem::new(&bounds, 1))
                .expect("run");
            black_box(r);
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = mayfly
}
criterion_main!(benches);
