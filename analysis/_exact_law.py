"""Exact laws of discrete samplers for Gaussian data (MATH.md section 2, DESIGN.md section 2).

With an affine score, one step of any of the usual solvers is an affine map of the
state and of the standard normals it consumes: y+ = A y + b + B z. The map is read
off the very `solver.step` that samples (`jax.linearize`/`jacfwd`, exact because the
map is affine), so the sampler and its exact law cannot drift apart. Its law is then
propagated exactly: mean -> A mean + b, Cov -> A Cov A^T + B B^T. A solver that
carries state between steps (multistep methods) is handled on the augmented state
(y, solver_state).

Several laws pushed through the same steps (e.g. the sampler started from the exact
marginal and from the prior) share one read-off of (A, b, B): `augmented_start` and
`affine_step` carry a stack of S laws, the first of which is the linearisation point.
"""

import os

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

# Below this augmented size the covariance update is written as broadcast products (XLA
# fuses them over a vmapped batch of directions); above it, as matrix products.
_SMALL_STATE = 4


def _noise_path(levy_area, z: Array, d: int) -> StandardNormalIncrements:
    """Split a flat vector of standard normals into the arrays a step consumes."""
    parts = dict(zip(noise_names(levy_area), jnp.split(z, len(noise_names(levy_area))), strict=True))
    return StandardNormalIncrements(parts["w"], parts.get("hh"), levy_area)


def _noise_size(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, d: int) -> int:
    return 0 if reverse.is_deterministic else d * len(noise_names(levy_area_of(solver)))


def _symmetric(entry, n: int) -> Array:
    """The symmetric (..., n, n) matrix whose entries (i, l), i <= l, are entry(i, l)."""
    upper = {(i, l): entry(i, l) for i in range(n) for l in range(i, n)}
    return jnp.stack([jnp.stack([upper[min(i, l), max(i, l)] for l in range(n)], axis=-1)
                      for i in range(n)], axis=-2)


def _sandwich(a: Array, covs: Array) -> Array:
    """a C_s a^T for a (n, m) matrix a and a stack of covariances C_s (S, m, m).

    For a small state the sums are written out entry by entry: over a vmapped batch of
    directions they fuse into one elementwise pass, where reductions over tiny axes would
    become slow generic kernels."""
    n, m = a.shape  # a maps m coordinates to n (m != n where the state is augmented)
    if n == m == 1:  # elementwise: lets XLA update the state in place
        return a[0, 0] * a[0, 0] * covs
    if max(n, m) > _SMALL_STATE:
        return jnp.einsum("ij,sjk,lk->sil", a, covs, a)
    return _symmetric(lambda i, l: sum(a[i, j] * a[l, k] * covs[:, j, k]
                                       for j in range(m) for k in range(m)), n)


def _gram(b: Array) -> Array:
    """b b^T."""
    n, m = b.shape
    if n == 1:
        return jnp.sum(b * b, axis=1, keepdims=True)
    if max(n, m) > _SMALL_STATE:
        return b @ b.T
    return _symmetric(lambda i, l: sum(b[i, m] * b[l, m] for m in range(b.shape[1])), n)


def augmented_unravel(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, d: int):
    """The map from a flat augmented vector back to (y, solver_state) for d-dimensional y,
    and the flat size. Depends on shapes only (evaluated abstractly, nothing is computed)."""
    levy_area = levy_area_of(solver)

    def structure():
        y0 = jnp.zeros(d)
        zeros = jnp.zeros(_noise_size(reverse, solver, d))
        state = solver_init(reverse, solver, jnp.array(-1.0), jnp.array(-0.5), y0,
                            _noise_path(levy_area, zeros, d))
        return (y0, state)

    shapes = jax.eval_shape(structure)
    flat, unravel = ravel_pytree(jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))
    return unravel, flat.shape[0]


def augmented_start(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, r0, r1,
                    means: Array, covs: Array, n_steps=None) -> tuple[Array, Array]:
    """Laws of the state y with means (S, d) and covariances (S', d, d), lifted to the
    augmented state (y, solver.init(...)) at the first step r0 -> r1: (S, n) means,
    (S', n, n) covariances. `n_steps`: the run's N (`solver_step`)."""
    d = means.shape[-1]
    levy_area = levy_area_of(solver)
    zeros = jnp.zeros(_noise_size(reverse, solver, d))

    def to_aug(y0):
        state0 = solver_init(reverse, solver, r0, r1, y0, _noise_path(levy_area, zeros, d), n_steps)
        return ravel_pytree((y0, state0))[0]

    aug_means = jax.vmap(to_aug)(means)
    # The lift is affine: its Jacobian is the same at every point (zero when no mean is given).
    j0 = jax.jacfwd(to_aug)(means[0] if means.shape[0] else jnp.zeros(d))
    return aug_means, _sandwich(j0, covs)


def affine_step(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, r0, r1, unravel,
                aug_means: Array, aug_covs: Array, n_steps=None) -> tuple[Array, Array]:
    """Push a stack of augmented laws through one solver step r0 -> r1 of a run of
    `n_steps` steps (`solver_step`), exactly.

    The step is linearised once, at aug_means[0]: y+ = A y + b + B z, so mean_s ->
    step(mean_0) + A (mean_s - mean_0) and C_s -> A C_s A^T + B B^T. The stacks of means
    and of covariances may differ in length (laws sharing a mean carry it once). An empty
    stack of means says every mean is zero and the step linear (b = 0: a centred Gaussian
    target, whose score is linear): the step is then linearised at 0 and only the
    covariances are computed, one pass over the state fewer."""
    n_aug = aug_covs.shape[-1]
    y_dim = unravel(jnp.zeros(n_aug))[0].shape[0]
    levy_area = levy_area_of(solver)
    n_noise = _noise_size(reverse, solver, y_dim)
    zeros = jnp.zeros(n_noise)

    def step(aug, z):
        y, state = unravel(aug)
        y1, state1 = solver_step(reverse, solver, r0, r1, y, state, _noise_path(levy_area, z, y_dim),
                                 n_steps)
        return ravel_pytree((y1, state1))[0]

    mean0 = aug_means[0] if aug_means.shape[0] else jnp.zeros(n_aug)
    new_mean0, step_jvp = jax.linearize(step, mean0, zeros)
    if aug_means.shape[0] == 0:  # zero means stay zero; step(0) is never used (nor computed)
        new_means = aug_means
    elif aug_means.shape[0] == 1:  # the linearisation point is the only mean: no shift
        new_means = new_mean0[None]
    else:
        new_means = new_mean0 + jax.vmap(lambda dm: step_jvp(dm, zeros))(aug_means - mean0)
    a = jax.vmap(lambda e: step_jvp(e, zeros), out_axes=1)(jnp.eye(mean0.shape[0]))
    new_covs = _sandwich(a, aug_covs)
    if n_noise:
        b = jax.vmap(lambda e: step_jvp(jnp.zeros_like(mean0), e), out_axes=1)(jnp.eye(n_noise))
        new_covs = new_covs + _gram(b)
    return new_means, new_covs


def _propagate(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, r: Array,
               mean0: Array, cov0: Array) -> tuple[Array, Array]:
    """Push N(mean0, cov0) through the solver's steps over the reversed times r.
    Returns the mean and covariance of the state (not of the solver's auxiliary state)."""
    d = mean0.shape[0]
    unravel, _ = augmented_unravel(reverse, solver, d)
    n_steps = jnp.asarray(r.shape[0] - 1, float)
    aug_means, aug_covs = augmented_start(reverse, solver, r[0], r[1], mean0[None], cov0[None],
                                          n_steps)

    def body(carry, k):
        return affine_step(reverse, solver, r[k], r[k + 1], unravel, *carry, n_steps), None

    (aug_means, aug_covs), _ = jax.lax.scan(body, (aug_means, aug_covs), jnp.arange(r.shape[0] - 1))
    return aug_means[0, :d], aug_covs[0, :d, :d]


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


def available_memory_bytes() -> int:
    """Physical memory not in use now (Linux sysconf; 8 GiB assumed where unknown)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def dense_law_bytes(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, d: int) -> int:
    """Estimated peak memory of `exact_law` at dimension d: the augmented covariance, the
    step's matrices A (n x n) and B (n x noise) and the products of the update, in float64."""
    _, n = augmented_unravel(reverse, solver, d)
    n_noise = _noise_size(reverse, solver, d)
    return 8 * (6 * n * n + 2 * n * n_noise + 2 * d * d)


def check_dense_memory(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, d: int,
                       budget: int | None = None) -> None:
    """Refuse, before allocating anything, a dense exact law that would not fit in memory."""
    need = dense_law_bytes(reverse, solver, d)
    budget = available_memory_bytes() if budget is None else int(budget)
    if need > budget:
        raise MemoryError(
            f"the dense exact law at d = {d} needs about {need / 1e9:.3g} GB of memory, more than "
            f"the {budget / 1e9:.3g} GB available; for a target diagonal in its eigenbasis use the "
            f"per-direction route (exact_law_per_direction, error_curve, error_sweep), whose "
            f"memory grows like d"
        )


@eqx.filter_jit
def _exact_law_jit(reverse, solver, r, mean0, cov0):
    return _propagate(reverse, solver, r, mean0, cov0)


def exact_law(reverse: ReverseDiffusion, grid: Array, solver: diffrax.AbstractSolver,
              start: GaussianLaw, *, memory_budget: int | None = None) -> GaussianLaw:
    """Exact law of the sampler's output at grid[-1], started from `start` at grid[0].

    Works on full matrices in the coordinates of `start` (any affine score, non-zero mean
    included); memory grows like d^2, so a run whose estimate (`dense_law_bytes`) exceeds
    `memory_budget` (default: the physical memory available now) raises MemoryError before
    allocating. Needs float64, which importing dlsim enables.
    """
    grid = jnp.asarray(grid, float)
    reverse.check_eta_on_grid(grid)
    check_solver_use(solver, reverse, grid)
    check_dense_memory(reverse, solver, start.dim, memory_budget)
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
