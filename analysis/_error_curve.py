"""Exact error curves of samplers on Gaussian data, split into their parts."""

import dataclasses
from collections.abc import Callable, Sequence

import diffrax
import numpy as np

from sampling import GaussianLaw, GaussianTarget, make_solver
from schedules import AbstractSchedule, make_grid, validate_grid

from ._distances import kl_gaussian, w2sq_gaussian, weak_error_quadratic
from ._exact_law import check_finite_law, exact_law_per_direction

STARTS = ("marginal", "prior")
REFERENCES = ("tmin", "data")


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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_steps(steps: Sequence[int]) -> list[int]:
    out = []
    for n in steps:
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"step counts must be integers >= 1, got {n!r}")
        out.append(int(n))
    if not out:
        raise ValueError("give at least one step count")
    return out


def resolve_grid(grid: str | Callable | np.ndarray, schedule: AbstractSchedule, n_steps: int,
                 rho: float = 7.0):
    """A grid from a name (`schedules.GRIDS`), a builder f(schedule, n) or an explicit array."""
    if isinstance(grid, str):
        return make_grid(grid, schedule, n_steps, rho=rho)
    if callable(grid):
        return validate_grid(schedule, grid(schedule, n_steps))
    return validate_grid(schedule, grid)


def resolve_solver(solver: str | diffrax.AbstractSolver) -> diffrax.AbstractSolver:
    return make_solver(solver) if isinstance(solver, str) else solver


def prior_law(target: GaussianTarget, schedule: AbstractSchedule) -> GaussianLaw:
    """N(0, prior_variance I) at t_max, in the target's eigen-coordinates."""
    return GaussianLaw(np.zeros(target.dim), np.full(target.dim, float(schedule.prior_variance())))


def error_curve(target: GaussianTarget, schedule: AbstractSchedule, steps: Sequence[int], *,
                grid: str | Callable = "edm", rho: float = 7.0, eta=0.0,
                solver: str | diffrax.AbstractSolver = "euler", start: str = "marginal",
                reference: str = "tmin") -> ErrorCurve:
    """Exact errors of the sampler (schedule, grid, solver, eta) for each N in `steps`.

    The sampler starts at t_max from the exact marginal (`start="marginal"`, isolating
    the discretization error) or from the prior (`"prior"`), and is compared with the
    exact marginal at t_min (`reference="tmin"`) or with the data law (`"data"`).
    No Monte Carlo: the output law is exact (`exact_law_per_direction`), in float64.
    """
    if start not in STARTS:
        raise ValueError(f"unknown start {start!r}; allowed: {', '.join(STARTS)}")
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}; allowed: {', '.join(REFERENCES)}")
    steps = _check_steps(steps)
    solver = resolve_solver(solver)
    data = target.law_in_eigenbasis()
    prior = prior_law(target, schedule)
    columns: dict[str, list[float]] = {k: [] for k in ("w2sq", "kl", "weak_trace",
                                                       "discretization", "initialization")}
    truncation = None
    for n in steps:
        g = resolve_grid(grid, schedule, n, rho)
        t_end, t_start = g[-1], g[0]
        marginal_end = target.marginal_in_eigenbasis(schedule, t_end)
        from_marginal = check_finite_law(
            exact_law_per_direction(target, schedule, eta, g, solver,
                                    target.marginal_in_eigenbasis(schedule, t_start)),
            f"N = {n} steps")
        from_prior = check_finite_law(
            exact_law_per_direction(target, schedule, eta, g, solver, prior),
            f"N = {n} steps from the prior")
        output = from_marginal if start == "marginal" else from_prior
        ref = marginal_end if reference == "tmin" else data
        columns["w2sq"].append(float(w2sq_gaussian(output, ref)))
        columns["kl"].append(float(kl_gaussian(output, ref)))
        columns["weak_trace"].append(float(weak_error_quadratic(output, ref)))
        columns["discretization"].append(float(w2sq_gaussian(from_marginal, marginal_end)))
        columns["initialization"].append(float(w2sq_gaussian(from_prior, from_marginal)))
        truncation = float(w2sq_gaussian(marginal_end, data))
    return ErrorCurve(steps=steps, truncation=truncation, start=start, reference=reference,
                      **columns)
