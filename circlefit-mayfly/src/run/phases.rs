//! The phases of one Mayfly iteration, in the reference code's order: females move, males
//! move, (OLCE's elite search), mating, mutation, the children scored, the sexes merged and
//! cut back, (DESMA's elite search), the coefficients damped, the iteration reported.
//! Every random draw happens in this order, so a seeded run is the same run.

use std::ops::ControlFlow;

use circlefit_core::{Problem, StopReason};
use rand::{Rng, SeedableRng};

use super::{Fly, Halt, MapBreak, Run, sanitize, sort_by_value};
use crate::config::{Crossover, Distance, Variant};
use crate::sample::{index, normal, uniform, unit};
use crate::{Iteration, Observer};

type Flow = ControlFlow<StopReason>;

/// The population between phases, with the buffers of the children.
struct Swarm {
    males: Vec<Fly>,
    females: Vec<Fly>,
    offspring: Vec<Fly>,
    mutants: Vec<Fly>,
    /// The offspring each mutant came from.
    mutant_parent: Vec<usize>,
}

/// The damped coefficients: gravity (inertia), the males' dance, the females' flight.
struct Coefficients {
    g: f64,
    dance: f64,
    flight: f64,
}

/// Iterations without an improvement above the configured minimum.
struct Stagnation {
    stale: u64,
    last_best: f64,
}

fn halted(h: Halt) -> StopReason {
    match h {
        Halt::Budget => StopReason::Budget,
        Halt::Interrupted => StopReason::Interrupted,
    }
}

impl<R: Rng + SeedableRng> Run<'_, R> {
    /// The run's loop, `iterations` counting the ones completed.
    pub(super) fn run_inner(
        &mut self,
        problem: &Problem<'_>,
        observer: &mut Observer<'_>,
        iterations: &mut u64,
    ) -> Flow {
        let cfg = self.cfg;
        let mut swarm = self.initial_swarm(problem)?;
        let mut k = Coefficients {
            g: cfg.inertia,
            dance: cfg.dance,
            flight: cfg.flight,
        };
        let mut stagnation = Stagnation {
            stale: 0,
            last_best: self.best_f,
        };
        for it in 0..cfg.iterations {
            let best_at_start = self.best_f;
            self.move_females(&mut swarm, &k)?;
            self.move_males(&mut swarm, &k)?;
            sort_by_value(&mut swarm.males);
            sort_by_value(&mut swarm.females);
            self.olce_phase(&mut swarm, it)?;
            self.mate(&mut swarm);
            self.mutate(&mut swarm);
            self.score_children(&mut swarm)?;
            self.merge(&mut swarm);
            self.desma_phase(&mut swarm, best_at_start)?;
            k.g *= cfg.inertia_damping;
            k.dance *= cfg.dance_damping;
            k.flight *= cfg.flight_damping;
            *iterations = it + 1;
            self.end_iteration(it, observer, &mut stagnation)?;
        }
        ControlFlow::Continue(())
    }

    /// `Break` with the reason if a check of `evaluated` of `wanted` points fails.
    fn checked(&self, evaluated: usize, wanted: usize) -> Flow {
        self.check(evaluated, wanted)
            .map_err(halted)
            .map_break_err()
    }

    /// The initial population, scored: given candidates first (males, then females), then
    /// uniform.
    fn initial_swarm(&mut self, problem: &Problem<'_>) -> ControlFlow<StopReason, Swarm> {
        let cfg = self.cfg;
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
        let n = self.evaluate_flies(&mut males, true);
        self.checked(n, males.len())?;
        let n = self.evaluate_flies(&mut females, true);
        self.checked(n, females.len())?;
        ControlFlow::Continue(Swarm {
            males,
            females,
            offspring: Vec::with_capacity(cfg.offspring),
            mutants: Vec::with_capacity(cfg.mutants),
            mutant_parent: Vec::with_capacity(cfg.mutants),
        })
    }

    /// Females move towards their ranked male if he is better, else fly at random; then
    /// they are scored.
    fn move_females(&mut self, swarm: &mut Swarm, k: &Coefficients) -> Flow {
        let cfg = self.cfg;
        let Swarm { males, females, .. } = swarm;
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
                female.v[j] = k.g * female.v[j]
                    + if attracted {
                        cfg.mate_attraction * self.attraction(male.x[j] - female.x[j], r2)
                    } else {
                        k.flight * self.e[j]
                    };
            }
            self.step(female);
        }
        let n = self.evaluate_flies(females, false);
        self.checked(n, females.len())
    }

    /// Males move one at a time, each seeing the global best the previous one left (or
    /// all at once against the same global best, in synchronous mode), and are scored.
    fn move_males(&mut self, swarm: &mut Swarm, k: &Coefficients) -> Flow {
        let synchronous = self.cfg.synchronous_males;
        for male in &mut swarm.males {
            self.fresh_e();
            self.move_male(male, k.g, k.dance);
            if synchronous {
                continue;
            }
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
            self.checked(1, 1)?;
        }
        if synchronous {
            let n = self.evaluate_flies(&mut swarm.males, false);
            self.checked(n, swarm.males.len())?;
        }
        ControlFlow::Continue(())
    }

    /// OLCE's orthogonal learning and chaotic search on the elite males.
    fn olce_phase(&mut self, swarm: &mut Swarm, it: u64) -> Flow {
        let cfg = self.cfg;
        if let Variant::Olce {
            elite_fraction,
            orthogonal_factor,
            chaos_radius,
        } = cfg.variant
        {
            let elites = cfg.olce_elites(elite_fraction);
            let radius = chaos_radius * (1.0 - it as f64 / cfg.iterations as f64);
            self.olce(&mut swarm.males[..elites], orthogonal_factor, radius)
                .map_err(halted)
                .map_break_err()?;
            sort_by_value(&mut swarm.males);
        }
        ControlFlow::Continue(())
    }

    /// Mating: the k-th best male with the k-th best female, two offspring each.
    fn mate(&mut self, swarm: &mut Swarm) {
        let cfg = self.cfg;
        swarm.offspring.clear();
        for k in 0..cfg.offspring / 2 {
            let mut o1 = self.take_fly();
            let mut o2 = self.take_fly();
            for j in 0..self.dim {
                let l = match cfg.crossover {
                    Crossover::Reference => unit(&mut self.rng),
                    Crossover::Blend { gamma } => uniform(&mut self.rng, -gamma, 1.0 + gamma),
                };
                let (m, f) = (swarm.males[k].x[j], swarm.females[k].x[j]);
                o1.x[j] = l * m + (1.0 - l) * f;
                o2.x[j] = l * f + (1.0 - l) * m;
            }
            self.clamp(&mut o1.x);
            self.clamp(&mut o2.x);
            o1.v.fill(0.0);
            o2.v.fill(0.0);
            swarm.offspring.push(o1);
            swarm.offspring.push(o2);
        }
    }

    /// Mutation: a random offspring, ceil(μ·D) distinct coordinates moved by
    /// N(0, (scale·range)²).
    fn mutate(&mut self, swarm: &mut Swarm) {
        let cfg = self.cfg;
        swarm.mutants.clear();
        swarm.mutant_parent.clear();
        let changed = ((cfg.mutation_rate * self.dim as f64).ceil() as usize).clamp(1, self.dim);
        for _ in 0..cfg.mutants {
            let parent = index(&mut self.rng, swarm.offspring.len());
            let mut m = self.take_fly();
            m.x.copy_from_slice(&swarm.offspring[parent].x);
            m.v.fill(0.0);
            for c in 0..changed {
                let pick = c + index(&mut self.rng, self.dim - c);
                self.dims.swap(c, pick);
                let j = self.dims[c];
                m.x[j] += cfg.mutation_scale * (self.hi[j] - self.lo[j]) * normal(&mut self.rng);
            }
            self.clamp(&mut m.x);
            swarm.mutants.push(m);
            swarm.mutant_parent.push(parent);
        }
    }

    /// Mutants need the offspring's positions, not their values, so both are scored as
    /// one batch (in this order: the points, the budget and the best are those of scoring
    /// them one batch after the other, and a parallel objective gets one batch of 21
    /// instead of 20 and then 1).
    fn score_children(&mut self, swarm: &mut Swarm) -> Flow {
        let n = self.evaluate_two(&mut swarm.offspring, &mut swarm.mutants);
        self.checked(n, swarm.offspring.len() + swarm.mutants.len())
    }

    /// Merge by sex: first offspring of a pair (male-weighted) join the males, second the
    /// females; a mutant joins its parent's sex. Then keep the best of each.
    fn merge(&mut self, swarm: &mut Swarm) {
        let Swarm {
            males,
            females,
            offspring,
            mutants,
            mutant_parent,
        } = swarm;
        for (k, child) in offspring.drain(..).enumerate() {
            if k % 2 == 0 {
                males.push(child);
            } else {
                females.push(child);
            }
        }
        for (m, &parent) in mutants.drain(..).zip(mutant_parent.iter()) {
            if parent % 2 == 0 {
                males.push(m);
            } else {
                females.push(m);
            }
        }
        sort_by_value(males);
        sort_by_value(females);
        self.spare.extend(males.drain(self.cfg.males..));
        self.spare.extend(females.drain(self.cfg.females..));
    }

    /// DESMA's elite search, its radius enlarged after an improving iteration and
    /// reduced otherwise.
    fn desma_phase(&mut self, swarm: &mut Swarm, best_at_start: f64) -> Flow {
        if let Variant::Desma {
            elites,
            enlarge,
            reduce,
            ..
        } = self.cfg.variant
        {
            let factor = if self.best_f < best_at_start {
                enlarge
            } else {
                reduce
            };
            // Capped at each dimension's range: an enlarge factor above 1 used to grow
            // the radius to infinity, and the candidates to NaN.
            for (j, r) in self.desma_radius.iter_mut().enumerate() {
                *r = (*r * factor).min(self.hi[j] - self.lo[j]);
            }
            self.desma(&mut swarm.males, elites)
                .map_err(halted)
                .map_break_err()?;
        }
        ControlFlow::Continue(())
    }

    /// Reports iteration `it` to the observer and the objective, then ends the run on a
    /// stop, the target or stagnation.
    fn end_iteration(
        &mut self,
        it: u64,
        observer: &mut Observer<'_>,
        stagnation: &mut Stagnation,
    ) -> Flow {
        let info = Iteration {
            iteration: it + 1,
            evaluations: self.evaluations,
            best_cost: self.best_f,
        };
        if observer(&info).is_break()
            || self
                .objective
                .iteration_done(info.iteration, info.evaluations, info.best_cost)
                .is_break()
        {
            return ControlFlow::Break(StopReason::Observer);
        }
        if let Some(t) = self.cfg.target_cost
            && self.best_f <= t
        {
            return ControlFlow::Break(StopReason::TargetCost);
        }
        if let Some(limit) = self.cfg.stagnation_iterations {
            if stagnation.last_best - self.best_f > self.cfg.min_improvement {
                stagnation.stale = 0;
                stagnation.last_best = self.best_f;
            } else {
                stagnation.stale += 1;
                if stagnation.stale >= limit {
                    return ControlFlow::Break(StopReason::Stagnation);
                }
            }
        }
        ControlFlow::Continue(())
    }
}
