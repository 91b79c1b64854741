//! A helper thread's replica of a fit: its own copies of the renderer, cost and optimizer,
//! an evaluator kept in step with the calling thread's, and the buffers its tasks reuse.
//! The team ([`crate::team`]) knows nothing of it; the passes hand it tasks.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use circlefit_core::{Canvas, CanvasRef, Circle, CostFunc, Optimizer, Renderer, Result};

use crate::FitResult;
use crate::evaluator::Evaluator;
use crate::passes::polish::canvases::SlotCanvases;
use crate::team::{SharedTask, Team};

/// The flags a replica's searches stop on: the fit's cancel flag and the halt the calling
/// thread sets when its own search of a stage stops.
#[derive(Clone)]
pub(crate) struct Stops {
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    pub(crate) halt: Arc<AtomicBool>,
}

/// What a helper thread owns for the whole fit.
pub(crate) struct Replica<R, C, O> {
    /// Evaluates over the same kept canvas as the calling thread's evaluator.
    pub(crate) eval: Evaluator<R, C>,
    pub(crate) optimizer: O,
    pub(crate) stops: Stops,
    /// The fit's base canvas (polishing redraws over it).
    pub(crate) base: Canvas,
    /// Polishing's canvases, kept from one slot job to the next.
    pub(crate) slots: Option<SlotCanvases>,
    /// Decoding buffers and this thread's share of a batch's values.
    pub(crate) x: Vec<f64>,
    pub(crate) circles: Vec<Circle>,
    pub(crate) values: Vec<(usize, f64)>,
}

/// The team of a fit.
pub(crate) type FitTeam<'s, R, C, O> = Team<'s, Replica<R, C, O>>;

impl<R: Renderer, C: CostFunc, O: Optimizer> Replica<R, C, O> {
    /// A replica over `reference` and `base` with these copies of the components.
    ///
    /// # Errors
    /// As [`Evaluator::new`].
    pub(crate) fn new(
        (renderer, cost, optimizer): (R, C, O),
        reference: CanvasRef<'_>,
        base: CanvasRef<'_>,
        stops: Stops,
    ) -> Result<Self> {
        Ok(Self {
            eval: Evaluator::new(renderer, cost, reference, base)?,
            optimizer,
            stops,
            base: base.to_canvas(),
            slots: None,
            x: Vec::new(),
            circles: Vec::new(),
            values: Vec::new(),
        })
    }
}

/// Draws `circles` onto the kept canvas of every replica while `here` (the calling
/// thread's own commit) runs.
///
/// # Errors
/// `here`'s error, else the first replica's.
pub(crate) fn commit_everywhere<R, C, O, T>(
    team: &mut FitTeam<'_, R, C, O>,
    circles: &[Circle],
    here: impl FnOnce() -> Result<T>,
) -> Result<T>
where
    R: Renderer,
    C: CostFunc,
{
    if team.is_empty() {
        return here();
    }
    let failed = Arc::new(std::sync::Mutex::new(None));
    let (theirs, drawn) = (Arc::clone(&failed), circles.to_vec());
    let task: SharedTask<'_, Replica<R, C, O>> = Arc::new(move |w: &mut Replica<R, C, O>| {
        if let Err(e) = w.eval.commit(&drawn) {
            theirs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_or_insert(e);
        }
    });
    let value = team.broadcast(&task, here)?;
    let first = failed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    first.map_or(Ok(value), Err)
}

/// A fit's pipeline, run with a team.
pub(crate) type FitBody<'b, R, C, O> =
    dyn for<'s> FnMut(&mut FitTeam<'s, R, C, O>) -> Result<FitResult> + 'b;

/// Makes a fit's replicas and runs the fit with a team of them. [`Fitter::threads`]
/// installs the one implementation, [`CloneForker`], where the components can be cloned
/// and sent to another thread.
///
/// [`Fitter::threads`]: crate::Fitter::threads
pub(crate) trait Forker<R, C, O> {
    /// `helpers` replicas over `reference` and `base`, with copies of the components.
    ///
    /// # Errors
    /// As [`Evaluator::new`].
    fn replicas(
        &self,
        parts: (&R, &C, &O),
        scene: (CanvasRef<'_>, CanvasRef<'_>),
        stops: &Stops,
        helpers: usize,
    ) -> Result<Vec<Replica<R, C, O>>>;

    /// Runs `body` with a team of one thread per replica.
    ///
    /// # Errors
    /// `body`'s.
    fn run(
        &self,
        replicas: Vec<Replica<R, C, O>>,
        body: &mut FitBody<'_, R, C, O>,
    ) -> Result<FitResult>;
}

/// The [`Forker`] of components that are `Clone + Send`.
pub(crate) struct CloneForker;

impl<R, C, O> Forker<R, C, O> for CloneForker
where
    R: Renderer + Clone + Send,
    C: CostFunc + Clone + Send,
    O: Optimizer + Clone + Send,
{
    fn replicas(
        &self,
        (renderer, cost, optimizer): (&R, &C, &O),
        (reference, base): (CanvasRef<'_>, CanvasRef<'_>),
        stops: &Stops,
        helpers: usize,
    ) -> Result<Vec<Replica<R, C, O>>> {
        (0..helpers)
            .map(|_| {
                let parts = (renderer.clone(), cost.clone(), optimizer.clone());
                Replica::new(parts, reference, base, stops.clone())
            })
            .collect()
    }

    fn run(
        &self,
        replicas: Vec<Replica<R, C, O>>,
        body: &mut FitBody<'_, R, C, O>,
    ) -> Result<FitResult> {
        std::thread::scope(|scope| body(&mut Team::spawn(scope, replicas)))
    }
}
