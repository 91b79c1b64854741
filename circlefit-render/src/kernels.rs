//! Pixel kernels: a portable body per kernel and, on x86-64, an AVX2 version written with
//! `std::arch` intrinsics, chosen at run time. Both compute the same integers; the tests
//! compare every version with a naive definition on random inputs.
//!
//! The AVX2 versions widen 32 bytes (8 pixels) to 16-bit lanes per iteration: the blend is
//! `mullo`/`add`/`srli` on those lanes, and squared differences use `madd` (pairs of 16-bit
//! products summed into 32-bit lanes), with alpha lanes zeroed by a mask.

/// Per-byte blend constants for 4 pixels (16 bytes): `p' = (p·mul + add) >> 8`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blend16 {
    mul: [u16; 16],
    add: [u16; 16],
}

impl Blend16 {
    pub(crate) fn new(mul: [u16; 4], add: [u16; 4]) -> Self {
        Self {
            mul: std::array::from_fn(|j| mul[j % 4]),
            add: std::array::from_fn(|j| add[j % 4]),
        }
    }

    #[inline(always)]
    fn apply(&self, j: usize, p: u8) -> u8 {
        ((u16::from(p) * self.mul[j] + self.add[j]) >> 8) as u8
    }
}

/// 1 for R, G, B lanes, 0 for alpha lanes.
const RGB_MASK: [u32; 16] = [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0];

#[inline(always)]
fn blend_body(pixels: &mut [u8], b: &Blend16) {
    let mut chunks = pixels.chunks_exact_mut(16);
    for c in &mut chunks {
        for (j, p) in c.iter_mut().enumerate() {
            *p = b.apply(j, *p);
        }
    }
    for (j, p) in chunks.into_remainder().iter_mut().enumerate() {
        *p = b.apply(j, *p);
    }
}

/// Σ (blend(kept) − reference)² over R, G, B; nothing is written.
#[inline(always)]
fn blend_sse_body(kept: &[u8], reference: &[u8], b: &Blend16) -> u64 {
    let mut total = 0u64;
    // Blocks of 4096 pixels keep each u32 lane below 4096·255² < 2³².
    for (kb, rb) in kept.chunks(16 * 4096).zip(reference.chunks(16 * 4096)) {
        let mut acc = [0u32; 16];
        let mut kc = kb.chunks_exact(16);
        let mut rc = rb.chunks_exact(16);
        for (k, r) in (&mut kc).zip(&mut rc) {
            for j in 0..16 {
                let d = i32::from(b.apply(j, k[j])) - i32::from(r[j]);
                acc[j] += (d * d) as u32 * RGB_MASK[j];
            }
        }
        for (j, (&k, &r)) in kc.remainder().iter().zip(rc.remainder()).enumerate() {
            let d = i32::from(b.apply(j, k)) - i32::from(r);
            acc[j] += (d * d) as u32 * RGB_MASK[j];
        }
        total += acc.iter().map(|&v| u64::from(v)).sum::<u64>();
    }
    total
}

#[cfg(target_arch = "x86_64")]
use avx2::{blend as blend_avx2, blend_sse as blend_sse_avx2, channel_sums as channel_sums_avx2};

/// Adds the R, G, B bytes of a run of RGBA pixels to `sums`.
#[inline]
pub(crate) fn channel_sums(pixels: &[u8], sums: &mut [u64; 3]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { channel_sums_avx2(pixels, sums) };
        return;
    }
    circlefit_core::raster::add_channel_sums(pixels, sums);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Blend16, blend_body, blend_sse_body};

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
    fn load16(v: &[u16; 16]) -> __m256i {
        // SAFETY: `v` is 32 readable bytes; the load is unaligned.
        unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(bytes: &[u8]) -> __m256i {
        assert!(bytes.len() >= 32);
        // SAFETY: at least 32 readable bytes, checked above; the load is unaligned.
        unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
    }

    /// The blended 16-bit lanes (low and high halves of each 128-bit lane) of 32 bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn blend_lanes(v: __m256i, mul: __m256i, add: __m256i) -> (__m256i, __m256i) {
        let zero = _mm256_setzero_si256();
        let lo = _mm256_unpacklo_epi8(v, zero);
        let hi = _mm256_unpackhi_epi8(v, zero);
        let lo = _mm256_srli_epi16(_mm256_add_epi16(_mm256_mullo_epi16(lo, mul), add), 8);
        let hi = _mm256_srli_epi16(_mm256_add_epi16(_mm256_mullo_epi16(hi, mul), add), 8);
        (lo, hi)
    }

    /// All-ones 32-bit lanes for the first `n` (< 8) pixels.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pixel_mask(n: usize) -> __m256i {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }

    /// Loads the first `n` (< 8) pixels of `bytes` (exactly `4n` long); the rest read 0.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load_tail(bytes: &[u8], mask: __m256i) -> __m256i {
        // SAFETY: only lanes selected by `mask` are read, and they lie inside `bytes`.
        unsafe { _mm256_maskload_epi32(bytes.as_ptr().cast(), mask) }
    }

    /// `acc` plus the squared differences between blended 16-bit lanes `(lo, hi)` and the
    /// reference bytes `rv`, lanes selected by `(mlo, mhi)`, summed in pairs by `madd`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add_squared_diffs(
        acc: __m256i,
        (lo, hi): (__m256i, __m256i),
        rv: __m256i,
        (mlo, mhi): (__m256i, __m256i),
    ) -> __m256i {
        let zero = _mm256_setzero_si256();
        let dlo = _mm256_and_si256(_mm256_sub_epi16(lo, _mm256_unpacklo_epi8(rv, zero)), mlo);
        let dhi = _mm256_and_si256(_mm256_sub_epi16(hi, _mm256_unpackhi_epi8(rv, zero)), mhi);
        let acc = _mm256_add_epi32(acc, _mm256_madd_epi16(dlo, dlo));
        _mm256_add_epi32(acc, _mm256_madd_epi16(dhi, dhi))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum(acc: __m256i) -> u64 {
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` is 32 writable bytes; the store is unaligned.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
        lanes.iter().map(|&v| v as u64).sum()
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn channel_sums(pixels: &[u8], sums: &mut [u64; 3]) {
        // Byte masks selecting one channel of every pixel; `sad` against zero then adds
        // each 8-byte group's selected bytes into a 64-bit lane.
        let pick = |k: usize| _mm256_set1_epi32(0xFF << (8 * k));
        let masks = [pick(0), pick(1), pick(2)];
        let zero = _mm256_setzero_si256();
        let mut acc = [zero; 3];
        let mut chunks = pixels.chunks_exact(32);
        for c in &mut chunks {
            let v = load(c);
            for k in 0..3 {
                acc[k] =
                    _mm256_add_epi64(acc[k], _mm256_sad_epu8(_mm256_and_si256(v, masks[k]), zero));
            }
        }
        let tail = chunks.remainder();
        if !tail.len().is_multiple_of(4) {
            return circlefit_core::raster::add_channel_sums(pixels, sums);
        }
        if !tail.is_empty() {
            let v = load_tail(tail, pixel_mask(tail.len() / 4));
            for k in 0..3 {
                acc[k] =
                    _mm256_add_epi64(acc[k], _mm256_sad_epu8(_mm256_and_si256(v, masks[k]), zero));
            }
        }
        for k in 0..3 {
            let mut lanes = [0u64; 4];
            // SAFETY: `lanes` is 32 writable bytes; the store is unaligned.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc[k]) };
            sums[k] += lanes.iter().sum::<u64>();
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn blend(pixels: &mut [u8], b: &Blend16) {
        let (mul, add) = (load16(&b.mul), load16(&b.add));
        let mut chunks = pixels.chunks_exact_mut(32);
        for c in &mut chunks {
            let (lo, hi) = blend_lanes(load(c), mul, add);
            // SAFETY: `c` is exactly 32 writable bytes; the store is unaligned.
            unsafe { _mm256_storeu_si256(c.as_mut_ptr().cast(), _mm256_packus_epi16(lo, hi)) };
        }
        let tail = chunks.into_remainder();
        if !tail.len().is_multiple_of(4) {
            return blend_body(tail, b);
        }
        if !tail.is_empty() {
            let m = pixel_mask(tail.len() / 4);
            let (lo, hi) = blend_lanes(load_tail(tail, m), mul, add);
            // SAFETY: only lanes selected by `m` are written, and they lie inside `tail`.
            unsafe {
                _mm256_maskstore_epi32(tail.as_mut_ptr().cast(), m, _mm256_packus_epi16(lo, hi))
            };
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn blend_sse(kept: &[u8], reference: &[u8], b: &Blend16) -> u64 {
        let (mul, add, mask) = (load16(&b.mul), load16(&b.add), load16(&MASK));
        let zero = _mm256_setzero_si256();
        let n = kept.len().min(reference.len()) / 32 * 32;
        let mut total = 0u64;
        let mut acc = zero;
        for (i, (k, r)) in kept[..n]
            .chunks_exact(32)
            .zip(reference[..n].chunks_exact(32))
            .enumerate()
        {
            let (lo, hi) = blend_lanes(load(k), mul, add);
            let rv = load(r);
            acc = add_squared_diffs(acc, (lo, hi), rv, (mask, mask));
            if i % FLUSH == FLUSH - 1 {
                total += hsum(acc);
                acc = zero;
            }
        }
        let (kt, rt) = (&kept[n..], &reference[n..]);
        if kt.len() != rt.len() || !kt.len().is_multiple_of(4) {
            return total + hsum(acc) + blend_sse_body(kt, rt, b);
        }
        if !kt.is_empty() {
            let m = pixel_mask(kt.len() / 4);
            let (lo, hi) = blend_lanes(load_tail(kt, m), mul, add);
            let rv = load_tail(rt, m);
            let mlo = _mm256_and_si256(mask, _mm256_unpacklo_epi8(m, m));
            let mhi = _mm256_and_si256(mask, _mm256_unpackhi_epi8(m, m));
            acc = add_squared_diffs(acc, (lo, hi), rv, (mlo, mhi));
        }
        total + hsum(acc)
    }
}

/// Whether the AVX2 copies may run here (detected once by std, then a cached load).
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Blends a run of RGBA pixels in place.
#[inline]
pub(crate) fn blend(pixels: &mut [u8], b: &Blend16) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { blend_avx2(pixels, b) };
        return;
    }
    blend_body(pixels, b);
}

/// Σ (blend(kept) − reference)² over R, G, B for equally long runs.
#[inline]
pub(crate) fn blend_sse(kept: &[u8], reference: &[u8], b: &Blend16) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { blend_sse_avx2(kept, reference, b) };
    }
    blend_sse_body(kept, reference, b)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    fn naive_blend(p: &[u8], mul: [u16; 4], add: [u16; 4]) -> Vec<u8> {
        p.iter()
            .enumerate()
            .map(|(i, &v)| {
                ((u32::from(v) * u32::from(mul[i % 4]) + u32::from(add[i % 4])) >> 8) as u8
            })
            .collect()
    }

    #[test]
    fn channel_sums_equal_the_naive_sums() {
        for (n, seed) in [
            (0, 1),
            (1, 2),
            (7, 3),
            (8, 4),
            (9, 5),
            (1000, 6),
            (70_000, 7),
        ] {
            let px = bytes(4 * n, seed);
            let want: [u64; 3] =
                std::array::from_fn(|k| px.iter().skip(k).step_by(4).map(|&v| u64::from(v)).sum());
            let mut portable = [0u64; 3];
            circlefit_core::raster::add_channel_sums(&px, &mut portable);
            assert_eq!(portable, want);
            let mut got = [0u64; 3];
            channel_sums(&px, &mut got);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn every_copy_equals_the_naive_definition() {
        for (n, seed) in [
            (0, 1),
            (1, 2),
            (3, 3),
            (4, 4),
            (15, 5),
            (16, 6),
            (17, 7),
            (250, 8),
            (70_000, 9),
        ] {
            let px = bytes(4 * n, seed);
            let rf = bytes(4 * n, seed + 100);
            for alpha in [1u16, 77, 128, 255, 256] {
                let c = [(seed * 37 % 256) as u16, 0, 255];
                let mul = [256 - alpha, 256 - alpha, 256 - alpha, 256];
                let add = [c[0] * alpha + 128, 128, 255 * alpha + 128, 128];
                let b = Blend16::new(mul, add);
                let want = naive_blend(&px, mul, add);
                let want_sse: u64 = want
                    .iter()
                    .zip(&rf)
                    .enumerate()
                    .filter(|(i, _)| i % 4 != 3)
                    .map(|(_, (&a, &r))| (i64::from(a) - i64::from(r)).pow(2) as u64)
                    .sum();
                let mut got = px.clone();
                blend_body(&mut got, &b);
                assert_eq!(got, want);
                assert_eq!(blend_sse_body(&px, &rf, &b), want_sse);
                let mut got = px.clone();
                blend(&mut got, &b);
                assert_eq!(got, want);
                assert_eq!(blend_sse(&px, &rf, &b), want_sse);
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    let mut got = px.clone();
                    // SAFETY: AVX2 support checked.
                    unsafe { blend_avx2(&mut got, &b) };
                    assert_eq!(got, want);
                    // SAFETY: AVX2 support checked.
                    assert_eq!(unsafe { blend_sse_avx2(&px, &rf, &b) }, want_sse);
                }
            }
        }
    }
}
