//! Pixel kernels: a portable body per kernel and, on x86-64, AVX2 and AVX-512 versions
//! written with `std::arch` intrinsics, chosen at run time. All compute the same integers;
//! the tests compare every version with a naive definition on random inputs.
//!
//! The AVX2 versions widen 32 bytes (8 pixels) to 16-bit lanes per iteration: the blend is
//! `mullo`/`add`/`srli` on those lanes, and squared differences use `madd` (pairs of 16-bit
//! products summed into 32-bit lanes), with alpha lanes zeroed by a mask.

use circlefit_core::{CanvasRef, Span};

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

/// The runs of the kept canvas and of the reference under a circle's spans.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpanRows<'a> {
    pub(crate) spans: &'a [Span],
    pub(crate) kept: CanvasRef<'a>,
    pub(crate) reference: CanvasRef<'a>,
}

impl<'a> SpanRows<'a> {
    /// `(kept bytes, reference bytes)` under span `s`, equally long.
    ///
    /// # Panics
    /// If the span lies outside the canvases or they differ in size.
    #[inline(always)]
    fn run(&self, s: &Span) -> (&'a [u8], &'a [u8]) {
        let (kept, reference) = (self.kept.as_bytes(), self.reference.as_bytes());
        let start = (s.y as usize * self.kept.width() as usize + s.x0 as usize) * 4;
        let end = start + (s.x1 as usize).saturating_sub(s.x0 as usize) * 4;
        assert!(s.x1 <= self.kept.width() && kept.len() == reference.len());
        (&kept[start..end], &reference[start..end])
    }
}

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
    circlefit_simd::squared_error_with(kept, reference, |j, p| b.apply(j, p))
}

#[inline(always)]
fn spans_blend_sse_body(rows: &SpanRows<'_>, b: &Blend16) -> u64 {
    rows.spans
        .iter()
        .map(|s| {
            let (k, r) = rows.run(s);
            blend_sse_body(k, r, b)
        })
        .sum()
}

#[cfg(target_arch = "x86_64")]
use avx2::{
    blend as blend_avx2, channel_sums as channel_sums_avx2, spans_blend_sse as spans_blend_sse_avx2,
};
#[cfg(target_arch = "x86_64")]
use avx512::{blend as blend_avx512, spans_blend_sse as spans_blend_sse_avx512};

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

    use circlefit_simd::avx2::{
        MASK, add_squared_diffs, hsum, load, load_tail, load16, pixel_mask,
    };

    use super::{Blend16, SpanRows, blend_body, blend_sse_body};

    /// Pixels between flushes of the 32-bit accumulators: each 8-pixel step adds at most
    /// 4·255² = 260,100 per lane, so 32,768 pixels plus one run of at most 16,384 stay
    /// below 2³¹.
    const FLUSH_PIXELS: usize = 32_768;

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
            // SAFETY: the mask selects `tail.len() / 4` pixels, all inside `tail`.
            let v = unsafe { load_tail(tail, pixel_mask(tail.len() / 4)) };
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
            // SAFETY: `m` selects `tail.len() / 4` pixels, all inside `tail`.
            let (lo, hi) = blend_lanes(unsafe { load_tail(tail, m) }, mul, add);
            // SAFETY: only lanes selected by `m` are written, and they lie inside `tail`.
            unsafe {
                _mm256_maskstore_epi32(tail.as_mut_ptr().cast(), m, _mm256_packus_epi16(lo, hi))
            };
        }
    }

    /// `acc` plus Σ (blend(kept) − reference)² over one run (alpha lanes excluded).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn add_run_sse(
        mut acc: __m256i,
        kept: &[u8],
        reference: &[u8],
        (mul, add, mask): (__m256i, __m256i, __m256i),
    ) -> __m256i {
        let (mut kc, mut rc) = (kept.chunks_exact(32), reference.chunks_exact(32));
        for (k, r) in (&mut kc).zip(&mut rc) {
            let (lo, hi) = blend_lanes(load(k), mul, add);
            acc = add_squared_diffs(acc, (lo, hi), load(r), (mask, mask));
        }
        let (kt, rt) = (kc.remainder(), rc.remainder());
        if !kt.is_empty() {
            let m = pixel_mask(kt.len() / 4);
            // SAFETY: `m` selects `kt.len() / 4` pixels; both tails are that long (the
            // runs are equally long and the whole chunks were the same).
            let (kv, rv) = unsafe { (load_tail(kt, m), load_tail(rt, m)) };
            let (lo, hi) = blend_lanes(kv, mul, add);
            let mlo = _mm256_and_si256(mask, _mm256_unpacklo_epi8(m, m));
            let mhi = _mm256_and_si256(mask, _mm256_unpackhi_epi8(m, m));
            acc = add_squared_diffs(acc, (lo, hi), rv, (mlo, mhi));
        }
        acc
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn spans_blend_sse(rows: &SpanRows<'_>, b: &Blend16) -> u64 {
        let consts = (load16(&b.mul), load16(&b.add), load16(&MASK));
        let zero = _mm256_setzero_si256();
        let (mut acc, mut total, mut since_flush) = (zero, 0u64, 0usize);
        for s in rows.spans {
            let (kept, reference) = rows.run(s);
            if !kept.len().is_multiple_of(4) || kept.len() != reference.len() {
                total += blend_sse_body(kept, reference, b);
                continue;
            }
            acc = add_run_sse(acc, kept, reference, consts);
            since_flush += kept.len() / 4;
            if since_flush >= FLUSH_PIXELS {
                total += hsum(acc);
                acc = zero;
                since_flush = 0;
            }
        }
        total + hsum(acc)
    }
}

/// The AVX-512 copies (AVX-512BW, plus VBMI for the fused kernel): 64 bytes per load,
/// byte-masked loads and stores for run tails, so no scalar tail loop is needed.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use circlefit_simd::avx512::{first_bytes, load_masked, load64};

    use super::{Blend16, SpanRows};

    /// Pixels between flushes of the 32-bit accumulators to 64 bits: each 32-pixel step
    /// adds at most 3·2·255² = 390,150 per lane, so 65,536 pixels plus one run of at most
    /// 16,384 stay below 2³¹.
    const FLUSH_PIXELS: usize = 65_536;

    /// `vpermi2b` indices that gather the R, G, B bytes of 32 RGBA pixels (128 bytes in two
    /// registers) into three registers of 32 16-bit lanes: value `v = 32·q + j` (pixel
    /// `v / 3`, channel `v % 3`) lands in lane `j` of register `q`. Dropping the alpha
    /// bytes here saves a quarter of the arithmetic that follows.
    const GATHER: [[u8; 64]; 3] = {
        let mut t = [[0u8; 64]; 3];
        let mut q = 0;
        while q < 3 {
            let mut j = 0;
            while j < 32 {
                let v = 32 * q + j;
                t[q][2 * j] = (4 * (v / 3) + v % 3) as u8;
                j += 1;
            }
            q += 1;
        }
        t
    };

    /// Lane `j` of register `q` above holds channel `(32·q + j) % 3`; these pick that
    /// channel's constant out of a vector whose lanes 0, 1, 2 hold R, G, B.
    const CHANNEL_OF_LANE: [[u16; 32]; 3] = {
        let mut t = [[0u16; 32]; 3];
        let mut q = 0;
        while q < 3 {
            let mut j = 0;
            while j < 32 {
                t[q][j] = ((32 * q + j) % 3) as u16;
                j += 1;
            }
            q += 1;
        }
        t
    };

    /// Keeps the low byte of every 16-bit lane (the gathered one), zeroing the high byte.
    const LOW_BYTES: u64 = 0x5555_5555_5555_5555;

    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn load_lanes(v: &[u16; 32]) -> __m512i {
        // SAFETY: `v` is 64 readable bytes; the load is unaligned.
        unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
    }

    /// A vector with `[u16; 16]`'s first 8 lanes (two RGBA pixels' constants) repeated.
    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn broadcast_pair(v: &[u16; 16]) -> __m512i {
        // SAFETY: `v` has at least 16 readable bytes; the load is unaligned.
        let pair = unsafe { _mm_loadu_si128(v.as_ptr().cast()) };
        _mm512_broadcast_i32x4(pair)
    }

    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn blend_lanes(v: __m512i, mul: __m512i, add: __m512i) -> __m512i {
        let zero = _mm512_setzero_si512();
        let lo = _mm512_unpacklo_epi8(v, zero);
        let hi = _mm512_unpackhi_epi8(v, zero);
        let lo = _mm512_srli_epi16(_mm512_add_epi16(_mm512_mullo_epi16(lo, mul), add), 8);
        let hi = _mm512_srli_epi16(_mm512_add_epi16(_mm512_mullo_epi16(hi, mul), add), 8);
        _mm512_packus_epi16(lo, hi)
    }

    #[target_feature(enable = "avx512bw")]
    pub(super) fn blend(pixels: &mut [u8], b: &Blend16) {
        let (mul, add) = (broadcast_pair(&b.mul), broadcast_pair(&b.add));
        let mut chunks = pixels.chunks_exact_mut(64);
        for c in &mut chunks {
            let v = blend_lanes(load64(c), mul, add);
            // SAFETY: `c` is exactly 64 writable bytes; the store is unaligned.
            unsafe { _mm512_storeu_si512(c.as_mut_ptr().cast(), v) };
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let m = first_bytes(tail.len());
            let v = blend_lanes(load_masked(tail, m), mul, add);
            // SAFETY: only the first `tail.len()` bytes are written, all inside `tail`.
            unsafe { _mm512_mask_storeu_epi8(tail.as_mut_ptr().cast(), m, v) };
        }
    }

    /// One circle's blend constants laid out for the gathered lanes.
    struct Gathered {
        idx: [__m512i; 3],
        add: [__m512i; 3],
        mul: __m512i,
    }

    impl Gathered {
        #[inline]
        #[target_feature(enable = "avx512bw,avx512vbmi")]
        fn new(b: &Blend16) -> Self {
            let per_channel = broadcast_pair(&b.add);
            Self {
                idx: std::array::from_fn(|q| load64(&GATHER[q])),
                add: std::array::from_fn(|q| {
                    _mm512_permutexvar_epi16(load_lanes(&CHANNEL_OF_LANE[q]), per_channel)
                }),
                mul: _mm512_set1_epi16(b.mul[0] as i16),
            }
        }

        /// `acc` plus Σ (blend(kept) − reference)² over 32 pixels given as two register
        /// pairs; `valid[q]` selects the lanes of gathered register `q` that count.
        #[inline]
        #[target_feature(enable = "avx512bw,avx512vbmi,avx512vnni")]
        fn add_sse(
            &self,
            mut acc: __m512i,
            (k0, k1): (__m512i, __m512i),
            (r0, r1): (__m512i, __m512i),
            valid: [u32; 3],
        ) -> __m512i {
            for ((idx, add), valid) in self.idx.iter().zip(&self.add).zip(valid) {
                let k = _mm512_maskz_permutex2var_epi8(LOW_BYTES, k0, *idx, k1);
                let r = _mm512_maskz_permutex2var_epi8(LOW_BYTES, r0, *idx, r1);
                let new =
                    _mm512_srli_epi16(_mm512_add_epi16(_mm512_mullo_epi16(k, self.mul), *add), 8);
                let d = _mm512_maskz_sub_epi16(valid, new, r);
                acc = _mm512_dpwssd_epi32(acc, d, d);
            }
            acc
        }
    }

    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn widen_add(total: __m512i, acc: __m512i) -> __m512i {
        let lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(acc));
        let hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(acc, 1));
        _mm512_add_epi64(total, _mm512_add_epi64(lo, hi))
    }

    /// The first `min(n, 64)` bits.
    #[inline]
    #[target_feature(enable = "bmi2")]
    fn low_bits64(n: usize) -> u64 {
        _bzhi_u64(u64::MAX, n.min(255) as u32)
    }

    /// The first `min(n, 32)` bits.
    #[inline]
    #[target_feature(enable = "bmi2")]
    fn low_bits32(n: usize) -> u32 {
        _bzhi_u32(u32::MAX, n.min(255) as u32)
    }

    #[target_feature(enable = "avx512bw,avx512vbmi,avx512vnni,bmi2")]
    pub(super) fn spans_blend_sse(rows: &SpanRows<'_>, b: &Blend16) -> u64 {
        let g = Gathered::new(b);
        let zero = _mm512_setzero_si512();
        let (mut acc, mut total, mut since_flush) = (zero, zero, 0usize);
        for s in rows.spans {
            let (kept, reference) = rows.run(s);
            let bytes = kept.len().min(reference.len());
            let (mut kc, mut rc) = (kept.chunks_exact(128), reference.chunks_exact(128));
            for (k, r) in (&mut kc).zip(&mut rc) {
                let (k0, k1) = k.split_at(64);
                let (r0, r1) = r.split_at(64);
                acc = g.add_sse(
                    acc,
                    (load64(k0), load64(k1)),
                    (load64(r0), load64(r1)),
                    [u32::MAX; 3],
                );
            }
            let (k, r) = (kc.remainder(), rc.remainder());
            let rem = k.len();
            if rem != 0 {
                // The tail: byte-masked loads (no fault past the run), lanes past it
                // excluded from the sum.
                let (m0, m1) = (low_bits64(rem), low_bits64(rem.saturating_sub(64)));
                let (k1, r1) = if m1 != 0 {
                    (load_masked(&k[64..], m1), load_masked(&r[64..], m1))
                } else {
                    (zero, zero)
                };
                let values = 3 * (rem / 4);
                let valid = std::array::from_fn(|q| low_bits32(values.saturating_sub(32 * q)));
                acc = g.add_sse(
                    acc,
                    (load_masked(k, m0), k1),
                    (load_masked(r, m0), r1),
                    valid,
                );
            }
            since_flush += bytes / 4;
            if since_flush >= FLUSH_PIXELS {
                total = widen_add(total, acc);
                acc = zero;
                since_flush = 0;
            }
        }
        _mm512_reduce_add_epi64(widen_add(total, acc)) as u64
    }
}

pub(crate) use circlefit_simd::{has_avx2, has_avx512_fused as has_avx512};

/// Blends a run of RGBA pixels in place.
#[inline]
pub(crate) fn blend(pixels: &mut [u8], b: &Blend16) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512BW and VBMI, checked just above.
        unsafe { blend_avx512(pixels, b) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { blend_avx2(pixels, b) };
        return;
    }
    blend_body(pixels, b);
}

/// Σ (blend(kept) − reference)² over R, G, B and over every span's runs.
#[inline]
pub(crate) fn spans_blend_sse(rows: &SpanRows<'_>, b: &Blend16) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512BW and VBMI, checked just above.
        return unsafe { spans_blend_sse_avx512(rows, b) };
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { spans_blend_sse_avx2(rows, b) };
    }
    spans_blend_sse_body(rows, b)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exactness checks compare floats bit for bit
mod tests {
    use super::*;
    use circlefit_core::Canvas;

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
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    let mut got = px.clone();
                    // SAFETY: AVX2 support checked.
                    unsafe { blend_avx2(&mut got, &b) };
                    assert_eq!(got, want);
                }
                #[cfg(target_arch = "x86_64")]
                if has_avx512() {
                    let mut got = px.clone();
                    // SAFETY: AVX-512 support checked.
                    unsafe { blend_avx512(&mut got, &b) };
                    assert_eq!(got, want);
                }
            }
        }
    }

    /// Every copy of the fused kernel against the naive sum over `spans` of a `w` × `h`
    /// canvas of random bytes.
    fn check_spans(w: u32, h: u32, spans: &[Span], seed: u64, alpha: u16, c: [u16; 3]) {
        let kept = Canvas::from_vec(w, h, bytes((4 * w * h) as usize, seed)).unwrap();
        let reference = Canvas::from_vec(w, h, bytes((4 * w * h) as usize, seed + 7)).unwrap();
        let mul = [256 - alpha, 256 - alpha, 256 - alpha, 256];
        let add = [
            c[0] * alpha + 128,
            c[1] * alpha + 128,
            c[2] * alpha + 128,
            128,
        ];
        let b = Blend16::new(mul, add);
        let mut want = 0u64;
        for s in spans {
            for x in s.x0..s.x1 {
                let k = kept.pixel(x, s.y).unwrap();
                let r = reference.as_ref().pixel(x, s.y).unwrap();
                for ch in 0..3 {
                    let n = (u32::from(k[ch]) * u32::from(mul[ch]) + u32::from(add[ch])) >> 8;
                    want += (i64::from(n as u8) - i64::from(r[ch])).pow(2) as u64;
                }
            }
        }
        let rows = SpanRows {
            spans,
            kept: kept.as_ref(),
            reference: reference.as_ref(),
        };
        assert_eq!(spans_blend_sse_body(&rows, &b), want);
        assert_eq!(spans_blend_sse(&rows, &b), want);
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: AVX2 support checked.
            assert_eq!(unsafe { spans_blend_sse_avx2(&rows, &b) }, want);
        }
        #[cfg(target_arch = "x86_64")]
        if has_avx512() {
            // SAFETY: AVX-512 support checked.
            assert_eq!(unsafe { spans_blend_sse_avx512(&rows, &b) }, want);
        }
    }

    #[test]
    fn fused_kernel_equals_the_naive_sum_on_every_run_length() {
        // Every length 0..=140 (all tail shapes of the 8-, 16- and 32-pixel steps), at
        // several offsets, on one canvas.
        let spans: Vec<Span> = (0..=140u32)
            .map(|n| Span {
                y: n,
                x0: n % 7,
                x1: n % 7 + n,
            })
            .collect();
        for alpha in [1u16, 77, 128, 255, 256] {
            check_spans(150, 141, &spans, u64::from(alpha), alpha, [0, 128, 255]);
        }
        // Long rows: more than one accumulator flush.
        let long: Vec<Span> = (0..12)
            .map(|y| Span {
                y,
                x0: 0,
                x1: 16_384,
            })
            .collect();
        check_spans(16_384, 12, &long, 3, 1, [255, 255, 255]);
    }

    proptest::proptest! {
        #[test]
        fn fused_kernel_equals_the_naive_sum(
            w in 1u32..200,
            h in 1u32..40,
            raw in proptest::collection::vec((0u32..200, 0u32..200, 0u32..200), 0..40),
            seed in 0u64..1000,
            alpha in 1u16..=256,
            c in proptest::array::uniform3(0u16..=255),
        ) {
            let spans: Vec<Span> = raw
                .into_iter()
                .map(|(y, a, b)| {
                    let (a, b) = (a % (w + 1), b % (w + 1));
                    Span { y: y % h, x0: a.min(b), x1: a.max(b) }
                })
                .collect();
            check_spans(w, h, &spans, seed, alpha, c);
        }
    }
}
