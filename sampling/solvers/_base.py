"""The shared type of the solvers dlsim writes itself (Diffrax lacks them or their form).

Each is a Diffrax solver: `diffeqsolve`, the lean scan and the exact-law route all call
its `init`/`step`, on the terms of a `ReverseDiffusion` (reversed time r = -t). Besides
Diffrax's `order`/`strong_order`, each declares how many score evaluations a step costs,
whether it needs eta = 0, and how many steps a grid must have for it.
"""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
from diffrax import AbstractTerm, LocalLinearInterpolation


class AbstractReverseSolver(diffrax.AbstractSolver):
    """A Diffrax solver for the reverse family, with its cost and its conditions of use."""

    # Score evaluations per step (for cost-normalised comparisons).
    score_evaluations: eqx.AbstractClassVar[int]
    # True for solvers of the probability-flow ODE only (they need eta = 0).
    ode_only: eqx.AbstractClassVar[bool]
    # Fewest steps a grid must have (multistep methods need history).
    min_steps: ClassVar[int] = 1

    term_structure: ClassVar = AbstractTerm
    interpolation_cls: ClassVar[Callable[..., LocalLinearInterpolation]] = (
        LocalLinearInterpolation
    )

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
