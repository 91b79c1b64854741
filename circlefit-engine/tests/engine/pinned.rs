//! Pinned results: circles and cost, bit for bit, for a handful of settings in all three
//! modes, on 1, 2 and 3 threads, with and without polishing and closed-form colour. Taken
//! before the engine moved into its own crate; a change here is a change of results and
//! must be explained in the CHANGELOG.
//!
//! `PIN_PRINT=1 cargo test -p circlefit-engine --test engine pinned -- --nocapture` prints the current values.

use crate::common::*;

/// FNV-1a over the bits of every circle's seven numbers.
fn fingerprint(result: &FitResult) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for c in &result.circles {
        for v in c.to_params() {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    h
}

struct Case {
    name: &'static str,
    strategy: Strategy,
    circles: usize,
    color: ColorMode,
    seeds: usize,
    /// Polishing passes (0: none).
    passes: u32,
    /// Further changes to the settings, and whether the renderer draws soft edges.
    extra: Extra,
}

/// The team's other paths: several searches per stage, several climbs per slot, soft
/// edges with the recommended settings. Pinned before the team was restructured.
#[derive(Clone, Copy)]
struct Extra {
    searches: usize,
    climbs: u32,
    soft: bool,
    recommended: bool,
}

const PLAIN: Extra = Extra {
    searches: 1,
    climbs: 1,
    soft: false,
    recommended: false,
};

const CASES: [Case; 9] = [
    Case {
        name: "seq-closed-polish",
        strategy: Strategy::Sequential,
        circles: 8,
        color: ColorMode::ClosedForm,
        seeds: 4,
        passes: 2,
        extra: PLAIN,
    },
    Case {
        name: "seq-search",
        strategy: Strategy::Sequential,
        circles: 6,
        color: ColorMode::Search,
        seeds: 2,
        passes: 0,
        extra: PLAIN,
    },
    Case {
        name: "batch-closed-prune-polish",
        strategy: Strategy::Batch {
            size: 3,
            prune: true,
        },
        circles: 7,
        color: ColorMode::ClosedForm,
        seeds: 3,
        passes: 2,
        extra: PLAIN,
    },
    Case {
        name: "batch-search",
        strategy: Strategy::batch(2),
        circles: 6,
        color: ColorMode::Search,
        seeds: 0,
        passes: 0,
        extra: PLAIN,
    },
    Case {
        name: "joint-search",
        strategy: Strategy::Joint,
        circles: 5,
        color: ColorMode::Search,
        seeds: 0,
        passes: 0,
        extra: PLAIN,
    },
    Case {
        name: "joint-closed",
        strategy: Strategy::Joint,
        circles: 4,
        color: ColorMode::ClosedForm,
        seeds: 0,
        passes: 0,
        extra: PLAIN,
    },
    Case {
        name: "seq-searches-climbs",
        strategy: Strategy::Sequential,
        circles: 6,
        color: ColorMode::ClosedForm,
        seeds: 3,
        passes: 2,
        extra: Extra {
            searches: 3,
            climbs: 3,
            soft: false,
            recommended: false,
        },
    },
    Case {
        name: "batch-searches-soft",
        strategy: Strategy::batch(2),
        circles: 6,
        color: ColorMode::Search,
        seeds: 2,
        passes: 1,
        extra: Extra {
            searches: 2,
            climbs: 1,
            soft: true,
            recommended: false,
        },
    },
    Case {
        name: "recommended-soft",
        strategy: Strategy::Sequential,
        circles: 10,
        color: ColorMode::ClosedForm,
        seeds: 10,
        passes: 8,
        extra: Extra {
            searches: 1,
            climbs: 2,
            soft: true,
            recommended: true,
        },
    },
];

/// `(name, fingerprint, cost bits, evaluations)` of each case, on any thread count.
const PINS: [(&str, u64, u64, u64); 9] = [
    (
        "seq-closed-polish",
        15888642966940148635,
        4642747285904800145,
        4552,
    ),
    ("seq-search", 5806300721891705559, 4649975153927717904, 1614),
    (
        "batch-closed-prune-polish",
        16086249521410434565,
        4644138280101232207,
        2917,
    ),
    (
        "batch-search",
        1550332410221132710,
        4653389477856990029,
        807,
    ),
    (
        "joint-search",
        5830364430517033108,
        4656080104978116543,
        269,
    ),
    (
        "joint-closed",
        16363258841982866370,
        4656995247521939023,
        269,
    ),
    (
        "seq-searches-climbs",
        443595728943840958,
        4644968866601287073,
        6642,
    ),
    (
        "batch-searches-soft",
        5101262932314927650,
        4648458791408441788,
        2514,
    ),
    (
        "recommended-soft",
        // Since the eighth session the recommended settings refine (300 steps): 12 exact
        // checks more, cost 123.8 → 118.4.
        2357127769866763240,
        4638029671283976615,
        14702,
    ),
];

/// Fits without helper threads (`threads` 0: the fitter's default) or on `threads`.
fn run(case: &Case, threads: usize) -> FitResult {
    let mayfly = Mayfly::builder()
        .population(10)
        .iterations(8)
        .synchronous_males(true)
        .build()
        .unwrap();
    let extra = case.extra;
    let mut settings = if extra.recommended {
        FitSettings::recommended(case.strategy, case.circles, 42)
    } else {
        FitSettings::new(case.strategy, case.circles, 42)
    };
    settings.color = case.color;
    settings.residual_seeds = case.seeds;
    settings.polish =
        (case.passes > 0).then(|| Polish::passes(case.passes).with_climbs(extra.climbs));
    settings.restarts = settings.restarts.with_searches(extra.searches);
    let renderer = if extra.soft {
        CpuRenderer::with_edges(Edges::Soft)
    } else {
        CpuRenderer::new()
    };
    let f = Fitter::new(renderer, Mse, mayfly).settings(settings);
    let mut f = if threads == 0 { f } else { f.threads(threads) };
    f.fit(test_image(72, 56).as_ref()).unwrap()
}

#[test]
fn results_are_pinned_bit_for_bit() {
    let print = std::env::var_os("PIN_PRINT").is_some();
    for (case, pin) in CASES.iter().zip(PINS) {
        for threads in [0, 1, 2, 3] {
            let r = run(case, threads);
            let got = (case.name, fingerprint(&r), r.cost.to_bits(), r.evaluations);
            if print {
                println!(
                    "    {got:?}, // threads {threads}, {} circles, cost {}",
                    r.circles.len(),
                    r.cost
                );
            } else {
                assert_eq!(got, pin, "{} on {threads} threads", case.name);
            }
        }
    }
}
