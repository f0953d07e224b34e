"""Solvers by name, with what each step consumes.

A solver is a Diffrax solver object; its `step` is the one definition of the sampler
step, used by Monte Carlo and by the exact-law route alike.
"""

from collections.abc import Callable

import diffrax
from diffrax import BrownianIncrement

SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "euler": diffrax.Euler,
}

# Score evaluations per step, for cost-normalised comparisons.
_NFE_PER_STEP: dict[type, int] = {diffrax.Euler: 1}


def make_solver(name: str) -> diffrax.AbstractSolver:
    """The named solver (`SOLVERS`)."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; allowed: {', '.join(SOLVERS)}")
    return SOLVERS[name]()


def score_evaluations_per_step(solver: diffrax.AbstractSolver) -> int:
    """How many times one step calls the score model."""
    try:
        return _NFE_PER_STEP[type(solver)]
    except KeyError:
        raise ValueError(f"no score-evaluation count is known for {type(solver).__name__}") from None


def levy_area_of(solver: diffrax.AbstractSolver) -> type:
    """The kind of Brownian increment a solver's step reads (plain, or with Lévy area)."""
    return getattr(solver, "minimal_levy_area", BrownianIncrement)
