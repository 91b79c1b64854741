//! Random draws built directly on a generator's `next_u64`, so a seeded run depends only on
//! the generator's algorithm, never on a distribution crate's implementation details.

use rand::Rng;

/// Uniform in `[0, 1)` with 53 random bits.
pub(crate) fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform in `[lo, hi)`.
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// Uniform integer in `0..n` (`n > 0`), by 128-bit multiply (bias below 2⁻⁴⁰ for the sizes
/// used here).
pub(crate) fn index<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Standard normal, by the Box–Muller transform (one of the pair is used).
pub(crate) fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]: keeps ln finite
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
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
}
