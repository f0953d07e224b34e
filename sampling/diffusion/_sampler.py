"""One call from a score model to samples: build the reverse family, the grid and the
solver from plain arguments, then run `sample` (which does the work)."""

import diffrax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from schedules import AbstractSchedule, make_grid, validate_grid

from .._sharding import Devices
from ..scores._score import AbstractScoreModel
from ..solvers._registry import make_solver
from ..targets._gaussian import GaussianLaw
from ._reverse import Eta, ReverseDiffusion
from ._sample import Samples, sample


def sample_diffusion(key: PRNGKeyArray, score: AbstractScoreModel, schedule: AbstractSchedule,
                     grid: Array | str, *, n_samples: int, solver: str | diffrax.AbstractSolver = "euler",
                     eta: Eta = 0.0, n_steps: int | None = None, dim: int | None = None,
                     start: GaussianLaw | None = None, rho: float = 7.0,
                     brownian: str = "virtual", route: str = "diffrax",
                     tol: float = 1e-6, devices: Devices = None,
                     final_step: str = "none") -> Samples:
    """Samples of the reverse family (schedule, score, eta) run by `solver` over `grid`.

    `grid` is a decreasing array of times or a grid name (`schedules.GRIDS`, then give
    `n_steps`; `rho` for "edm"). `solver` is a name (`SOLVERS`) or a solver object. The
    start law is `start`, by default the schedule's prior N(0, prior_variance I_dim).
    Returns `Samples` (samples, n_steps, nfe = score evaluations per particle). Brownian
    paths: `brownian="virtual"` (VirtualBrownianTree: the same path for every grid, for
    strong-error studies) or `"unsafe"` (cheaper). Same key, same samples, whatever
    `n_samples`, and whatever `devices` the particles are split over (default: all; see
    `sample`). `final_step="denoise"` ends with the jump to sigma = 0, x <- D(x, grid[-1])
    (see `sample`). Raises ValueError on bad input, NonFiniteError if samples diverge.
    """
    if isinstance(grid, str):
        if n_steps is None:
            raise ValueError(f"grid {grid!r} is a name: give n_steps too")
        grid = make_grid(grid, schedule, int(n_steps), rho=rho)
    else:
        grid = validate_grid(schedule, grid)
    if isinstance(solver, str):
        solver = make_solver(solver)
    if start is None:
        if dim is None or int(dim) < 1:
            raise ValueError(f"give the dimension dim >= 1 (or a start law), got dim={dim!r}")
        start = GaussianLaw(jnp.zeros(int(dim)),
                            jnp.full(int(dim), float(np.asarray(schedule.prior_variance()))))
    reverse = ReverseDiffusion(schedule, score, eta)
    return sample(key, reverse, grid, solver, start, n_samples, brownian=brownian, route=route,
                  tol=tol, devices=devices, final_step=final_step)
