//! One Mayfly run, step by step as in the authors' reference code: the run's state and
//! its evaluation helpers here, the phases of an iteration in [`phases`].

mod phases;

use std::ops::ControlFlow;

use circlefit_core::{Objective, OptimizeReport, Problem, StopReason};
use rand::{Rng, SeedableRng};

use crate::Observer;
use crate::config::{Distance, MayflyConfig, Variant};
use crate::error::MayflyError;
use crate::sample::{uniform, unit};

/// One mayfly: position, velocity, value and (for males) personal best.
#[derive(Clone, Debug)]
struct Fly {
    x: Vec<f64>,
    v: Vec<f64>,
    f: f64,
    best_x: Vec<f64>,
    best_f: f64,
    /// Position before the current sort: the tie-breaker that makes sorting stable
    /// without the allocation of a stable sort.
    order: usize,
}

impl Fly {
    fn new(dim: usize) -> Self {
        Self {
            x: vec![0.0; dim],
            v: vec![0.0; dim],
            f: f64::INFINITY,
            best_x: vec![0.0; dim],
            best_f: f64::INFINITY,
            order: 0,
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
    // Stable (ties keep their order, so runs are deterministic) and allocation-free.
    for (i, fly) in flies.iter_mut().enumerate() {
        fly.order = i;
    }
    flies.sort_unstable_by(|a, b| a.f.total_cmp(&b.f).then(a.order.cmp(&b.order)));
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
    desma_radius: Vec<f64>,
    chaos: f64,
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
            desma_radius: match cfg.variant {
                Variant::Desma { initial_range, .. } => lo
                    .iter()
                    .zip(hi)
                    .map(|(l, h)| initial_range * (h - l))
                    .collect(),
                _ => Vec::new(),
            },
            chaos: 0.0,
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

    /// Evaluates the first `n` points in `batch_x` as one batch, within the budget; every
    /// value may update the global best. Returns how many were evaluated.
    fn evaluate_points(&mut self, n: usize) -> usize {
        let left = self.budget - self.evaluations;
        let n = (n as u64).min(left) as usize;
        self.objective.evaluate_batch(
            &self.batch_x[..n * self.dim],
            self.dim,
            &mut self.batch_f[..n],
        );
        self.evaluations += n as u64;
        for i in 0..n {
            let f = sanitize(self.batch_f[i]);
            self.batch_f[i] = f;
            if f < self.best_f {
                self.best_f = f;
                self.best_x
                    .copy_from_slice(&self.batch_x[i * self.dim..(i + 1) * self.dim]);
            }
        }
        n
    }

    /// Makes room for `n` points in the batch buffers.
    fn reserve_points(&mut self, n: usize) {
        if self.batch_f.len() < n {
            self.batch_f.resize(n, 0.0);
            self.batch_x.resize(n * self.dim, 0.0);
        }
    }

    /// Evaluates the positions of `flies` as one batch (their order does not matter),
    /// within the budget. New flies (`fresh`) take the value as their personal best;
    /// others update it if better. Returns how many were evaluated.
    fn evaluate_flies(&mut self, flies: &mut [Fly], fresh: bool) -> usize {
        self.reserve_points(flies.len());
        for (slot, fly) in self.batch_x.chunks_exact_mut(self.dim).zip(flies.iter()) {
            slot.copy_from_slice(&fly.x);
        }
        let n = self.evaluate_points(flies.len());
        for (fly, &f) in flies[..n].iter_mut().zip(&self.batch_f[..n]) {
            if fresh {
                fly.reset_best(f);
            } else {
                fly.f = f;
                if f < fly.best_f {
                    fly.best_f = f;
                    fly.best_x.copy_from_slice(&fly.x);
                }
            }
        }
        for fly in &mut flies[n..] {
            fly.f = f64::INFINITY;
        }
        n
    }

    /// Evaluates the positions of new flies `a` and then `b` as one batch, within the
    /// budget; each takes its value as its personal best. Returns how many were evaluated.
    fn evaluate_two(&mut self, a: &mut [Fly], b: &mut [Fly]) -> usize {
        self.reserve_points(a.len() + b.len());
        let positions = self.batch_x.chunks_exact_mut(self.dim);
        for (slot, fly) in positions.zip(a.iter().chain(b.iter())) {
            slot.copy_from_slice(&fly.x);
        }
        let n = self.evaluate_points(a.len() + b.len());
        for (k, fly) in a.iter_mut().chain(b.iter_mut()).enumerate() {
            match self.batch_f[..n].get(k) {
                Some(&f) => fly.reset_best(f),
                None => fly.f = f64::INFINITY,
            }
        }
        n
    }

    /// Replaces `fly`'s position with `x` (value `f`), updating its personal best.
    fn relocate(fly: &mut Fly, x: &[f64], f: f64) {
        fly.x.copy_from_slice(x);
        fly.f = f;
        if f < fly.best_f {
            fly.best_f = f;
            fly.best_x.copy_from_slice(x);
        }
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

    /// The male velocity update and move: attraction to the personal and global bests, or
    /// the nuptial dance for a male at least as good as the global best.
    fn move_male(&self, male: &mut Fly, g: f64, dance: f64) {
        let cfg = self.cfg;
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
                    + cfg.personal_attraction * self.attraction(male.best_x[j] - male.x[j], rp2)
                    + cfg.global_attraction * self.attraction(self.best_x[j] - male.x[j], rg2);
            }
        } else {
            for j in 0..self.dim {
                male.v[j] = g * male.v[j] + dance * self.e[j];
            }
        }
        self.step(male);
    }

    /// The next value of the logistic map, reseeded away from its fixed points and from
    /// the cycles rounding can fall into.
    fn next_chaos(&mut self) -> f64 {
        let z = 4.0 * self.chaos * (1.0 - self.chaos);
        self.chaos = if z > 1e-6 && z < 1.0 - 1e-6 && (z - 0.75).abs() > 1e-9 {
            z
        } else {
            0.05 + 0.9 * unit(&mut self.rng)
        };
        self.chaos
    }

    /// OLCE on the elite males: orthogonal learning, then one greedy chaotic neighbour each.
    fn olce(&mut self, elites: &mut [Fly], factor: f64, radius: f64) -> Result<(), Halt> {
        // L4(2³): row i, column (j mod 3) picks the personal (0) or global (1) best.
        const L4: [[u8; 3]; 4] = [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]];
        let dim = self.dim;
        self.reserve_points(4 * elites.len());
        for (e, male) in elites.iter().enumerate() {
            for (row, levels) in L4.iter().enumerate() {
                let base = (4 * e + row) * dim;
                for j in 0..dim {
                    let target = if levels[j % 3] == 0 {
                        male.best_x[j]
                    } else {
                        self.best_x[j]
                    };
                    let jitter = uniform(&mut self.rng, -1.0, 1.0)
                        * factor
                        * 0.1
                        * (self.hi[j] - self.lo[j]);
                    self.batch_x[base + j] = (male.x[j] + factor * (target - male.x[j]) + jitter)
                        .clamp(self.lo[j], self.hi[j]);
                }
            }
        }
        let n = self.evaluate_points(4 * elites.len());
        for (e, male) in elites.iter_mut().enumerate().take(n / 4) {
            let (row, f) = (0..4)
                .map(|r| (r, self.batch_f[4 * e + r]))
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            if f < male.f {
                let at = (4 * e + row) * dim;
                Self::relocate(male, &self.batch_x[at..at + dim], f);
            }
        }
        self.check(n, 4 * elites.len())?;
        if self.chaos == 0.0 {
            self.chaos = 0.05 + 0.9 * unit(&mut self.rng);
        }
        for (e, male) in elites.iter().enumerate() {
            for j in 0..dim {
                let z = self.next_chaos();
                self.batch_x[e * dim + j] = (male.x[j]
                    + radius * (2.0 * z - 1.0) * (self.hi[j] - self.lo[j]))
                    .clamp(self.lo[j], self.hi[j]);
            }
        }
        let n = self.evaluate_points(elites.len());
        for (e, male) in elites.iter_mut().enumerate().take(n) {
            let f = self.batch_f[e];
            if f < male.f {
                Self::relocate(male, &self.batch_x[e * dim..(e + 1) * dim], f);
            }
        }
        self.check(n, elites.len())
    }

    /// DESMA: elite candidates around the global best; the best replaces the worst male if
    /// it is better. `males` is sorted on entry and on exit.
    fn desma(&mut self, males: &mut [Fly], elites: usize) -> Result<(), Halt> {
        let dim = self.dim;
        self.reserve_points(elites);
        for e in 0..elites {
            for j in 0..dim {
                let r = self.desma_radius[j];
                self.batch_x[e * dim + j] =
                    (self.best_x[j] + uniform(&mut self.rng, -r, r)).clamp(self.lo[j], self.hi[j]);
            }
        }
        let n = self.evaluate_points(elites);
        if let Some((e, f)) =
            (0..n)
                .map(|e| (e, self.batch_f[e]))
                .fold(None, |a: Option<(usize, f64)>, b| match a {
                    Some(a) if a.1 <= b.1 => Some(a),
                    _ => Some(b),
                })
            && let Some(worst) = males.last_mut()
            && f < worst.f
        {
            worst
                .x
                .copy_from_slice(&self.batch_x[e * dim..(e + 1) * dim]);
            worst.v.fill(0.0);
            worst.reset_best(f);
            sort_by_value(males);
        }
        self.check(n, elites)
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
