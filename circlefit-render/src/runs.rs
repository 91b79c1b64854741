//! The runs kernel: the squared error of several circles composited in order over a
//! uniform canvas, computed per run of pixels rather than per pixel.
//!
//! On a canvas of one colour, every pixel of a row that the same circles cover ends with
//! the same colour. The ends of the circles' spans in a row cut it into runs; each run's
//! colour is the base colour blended through the circles that cover it, and its squared
//! error against the reference follows from the reference's per-row prefix sums
//! ([`RowMoments`]): `Σ (c − t)² = n·c² − 2c·Σt + Σt²` per channel. The work is
//! O(circles × runs) per row instead of O(circles × pixels): the big, overlapping circles
//! of a joint fit cover each pixel many times but cut a row into few runs.
//!
//! The runs of a row are kept as "pixels" of a small buffer of 16-bit lanes, and each
//! circle is blended over its range of runs with the raster model's
//! `(p·mul + add) >> 8`; the spans are [`RasterCircle::spans`]. So the sum equals the full
//! render's, bit for bit (the tests compare it with rendering and a naive sum).

use circlefit_core::raster::{RasterCircle, Span};
use circlefit_core::{BYTES_PER_PIXEL, Circle, RowMoments};

/// One circle's rows in the span list and its blend constants for one RGBA pixel.
#[derive(Clone, Copy, Debug)]
struct Layer {
    /// The first covered row.
    first: u32,
    /// How many rows it covers (contiguous: see [`RunBuffers::collect`]).
    rows: u32,
    /// Index of its first span.
    start: u32,
    mul: [u16; 4],
    add: [u16; 4],
}

impl Layer {
    /// Its spans in rows `y0..y1`.
    #[inline(always)]
    fn spans_in<'a>(&self, y0: u32, y1: u32, spans: &'a [Span]) -> &'a [Span] {
        let from = y0.max(self.first);
        let to = y1.min(self.first + self.rows);
        if from >= to {
            return &[];
        }
        let start = (self.start + from - self.first) as usize;
        &spans[start..start + (to - from) as usize]
    }
}

/// The kernel's reusable buffers; they grow to the largest input seen and are then
/// reused (no allocation per call once warm). "Per row" means per row of the band being
/// worked on, each row's part `stride` entries long.
#[derive(Debug, Default)]
pub(crate) struct RunBuffers {
    spans: Vec<Span>,
    layers: Vec<Layer>,
    /// Per row, one bit per pixel boundary `0..=width`: where some span starts or ends.
    bits: Vec<u64>,
    /// Per row and bit word, the set bits in the words before it.
    ranks: Vec<u32>,
    /// Per row, the boundaries in increasing order (`2 × layers` slots).
    bounds: Vec<u32>,
    /// Per row and boundary `x`, the reference's moments before `x` (see [`RowMoments`]).
    at: Vec<[u32; 4]>,
    /// Per row and boundary `x`, `[x; 4]`: run lengths lane by lane.
    ends: Vec<[u32; 4]>,
    /// Per row, how many boundaries and how many covering layers it has.
    counts: Vec<(u32, u32)>,
    /// Per row, the covering layers in order.
    cover: Vec<Cover>,
    /// The runs' colours of one row: 4 lanes per run.
    runs: Vec<u16>,
}

/// One layer over a row: it covers runs `from..to`.
#[derive(Clone, Copy, Debug, Default)]
struct Cover {
    from: u32,
    to: u32,
    layer: u32,
}

impl RunBuffers {
    /// Collects the circles' spans and constants; `false` if some circle's rows are not
    /// contiguous (never for discs — a row between two covered rows has a chord at least
    /// as long as the shorter of theirs, about the same centre — but checked, not assumed).
    fn collect(&mut self, circles: &[Circle], width: u32, height: u32) -> bool {
        self.spans.clear();
        self.layers.clear();
        for circle in circles {
            let rc = RasterCircle::new(circle);
            let start = self.spans.len();
            crate::spans::spans(&rc, width, height, &mut self.spans);
            let Some((first, last)) = self
                .spans
                .get(start..)
                .and_then(|s| s.first().zip(s.last()))
            else {
                continue;
            };
            let rows = (self.spans.len() - start) as u32;
            if last.y - first.y + 1 != rows {
                return false;
            }
            let (mul, add) = rc.blend_constants();
            self.layers.push(Layer {
                first: first.y,
                rows,
                start: start as u32,
                mul,
                add,
            });
        }
        true
    }
}

/// The lane kernel the row loop is built from; every implementation computes the same
/// integers.
trait Lanes: Copy {
    /// Writes to `out` (4 lanes per run, at least [`padded`]`(4 · runs)` lanes) the colours
    /// of `runs` runs that start as `base` after each of `cover`'s layers is blended over
    /// its runs in order: `p = (p·mul + add) >> 8`, constants by lane modulo 4.
    fn composite(
        self,
        out: &mut [u16],
        runs: usize,
        base: [u16; 4],
        cover: &[Cover],
        layers: &[Layer],
    );

    /// [`row_error`] of the first `count` boundaries (`at` and `ends` have 4 slots to
    /// spare after them).
    #[inline(always)]
    fn row_error(self, at: &[[u32; 4]], ends: &[[u32; 4]], count: usize, runs: &[u16]) -> u64 {
        row_error(&at[..count], &ends[..count], runs)
    }
}

/// Plain loops (auto-vectorised for the target they are compiled for).
#[derive(Clone, Copy)]
struct Portable;

impl Lanes for Portable {
    #[inline(always)]
    fn composite(
        self,
        out: &mut [u16],
        runs: usize,
        base: [u16; 4],
        cover: &[Cover],
        layers: &[Layer],
    ) {
        let out = &mut out[..BYTES_PER_PIXEL * runs];
        for px in out.chunks_exact_mut(BYTES_PER_PIXEL) {
            px.copy_from_slice(&base);
        }
        for c in cover {
            let l = &layers[c.layer as usize];
            let lanes =
                &mut out[BYTES_PER_PIXEL * c.from as usize..BYTES_PER_PIXEL * c.to as usize];
            // No overflow: p·(256 − a) + c·a + 128 ≤ 255·256 + 128 < 2¹⁶.
            for px in lanes.chunks_exact_mut(BYTES_PER_PIXEL) {
                for ((p, m), a) in px.iter_mut().zip(l.mul).zip(l.add) {
                    *p = (*p * m + a) >> 8;
                }
            }
        }
    }
}

/// The buffer lanes for `n` lanes of data: whole 32-lane chunks.
fn padded(n: usize) -> usize {
    n.next_multiple_of(32)
}

/// The number of the run that starts at boundary `x`: the set bits below `x`.
#[inline(always)]
fn rank(bits: &[u64], ranks: &[u32], x: u32) -> usize {
    let (w, b) = ((x / 64) as usize, x % 64);
    ranks[w] as usize + (bits[w] & ((1u64 << b) - 1)).count_ones() as usize
}

/// `Σ (c − t)²` over R, G, B and over the runs of one row: `at` holds the reference's
/// moments at each boundary (increasing), `runs` the colours of the runs between them
/// (4 lanes each).
#[inline(always)]
fn row_error(at: &[[u32; 4]], ends: &[[u32; 4]], runs: &[u16]) -> u64 {
    // Σt² of the whole segment, then n·c² − 2c·Σt per run and channel.
    let mut total = i64::from(at[at.len() - 1][3] - at[0][3]);
    for ((a, e), c) in at
        .windows(2)
        .zip(ends.windows(2))
        .zip(runs.chunks_exact(BYTES_PER_PIXEL))
    {
        let n = i64::from(e[1][0] - e[0][0]);
        for k in 0..3 {
            let (c, t) = (i64::from(c[k]), i64::from(a[1][k] - a[0][k]));
            total += c * (n * c - 2 * t);
        }
    }
    total as u64
}

/// The most rows in one band.
const MAX_BAND: usize = 32;

/// The band's buffers to aim for: well inside a 48 KiB L1 data cache.
const BAND_BYTES: usize = 24 * 1024;

/// One band's shape: rows, and entries per row of each per-row buffer.
#[derive(Clone, Copy, Debug)]
struct Shape {
    rows: usize,
    /// Bit words (and rank entries) per row.
    words: usize,
    /// Boundary slots per row: two per layer, plus 4 so whole 4-run groups can be read.
    slots: usize,
    /// Cover entries per row: one per layer.
    layers: usize,
}

impl Shape {
    fn new(width: u32, layers: usize) -> Self {
        let words = width as usize / 64 + 1;
        let slots = 2 * layers + 4;
        let row_bytes = 12 * words + 36 * slots + 12 * layers + 8;
        Self {
            rows: (BAND_BYTES / row_bytes).clamp(1, MAX_BAND),
            words,
            slots,
            layers,
        }
    }
}

/// The band loop: Σ over every touched row's union segment of the squared error,
/// segments recorded top to bottom.
///
/// Within a band the span ends are gathered layer by layer, each over all its rows in the
/// band (consecutive updates then touch different rows, so none waits for the last); then
/// each row's runs are composited and scored.
#[inline(always)]
fn rows<L: Lanes>(
    lanes: L,
    buf: &mut RunBuffers,
    base: [u8; 4],
    moments: &RowMoments,
    segments: &mut Vec<Span>,
) -> u64 {
    let Some(top) = buf.layers.iter().map(|l| l.first).min() else {
        return 0;
    };
    let bottom = buf
        .layers
        .iter()
        .map(|l| l.first + l.rows)
        .max()
        .unwrap_or(top);
    let shape = Shape::new(moments.width(), buf.layers.len());
    let base = base.map(u16::from);
    let mut total = 0u64;
    for y0 in (top..bottom).step_by(shape.rows) {
        let y1 = (y0 + shape.rows as u32).min(bottom);
        band_boundaries(buf, shape, y0, y1, moments);
        band_cover(buf, shape, y0, y1);
        for r in 0..(y1 - y0) as usize {
            let (count, covering) = buf.counts[r];
            if count < 2 {
                continue;
            }
            let (count, covering) = (count as usize, covering as usize);
            let cover = &buf.cover[r * shape.layers..r * shape.layers + covering];
            lanes.composite(&mut buf.runs, count - 1, base, cover, &buf.layers);
            let at = &buf.at[r * shape.slots..(r + 1) * shape.slots];
            let ends = &buf.ends[r * shape.slots..(r + 1) * shape.slots];
            total += lanes.row_error(at, ends, count, &buf.runs);
            let bounds = &buf.bounds[r * shape.slots..];
            let y = y0 + r as u32;
            segments.push(Span {
                y,
                x0: bounds[0],
                x1: bounds[count - 1],
            });
        }
    }
    total
}

/// Each row's boundaries in the band `y0..y1`, with the reference's moments and the
/// boundary itself at each, and the bit ranks that number the runs.
#[inline(always)]
fn band_boundaries(buf: &mut RunBuffers, shape: Shape, y0: u32, y1: u32, moments: &RowMoments) {
    let n = (y1 - y0) as usize;
    let bits = &mut buf.bits[..n * shape.words];
    bits.fill(0);
    for l in &buf.layers {
        for s in l.spans_in(y0, y1, &buf.spans) {
            let row = &mut bits[(s.y - y0) as usize * shape.words..];
            row[(s.x0 / 64) as usize] |= 1 << (s.x0 % 64);
            row[(s.x1 / 64) as usize] |= 1 << (s.x1 % 64);
        }
    }
    for r in 0..n {
        let row_bits = &bits[r * shape.words..(r + 1) * shape.words];
        let ranks = &mut buf.ranks[r * shape.words..(r + 1) * shape.words];
        let bounds = &mut buf.bounds[r * shape.slots..(r + 1) * shape.slots];
        let at = &mut buf.at[r * shape.slots..(r + 1) * shape.slots];
        let ends = &mut buf.ends[r * shape.slots..(r + 1) * shape.slots];
        let m = moments.row(y0 + r as u32);
        let mut count = 0usize;
        for (w, (&word, rank)) in row_bits.iter().zip(ranks.iter_mut()).enumerate() {
            *rank = count as u32;
            let mut word = word;
            while word != 0 {
                let x = 64 * w as u32 + word.trailing_zeros();
                (bounds[count], at[count], ends[count]) = (x, m[x as usize], [x; 4]);
                count += 1;
                word &= word - 1;
            }
        }
        buf.counts[r] = (count as u32, 0);
    }
}

/// Each row's covering layers in the band `y0..y1`, in order, as ranges of runs.
#[inline(always)]
fn band_cover(buf: &mut RunBuffers, shape: Shape, y0: u32, y1: u32) {
    for (i, l) in buf.layers.iter().enumerate() {
        for s in l.spans_in(y0, y1, &buf.spans) {
            let r = (s.y - y0) as usize;
            let bits = &buf.bits[r * shape.words..(r + 1) * shape.words];
            let ranks = &buf.ranks[r * shape.words..(r + 1) * shape.words];
            let (from, to) = (rank(bits, ranks, s.x0), rank(bits, ranks, s.x1));
            let n = &mut buf.counts[r].1;
            buf.cover[r * shape.layers + *n as usize] = Cover {
                from: from as u32,
                to: to as u32,
                layer: i as u32,
            };
            *n += 1;
        }
    }
}

/// Σ `(ΔR² + ΔG² + ΔB²)` over the touched rows' union segments of a canvas filled with
/// `base` with `circles` composited in order, against the image `moments` describes;
/// `segments` gets those segments (after clearing), top to bottom. `None` if a circle's
/// spans are not one run of rows.
pub(crate) fn uniform_squared_error(
    buf: &mut RunBuffers,
    circles: &[Circle],
    base: [u8; 4],
    moments: &RowMoments,
    segments: &mut Vec<Span>,
) -> Option<u64> {
    uniform_squared_error_on(buf, circles, base, moments, segments, true)
}

/// [`uniform_squared_error`], with the SIMD copies only if `simd` (the tests compare).
fn uniform_squared_error_on(
    buf: &mut RunBuffers,
    circles: &[Circle],
    base: [u8; 4],
    moments: &RowMoments,
    segments: &mut Vec<Span>,
    simd: bool,
) -> Option<u64> {
    segments.clear();
    if !prepare(buf, circles, moments) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    if simd && avx512::available() {
        // SAFETY: the CPU supports AVX-512BW, BMI2 and POPCNT, checked just above.
        return Some(unsafe { avx512::rows(buf, base, moments, segments) });
    }
    #[cfg(target_arch = "x86_64")]
    if simd && circlefit_simd::has_avx2() {
        // SAFETY: the CPU supports AVX2, checked just above.
        return Some(unsafe { rows_avx2(buf, base, moments, segments) });
    }
    let _ = simd;
    Some(rows(Portable, buf, base, moments, segments))
}

/// Collects the spans and sizes the buffers; `false` as [`RunBuffers::collect`].
fn prepare(buf: &mut RunBuffers, circles: &[Circle], moments: &RowMoments) -> bool {
    if !buf.collect(circles, moments.width(), moments.height()) {
        return false;
    }
    let shape = Shape::new(moments.width(), buf.layers.len());
    grow(&mut buf.bits, shape.rows * shape.words);
    grow(&mut buf.ranks, shape.rows * shape.words);
    grow(&mut buf.bounds, shape.rows * shape.slots);
    grow(&mut buf.at, shape.rows * shape.slots);
    grow(&mut buf.ends, shape.rows * shape.slots);
    grow(&mut buf.counts, shape.rows);
    grow(&mut buf.cover, shape.rows * shape.layers);
    // At least the AVX-512 kernel's eight registers.
    grow(
        &mut buf.runs,
        padded(BYTES_PER_PIXEL * shape.slots).max(256),
    );
    true
}

/// Grows `v` to at least `n` entries.
fn grow<T: Default + Clone>(v: &mut Vec<T>, n: usize) {
    if v.len() < n {
        v.resize(n, T::default());
    }
}

/// The portable loops compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn rows_avx2(
    buf: &mut RunBuffers,
    base: [u8; 4],
    moments: &RowMoments,
    segments: &mut Vec<Span>,
) -> u64 {
    rows(Portable, buf, base, moments, segments)
}

/// AVX-512BW lane kernel: a row of up to 64 runs is composited in registers (up to
/// eight of 32 lanes), every layer a masked multiply-add-shift on each; longer rows go
/// through the portable loops.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Cover, Lanes, Layer, Portable, RowMoments, RunBuffers, Span};

    pub(super) fn available() -> bool {
        circlefit_simd::has_avx512bw()
            && std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("popcnt")
    }

    /// Proof that AVX-512BW and BMI2 are available: built only inside [`rows`].
    #[derive(Clone, Copy)]
    struct Avx512(());

    /// The first `min(n, 32)` lanes.
    #[inline]
    #[target_feature(enable = "bmi2")]
    fn first_lanes(n: usize) -> u32 {
        // `bzhi` reads only the low 8 bits of the index: clamp first.
        _bzhi_u32(u32::MAX, n.min(32) as u32)
    }

    /// A vector holding `v` (one pixel's four lanes) in every pixel.
    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn per_pixel(v: [u16; 4]) -> __m512i {
        let bits =
            u64::from(v[0]) | u64::from(v[1]) << 16 | u64::from(v[2]) << 32 | u64::from(v[3]) << 48;
        _mm512_set1_epi64(bits as i64)
    }

    /// [`Lanes::composite`] with the runs in `N` registers (`4 · runs ≤ 32 N`).
    #[inline]
    #[target_feature(enable = "avx512bw,bmi2")]
    fn composite_in<const N: usize>(
        out: &mut [u16],
        base: [u16; 4],
        cover: &[Cover],
        layers: &[Layer],
    ) {
        let mut v = [per_pixel(base); N];
        for c in cover {
            let l = &layers[c.layer as usize];
            let (mul, add) = (per_pixel(l.mul), per_pixel(l.add));
            let (at, to) = (4 * c.from as usize, 4 * c.to as usize);
            for (i, v) in v.iter_mut().enumerate() {
                let m = first_lanes(to.saturating_sub(32 * i))
                    & !first_lanes(at.saturating_sub(32 * i));
                let x = _mm512_add_epi16(_mm512_mullo_epi16(*v, mul), add);
                *v = _mm512_mask_srli_epi16(*v, m, x, 8);
            }
        }
        for (c, v) in out[..32 * N].chunks_exact_mut(32).zip(v) {
            // SAFETY: `c` is 32 lanes (64 bytes); the store is unaligned.
            unsafe { _mm512_storeu_si512(c.as_mut_ptr().cast(), v) };
        }
    }

    /// [`super::row_error`] four runs (16 lanes of 32 bits) at a time.
    #[inline]
    #[target_feature(enable = "avx512bw,bmi2")]
    fn row_error(at: &[[u32; 4]], ends: &[[u32; 4]], count: usize, runs: &[u16]) -> u64 {
        assert!(at.len() >= count + 4 && ends.len() >= count + 4 && runs.len() >= 4 * count + 16);
        let load = |v: &[[u32; 4]], j: usize| {
            // SAFETY: entries `j..j + 4` exist (`j + 4 ≤ count + 3`, checked above); the
            // load is unaligned.
            unsafe { _mm512_loadu_si512(v[j..j + 4].as_ptr().cast()) }
        };
        let mut acc = _mm512_setzero_si512();
        for j in (0..count - 1).step_by(4) {
            // R, G, B lanes of the runs `j..count - 1` among the four.
            let valid = (first_lanes(4 * (count - 1 - j)) & 0x7777) as u16;
            let t = _mm512_sub_epi32(load(at, j + 1), load(at, j));
            let n = _mm512_sub_epi32(load(ends, j + 1), load(ends, j));
            // SAFETY: lanes `4j..4j + 16` of `runs` exist (checked above).
            let c = unsafe { _mm256_loadu_si256(runs[4 * j..4 * j + 16].as_ptr().cast()) };
            let c = _mm512_cvtepu16_epi32(c);
            // c·(n·c − 2t): |n·c² − 2ct| ≤ n·255² ≤ 16,384·65,025 < 2³¹ per lane.
            let nc = _mm512_mullo_epi32(n, c);
            let x = _mm512_mullo_epi32(c, _mm512_sub_epi32(nc, _mm512_add_epi32(t, t)));
            let x = _mm512_maskz_mov_epi32(valid, x);
            let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(x));
            let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(x, 1));
            acc = _mm512_add_epi64(acc, _mm512_add_epi64(lo, hi));
        }
        let squares = i64::from(at[count - 1][3] - at[0][3]);
        (squares + _mm512_reduce_add_epi64(acc)) as u64
    }

    impl Lanes for Avx512 {
        #[inline(always)]
        fn row_error(self, at: &[[u32; 4]], ends: &[[u32; 4]], count: usize, runs: &[u16]) -> u64 {
            // SAFETY: an `Avx512` exists only where AVX-512BW and BMI2 are available.
            unsafe { row_error(at, ends, count, runs) }
        }

        #[inline(always)]
        fn composite(
            self,
            out: &mut [u16],
            runs: usize,
            base: [u16; 4],
            cover: &[Cover],
            layers: &[Layer],
        ) {
            // SAFETY (each call): an `Avx512` exists only where AVX-512BW and BMI2 are
            // available.
            match runs.div_ceil(8) {
                0 | 1 => unsafe { composite_in::<1>(out, base, cover, layers) },
                2 => unsafe { composite_in::<2>(out, base, cover, layers) },
                3 | 4 => unsafe { composite_in::<4>(out, base, cover, layers) },
                5..=8 => unsafe { composite_in::<8>(out, base, cover, layers) },
                _ => Portable.composite(out, runs, base, cover, layers),
            }
        }
    }

    /// The row loop with the AVX-512 kernel.
    #[target_feature(enable = "avx512bw,bmi2,popcnt")]
    pub(super) fn rows(
        buf: &mut RunBuffers,
        base: [u8; 4],
        moments: &RowMoments,
        segments: &mut Vec<Span>,
    ) -> u64 {
        super::rows(Avx512(()), buf, base, moments, segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use circlefit_core::Canvas;

    fn noise(w: u32, h: u32, seed: u64) -> Canvas {
        let mut rng = circlefit_core::SplitMix64::new(seed);
        let bytes = (0..w * h * 4).map(|_| rng.next_u64() as u8).collect();
        Canvas::from_vec(w, h, bytes).unwrap()
    }

    /// The definition: render everything pixel by pixel, then sum the squared error over
    /// the segments.
    fn naive(circles: &[Circle], base: &Canvas, reference: &Canvas, segments: &[Span]) -> u64 {
        let mut canvas = base.clone();
        for c in circles {
            let rc = RasterCircle::new(c);
            for y in 0..base.height() {
                for x in 0..base.width() {
                    if rc.covers(x, y) {
                        let at = ((y * base.width() + x) * 4) as usize;
                        rc.composite(&mut canvas.as_bytes_mut()[at..at + 4]);
                    }
                }
            }
        }
        let mut sum = 0u64;
        for s in segments {
            for x in s.x0..s.x1 {
                let (a, b) = (
                    canvas.pixel(x, s.y).unwrap(),
                    reference.pixel(x, s.y).unwrap(),
                );
                sum += (0..3)
                    .map(|k| (i64::from(a[k]) - i64::from(b[k])).pow(2) as u64)
                    .sum::<u64>();
            }
        }
        sum
    }

    /// Every pixel the circles cover lies in a segment; rows increase.
    fn check_segments(circles: &[Circle], w: u32, h: u32, segments: &[Span]) {
        for pair in segments.windows(2) {
            assert!(pair[0].y < pair[1].y);
        }
        for c in circles {
            let rc = RasterCircle::new(c);
            for y in 0..h {
                for x in 0..w {
                    if rc.covers(x, y) {
                        assert!(segments.iter().any(|s| s.y == y && s.x0 <= x && x < s.x1));
                    }
                }
            }
        }
    }

    fn check(w: u32, h: u32, circles: &[Circle], base: [u8; 4], seed: u64) {
        let reference = noise(w, h, seed);
        let moments = RowMoments::new(reference.as_ref());
        let mut buf = RunBuffers::default();
        let mut segments = Vec::new();
        let got = uniform_squared_error(&mut buf, circles, base, &moments, &mut segments).unwrap();
        check_segments(circles, w, h, &segments);
        let mut again = Vec::new();
        let portable = uniform_squared_error_on(
            &mut RunBuffers::default(),
            circles,
            base,
            &moments,
            &mut again,
            false,
        );
        assert_eq!(portable, Some(got));
        assert_eq!(again, segments);
        let canvas = Canvas::filled(w, h, base).unwrap();
        assert_eq!(got, naive(circles, &canvas, &reference, &segments));
        // The buffers are reused: a second call on warm buffers agrees.
        let warm = uniform_squared_error(&mut buf, circles, base, &moments, &mut segments);
        assert_eq!(warm, Some(got));
    }

    #[test]
    fn nothing_covered_sums_nothing() {
        let off = Circle::new(-50.0, -50.0, 3.0, [0.5; 3], 0.5).unwrap();
        check(16, 16, &[off], [255; 4], 1);
        check(16, 16, &[], [255; 4], 2);
    }

    #[test]
    fn large_overlapping_circles_equal_the_render() {
        let c = |x, y, r, a| Circle::new(x, y, r, [0.9, 0.2, 0.4], a).unwrap();
        let circles = [
            c(10.0, 12.0, 40.0, 0.3),
            c(60.0, 5.0, 30.0, 1.0),
            c(33.3, 40.7, 9.5, 0.01),
        ];
        check(67, 45, &circles, [12, 200, 99, 255], 3);
        // Wider than one bit word per row, more layers than one band's buffer is sized
        // for at first.
        let many: Vec<Circle> = (0..40)
            .map(|k| {
                c(
                    f64::from(k) * 7.3,
                    f64::from(k % 9) * 11.0,
                    5.0 + f64::from(k),
                    0.4,
                )
            })
            .collect();
        check(300, 70, &many, [0, 0, 0, 255], 4);
        // Rows of more than 64 runs (past the AVX-512 kernel's registers), and of every
        // register count below.
        for n in [3, 9, 17, 33, 40] {
            let row: Vec<Circle> = (0..n)
                .map(|k| c(7.0 * f64::from(k) + 3.0, 10.0 + f64::from(k % 3), 3.5, 0.6))
                .collect();
            check(300, 20, &row, [40, 50, 60, 255], 5);
        }
    }

    proptest::proptest! {
        #[test]
        fn equals_rendering_and_summing(
            w in 1u32..150,
            h in 1u32..40,
            raw in proptest::collection::vec(
                (
                    -40.0f64..190.0,
                    -40.0f64..80.0,
                    0.0f64..90.0,
                    proptest::array::uniform3(0.0f64..=1.0),
                    circlefit_core::MIN_ALPHA..=1.0,
                ),
                0..10,
            ),
            base in proptest::array::uniform4(0u8..=255),
            seed in 0u64..1000,
        ) {
            let circles: Vec<Circle> = raw
                .into_iter()
                .map(|(x, y, r, rgb, a)| Circle::new(x, y, r, rgb, a).unwrap())
                .collect();
            check(w, h, &circles, base, seed);
        }
    }
}
