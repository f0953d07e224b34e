"""Exact laws of discrete samplers for Gaussian data (MATH.md section 2, DESIGN.md section 2).

With an affine score, one step of any of the usual solvers is an affine map of the
state and of the standard normals it consumes: y+ = A y + b + B z. The map is read
off the very `solver.step` that samples (`jax.linearize`/`jacfwd`, exact because the
map is affine), so the sampler and its exact law cannot drift apart. Its law is then
propagated exactly: mean -> A mean + b, Cov -> A Cov A^T + B B^T. A solver that
carries state between steps (multistep methods) is handled on the augmented state
(y, solver_state).
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array

from sampling import (
    GaussianLaw,
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    StandardNormalIncrements,
    check_solver_use,
    levy_area_of,
    noise_names,
    reversed_times,
    solver_init,
    solver_step,
)
from schedules import AbstractSchedule


def _noise_path(levy_area, z: Array, d: int) -> StandardNormalIncrements:
    """Split a flat vector of standard normals into the arrays a step consumes."""
    parts = dict(zip(noise_names(levy_area), jnp.split(z, len(noise_names(levy_area))), strict=True))
    return StandardNormalIncrements(parts["w"], parts.get("hh"), levy_area)


def _propagate(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, r: Array,
               mean0: Array, cov0: Array) -> tuple[Array, Array]:
    """Push N(mean0, cov0) through the solver's steps over the reversed times r.
    Returns the mean and covariance of the state (not of the solver's auxiliary state)."""
    d = mean0.shape[0]
    levy_area = levy_area_of(solver)
    n_noise = 0 if reverse.is_deterministic else d * len(noise_names(levy_area))
    zeros = jnp.zeros(n_noise)

    def to_aug(y0):
        state0 = solver_init(reverse, solver, r[0], r[1], y0, _noise_path(levy_area, zeros, d))
        return ravel_pytree((y0, state0))[0]

    _, unravel = ravel_pytree((mean0, solver_init(reverse, solver, r[0], r[1], mean0,
                                                  _noise_path(levy_area, zeros, d))))
    aug_mean = to_aug(mean0)
    j0 = jax.jacfwd(to_aug)(mean0)
    aug_cov = j0 @ cov0 @ j0.T

    def body(carry, k):
        mean, cov = carry

        def step(aug, z):
            y, state = unravel(aug)
            path = _noise_path(levy_area, z, d)
            y1, state1 = solver_step(reverse, solver, r[k], r[k + 1], y, state, path)
            return ravel_pytree((y1, state1))[0]

        new_mean, step_jvp = jax.linearize(step, mean, zeros)
        a = jax.vmap(lambda e: step_jvp(e, zeros), out_axes=1)(jnp.eye(mean.shape[0]))
        b = jax.vmap(lambda e: step_jvp(jnp.zeros_like(mean), e), out_axes=1)(jnp.eye(n_noise))
        return (new_mean, a @ cov @ a.T + b @ b.T), None

    (aug_mean, aug_cov), _ = jax.lax.scan(body, (aug_mean, aug_cov), jnp.arange(r.shape[0] - 1))
    return aug_mean[:d], aug_cov[:d, :d]


def _check_affine_score(reverse: ReverseDiffusion, grid: Array, d: int) -> None:
    """The exact-law route is exact only for scores affine in x: check at both grid ends."""
    key = jax.random.key(0)
    x1, x2 = jax.random.normal(key, (2, d))
    for t in (grid[0], grid[-1]):
        s1, s2, s_mid = reverse.score(x1, t), reverse.score(x2, t), reverse.score((x1 + x2) / 2, t)
        scale = jnp.max(jnp.abs(s1)) + jnp.max(jnp.abs(s2)) + 1e-300
        if float(jnp.max(jnp.abs(s1 + s2 - 2 * s_mid)) / scale) > 1e-8:
            raise ValueError(
                f"{type(reverse.score).__name__} is not affine in x; exact laws need an "
                f"affine score (use Monte Carlo for this model)"
            )


@eqx.filter_jit
def _exact_law_jit(reverse, solver, r, mean0, cov0):
    return _propagate(reverse, solver, r, mean0, cov0)


def exact_law(reverse: ReverseDiffusion, grid: Array, solver: diffrax.AbstractSolver,
              start: GaussianLaw) -> GaussianLaw:
    """Exact law of the sampler's output at grid[-1], started from `start` at grid[0].

    Works on full matrices in the coordinates of `start` (any affine score, non-zero mean
    included). Needs float64, which importing dlsim enables.
    """
    grid = jnp.asarray(grid, float)
    reverse.check_eta_on_grid(grid)
    check_solver_use(solver, reverse, grid)
    _check_affine_score(reverse, grid, start.dim)
    mean, cov = _exact_law_jit(reverse, solver, reversed_times(grid), start.mean,
                               start.covariance_matrix())
    return GaussianLaw(mean, cov)


@eqx.filter_jit
def _per_direction_jit(eigenvalues, means, schedule, eta, solver, r, start_means, start_vars):
    def one(lam, mu, m0, v0):
        target = GaussianTarget(lam[None], None, mu[None])
        reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), eta)
        mean, cov = _propagate(reverse, solver, r, m0[None], v0[None, None])
        return mean[0], cov[0, 0]

    return jax.vmap(one)(eigenvalues, means, start_means, start_vars)


def exact_law_per_direction(target: GaussianTarget, schedule: AbstractSchedule, eta,
                            grid: Array, solver: diffrax.AbstractSolver,
                            start: GaussianLaw) -> GaussianLaw:
    """Exact output law for the exact Gaussian score, one eigen-direction at a time.

    Every matrix of the step is diagonal in the eigenbasis U of Sigma, so each direction
    evolves alone: the same step is linearised on 1-D states, vmapped over the spectrum.
    `start` must be diagonal in eigen-coordinates (mean U^T m, variances); the result is
    in eigen-coordinates too (use `.rotate(U)` for standard ones).
    """
    if not start.is_diagonal:
        raise ValueError("exact_law_per_direction needs a start law diagonal in eigen-coordinates")
    grid = jnp.asarray(grid, float)
    ReverseDiffusion(schedule, GaussianScore(target, schedule), eta).check_eta_on_grid(grid)
    check_solver_use(solver, ReverseDiffusion(schedule, GaussianScore(target, schedule), eta), grid)
    eig = target.in_eigenbasis()
    mean, var = _per_direction_jit(eig.eigenvalues, eig.mean_vector(), schedule, eta, solver,
                                   reversed_times(grid), start.mean, start.cov)
    return GaussianLaw(mean, var)


def check_finite_law(law: GaussianLaw, what: str) -> GaussianLaw:
    """Raise instead of returning NaN/inf moments (e.g. an unstable step on a stiff grid)."""
    if not (np.all(np.isfinite(np.asarray(law.mean))) and np.all(np.isfinite(np.asarray(law.cov)))):
        raise FloatingPointError(f"the exact law of {what} is not finite: the sampler diverges")
    return law
