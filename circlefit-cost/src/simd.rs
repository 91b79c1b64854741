//! The AVX2 and AVX-512 versions of the squared-error kernel, with `std::arch` intrinsics.
//! AVX2: 32 bytes per iteration widened to 16-bit lanes, differences masked on alpha lanes,
//! squared and summed in pairs by `madd` into 32-bit lanes.

use std::arch::x86_64::*;

/// Iterations between flushes of the 32-bit accumulators: each adds at most
/// 4·255² = 260,100 per lane, so 4096 stay far below 2³¹.
const FLUSH: usize = 4096;

/// 0xFFFF on R, G, B lanes, 0 on alpha lanes (unpacked bytes keep the RGBA period).
const MASK: [u16; 16] = [
    0xFFFF, 0xFFFF, 0xFFFF, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0, 0xFFFF,
    0xFFFF, 0xFFFF, 0,
];

#[inline]
#[target_feature(enable = "avx2")]
fn load(bytes: &[u8]) -> __m256i {
    assert!(bytes.len() >= 32);
    // SAFETY: at least 32 readable bytes, checked above; the load is unaligned.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn hsum(acc: __m256i) -> u64 {
    let mut lanes = [0i32; 8];
    // SAFETY: `lanes` is 32 writable bytes; the store is unaligned.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
    lanes.iter().map(|&v| v as u64).sum()
}

/// `acc` plus the squared differences of the R, G, B bytes of 8 pixels (alpha lanes masked
/// off), summed in pairs into 32-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn add_squared_diffs(acc: __m256i, cv: __m256i, rv: __m256i, mask: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    let dlo = _mm256_sub_epi16(
        _mm256_unpacklo_epi8(cv, zero),
        _mm256_unpacklo_epi8(rv, zero),
    );
    let dhi = _mm256_sub_epi16(
        _mm256_unpackhi_epi8(cv, zero),
        _mm256_unpackhi_epi8(rv, zero),
    );
    let (dlo, dhi) = (_mm256_and_si256(dlo, mask), _mm256_and_si256(dhi, mask));
    let acc = _mm256_add_epi32(acc, _mm256_madd_epi16(dlo, dlo));
    _mm256_add_epi32(acc, _mm256_madd_epi16(dhi, dhi))
}

#[target_feature(enable = "avx2")]
fn sse_avx2_inner(candidate: &[u8], reference: &[u8]) -> u64 {
    // SAFETY: `MASK` is 32 readable bytes; the load is unaligned.
    let mask = unsafe { _mm256_loadu_si256(MASK.as_ptr().cast()) };
    let zero = _mm256_setzero_si256();
    let n = candidate.len().min(reference.len()) / 32 * 32;
    let mut total = 0u64;
    let mut acc = zero;
    for (i, (c, r)) in candidate[..n]
        .chunks_exact(32)
        .zip(reference[..n].chunks_exact(32))
        .enumerate()
    {
        let (cv, rv) = (load(c), load(r));
        acc = add_squared_diffs(acc, cv, rv, mask);
        if i % FLUSH == FLUSH - 1 {
            total += hsum(acc);
            acc = zero;
        }
    }
    let (ct, rt) = (&candidate[n..], &reference[n..]);
    if ct.len() != rt.len() || !ct.len().is_multiple_of(4) {
        return total + hsum(acc) + crate::mse::sse_body(ct, rt);
    }
    if !ct.is_empty() {
        let m = _mm256_cmpgt_epi32(
            _mm256_set1_epi32((ct.len() / 4) as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        // SAFETY: only lanes selected by `m` are read, and they lie inside the tails.
        let (cv, rv) = unsafe {
            (
                _mm256_maskload_epi32(ct.as_ptr().cast(), m),
                _mm256_maskload_epi32(rt.as_ptr().cast(), m),
            )
        };
        // Masked-off lanes read 0 in both, so their differences are already 0.
        acc = add_squared_diffs(acc, cv, rv, mask);
    }
    total + hsum(acc)
}

/// The AVX2 version of [`sse_body`](crate::mse::sse_body).
///
/// # Panics
/// If the CPU lacks AVX2 (callers check first).
pub(crate) fn sse_avx2(candidate: &[u8], reference: &[u8]) -> u64 {
    assert!(std::arch::is_x86_feature_detected!("avx2"));
    // SAFETY: AVX2 support was asserted just above.
    unsafe { sse_avx2_inner(candidate, reference) }
}

/// The AVX-512BW version: 64 bytes per step, absolute differences taken on bytes
/// (`subs` both ways), alpha bytes cleared, widened and squared by `madd`; the tail uses
/// byte-masked loads, which read zeros (so zero differences) past the run.
#[target_feature(enable = "avx512bw")]
fn sse_avx512_inner(candidate: &[u8], reference: &[u8]) -> u64 {
    /// Steps between flushes: each adds at most 4·255² = 260,100 per 32-bit lane.
    const FLUSH: usize = 4096;
    let rgb = _mm512_set1_epi32(0x00FF_FFFF);
    let zero = _mm512_setzero_si512();
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
        let m = (1u64 << ct.len()) - 1;
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

/// The AVX-512BW version of [`sse_body`](crate::mse::sse_body).
///
/// # Panics
/// If the CPU lacks AVX-512BW (callers check first).
pub(crate) fn sse_avx512(candidate: &[u8], reference: &[u8]) -> u64 {
    assert!(std::arch::is_x86_feature_detected!("avx512bw"));
    // SAFETY: AVX-512BW support was asserted just above.
    unsafe { sse_avx512_inner(candidate, reference) }
}
