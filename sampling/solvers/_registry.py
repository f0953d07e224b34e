"""Solvers by name, with what each step costs and consumes and when it may be used.

A solver is a Diffrax solver object; its `step` is the one definition of the sampler
step, used by Monte Carlo and by the exact-law route alike. Diffrax's own solvers are
used where they fit (Euler–Maruyama, the additive-noise SRKs ShARK and SRA1); the rest
are Diffrax solver classes written here (`Heun`, `DDIM`, `StochasticDDIM`,
`DPMSolverPP2M`).

name      equation      NFE/step  order of the exact W2 (measured, VP, power:1:100)
euler     any eta       1         1
heun      any eta       2         2 (ODE: EDM Heun; SDE: stochastic Heun, additive noise)
ddim      eta = 0       1         1
ddim-sde  any eta       1         1
dpm2m     eta = 0       1         2 (needs >= 2 steps)
shark     eta > 0       2         2 (strong order 1.5)
sra1      eta > 0       2         2
"""

import functools
from collections.abc import Callable

import diffrax
import numpy as np
from diffrax import (
    AbstractBrownianIncrement,
    AbstractSpaceTimeLevyArea,
    AbstractSpaceTimeTimeLevyArea,
    BrownianIncrement,
    SpaceTimeLevyArea,
)

from ..diffusion._reverse import ReverseDiffusion
from ._base import AbstractReverseSolver
from ._ddim import DDIM, StochasticDDIM
from ._dpm import DPMSolverPP2M
from ._heun import Heun

SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "euler": diffrax.Euler,
    "heun": Heun,
    "ddim": DDIM,
    "ddim-sde": StochasticDDIM,
    "dpm2m": DPMSolverPP2M,
    # A plain lax.scan over the stages (Diffrax's default is a checkpointed loop, which
    # forward-mode autodiff, hence the exact-law route, cannot go through).
    "shark": functools.partial(diffrax.ShARK, scan_kind="lax"),
    "sra1": functools.partial(diffrax.SRA1, scan_kind="lax"),
}

# Diffrax's solvers used here: (score evaluations per step, which equations they solve).
# "sde" = reverse SDE only (eta > 0): the SRKs need a noise term to act on.
_DIFFRAX_SOLVERS: dict[type, tuple[int, str]] = {
    diffrax.Euler: (1, "any"),
    diffrax.ShARK: (2, "sde"),
    diffrax.SRA1: (2, "sde"),
}


def make_solver(name: str) -> diffrax.AbstractSolver:
    """The named solver (`SOLVERS`)."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; allowed: {', '.join(SOLVERS)}")
    return SOLVERS[name]()


def solver_name(solver: diffrax.AbstractSolver) -> str:
    """The registry name of a solver object (its class name if it is not registered)."""
    for name, factory in SOLVERS.items():
        if type(solver) is type(factory()):
            return name
    return type(solver).__name__


def _properties(solver: diffrax.AbstractSolver) -> tuple[int, str, int]:
    """(score evaluations per step, "ode" | "sde" | "any", fewest steps)."""
    if isinstance(solver, AbstractReverseSolver):
        return (solver.score_evaluations, "ode" if solver.ode_only else "any", solver.min_steps)
    try:
        nfe, kind = _DIFFRAX_SOLVERS[type(solver)]
    except KeyError:
        raise ValueError(f"no score-evaluation count is known for {type(solver).__name__}; "
                         f"known solvers: {', '.join(SOLVERS)}") from None
    return nfe, kind, 1


def score_evaluations_per_step(solver: diffrax.AbstractSolver) -> int:
    """How many times one step calls the score model."""
    return _properties(solver)[0]


def min_steps(solver: diffrax.AbstractSolver) -> int:
    """The fewest steps a grid must have for this solver."""
    return _properties(solver)[2]


def is_ode_only(solver: diffrax.AbstractSolver) -> bool:
    return _properties(solver)[1] == "ode"


def solver_kind(solver: diffrax.AbstractSolver) -> str:
    """Which equations the solver runs: "ode" (eta = 0 only), "sde" (eta > 0 only), "any"."""
    return _properties(solver)[1]


def check_solver_use(solver: diffrax.AbstractSolver, reverse: ReverseDiffusion, grid) -> None:
    """Raise ValueError, naming the value and what is allowed, if `solver` cannot run the
    reverse family `reverse` on `grid`: a multistep solver on a grid with too few steps,
    an ODE-only solver with eta != 0, an SDE-only solver with eta = 0."""
    _, kind, fewest = _properties(solver)
    name = solver_name(solver)
    if getattr(solver, "scan_kind", "lax") != "lax":
        raise ValueError(
            f"{type(solver).__name__}(scan_kind={solver.scan_kind!r}) cannot be linearised for "
            f"its exact law; use scan_kind='lax' (as make_solver({name.lower()!r}) does)"
        )
    n_steps = int(np.shape(grid)[0]) - 1
    if n_steps < fewest:
        raise ValueError(
            f"solver {name} is a {fewest}-step method and needs a grid of at least {fewest} "
            f"steps ({fewest + 1} points), got {n_steps} step{'s' if n_steps != 1 else ''}"
        )
    eta = "a function of t" if callable(reverse.eta) else repr(reverse.eta)
    if kind == "ode" and not reverse.is_deterministic:
        raise ValueError(
            f"solver {name} solves the probability-flow ODE only and needs eta = 0, got "
            f"eta = {eta}; for eta > 0 use one of: {', '.join(_sde_capable())}"
        )
    if kind == "sde" and reverse.is_deterministic:
        raise ValueError(
            f"solver {name} is an SDE solver and needs eta > 0, got eta = {eta}; for the "
            f"probability-flow ODE use one of: {', '.join(_ode_capable())}"
        )


def _sde_capable() -> list[str]:
    return [n for n, f in SOLVERS.items() if _properties(f())[1] != "ode"]


def _ode_capable() -> list[str]:
    return [n for n, f in SOLVERS.items() if _properties(f())[1] != "sde"]


def levy_area_of(solver: diffrax.AbstractSolver) -> type:
    """The kind of Brownian increment a solver's step reads (plain, or with space-time
    Lévy area), as the concrete class a Brownian path is built with."""
    kind = getattr(solver, "minimal_levy_area", BrownianIncrement)
    if issubclass(kind, AbstractSpaceTimeTimeLevyArea):
        kind = None
    elif issubclass(kind, AbstractSpaceTimeLevyArea):
        return SpaceTimeLevyArea
    if kind is not None and issubclass(kind, AbstractBrownianIncrement):
        return BrownianIncrement
    raise ValueError(f"solver {type(solver).__name__} needs Lévy areas "
                     f"({getattr(solver, 'minimal_levy_area', None)}) that dlsim's Brownian "
                     f"paths do not provide")
