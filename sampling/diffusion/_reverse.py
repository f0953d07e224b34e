r"""The reverse-time family with diffusion-term coefficient eta (MATH.md section 1).

$dx = [f x - \tfrac{1+\eta}{2} g^2 s(x,t)]\,dt + \sqrt{\eta}\, g\, d\bar W$, integrated from
t_max down to t_min. eta = 0 is the probability-flow ODE, eta = 1 the reverse SDE;
every eta has the same exact marginals.

Diffrax integrates in increasing time, so the family is written in the reversed time
r = -t, which runs from -t_max to -t_min: a step from t_k to t_{k+1} < t_k is a Diffrax
step from r_k = -t_k to r_{k+1} = -t_{k+1} with dr = h_k = t_k - t_{k+1} > 0. Every
route (Monte Carlo through `diffeqsolve`, the lean scan, the exact law) builds its
terms here, so they cannot disagree about the equation.
"""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu
import lineax as lx
import numpy as np
from diffrax._term import WrapTerm  # not re-exported; diffeqsolve wraps every term in it
from jaxtyping import Array, ArrayLike

from schedules import AbstractSchedule, is_concrete

from ..scores._score import AbstractScoreModel

Eta = float | Callable[[Array], Array]


def _check_eta(eta) -> None:
    if callable(eta) or not is_concrete(eta):
        return
    value = np.asarray(eta, dtype=float)
    if value.shape != () or not np.isfinite(value) or value < 0:
        raise ValueError(f"eta must be a finite number >= 0 (or a function of t), got {eta!r}")


class ReverseDiffusion(eqx.Module):
    """The reverse-time process of `schedule` driven by `score`, with coefficient `eta`
    (a number >= 0 or a function eta(t) >= 0)."""

    schedule: AbstractSchedule
    score: AbstractScoreModel
    eta: Eta = 0.0

    def __check_init__(self):
        _check_eta(self.eta)

    @property
    def is_deterministic(self) -> bool:
        """True for the probability-flow ODE given as the number 0 (no noise term)."""
        return not callable(self.eta) and is_concrete(self.eta) and float(self.eta) == 0.0

    def eta_at(self, t: ArrayLike) -> Array:
        t = jnp.asarray(t, float)
        return self.eta(t) if callable(self.eta) else jnp.full_like(t, self.eta)

    def check_eta_on_grid(self, grid: Array) -> None:
        """Raise if eta(t) is negative or non-finite at a grid point (where steps use it)."""
        if not callable(self.eta):
            return
        values = np.asarray(self.eta_at(grid))
        bad = ~np.isfinite(values) | (values < 0)
        if np.any(bad):
            k = int(np.argmax(bad))
            raise ValueError(
                f"eta(t) must be finite and >= 0 on the grid, got eta({float(grid[k])!r}) = "
                f"{float(values[k])!r}"
            )

    def score_at(self, x: Array, t: ArrayLike) -> Array:
        """The score model at (x, t), checked to have the shape of x (at trace time)."""
        s = self.score(x, t)
        if jnp.shape(s) != jnp.shape(x):
            raise ValueError(
                f"score model {type(self.score).__name__} returned shape {tuple(jnp.shape(s))} "
                f"for a state of shape {tuple(jnp.shape(x))}; a score must have the shape of "
                f"its input"
            )
        return s

    def denoised(self, x: Array, t: ArrayLike) -> Array:
        r"""Data prediction (Tweedie) $\hat x_0 = (x + \sigma^2 s(x,t))/\alpha$."""
        s = self.schedule
        return (x + s.sigma(t) ** 2 * self.score_at(x, t)) / s.alpha(t)

    def drift(self, t: ArrayLike, x: Array) -> Array:
        """dx/dt = f x - (1 + eta)/2 g^2 s(x, t)."""
        s = self.schedule
        return s.f(t) * x - 0.5 * (1.0 + self.eta_at(t)) * s.g2(t) * self.score_at(x, t)

    def diffusion(self, t: ArrayLike) -> Array:
        """The scalar noise coefficient sqrt(eta g^2)."""
        return jnp.sqrt(self.eta_at(t) * self.schedule.g2(t))

    def terms(self, path: diffrax.AbstractPath) -> diffrax.AbstractTerm:
        """Diffrax terms in reversed time r = -t, with Brownian increments from `path`: a
        `ReverseDriftTerm` alone for the probability-flow ODE (eta = 0 as a number), else
        MultiTerm(drift, ControlTerm) with the additive noise sqrt(eta g^2) dW."""
        drift = ReverseDriftTerm(self)
        if self.is_deterministic:
            return drift
        noise = diffrax.ControlTerm(
            lambda r, y, args: lx.DiagonalLinearOperator(self.diffusion(-r) * jnp.ones_like(y)),
            path,
        )
        return diffrax.MultiTerm(drift, noise)


class ReverseDriftTerm(diffrax.AbstractTerm):
    """The drift of the reverse family as a Diffrax term in reversed time r = -t:
    vector field -drift(-r, y), control dr = r1 - r0 (an ODETerm that also carries the
    `ReverseDiffusion`, so that solvers needing more than the vector field, such as DDIM
    and DPM-Solver, can read the schedule's alpha, sigma and the score model)."""

    reverse: ReverseDiffusion

    def vf(self, t, y, args):
        del args
        return -self.reverse.drift(-t, y)

    def contr(self, t0, t1, **kwargs):
        del kwargs
        return t1 - t0

    def prod(self, vf, control):
        return jtu.tree_map(lambda v: control * v, vf)


def _unwrap(term):
    # diffeqsolve wraps every term in a WrapTerm(term, direction); our reversed times
    # always increase, so direction is 1 and the wrapper changes nothing.
    while isinstance(term, WrapTerm):
        term = term.term
    return term


def reverse_parts(terms) -> tuple[ReverseDiffusion, diffrax.AbstractTerm | None]:
    """The `ReverseDiffusion` behind terms built by `ReverseDiffusion.terms`, and the
    noise term (None for the probability-flow ODE)."""
    noise = None
    if isinstance(terms, diffrax.MultiTerm):
        drift, noise = terms.terms
    else:
        drift = terms
    drift = _unwrap(drift)
    if not isinstance(drift, ReverseDriftTerm):
        raise ValueError(
            f"this solver runs on the terms of a ReverseDiffusion (reverse.terms(path)), "
            f"got a {type(drift).__name__}"
        )
    return drift.reverse, noise
