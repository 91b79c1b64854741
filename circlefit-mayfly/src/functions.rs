//! Standard benchmark functions, each with its usual search box; all have minimum 0 at the
//! origin.

use std::f64::consts::{E, TAU};

/// A benchmark function with its conventional symmetric box `[−half_width, half_width]ᴰ`.
#[derive(Clone, Copy, Debug)]
pub struct TestFunction {
    /// Its name.
    pub name: &'static str,
    /// Half the box width.
    pub half_width: f64,
    /// The function.
    pub f: fn(&[f64]) -> f64,
}

/// Sphere, `Σ xᵢ²`, on `[−100, 100]ᴰ`.
pub fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// Rosenbrock, `Σ 100(xᵢ₊₁ − xᵢ²)² + (xᵢ − 1)²`, on `[−30, 30]ᴰ` (minimum at `(1, …, 1)`;
/// [`TestFunction`]s shift it to the origin).
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (w[0] - 1.0).powi(2))
        .sum()
}

fn rosenbrock_at_origin(x: &[f64]) -> f64 {
    // Evaluate at x + 1 so that the minimum sits at the origin like the others'.
    let mut prev = x.first().map_or(0.0, |v| v + 1.0);
    let mut s = 0.0;
    for v in &x[1.min(x.len())..] {
        let cur = v + 1.0;
        s += 100.0 * (cur - prev * prev).powi(2) + (prev - 1.0).powi(2);
        prev = cur;
    }
    s
}

/// Rastrigin, `10D + Σ (xᵢ² − 10 cos 2πxᵢ)`, on `[−5.12, 5.12]ᴰ`.
pub fn rastrigin(x: &[f64]) -> f64 {
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (TAU * v).cos())
            .sum::<f64>()
}

/// Ackley, on `[−32, 32]ᴰ`.
pub fn ackley(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let s1 = x.iter().map(|v| v * v).sum::<f64>() / n;
    let s2 = x.iter().map(|v| (TAU * v).cos()).sum::<f64>() / n;
    -20.0 * (-0.2 * s1.sqrt()).exp() - s2.exp() + 20.0 + E
}

/// Griewank, `1 + Σ xᵢ²/4000 − Π cos(xᵢ/√i)`, on `[−600, 600]ᴰ`.
pub fn griewank(x: &[f64]) -> f64 {
    let s = x.iter().map(|v| v * v).sum::<f64>() / 4000.0;
    let p: f64 = x
        .iter()
        .enumerate()
        .map(|(i, v)| (v / ((i + 1) as f64).sqrt()).cos())
        .product();
    1.0 + s - p
}

/// Schwefel 2.22, `Σ |xᵢ| + Π |xᵢ|`, on `[−10, 10]ᴰ`.
pub fn schwefel_2_22(x: &[f64]) -> f64 {
    x.iter().map(|v| v.abs()).sum::<f64>() + x.iter().map(|v| v.abs()).product::<f64>()
}

/// The six classic functions with their boxes, minimum 0 at the origin.
pub const ALL: [TestFunction; 6] = [
    TestFunction {
        name: "sphere",
        half_width: 100.0,
        f: sphere,
    },
    TestFunction {
        name: "rosenbrock",
        half_width: 30.0,
        f: rosenbrock_at_origin,
    },
    TestFunction {
        name: "rastrigin",
        half_width: 5.12,
        f: rastrigin,
    },
    TestFunction {
        name: "ackley",
        half_width: 32.0,
        f: ackley,
    },
    TestFunction {
        name: "griewank",
        half_width: 600.0,
        f: griewank,
    },
    TestFunction {
        name: "schwefel_2_22",
        half_width: 10.0,
        f: schwefel_2_22,
    },
];

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;

    #[test]
    fn minima_are_zero_at_the_origin() {
        for tf in ALL {
            let v = (tf.f)(&[0.0; 30]);
            assert!(v.abs() < 1e-12, "{}: {v}", tf.name);
            assert!((tf.f)(&[0.5; 30]) > 1e-6, "{}", tf.name);
        }
        assert_eq!(rosenbrock(&[1.0; 5]), 0.0);
        assert_eq!(
            rosenbrock_at_origin(&[0.3, -0.2, 0.7]),
            rosenbrock(&[1.3, 0.8, 1.7])
        );
    }
}
