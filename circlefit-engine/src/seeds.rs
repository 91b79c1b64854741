//! The seed tree: every random stream of a fit derives from its one seed, so a fit is
//! reproducible from that seed alone, on any number of threads.
//!
//! ```text
//! fit seed s
//! ├── stage k ........................ stage_seed(s, k)
//! │   └── search j of the stage ...... search_seed(stage seed, j)   (j = 0: the stage seed)
//! │       └── restart r of a search .. stage_seed(search seed, r)   (r ≥ 1)
//! └── polishing ...................... polish_seed(s)
//!     └── slot k ..................... stage_seed(polish seed, k)
//!         └── climb c of the slot .... search_seed(slot seed, c)    (c = 0: the slot seed)
//! ```
//!
//! `stage_seed(x, n)` is the `n + 1`-th output of SplitMix64 started at `x`, so the
//! children of one node are independent streams; `search_seed(x, j)` keeps the searches
//! and climbs apart from those (`stage_seed(x, 2³² + j)`), and leaves the first one the
//! parent's own seed, so one search or one climb is the plain run.

use circlefit_core::SplitMix64;

/// The seed of stage `stage` of a fit seeded with `seed`: the `stage + 1`-th output of
/// [`SplitMix64`] started at `seed` (also a search's restarts and polishing's slots: see
/// the seed tree in the crate's `seeds` module).
pub fn stage_seed(seed: u64, stage: u64) -> u64 {
    SplitMix64::mix(seed.wrapping_add(stage.wrapping_add(1).wrapping_mul(SplitMix64::GAMMA)))
}

/// The seed of independent search `n` derived from `seed` (a stage's searches, a slot's
/// climbs): search 0 has `seed` itself, so one search is the plain one; the others are
/// kept apart from the `stage_seed(seed, k)` of restarts and slots (`k` below 2³²).
pub(crate) fn search_seed(seed: u64, n: u64) -> u64 {
    const SEARCH_STREAMS: u64 = 1 << 32;
    match n {
        0 => seed,
        _ => stage_seed(seed, SEARCH_STREAMS + n),
    }
}

/// The root of polishing's seeds: the fit's seed with fixed bits flipped, so that slot
/// `k`'s stream differs from stage `k`'s.
pub(crate) fn polish_seed(seed: u64) -> u64 {
    seed ^ 0x5011_5500
}
