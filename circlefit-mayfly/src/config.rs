//! Mayfly settings, their defaults (the authors' reference code) and validation.

use crate::error::MayflyError;

/// How the attraction term measures the distance between two mayflies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Distance {
    /// `exp(−β·r_j²)·r_j` per dimension `j`, as the authors' reference code does.
    #[default]
    PerDimension,
    /// `exp(−β·‖r‖²)·r` with the Cartesian distance, as the paper's equations write it.
    Cartesian,
}

/// How two parents make two offspring.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Crossover {
    /// The reference: `L ~ U(0, 1)` per dimension, `o₁ = L·m + (1−L)·f`,
    /// `o₂ = L·f + (1−L)·m`. Offspring are convex blends, so they never leave the box
    /// spanned by their parents and the population's spread can only shrink through mating.
    #[default]
    Reference,
    /// Blend crossover: `L ~ U(−γ, 1+γ)`, so offspring can land up to `γ` parent-distances
    /// outside the parents' hull (then clamped to the bounds), keeping diversity.
    Blend {
        /// The extension `γ ≥ 0` (0 gives the reference's distribution).
        gamma: f64,
    },
}

/// Which Mayfly algorithm runs.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Variant {
    /// The standard algorithm of the authors' reference code.
    #[default]
    Standard,
    /// DESMA, dynamic elite strategy (Du et al. 2022): after each merge, `elites` candidates
    /// are drawn uniformly within `±R` (per dimension, `R` starting at `initial_range`·range)
    /// around the global best; `R` grows by `enlarge` after an iteration that improved the
    /// global best and shrinks by `reduce` otherwise. The best candidate replaces the worst
    /// male if it is better. **+`elites` evaluations per iteration.**
    Desma {
        /// Candidates per iteration (default 5).
        elites: usize,
        /// Initial search radius as a fraction of each dimension's range (default 0.1).
        initial_range: f64,
        /// Radius growth after an improving iteration (default 1.05).
        enlarge: f64,
        /// Radius shrink after a non-improving iteration (default 0.95).
        reduce: f64,
    },
    /// OLCE: orthogonal learning plus chaotic exploitation. After the males move and both
    /// sexes are sorted, each of the best `ceil(elite_fraction·males)` males builds 4
    /// candidates from the L4(2³) orthogonal array — per dimension, a step of
    /// `orthogonal_factor` towards its personal or the global best, plus a uniform
    /// perturbation of `±orthogonal_factor·0.1·range` — and takes the best if it is better.
    /// Then each of those males tries one chaotic neighbour (a logistic map
    /// `z ← 4z(1 − z)` drives `x + chaos_radius·(1 − t/T)·(2z − 1)·range`), **kept only if
    /// it improves** (the Go port's unconditional chaotic kicks made OLCE worse than
    /// standard). **+5·ceil(elite_fraction·males) evaluations per iteration.**
    Olce {
        /// Fraction of males that learn (default 0.2, at least one male).
        elite_fraction: f64,
        /// Step towards the personal/global best (default 0.3).
        orthogonal_factor: f64,
        /// Initial chaotic radius as a fraction of the range, decaying linearly to 0
        /// (default 0.1).
        chaos_radius: f64,
    },
}

impl Variant {
    /// DESMA with its published defaults.
    pub fn desma() -> Self {
        Self::Desma {
            elites: 5,
            initial_range: 0.1,
            enlarge: 1.05,
            reduce: 0.95,
        }
    }

    /// OLCE with its published defaults.
    pub fn olce() -> Self {
        Self::Olce {
            elite_fraction: 0.2,
            orthogonal_factor: 0.3,
            chaos_radius: 0.1,
        }
    }

    /// A short name: `standard`, `desma` or `olce`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Desma { .. } => "desma",
            Self::Olce { .. } => "olce",
        }
    }
}

/// Settings of a Mayfly run. The defaults are the authors' reference code's.
///
/// Build one with [`MayflyBuilder`](crate::MayflyBuilder), which validates it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MayflyConfig {
    /// Male population (reference: 20).
    pub males: usize,
    /// Female population (reference: 20).
    pub females: usize,
    /// Offspring per iteration, an even number; parents are the `offspring / 2` best
    /// males and females, paired by rank (reference: 20).
    pub offspring: usize,
    /// Mutants per iteration (reference: `round(0.05·males)` = 1).
    pub mutants: usize,
    /// Iterations (reference: 2000; circlefit's fit example uses fewer).
    pub iterations: u64,
    /// Inertia weight `g` (0.8).
    pub inertia: f64,
    /// Inertia damping per iteration (1.0: constant).
    pub inertia_damping: f64,
    /// Personal-best attraction `a₁` (1.0).
    pub personal_attraction: f64,
    /// Global-best attraction `a₂` (1.5).
    pub global_attraction: f64,
    /// Female-to-male attraction `a₃` (1.5).
    pub mate_attraction: f64,
    /// Visibility coefficient `β` (2.0).
    pub visibility: f64,
    /// Nuptial dance `d` (5.0).
    pub dance: f64,
    /// Dance damping per iteration (0.8).
    pub dance_damping: f64,
    /// Random flight `fl` (1.0).
    pub flight: f64,
    /// Flight damping per iteration (0.99).
    pub flight_damping: f64,
    /// Fraction of dimensions a mutant changes, at least one (`μ` = 0.01).
    pub mutation_rate: f64,
    /// Mutation step, as a fraction of each dimension's range (0.1).
    pub mutation_scale: f64,
    /// Velocity limit, as a fraction of each dimension's range (0.1).
    pub velocity_limit: f64,
    /// Attraction distance measure.
    pub distance: Distance,
    /// Crossover operator.
    pub crossover: Crossover,
    /// The algorithm variant.
    pub variant: Variant,
    /// Move and evaluate all males as one batch against the global best of the previous
    /// iteration (parallelisable), instead of one at a time. **A different trajectory**
    /// from the reference, which lets each male see the best left by the previous one.
    pub synchronous_males: bool,
    /// Stop once the best value is at or below this.
    pub target_cost: Option<f64>,
    /// Stop after this many iterations in a row without an improvement larger than
    /// `min_improvement`.
    pub stagnation_iterations: Option<u64>,
    /// The smallest absolute improvement that resets the stagnation count.
    pub min_improvement: f64,
}

impl Default for MayflyConfig {
    fn default() -> Self {
        Self {
            males: 20,
            females: 20,
            offspring: 20,
            mutants: 1,
            iterations: 2000,
            inertia: 0.8,
            inertia_damping: 1.0,
            personal_attraction: 1.0,
            global_attraction: 1.5,
            mate_attraction: 1.5,
            visibility: 2.0,
            dance: 5.0,
            dance_damping: 0.8,
            flight: 1.0,
            flight_damping: 0.99,
            mutation_rate: 0.01,
            mutation_scale: 0.1,
            velocity_limit: 0.1,
            distance: Distance::PerDimension,
            crossover: Crossover::Reference,
            variant: Variant::Standard,
            synchronous_males: false,
            target_cost: None,
            stagnation_iterations: None,
            min_improvement: 0.0,
        }
    }
}

/// The smallest population of each sex: mating needs one pair.
pub const MIN_POPULATION: usize = 2;
/// The largest population of each sex.
pub const MAX_POPULATION: usize = 1 << 20;

impl MayflyConfig {
    /// Evaluations of the initial population.
    pub fn initial_evaluations(&self) -> u64 {
        (self.males + self.females) as u64
    }

    /// Learning males per iteration under OLCE.
    pub(crate) fn olce_elites(&self, fraction: f64) -> usize {
        ((fraction * self.males as f64).ceil() as usize).clamp(1, self.males)
    }

    /// Evaluations of one full iteration.
    pub fn evaluations_per_iteration(&self) -> u64 {
        let extra = match self.variant {
            Variant::Standard => 0,
            Variant::Desma { elites, .. } => elites,
            Variant::Olce { elite_fraction, .. } => 5 * self.olce_elites(elite_fraction),
        };
        (self.males + self.females + self.offspring + self.mutants + extra) as u64
    }

    /// Evaluations of a full run without early stops: `initial + iterations · per_iteration`.
    pub fn total_evaluations(&self) -> u64 {
        self.initial_evaluations() + self.iterations * self.evaluations_per_iteration()
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`MayflyError::InvalidSetting`] naming the first invalid field and its value.
    pub fn validate(&self) -> Result<(), MayflyError> {
        self.check_sizes()?;
        self.check_coefficients()?;
        self.check_variant()?;
        self.check_stops()
    }

    /// The populations, the children and the iterations.
    fn check_sizes(&self) -> Result<(), MayflyError> {
        for (field, n) in [("males", self.males), ("females", self.females)] {
            if !(MIN_POPULATION..=MAX_POPULATION).contains(&n) {
                return bad(field, n, "must be between 2 and 1048576");
            }
        }
        if self.offspring < 2
            || !self.offspring.is_multiple_of(2)
            || self.offspring / 2 > self.males.min(self.females)
        {
            let why = "must be even, at least 2, and at most twice the smaller population";
            return bad("offspring", self.offspring, why);
        }
        if self.mutants > self.offspring.max(1) * 16 {
            return bad("mutants", self.mutants, "at most 16 per offspring");
        }
        if self.iterations == 0 || self.iterations > 1_000_000_000 {
            return bad("iterations", self.iterations, "must be between 1 and 1e9");
        }
        Ok(())
    }

    /// The coefficients of the moves, their damping, mutation and the crossover.
    fn check_coefficients(&self) -> Result<(), MayflyError> {
        let non_negative = [
            ("inertia", self.inertia),
            ("personal_attraction", self.personal_attraction),
            ("global_attraction", self.global_attraction),
            ("mate_attraction", self.mate_attraction),
            ("visibility", self.visibility),
            ("dance", self.dance),
            ("flight", self.flight),
            ("min_improvement", self.min_improvement),
        ];
        for (field, v) in non_negative {
            if !v.is_finite() || v < 0.0 {
                return bad(field, v, "must be finite and non-negative");
            }
        }
        let in_unit_interval = [
            ("inertia_damping", self.inertia_damping),
            ("dance_damping", self.dance_damping),
            ("flight_damping", self.flight_damping),
            ("mutation_rate", self.mutation_rate),
            ("mutation_scale", self.mutation_scale),
            ("velocity_limit", self.velocity_limit),
        ];
        for (field, v) in in_unit_interval {
            unit_interval(field, v)?;
        }
        if let Crossover::Blend { gamma } = self.crossover
            && !(gamma.is_finite() && gamma >= 0.0)
        {
            return bad("crossover.gamma", gamma, "must be finite and non-negative");
        }
        Ok(())
    }

    /// The variant's own settings.
    fn check_variant(&self) -> Result<(), MayflyError> {
        match self.variant {
            Variant::Standard => Ok(()),
            Variant::Desma {
                elites,
                initial_range,
                enlarge,
                reduce,
            } => {
                if !(1..=4096).contains(&elites) {
                    return bad("desma.elites", elites, "must be between 1 and 4096");
                }
                unit_interval("desma.initial_range", initial_range)?;
                if !(enlarge.is_finite() && enlarge >= 1.0) {
                    return bad("desma.enlarge", enlarge, "must be finite and at least 1");
                }
                unit_interval("desma.reduce", reduce)
            }
            Variant::Olce {
                elite_fraction,
                orthogonal_factor,
                chaos_radius,
            } => {
                unit_interval("olce.elite_fraction", elite_fraction)?;
                unit_interval("olce.orthogonal_factor", orthogonal_factor)?;
                unit_interval("olce.chaos_radius", chaos_radius)
            }
        }
    }

    /// The early stops.
    fn check_stops(&self) -> Result<(), MayflyError> {
        if let Some(t) = self.target_cost
            && t.is_nan()
        {
            return bad("target_cost", t, "must not be NaN");
        }
        if self.stagnation_iterations == Some(0) {
            return bad("stagnation_iterations", 0, "must be at least 1");
        }
        Ok(())
    }
}

/// The error for `field` = `value`.
fn bad(field: &'static str, value: impl ToString, reason: &'static str) -> Result<(), MayflyError> {
    Err(MayflyError::InvalidSetting {
        field,
        value: value.to_string(),
        reason,
    })
}

/// `Ok` if `v` is in (0, 1].
fn unit_interval(field: &'static str, v: f64) -> Result<(), MayflyError> {
    if v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        bad(field, v, "must be in (0, 1]")
    }
}
