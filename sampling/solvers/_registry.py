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

The k-diffusion samplers (crowsonkb/k-diffusion `k_diffusion/sampling.py`, step for step;
one file each, shared conventions in `_kdiffusion.py`). They run as k-diffusion runs a VP
model, on x/alpha in the noise level sigma/alpha (on EDM and VE: x in sigma). Their own
noise amount, k-diffusion's `eta` (default 1), IS dlsim's eta (read at the step's left
end, eta(t_k)); eta = 0 (the probability-flow ODE) runs them with no noise. Orders: slope
of the exact W2 against N (128 -> 256, VP, spectrum 3, 0.3, 0.02; EDM grid at eta = 0,
log-SNR grid at eta = 1), tests/sampling/test_practitioner_samplers.py.

name                    eta     NFE/step  order eta=0 / eta=1  what eta means
euler-ancestral         any     1         1 / 1      ancestral split: sigma_up = min(sigma',
                                                     eta sigma' sqrt(1 - sigma'^2/sigma^2)),
                                                     sigma_down = sqrt(sigma'^2 - sigma_up^2);
                                                     eta = 1: the reverse SDE (= ddim-sde at 1)
dpm2                    eta = 0 2         2          (none; midpoint at sqrt(sigma sigma'))
dpm2-ancestral          any     2         2 / 2      ancestral split, as euler-ancestral
dpmpp-2s-ancestral      any     2         2 / 2      ancestral split, as euler-ancestral
dpmpp-sde               any     2         2 / 2      ancestral split of each of its two
                                                     stages; the two noises are Brownian-tree
                                                     increments, correlated (from the step's
                                                     increment and Levy area)
dpmpp-2m-sde            any     1         2 / 2      h~ = (1 + eta) h: exactly the reverse
                                                     family at dlsim's eta (needs >= 2 steps)
dpmpp-2m-sde-heun       any     1         2 / 2      as dpmpp-2m-sde (needs >= 2 steps)
dpmpp-3m-sde            any     1         2 / 2      as dpmpp-2m-sde; as shipped: its second-
                                                     difference coefficient is half the
                                                     consistent one (needs >= 3 steps)
dpmpp-3m-sde-corrected  any     1         3 / 2      as dpmpp-3m-sde, coefficient doubled
lms                     eta = 0 1         4          (none; Adams–Bashforth of order 4 in
                                                     sigma, needs >= 4 steps)
sigma, sigma' are the noise levels sigma/alpha at t_k, t_{k+1}. For eta large enough that
sigma_up reaches sigma', sigma_down = 0 and the ancestral samplers step to D (k-diffusion's
Euler branch; dpm2-ancestral then adds no noise, as its reference does).
Multistep samplers warm up as the reference (lower orders on the first steps). s_noise is 1.
At N = 128 -> 256 (eta = 0, EDM grid): 3M as shipped 1.89, corrected 3.02, LMS 3.86;
at 64 -> 128: 1.75, 3.05, 3.73.

UniPC, DEIS and iPNDM after their own sources (SAMPLERS.md 2.7-2.9), in the same coordinates
(x/alpha, noise level sigma/alpha), probability-flow ODE only. Orders: slope of the exact W2
against N (EDM, log-SNR grid, spectrum 0.04, 0.6, 3; 128 -> 256 unless said),
tests/sampling/test_multistep_samplers.py.

name      eta     NFE/step  order  notes
unipc     eta = 0 1         3      UniPC-bh2 order 2 + corrector (wl-zhao `uni_pc.py`); the model
                                   is evaluated at the uncorrected point and that value is the
                                   history; no corrector on the last step; needs >= 2 steps
unipc-3   eta = 0 1         4      as unipc, order 3 (measured 3.82; 2.5-3.6 below N = 64,
                                   warm-up); needs >= 3 steps
deis      eta = 0 1         3      DEIS tAB-3 (ComfyUI `deis.py`, its 10^4-point quadrature
                                   reproduced); measured 2.93; needs >= 3 steps
ipndm     eta = 0 1         2      iPNDM-4, fixed AB coefficients in sigma (ComfyUI): order 4
                                   only on grids uniform in sigma; measured 2.00; needs >= 4
UniPC lowers its order on the last steps as its source does (lower_order_final: order 1 on
the last step, <= 2 on the one before), reading the run's N from Diffrax's args (every route
passes it, `solver_step`). The sources' final jump to sigma = 0 is a final step, not a
solver: `final_step="denoise"` (sampling/diffusion/_final_step.py).
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
from ._deis import DEIS
from ._dpm import DPMSolverPP2M
from ._dpm2 import DPM2
from ._dpm2_ancestral import DPM2Ancestral
from ._dpmpp_2m_sde import DPMSolverPP2MSDE, DPMSolverPP2MSDEHeun
from ._dpmpp_2s_ancestral import DPMSolverPP2SAncestral
from ._dpmpp_3m_sde import DPMSolverPP3MSDE, DPMSolverPP3MSDECorrected
from ._dpmpp_sde import DPMSolverPPSDE
from ._euler_ancestral import EulerAncestral
from ._heun import Heun
from ._ipndm import IPNDM
from ._lms import LMS
from ._unipc import UniPC, UniPC3

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
    # The k-diffusion samplers (k_diffusion/sampling.py), run in sigma/alpha on x/alpha.
    "euler-ancestral": EulerAncestral,
    "dpm2": DPM2,
    "dpm2-ancestral": DPM2Ancestral,
    "dpmpp-2s-ancestral": DPMSolverPP2SAncestral,
    "dpmpp-sde": DPMSolverPPSDE,
    "dpmpp-2m-sde": DPMSolverPP2MSDE,
    "dpmpp-2m-sde-heun": DPMSolverPP2MSDEHeun,
    "dpmpp-3m-sde": DPMSolverPP3MSDE,
    "dpmpp-3m-sde-corrected": DPMSolverPP3MSDECorrected,
    "lms": LMS,
    # UniPC, DEIS and iPNDM, after their own sources (SAMPLERS.md 2.7-2.9), same coordinates.
    "unipc": UniPC,
    "unipc-3": UniPC3,
    "deis": DEIS,
    "ipndm": IPNDM,
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
