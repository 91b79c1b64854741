//! The pixel kernels circlefit's renderer and costs share, so each lives once: the exact
//! squared R, G, B error of two runs of RGBA pixels (portable, AVX2 and AVX-512BW copies
//! chosen at run time), the portable body it is built from, the AVX2 and AVX-512 lane
//! helpers that `circlefit-render`'s fused blend + error kernel is also built from, and
//! the CPU feature checks.
//!
//! Every copy computes the same integer; the tests compare each with a naive sum.
//!
//! ```
//! let a = [10u8, 20, 30, 255, 0, 0, 0, 0];
//! let b = [13u8, 16, 30, 0, 0, 0, 0, 255];
//! // (3² + 4² + 0) + 0: alpha is ignored.
//! assert_eq!(circlefit_simd::sum_squared_error(&a, &b), 25);
//! ```

// The intrinsics need `unsafe` for loads and stores; each block says why it is sound.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;

/// 1 for R, G, B lanes, 0 for alpha lanes, over 4 pixels.
pub const RGB_MASK: [u32; 16] = [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0];

/// Whether the AVX2 copies may run here (detected once by std, then a cached load).
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether AVX-512BW may run here.
#[inline]
pub fn has_avx512bw() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether AVX-512BW, VBMI, VNNI and BMI2 may all run here (what the renderer's fused
/// kernels use).
#[inline]
pub fn has_avx512_fused() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
            && std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("bmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `Σ (map(j, c) − r)²` over the R, G, B bytes of two equally long runs (alpha bytes
/// ignored), where `j` is a byte's position modulo 16: the portable body of the plain
/// squared error (`map` the identity) and of the renderer's fused blend + error kernel
/// (`map` the blend). Exact in `u64`.
#[inline(always)]
pub fn squared_error_with(
    candidate: &[u8],
    reference: &[u8],
    map: impl Fn(usize, u8) -> u8,
) -> u64 {
    let mut total = 0u64;
    // Blocks of 4096 pixels keep each u32 lane below 4096·255² < 2³².
    for (cb, rb) in candidate.chunks(16 * 4096).zip(reference.chunks(16 * 4096)) {
        let mut acc = [0u32; 16];
        let mut cc = cb.chunks_exact(16);
        let mut rc = rb.chunks_exact(16);
        for (c, r) in (&mut cc).zip(&mut rc) {
            for j in 0..16 {
                let d = i32::from(map(j, c[j])) - i32::from(r[j]);
                acc[j] += (d * d) as u32 * RGB_MASK[j];
            }
        }
        for (j, (&c, &r)) in cc.remainder().iter().zip(rc.remainder()).enumerate() {
            let d = i32::from(map(j, c)) - i32::from(r);
            acc[j] += (d * d) as u32 * RGB_MASK[j];
        }
        total += acc.iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    total
}

/// The portable squared R, G, B error of two runs (what the baseline build compiles).
#[inline(always)]
pub fn squared_error_portable(candidate: &[u8], reference: &[u8]) -> u64 {
    squared_error_with(candidate, reference, |_, v| v)
}

/// The sum of squared R, G, B differences of two equally long runs of RGBA pixels, alpha
/// ignored.
///
/// Runs an AVX-512BW or AVX2 copy of the loop where the CPU has it (detected at run time),
/// else the portable one; all compute the same integer.
///
/// # Panics
/// If the runs differ in length.
pub fn sum_squared_error(candidate: &[u8], reference: &[u8]) -> u64 {
    assert_eq!(
        candidate.len(),
        reference.len(),
        "pixel runs differ in length"
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx512bw() {
        return avx512::squared_error(candidate, reference);
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        return avx2::squared_error(candidate, reference);
    }
    squared_error_portable(candidate, reference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_kernel_copy_matches_the_naive_sum() {
        let cases = [0usize, 1, 3, 4, 5, 15, 16, 17, 33, 1000, 70_000]
            .into_iter()
            .map(|n| {
                (
                    (0..4 * n)
                        .map(|i| (i * 131 % 251) as u8)
                        .collect::<Vec<u8>>(),
                    (0..4 * n)
                        .map(|i| (i * 71 % 241) as u8)
                        .collect::<Vec<u8>>(),
                )
            })
            // Largest differences over several accumulator flushes.
            .chain([(vec![0u8; 4 * 300_001], vec![255u8; 4 * 300_001])]);
        for (a, b) in cases {
            let want: u64 = a
                .chunks(4)
                .zip(b.chunks(4))
                .map(|(p, q)| {
                    (0..3)
                        .map(|k| (i64::from(p[k]) - i64::from(q[k])).pow(2) as u64)
                        .sum::<u64>()
                })
                .sum();
            assert_eq!(squared_error_portable(&a, &b), want);
            assert_eq!(sum_squared_error(&a, &b), want);
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                assert_eq!(avx2::squared_error(&a, &b), want);
            }
            #[cfg(target_arch = "x86_64")]
            if has_avx512bw() {
                assert_eq!(avx512::squared_error(&a, &b), want);
            }
        }
    }

    proptest! {
        #[test]
        fn the_dispatched_kernel_equals_the_portable_one(
            (a, b) in (0usize..200).prop_flat_map(|n| (
                prop::collection::vec(any::<u8>(), 4 * n),
                prop::collection::vec(any::<u8>(), 4 * n),
            )),
        ) {
            prop_assert_eq!(sum_squared_error(&a, &b), squared_error_portable(&a, &b));
        }
    }
}
