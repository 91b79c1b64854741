//! The Mayfly optimization algorithm (Zervoudakis & Tsafarakis 2020, "A mayfly
//! optimization algorithm", Computers & Industrial Engineering 145:106559), for any
//! objective over box bounds.
//!
//! [`Mayfly`] implements circlefit's [`Optimizer`] trait, so it fits circles, but it knows
//! nothing about images: it minimises Sphere or Rastrigin just as well.
//!
//! # The algorithm, as in the authors' reference code
//!
//! With the default [`MayflyConfig`] (20 males, 20 females, `g = 0.8`, `a₁ = 1`,
//! `a₂ = a₃ = 1.5`, `β = 2`, dance `d = 5` damped ×0.8 per iteration, flight `fl = 1`
//! damped ×0.99, velocity limit ±0.1·range, 20 offspring, 1 mutant changing
//! `ceil(0.01·D)` coordinates by `N(0, (0.1·range)²)`), each iteration:
//!
//! 1. moves every female towards the male of the same rank if he is better
//!    (`v ← g·v + a₃·e^{−βr²}·(m − f)`), else by a random flight (`v ← g·v + fl·U(−1,1)`),
//!    and evaluates them (one batch: their order does not matter);
//! 2. moves the males **one at a time** — towards their personal and the global best
//!    (`v ← g·v + a₁e^{−βr_p²}(p − x) + a₂e^{−βr_g²}(g − x)`), or, for the best male, by
//!    the nuptial dance (`v ← g·v + d·U(−1,1)`) — each evaluated and allowed to update the
//!    global best before the next one moves;
//! 3. sorts both sexes, mates the k-th male with the k-th female (two offspring per pair),
//!    mutates random offspring, evaluates offspring and mutants (each batch in one call);
//! 4. merges offspring back by sex, keeps the best `males`/`females`, and damps `g`, `d`,
//!    `fl`.
//!
//! Velocities are clamped to the limit; a coordinate that leaves the box has its velocity
//! mirrored and is clamped back. Every evaluated mayfly (female, offspring, mutant too) may
//! update the global best. A run of `T` iterations uses exactly
//! `males + females + T·(females + males + offspring + mutants)` evaluations — `40 + 61·T`
//! at the defaults — and never more than the problem's budget.
//!
//! # Variants
//!
//! [`Variant::Desma`] (dynamic elite strategy, +5 evaluations per iteration at defaults) and
//! [`Variant::Olce`] (orthogonal learning and chaotic exploitation, +5·⌈0.2·males⌉ = +20 at
//! defaults, with chaotic moves kept only when they improve) are documented on the enum;
//! [`MayflyConfig::evaluations_per_iteration`] accounts for them.
//!
//! # Parallel evaluation
//!
//! Females, offspring, mutants and the variants' candidates are handed to the objective as
//! batches ([`Objective::evaluate_batch`]): an objective may evaluate them in parallel without
//! changing any result. Males are evaluated one at a time, as in the reference, unless
//! [`MayflyConfig::synchronous_males`] is set (a different trajectory). With the `rayon`
//! feature, `ParallelFn` evaluates the batches of a plain function on rayon's pool; the
//! results are bit-identical for any number of threads.
//!
//! Where this differs from the reference, deliberately: attraction distance is per
//! dimension (as the reference code) by default and Cartesian (as the paper) on request
//! ([`Distance`]); crossover is the reference's convex blend by default, with a blend
//! crossover that can leave the parents' hull on request ([`Crossover`]); offspring keep
//! their sex on merge (the first of each pair is male); NaN values rank below every number.
//!
//! # Example
//!
//! ```
//! use circlefit_core::{Bounds, Optimizer, Problem};
//! use circlefit_mayfly::Mayfly;
//!
//! let mut mayfly = Mayfly::builder().iterations(200).build()?;
//! let bounds = Bounds::uniform(10, -100.0, 100.0)?;
//! let mut sphere = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
//! let report = mayfly.minimize(&mut sphere, &Problem::new(&bounds, 42))?;
//! assert_eq!(report.evaluations, 40 + 61 * 200);
//! assert!(report.best_f < 1e-3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod config;
mod error;
pub mod functions;
#[cfg(feature = "rayon")]
mod parallel;
mod run;
mod sample;

use std::marker::PhantomData;
use std::ops::ControlFlow;

use circlefit_core::{Objective, OptimizeReport, Optimizer, Problem};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

pub use config::{Crossover, Distance, MAX_POPULATION, MIN_POPULATION, MayflyConfig, Variant};
pub use error::MayflyError;
#[cfg(feature = "rayon")]
pub use parallel::ParallelFn;

/// What an observer sees after each iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Iteration {
    /// Iterations completed, from 1.
    pub iteration: u64,
    /// Evaluations so far.
    pub evaluations: u64,
    /// The best value so far.
    pub best_cost: f64,
}

/// A per-iteration callback that may stop the run.
pub type Observer<'a> = dyn FnMut(&Iteration) -> ControlFlow<()> + 'a;

/// The Mayfly optimizer, generic over its random generator.
///
/// The default generator is Xoshiro256++, its state filled from the problem's seed by
/// SplitMix64 (the algorithm authors' recommended seeding, which is what
/// `SeedableRng::seed_from_u64` does for it; rand treats any change there as value-breaking).
/// Uniform and normal draws are computed here from the raw 64-bit outputs, so a seeded run
/// does not depend on any distribution crate's implementation.
///
/// Its settings are fixed when it is built; a run never changes them.
#[derive(Debug, Clone)]
pub struct Mayfly<R = Xoshiro256PlusPlus> {
    config: MayflyConfig,
    rng: PhantomData<fn() -> R>,
}

impl Mayfly {
    /// A builder starting from the reference settings.
    pub fn builder() -> MayflyBuilder {
        MayflyBuilder::default()
    }
}

impl<R: Rng + SeedableRng> Mayfly<R> {
    /// A Mayfly with validated settings.
    ///
    /// # Errors
    /// As [`MayflyConfig::validate`].
    pub fn from_config(config: MayflyConfig) -> Result<Self, MayflyError> {
        config.validate()?;
        Ok(Self {
            config,
            rng: PhantomData,
        })
    }

    /// The same settings with another random generator type.
    pub fn with_rng<R2: Rng + SeedableRng>(self) -> Mayfly<R2> {
        Mayfly {
            config: self.config,
            rng: PhantomData,
        }
    }

    /// The settings.
    pub fn config(&self) -> &MayflyConfig {
        &self.config
    }

    /// Minimises `objective`, calling `observer` after every iteration.
    ///
    /// # Errors
    /// [`MayflyError::InitialLength`] or [`MayflyError::InitialNonFinite`] for bad starting
    /// candidates; [`MayflyError::ZeroBudget`] for a budget of 0.
    pub fn minimize_observed(
        &self,
        objective: &mut dyn Objective,
        problem: &Problem<'_>,
        observer: &mut Observer<'_>,
    ) -> Result<OptimizeReport, MayflyError> {
        let run = run::Run::<R>::new(&self.config, objective, problem)?;
        Ok(run.run(problem, observer))
    }
}

impl<R: Rng + SeedableRng> Optimizer for Mayfly<R> {
    type Error = MayflyError;

    fn minimize(
        &mut self,
        objective: &mut dyn Objective,
        problem: &Problem<'_>,
    ) -> Result<OptimizeReport, MayflyError> {
        self.minimize_observed(objective, problem, &mut |_| ControlFlow::Continue(()))
    }
}

/// Builds a [`Mayfly`] with validated settings.
#[derive(Debug, Clone, Default)]
pub struct MayflyBuilder {
    config: MayflyConfig,
}

impl MayflyBuilder {
    /// Starts from `config`.
    pub fn from_config(config: MayflyConfig) -> Self {
        Self { config }
    }

    /// Sets both populations to `n`, offspring to `n` rounded down to even and mutants to
    /// `round(0.05·n)`, the reference's proportions.
    pub fn population(mut self, n: usize) -> Self {
        self.config.males = n;
        self.config.females = n;
        self.config.offspring = n - n % 2;
        self.config.mutants = (0.05 * n as f64).round() as usize;
        self
    }

    /// Sets the number of iterations.
    pub fn iterations(mut self, t: u64) -> Self {
        self.config.iterations = t;
        self
    }

    /// Sets the attraction distance measure.
    pub fn distance(mut self, d: Distance) -> Self {
        self.config.distance = d;
        self
    }

    /// Sets the crossover operator.
    pub fn crossover(mut self, c: Crossover) -> Self {
        self.config.crossover = c;
        self
    }

    /// Sets the algorithm variant ([`Variant::desma`], [`Variant::olce`], …).
    pub fn variant(mut self, v: Variant) -> Self {
        self.config.variant = v;
        self
    }

    /// Moves and evaluates all males as one batch (parallelisable; a different trajectory).
    pub fn synchronous_males(mut self, on: bool) -> Self {
        self.config.synchronous_males = on;
        self
    }

    /// Stops once the best value is at or below `target`.
    pub fn target_cost(mut self, target: f64) -> Self {
        self.config.target_cost = Some(target);
        self
    }

    /// Stops after `iterations` iterations in a row without an improvement larger than
    /// `min_improvement`.
    pub fn stagnation(mut self, iterations: u64, min_improvement: f64) -> Self {
        self.config.stagnation_iterations = Some(iterations);
        self.config.min_improvement = min_improvement;
        self
    }

    /// Edits any setting.
    pub fn configure(mut self, edit: impl FnOnce(&mut MayflyConfig)) -> Self {
        edit(&mut self.config);
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// [`MayflyError::InvalidSetting`] naming the first invalid setting.
    pub fn build(self) -> Result<Mayfly, MayflyError> {
        Mayfly::from_config(self.config)
    }
}
