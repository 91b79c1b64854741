//! Mayfly's random draws, through `rand`'s and `rand_distr`'s distributions. A seeded run
//! depends on the generator and on those distributions' algorithms: `rand_distr` keeps a
//! stream's values within a minor version, which Cargo.toml pins (and the lock file the
//! patch), so pinned results stay put until the dependency is deliberately moved.

use rand::distr::{StandardUniform, Uniform};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// Uniform in `[0, 1)`.
pub(crate) fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    rng.sample(StandardUniform)
}

/// Uniform in `[lo, hi)` (`lo` when the interval is empty or not finite).
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    Uniform::new(lo, hi).map_or(lo, |u| rng.sample(u))
}

/// Uniform integer in `0..n` (`n > 0`).
pub(crate) fn index<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    rng.random_range(0..n)
}

/// Standard normal.
pub(crate) fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    rng.sample(StandardNormal)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn draws_have_the_right_moments() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 200_000;
        let (mut s, mut s2, mut m) = (0.0, 0.0, 0.0);
        let mut counts = [0usize; 5];
        for _ in 0..n {
            let z = normal(&mut rng);
            s += z;
            s2 += z * z;
            m += unit(&mut rng);
            counts[index(&mut rng, 5)] += 1;
        }
        let n = f64::from(n);
        assert!((s / n).abs() < 0.01);
        assert!((s2 / n - 1.0).abs() < 0.02);
        assert!((m / n - 0.5).abs() < 0.01);
        assert!(counts.iter().all(|&c| (c as f64 / n - 0.2).abs() < 0.01));
        let u = uniform(&mut rng, -1.0, 1.0);
        assert!((-1.0..1.0).contains(&u));
    }

    #[test]
    fn an_empty_interval_gives_its_start() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        assert_eq!(uniform(&mut rng, 0.0, 0.0), 0.0);
        assert_eq!(uniform(&mut rng, 3.0, f64::NAN), 3.0);
    }
}
