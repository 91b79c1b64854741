//! Mayfly's own overhead: a full default run on 30-D Sphere (1000 iterations,
//! 40 + 61·1000 = 61,040 evaluations), per variant.

use circlefit::Bounds;
use circlefit::mayfly::{Mayfly, Variant, functions};
use circlefit_benches::bench_optimizer;
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: circlefit_benches::CountingAlloc = circlefit_benches::CountingAlloc;

fn mayfly(c: &mut Criterion) {
    let bounds = Bounds::uniform(30, -100.0, 100.0).expect("bounds");
    for variant in [Variant::Standard, Variant::desma(), Variant::olce()] {
        let mut m = Mayfly::builder()
            .iterations(1000)
            .variant(variant)
            .build()
            .expect("settings");
        let id = format!("mayfly/sphere30_1000it_{}", variant.name());
        bench_optimizer(c, &id, &mut m, functions::sphere, &bounds);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = mayfly
}
criterion_main!(benches);
