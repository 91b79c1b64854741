//! AVX-512BW lane helpers and the AVX-512BW squared-error kernel: 64 bytes per load,
//! byte-masked loads for run tails, so no scalar tail loop is needed.

use std::arch::x86_64::*;

/// Steps of [`squared_error`] between flushes: each adds at most 4·255² = 260,100 per
/// 32-bit lane.
const FLUSH: usize = 4096;

/// The first 64 bytes of `bytes`.
///
/// # Panics
/// If `bytes` is shorter than 64.
///
/// # Safety
/// The CPU must have AVX512BW: call it from code compiled with the `avx512bw` target
/// feature, or after [`has_avx512bw`](crate::has_avx512bw) returned `true`.
#[inline]
#[target_feature(enable = "avx512bw")]
pub fn load64(bytes: &[u8]) -> __m512i {
    assert!(bytes.len() >= 64);
    // SAFETY: at least 64 readable bytes, checked above; the load is unaligned.
    unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
}

/// The first `n` (< 64) bytes selected.
#[inline]
pub fn first_bytes(n: usize) -> u64 {
    (1u64 << n) - 1
}

/// The bytes of `bytes` selected by `mask` (a run of low bits), zeros elsewhere.
///
/// # Panics
/// If the highest selected byte lies outside `bytes`.
///
/// # Safety
/// The CPU must have AVX512BW: call it from code compiled with the `avx512bw` target
/// feature, or after [`has_avx512bw`](crate::has_avx512bw) returned `true`.
#[inline]
#[target_feature(enable = "avx512bw")]
pub fn load_masked(bytes: &[u8], mask: u64) -> __m512i {
    assert!(64 - mask.leading_zeros() as usize <= bytes.len());
    // SAFETY: only the bytes selected by `mask` are read, and the highest of them lies
    // inside `bytes` (checked above); masked-off bytes do not fault.
    unsafe { _mm512_maskz_loadu_epi8(mask, bytes.as_ptr().cast()) }
}

#[target_feature(enable = "avx512bw")]
fn squared_error_inner(candidate: &[u8], reference: &[u8]) -> u64 {
    let rgb = _mm512_set1_epi32(0x00FF_FFFF);
    let zero = _mm512_setzero_si512();
    // Absolute differences taken on bytes (`subs` both ways), alpha bytes cleared,
    // widened and squared by `madd`.
    let step = |acc: __m512i, cv: __m512i, rv: __m512i| {
        let d = _mm512_or_si512(_mm512_subs_epu8(cv, rv), _mm512_subs_epu8(rv, cv));
        let d = _mm512_and_si512(d, rgb);
        let (lo, hi) = (_mm512_unpacklo_epi8(d, zero), _mm512_unpackhi_epi8(d, zero));
        let acc = _mm512_add_epi32(acc, _mm512_madd_epi16(lo, lo));
        _mm512_add_epi32(acc, _mm512_madd_epi16(hi, hi))
    };
    let widen = |total: __m512i, acc: __m512i| {
        let lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(acc));
        let hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(acc, 1));
        _mm512_add_epi64(total, _mm512_add_epi64(lo, hi))
    };
    let n = candidate.len().min(reference.len());
    let (mut acc, mut total) = (zero, zero);
    let (mut cc, mut rc) = (
        candidate[..n].chunks_exact(64),
        reference[..n].chunks_exact(64),
    );
    for (i, (c, r)) in (&mut cc).zip(&mut rc).enumerate() {
        // SAFETY: `c` and `r` are exactly 64 readable bytes; the loads are unaligned.
        let (cv, rv) = unsafe {
            (
                _mm512_loadu_si512(c.as_ptr().cast()),
                _mm512_loadu_si512(r.as_ptr().cast()),
            )
        };
        acc = step(acc, cv, rv);
        if i % FLUSH == FLUSH - 1 {
            total = widen(total, acc);
            acc = zero;
        }
    }
    let (ct, rt) = (cc.remainder(), rc.remainder());
    if !ct.is_empty() {
        let m = first_bytes(ct.len());
        // SAFETY: only the first `ct.len()` bytes (< 64) of each tail are read, and both
        // tails are that long; masked-off bytes do not fault.
        let (cv, rv) = unsafe {
            (
                _mm512_maskz_loadu_epi8(m, ct.as_ptr().cast()),
                _mm512_maskz_loadu_epi8(m, rt.as_ptr().cast()),
            )
        };
        acc = step(acc, cv, rv);
    }
    _mm512_reduce_add_epi64(widen(total, acc)) as u64
}

/// The AVX-512BW copy of [`sum_squared_error`](crate::sum_squared_error).
///
/// # Panics
/// If the CPU lacks AVX-512BW (callers check first).
pub fn squared_error(candidate: &[u8], reference: &[u8]) -> u64 {
    assert!(crate::has_avx512bw());
    // SAFETY: AVX-512BW support was asserted just above.
    unsafe { squared_error_inner(candidate, reference) }
}
