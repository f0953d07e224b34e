"""Exact error curves of samplers on Gaussian data, split into their parts."""

import dataclasses
from collections.abc import Callable, Sequence

import diffrax
import numpy as np

from sampling import GaussianLaw, GaussianTarget
from schedules import AbstractSchedule, make_grid, validate_grid

from ._sweep import REFERENCES as REFERENCES
from ._sweep import STARTS as STARTS
from ._sweep import error_sweep


@dataclasses.dataclass(frozen=True)
class ErrorCurve:
    """Exact errors of a sampler's output law against N.

    `w2sq`, `kl` (KL(output || reference)) and `weak_trace` (E|x|^2 under the output
    minus under the reference) compare the output, started as `start` says, with the
    `reference` law. The parts are always reported:
    `discretization` = W2^2(output started from the exact marginal, exact marginal at t_min);
    `initialization` = W2^2(output started from the prior, output started from the marginal);
    `truncation` = W2^2(exact marginal at t_min, data law), the same for every N.
    W2 is a metric, so sqrt(w2sq) <= the sum of the square roots of the relevant parts.
    With `final_step="denoise"` each of these laws is taken after the final jump to
    sigma = 0 (x <- D(x, t_N)), and the reference is the data law (see `error_sweep`).
    """

    steps: list[int]
    w2sq: list[float]
    kl: list[float]
    weak_trace: list[float]
    discretization: list[float]
    initialization: list[float]
    truncation: float
    start: str
    reference: str
    final_step: str = "none"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def resolve_grid(grid: str | Callable | np.ndarray, schedule: AbstractSchedule, n_steps: int,
                 rho: float = 7.0):
    """A grid from a name (`schedules.GRIDS`), a builder f(schedule, n) or an explicit array."""
    if isinstance(grid, str):
        return make_grid(grid, schedule, n_steps, rho=rho)
    if callable(grid):
        return validate_grid(schedule, grid(schedule, n_steps))
    return validate_grid(schedule, grid)


def prior_law(target: GaussianTarget, schedule: AbstractSchedule) -> GaussianLaw:
    """N(0, prior_variance I) at t_max, in the target's eigen-coordinates."""
    return GaussianLaw(np.zeros(target.dim), np.full(target.dim, float(schedule.prior_variance())))


def error_curve(target: GaussianTarget, schedule: AbstractSchedule, steps: Sequence[int], *,
                grid: str | Callable = "edm", rho: float = 7.0, eta=0.0,
                solver: str | diffrax.AbstractSolver = "euler", start: str = "marginal",
                reference: str | None = None, final_step: str = "none",
                devices=None) -> ErrorCurve:
    """Exact errors of the sampler (schedule, grid, solver, eta) for each N in `steps`.

    The sampler starts at t_max from the exact marginal (`start="marginal"`, isolating
    the discretization error) or from the prior (`"prior"`), and is compared with the
    exact marginal at t_min (`reference="tmin"`, the default) or with the data law
    (`"data"`). `final_step="denoise"` ends each run with the jump to sigma = 0,
    x <- D(x, t_N), and compares with the data law (the default reference then).
    No Monte Carlo: the output law is exact, in float64. One curve of `error_sweep`
    (`devices`: those its work is split over, default all; the same numbers on any number).
    """
    sweep = error_sweep(target, schedule, steps, grids=[grid], etas=[eta], solvers=[solver],
                        rho=rho, start=start, reference=reference, final_step=final_step,
                        devices=devices)
    columns = {k: [getattr(row, k) for row in sweep.rows]
               for k in ("w2sq", "kl", "weak_trace", "discretization", "initialization")}
    return ErrorCurve(steps=[row.steps for row in sweep.rows], truncation=sweep.rows[-1].truncation,
                      start=start, reference=sweep.reference, final_step=final_step, **columns)
