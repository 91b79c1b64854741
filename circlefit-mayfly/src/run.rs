//! One Mayfly run, step by step as in the authors' reference code.

use std::ops::ControlFlow;

use circlefit_core::{Objective, OptimizeReport, Problem, StopReason};
use rand::{Rng, SeedableRng};

use crate::config::{Crossover, Distance, MayflyConfig};
use crate::error::MayflyError;
use crate::sample::{index, normal, uniform, unit};
use crate::{Iteration, Observer};

/// One mayfly: position, velocity, value and (for males) personal best.
#[derive(Clone, Debug)]
struct Fly {
    x: Vec<f64>,
    v: Vec<f64>,
    f: f64,
    best_x: Vec<f64>,
    best_f: f64,
}

impl Fly {
    fn new(dim: usize) -> Self {
        Self {
            x: vec![0.0; dim],
            v: vec![0.0; dim],
            f: f64::INFINITY,
            best_x: vec![0.0; dim],
            best_f: f64::INFINITY,
        }
    }

    /// Sets value and personal best after a fresh evaluation of a new position.
    fn reset_best(&mut self, f: f64) {
        self.f = f;
        self.best_f = f;
        self.best_x.copy_from_slice(&self.x);
    }
}

/// NaN ranks below every number, so it can never become a best.
fn sanitize(f: f64) -> f64 {
    if f.is_nan() { f64::INFINITY } else { f }
}

fn sort_by_value(flies: &mut [Fly]) {
    // Stable: ties keep their order, so runs are deterministic.
    flies.sort_by(|a, b| a.f.total_cmp(&b.f));
}

/// Why the loop must stop now, if it must.
enum Halt {
    Budget,
    Interrupted,
}

pub(crate) struct Run<'a, R> {
    cfg: &'a MayflyConfig,
    rng: R,
    lo: &'a [f64],
    hi: &'a [f64],
    vmax: Vec<f64>,
    dim: usize,
    objective: &'a mut dyn Objective,
    evaluations: u64,
    budget: u64,
    best_x: Vec<f64>,
    best_f: f64,
    batch_x: Vec<f64>,
    batch_f: Vec<f64>,
    e: Vec<f64>,
    dims: Vec<usize>,
    spare: Vec<Fly>,
}

impl<'a, R: Rng + SeedableRng> Run<'a, R> {
    pub(crate) fn new(
        cfg: &'a MayflyConfig,
        objective: &'a mut dyn Objective,
        problem: &Problem<'a>,
    ) -> Result<Self, MayflyError> {
        let dim = problem.dim();
        for (index, cand) in problem.initial.iter().enumerate() {
            if cand.len() != dim {
                return Err(MayflyError::InitialLength {
                    index,
                    expected: dim,
                    actual: cand.len(),
                });
            }
            if let Some((d, &value)) = cand.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(MayflyError::InitialNonFinite {
                    index,
                    dim: d,
                    value,
                });
            }
        }
        if problem.max_evaluations == Some(0) {
            return Err(MayflyError::ZeroBudget);
        }
        let (lo, hi) = (problem.bounds.lower(), problem.bounds.upper());
        let vmax = lo
            .iter()
            .zip(hi)
            .map(|(l, h)| cfg.velocity_limit * (h - l))
            .collect();
        let batch = cfg
            .males
            .max(cfg.females)
            .max(cfg.offspring)
            .max(cfg.mutants);
        Ok(Self {
            cfg,
            rng: R::seed_from_u64(problem.seed),
            lo,
            hi,
            vmax,
            dim,
            objective,
            evaluations: 0,
            budget: problem.max_evaluations.unwrap_or(u64::MAX),
            best_x: lo.to_vec(),
            best_f: f64::INFINITY,
            batch_x: vec![0.0; batch * dim],
            batch_f: vec![0.0; batch],
            e: vec![0.0; dim],
            dims: (0..dim).collect(),
            spare: Vec::new(),
        })
    }

    fn clamp(&self, x: &mut [f64]) {
        for ((v, &l), &h) in x.iter_mut().zip(self.lo).zip(self.hi) {
            *v = v.clamp(l, h);
        }
    }

    fn offer(&mut self, x: &[f64], f: f64) {
        if f < self.best_f {
            self.best_f = f;
            self.best_x.copy_from_slice(x);
        }
    }

    /// Evaluates the positions of `flies` as one batch (order does not matter between
    /// them), within the budget. Returns how many were evaluated.
    fn evaluate_all(&mut self, flies: &mut [Fly]) -> usize {
        let left = self.budget - self.evaluations;
        let n = (flies.len() as u64).min(left) as usize;
        for (slot, fly) in self.batch_x.chunks_exact_mut(self.dim).zip(&flies[..n]) {
            slot.copy_from_slice(&fly.x);
        }
        self.objective.evaluate_batch(
            &self.batch_x[..n * self.dim],
            self.dim,
            &mut self.batch_f[..n],
        );
        self.evaluations += n as u64;
        for (fly, &f) in flies[..n].iter_mut().zip(&self.batch_f[..n]) {
            let f = sanitize(f);
            fly.reset_best(f);
            if f < self.best_f {
                self.best_f = f;
                self.best_x.copy_from_slice(&fly.x);
            }
        }
        for fly in &mut flies[n..] {
            fly.f = f64::INFINITY;
        }
        n
    }

    fn check(&self, evaluated: usize, wanted: usize) -> Result<(), Halt> {
        if self.objective.interrupted() {
            Err(Halt::Interrupted)
        } else if evaluated < wanted || self.evaluations >= self.budget {
            Err(Halt::Budget)
        } else {
            Ok(())
        }
    }

    fn random_fly(&mut self, initial: Option<&Vec<f64>>) -> Fly {
        let mut fly = Fly::new(self.dim);
        match initial {
            Some(x) => {
                fly.x.copy_from_slice(x);
                self.clamp(&mut fly.x);
            }
            None => {
                for j in 0..self.dim {
                    fly.x[j] = uniform(&mut self.rng, self.lo[j], self.hi[j]);
                }
            }
        }
        fly
    }

    fn fresh_e(&mut self) {
        for e in &mut self.e {
            *e = uniform(&mut self.rng, -1.0, 1.0);
        }
    }

    /// Limits the velocity, moves, mirrors the velocity of coordinates that left the box
    /// and clamps them back (the reference's "velocity mirror effect").
    fn step(&self, fly: &mut Fly) {
        for j in 0..self.dim {
            fly.v[j] = fly.v[j].clamp(-self.vmax[j], self.vmax[j]);
            fly.x[j] += fly.v[j];
            if fly.x[j] < self.lo[j] || fly.x[j] > self.hi[j] {
                fly.v[j] = -fly.v[j];
                fly.x[j] = fly.x[j].clamp(self.lo[j], self.hi[j]);
            }
        }
    }

    /// `exp(−β·d²)·r_j`, where `d² = r_j²` per dimension or the squared Cartesian distance
    /// `cartesian_r2`.
    fn attraction(&self, rj: f64, cartesian_r2: f64) -> f64 {
        let d2 = match self.cfg.distance {
            Distance::PerDimension => rj * rj,
            Distance::Cartesian => cartesian_r2,
        };
        (-self.cfg.visibility * d2).exp() * rj
    }

    fn take_fly(&mut self) -> Fly {
        self.spare.pop().unwrap_or_else(|| Fly::new(self.dim))
    }

    pub(crate) fn run(
        mut self,
        problem: &Problem<'_>,
        observer: &mut Observer<'_>,
    ) -> OptimizeReport {
        let mut iterations = 0u64;
        let stop = match self.run_inner(problem, observer, &mut iterations) {
            ControlFlow::Continue(()) => StopReason::Iterations,
            ControlFlow::Break(reason) => reason,
        };
        OptimizeReport::new(
            self.best_x,
            self.best_f,
            self.evaluations,
            iterations,
            stop,
            problem.seed,
        )
    }

    fn run_inner(
        &mut self,
        problem: &Problem<'_>,
        observer: &mut Observer<'_>,
        iterations: &mut u64,
    ) -> ControlFlow<StopReason> {
        let cfg = self.cfg;
        let halt = |h: Halt| match h {
            Halt::Budget => StopReason::Budget,
            Halt::Interrupted => StopReason::Interrupted,
        };
        // Initial population: given candidates first (males, then females), then uniform.
        let mut initial = problem.initial.iter();
        let mut males: Vec<Fly> = (0..cfg.males)
            .map(|_| {
                let init = initial.next();
                self.random_fly(init)
            })
            .collect();
        let mut females: Vec<Fly> = (0..cfg.females)
            .map(|_| {
                let init = initial.next();
                self.random_fly(init)
            })
            .collect();
        let n = self.evaluate_all(&mut males);
        self.check(n, males.len()).map_err(halt).map_break_err()?;
        let n = self.evaluate_all(&mut females);
        self.check(n, females.len()).map_err(halt).map_break_err()?;

        let (mut g, mut dance, mut flight) = (cfg.inertia, cfg.dance, cfg.flight);
        let pairs = cfg.offspring / 2;
        let mut offspring: Vec<Fly> = Vec::with_capacity(cfg.offspring);
        let mut mutants: Vec<Fly> = Vec::with_capacity(cfg.mutants);
        let mut mutant_parent: Vec<usize> = Vec::with_capacity(cfg.mutants);
        let mut stale = 0u64;
        let mut last_best = self.best_f;
        for it in 0..cfg.iterations {
            // Females: towards their ranked male if he is better, else a random flight.
            for i in 0..females.len() {
                self.fresh_e();
                let female = &mut females[i];
                let male = &males[i.min(males.len() - 1)];
                let attracted = female.f > male.f;
                let r2: f64 = if attracted && cfg.distance == Distance::Cartesian {
                    male.x
                        .iter()
                        .zip(&female.x)
                        .map(|(m, f)| (m - f).powi(2))
                        .sum()
                } else {
                    0.0
                };
                for j in 0..self.dim {
                    female.v[j] = g * female.v[j]
                        + if attracted {
                            cfg.mate_attraction * self.attraction(male.x[j] - female.x[j], r2)
                        } else {
                            flight * self.e[j]
                        };
                }
                self.step(female);
            }
            let n = self.evaluate_all(&mut females);
            self.check(n, females.len()).map_err(halt).map_break_err()?;

            // Males, one at a time: each sees the global best left by the previous one.
            for male in &mut males {
                self.fresh_e();
                if male.f > self.best_f {
                    let (rp2, rg2) = if cfg.distance == Distance::Cartesian {
                        let rp = male
                            .best_x
                            .iter()
                            .zip(&male.x)
                            .map(|(p, x)| (p - x).powi(2));
                        let rg = self
                            .best_x
                            .iter()
                            .zip(&male.x)
                            .map(|(p, x)| (p - x).powi(2));
                        (rp.sum(), rg.sum())
                    } else {
                        (0.0, 0.0)
                    };
                    for j in 0..self.dim {
                        male.v[j] = g * male.v[j]
                            + cfg.personal_attraction
                                * self.attraction(male.best_x[j] - male.x[j], rp2)
                            + cfg.global_attraction
                                * self.attraction(self.best_x[j] - male.x[j], rg2);
                    }
                } else {
                    // The best male performs the nuptial dance.
                    for j in 0..self.dim {
                        male.v[j] = g * male.v[j] + dance * self.e[j];
                    }
                }
                self.step(male);
                if self.evaluations >= self.budget {
                    return ControlFlow::Break(StopReason::Budget);
                }
                let f = sanitize(self.objective.evaluate(&male.x));
                self.evaluations += 1;
                male.f = f;
                if f < male.best_f {
                    male.best_f = f;
                    male.best_x.copy_from_slice(&male.x);
                    self.offer(&male.x, f);
                }
                self.check(1, 1).map_err(halt).map_break_err()?;
            }

            sort_by_value(&mut males);
            sort_by_value(&mut females);

            // Mating: the k-th best male with the k-th best female, two offspring each.
            offspring.clear();
            for k in 0..pairs {
                let mut o1 = self.take_fly();
                let mut o2 = self.take_fly();
                for j in 0..self.dim {
                    let l = match cfg.crossover {
                        Crossover::Reference => unit(&mut self.rng),
                        Crossover::Blend { gamma } => uniform(&mut self.rng, -gamma, 1.0 + gamma),
                    };
                    let (m, f) = (males[k].x[j], females[k].x[j]);
                    o1.x[j] = l * m + (1.0 - l) * f;
                    o2.x[j] = l * f + (1.0 - l) * m;
                }
                self.clamp(&mut o1.x);
                self.clamp(&mut o2.x);
                o1.v.fill(0.0);
                o2.v.fill(0.0);
                offspring.push(o1);
                offspring.push(o2);
            }
            let n = self.evaluate_all(&mut offspring);
            if let Err(h) = self.check(n, offspring.len()) {
                return ControlFlow::Break(halt(h));
            }

            // Mutation: a random offspring, ceil(μ·D) distinct coordinates moved by
            // N(0, (scale·range)²).
            mutants.clear();
            mutant_parent.clear();
            let changed =
                ((cfg.mutation_rate * self.dim as f64).ceil() as usize).clamp(1, self.dim);
            for _ in 0..cfg.mutants {
                let parent = index(&mut self.rng, offspring.len());
                let mut m = self.take_fly();
                m.x.copy_from_slice(&offspring[parent].x);
                m.v.fill(0.0);
                for c in 0..changed {
                    let pick = c + index(&mut self.rng, self.dim - c);
                    self.dims.swap(c, pick);
                    let j = self.dims[c];
                    m.x[j] +=
                        cfg.mutation_scale * (self.hi[j] - self.lo[j]) * normal(&mut self.rng);
                }
                self.clamp(&mut m.x);
                mutants.push(m);
                mutant_parent.push(parent);
            }
            let n = self.evaluate_all(&mut mutants);
            if let Err(h) = self.check(n, mutants.len()) {
                return ControlFlow::Break(halt(h));
            }

            // Merge by sex: first offspring of a pair (male-weighted) join the males, second
            // the females; a mutant joins its parent's sex. Then keep the best of each.
            for (k, child) in offspring.drain(..).enumerate() {
                if k % 2 == 0 {
                    males.push(child);
                } else {
                    females.push(child);
                }
            }
            for (m, &parent) in mutants.drain(..).zip(&mutant_parent) {
                if parent % 2 == 0 {
                    males.push(m);
                } else {
                    females.push(m);
                }
            }
            sort_by_value(&mut males);
            sort_by_value(&mut females);
            self.spare.extend(males.drain(cfg.males..));
            self.spare.extend(females.drain(cfg.females..));

            g *= cfg.inertia_damping;
            dance *= cfg.dance_damping;
            flight *= cfg.flight_damping;
            *iterations = it + 1;

            let info = Iteration {
                iteration: it + 1,
                evaluations: self.evaluations,
                best_cost: self.best_f,
            };
            if observer(&info).is_break() {
                return ControlFlow::Break(StopReason::Observer);
            }
            if let Some(t) = cfg.target_cost
                && self.best_f <= t
            {
                return ControlFlow::Break(StopReason::TargetCost);
            }
            if let Some(limit) = cfg.stagnation_iterations {
                if last_best - self.best_f > cfg.min_improvement {
                    stale = 0;
                    last_best = self.best_f;
                } else {
                    stale += 1;
                    if stale >= limit {
                        return ControlFlow::Break(StopReason::Stagnation);
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// `Result<(), StopReason>` → `ControlFlow<StopReason>`, for `?` in the run loop.
trait MapBreak {
    fn map_break_err(self) -> ControlFlow<StopReason>;
}

impl MapBreak for Result<(), StopReason> {
    fn map_break_err(self) -> ControlFlow<StopReason> {
        match self {
            Ok(()) => ControlFlow::Continue(()),
            Err(r) => ControlFlow::Break(r),
        }
    }
}
