//! Adam (Kingma & Ba) over the refinement's numbers, with a step size per kind of number
//! and a cosine schedule: written here because it is a dozen lines over a flat vector and
//! the refinement needs its box clamps and per-number rates, which general crates do not
//! offer without a tensor library.

use super::model::NUMBERS;

/// The largest step of each of a circle's numbers at the start of the schedule: x, y and
/// radius in pixels, the colour channels and alpha in their `[0, 1]` range, the ramp width
/// in pixels. Measured on the bundled cat and two other photographs (docs/quality.md).
const RATES: [f64; NUMBERS] = [0.25, 0.25, 0.25, 0.008, 0.008, 0.008, 0.008, 0.25];

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-12;

/// Adam's moments.
#[derive(Debug)]
pub(crate) struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
    steps: u32,
}

impl Adam {
    /// Adam over `len` numbers for a schedule of `steps` steps.
    pub(crate) fn new(len: usize, steps: u32) -> Self {
        Self {
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
            steps,
        }
    }

    /// One step of `x` against `grad`, each number then clamped to `[lower, upper]`.
    pub(crate) fn step(&mut self, x: &mut [f64], grad: &[f64], lower: &[f64], upper: &[f64]) {
        let progress = f64::from(self.t) / f64::from(self.steps.max(1));
        let scale = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.t += 1;
        let (c1, c2) = (1.0 - BETA1.powi(self.t), 1.0 - BETA2.powi(self.t));
        for (i, xi) in x.iter_mut().enumerate() {
            let g = grad[i];
            self.m[i] = BETA1 * self.m[i] + (1.0 - BETA1) * g;
            self.v[i] = BETA2 * self.v[i] + (1.0 - BETA2) * g * g;
            let step =
                RATES[i % NUMBERS] * scale * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + EPSILON);
            *xi = (*xi - step).clamp(lower[i], upper[i]);
        }
    }
}
