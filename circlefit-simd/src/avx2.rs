//! AVX2 lane helpers and the AVX2 squared-error kernel.
//!
//! 32 bytes (8 pixels) are widened to 16-bit lanes per step; squared differences use
//! `madd` (pairs of 16-bit products summed into 32-bit lanes), with alpha lanes zeroed by
//! [`MASK`]. The helpers are `#[inline]` with the `avx2` target feature, so they inline
//! into callers compiled for it (in this crate or another).

use std::arch::x86_64::*;

/// 0xFFFF on R, G, B lanes, 0 on alpha lanes (unpacked bytes keep the RGBA period).
pub const MASK: [u16; 16] = [
    0xFFFF, 0xFFFF, 0xFFFF, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0, 0xFFFF,
    0xFFFF, 0xFFFF, 0,
];

/// Iterations of [`squared_error`] between flushes of the 32-bit accumulators: each adds
/// at most 4·255² = 260,100 per lane, so 4096 stay far below 2³¹.
const FLUSH: usize = 4096;

/// Sixteen 16-bit lanes.
///
/// # Safety
/// The CPU must have AVX2: call it from code compiled with the `avx2` target
/// feature, or after [`has_avx2`](crate::has_avx2) returned `true`.
#[inline]
#[target_feature(enable = "avx2")]
pub fn load16(v: &[u16; 16]) -> __m256i {
    // SAFETY: `v` is 32 readable bytes; the load is unaligned.
    unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
}

/// The first 32 bytes of `bytes`.
///
/// # Panics
/// If `bytes` is shorter than 32.
///
/// # Safety
/// The CPU must have AVX2: call it from code compiled with the `avx2` target
/// feature, or after [`has_avx2`](crate::has_avx2) returned `true`.
#[inline]
#[target_feature(enable = "avx2")]
pub fn load(bytes: &[u8]) -> __m256i {
    assert!(bytes.len() >= 32);
    // SAFETY: at least 32 readable bytes, checked above; the load is unaligned.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

/// All-ones 32-bit lanes for the first `n` (< 8) pixels.
///
/// # Safety
/// The CPU must have AVX2: call it from code compiled with the `avx2` target
/// feature, or after [`has_avx2`](crate::has_avx2) returned `true`.
#[inline]
#[target_feature(enable = "avx2")]
pub fn pixel_mask(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// Loads the pixels of `bytes` selected by `mask`; the rest read 0.
///
/// # Safety
/// `mask` must select only pixels inside `bytes`: [`pixel_mask`]`(n)` with
/// `4·n <= bytes.len()` (unchecked, because the kernels load every run's tail this way);
/// and the CPU must have AVX2.
#[inline]
#[target_feature(enable = "avx2")]
pub unsafe fn load_tail(bytes: &[u8], mask: __m256i) -> __m256i {
    // SAFETY: only lanes selected by `mask` are read, inside `bytes` by the contract.
    unsafe { _mm256_maskload_epi32(bytes.as_ptr().cast(), mask) }
}

/// The bytes of `v` widened to 16-bit lanes: (low half, high half) of each 128-bit lane.
///
/// # Safety
/// The CPU must have AVX2: call it from code compiled with the `avx2` target
/// feature, or after [`has_avx2`](crate::has_avx2) returned `true`.
#[inline]
#[target_feature(enable = "avx2")]
pub fn widen(v: __m256i) -> (__m256i, __m256i) {
    let zero = _mm256_setzero_si256();
    (_mm256_unpacklo_epi8(v, zero), _mm256_unpackhi_epi8(v, zero))
}

/// `acc` plus the squared differences between 16-bit lanes `(lo, hi)` and the reference
/// bytes `rv`, lanes selected by `(mlo, mhi)`, summed in pairs by `madd`.
///
/// # Safety
/// The CPU must have AVX2: call it from code compiled with the `avx2` target
/// feature, or after [`has_avx2`](crate::has_avx2) returned `true`.
#[inline]
#[target_feature(enable = "avx2")]
pub fn add_squared_diffs(
    acc: __m256i,
    (lo, hi): (__m256i, __m256i),
    rv: __m256i,
    (mlo, mhi): (__m256i, __m256i),
) -> __m256i {
    let (rlo, rhi) = widen(rv);
    let dlo = _mm256_and_si256(_mm256_sub_epi16(lo, rlo), mlo);
    let dhi = _mm256_and_si256(_mm256_sub_epi16(hi, rhi), mhi);
    let acc = _mm256_add_epi32(acc, _mm256_madd_epi16(dlo, dlo));
    _mm256_add_epi32(acc, _mm256_madd_epi16(dhi, dhi))
}

/// `acc` plus the squared differences of the R, G, B bytes of 8 pixels `cv` and `rv`
/// (alpha lanes masked off by `mask`), summed in pairs into 32-bit lanes: the plain
/// (unblended) form of [`add_squared_diffs`].
///
/// # Safety
/// The CPU must have AVX2: call it from code compiled with the `avx2` target
/// feature, or after [`has_avx2`](crate::has_avx2) returned `true`.
#[inline]
#[target_feature(enable = "avx2")]
pub fn add_squared_byte_diffs(acc: __m256i, cv: __m256i, rv: __m256i, mask: __m256i) -> __m256i {
    add_squared_diffs(acc, widen(cv), rv, (mask, mask))
}

/// The sum of the eight 32-bit lanes (each non-negative).
///
/// # Safety
/// The CPU must have AVX2: call it from code compiled with the `avx2` target
/// feature, or after [`has_avx2`](crate::has_avx2) returned `true`.
#[inline]
#[target_feature(enable = "avx2")]
pub fn hsum(acc: __m256i) -> u64 {
    let mut lanes = [0i32; 8];
    // SAFETY: `lanes` is 32 writable bytes; the store is unaligned.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
    lanes.iter().map(|&v| v as u64).sum()
}

#[target_feature(enable = "avx2")]
fn squared_error_inner(candidate: &[u8], reference: &[u8]) -> u64 {
    // SAFETY: `MASK` is 32 readable bytes; the load is unaligned.
    let mask = unsafe { _mm256_loadu_si256(MASK.as_ptr().cast()) };
    let zero = _mm256_setzero_si256();
    let n = candidate.len().min(reference.len()) / 32 * 32;
    let mut total = 0u64;
    let mut acc = zero;
    let mut since_flush = 0;
    for (c, r) in candidate[..n]
        .chunks_exact(32)
        .zip(reference[..n].chunks_exact(32))
    {
        acc = add_squared_byte_diffs(acc, load(c), load(r), mask);
        since_flush += 1;
        if since_flush == FLUSH {
            total += hsum(acc);
            acc = zero;
            since_flush = 0;
        }
    }
    let (ct, rt) = (&candidate[n..], &reference[n..]);
    if ct.len() != rt.len() || !ct.len().is_multiple_of(4) {
        return total + hsum(acc) + crate::squared_error_portable(ct, rt);
    }
    if !ct.is_empty() {
        let m = pixel_mask(ct.len() / 4);
        // SAFETY: `m` selects `ct.len() / 4` pixels, and both tails are that long.
        let (cv, rv) = unsafe { (load_tail(ct, m), load_tail(rt, m)) };
        // Masked-off lanes read 0 in both, so their differences are already 0.
        acc = add_squared_byte_diffs(acc, cv, rv, mask);
    }
    total + hsum(acc)
}

/// The AVX2 copy of [`sum_squared_error`](crate::sum_squared_error).
///
/// # Panics
/// If the CPU lacks AVX2 (callers check first).
pub fn squared_error(candidate: &[u8], reference: &[u8]) -> u64 {
    assert!(crate::has_avx2());
    // SAFETY: AVX2 support was asserted just above.
    unsafe { squared_error_inner(candidate, reference) }
}
