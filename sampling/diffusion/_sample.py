"""Monte Carlo sampling: particles through the reverse family on a fixed grid."""


import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from .._sharding import (
    Devices,
    map_particles,
    mesh_invariant_jit,
    particle_keys,
    particle_mesh,
    to_host,
)
from ..solvers._registry import check_solver_use, levy_area_of, score_evaluations_per_step
from ..targets._gaussian import GaussianLaw
from ._final_step import apply_final_step, final_step_evaluations
from ._reverse import ReverseDiffusion


class NonFiniteError(FloatingPointError):
    """A sampler produced NaN or inf; the message names the step where it first appeared."""


class Samples(eqx.Module):
    """Output of `sample`: the particles and what they cost."""

    samples: Array  # (n_samples, d) at the last grid time, split over the run's devices
    n_steps: int = eqx.field(static=True)
    nfe: int = eqx.field(static=True)  # score evaluations per particle


def reversed_times(grid: Array) -> Array:
    """Diffrax time r = -t for a decreasing grid (see `ReverseDiffusion`)."""
    return -jnp.asarray(grid, float)


def solver_step(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, r0, r1, y, state,
                path: diffrax.AbstractPath, n_steps=None):
    """One step of `solver` on the reverse family from r0 to r1 = the one sampler step.

    `n_steps`, the number of steps N of the whole run, is passed as Diffrax's `args`: a
    step sees only its own interval, and a solver whose order drops on the last steps
    (UniPC's lower_order_final) reads N there, with its own step count. Every route
    (`diffeqsolve`, the scan, the exact law, the sweep) passes the run's N."""
    y1, _, _, state1, _ = solver.step(reverse.terms(path), r0, r1, y, n_steps, state, False)
    return y1, state1


def solver_init(reverse: ReverseDiffusion, solver: diffrax.AbstractSolver, r0, r1, y0,
                path: diffrax.AbstractPath, n_steps=None):
    return solver.init(reverse.terms(path), r0, r1, y0, n_steps)


def _draw_start(key: PRNGKeyArray, start: GaussianLaw) -> Array:
    z = jr.normal(key, start.mean.shape)
    if start.is_diagonal:
        return start.mean + jnp.sqrt(start.cov) * z
    w, v = jnp.linalg.eigh(start.cov)
    return start.mean + v @ (jnp.sqrt(jnp.clip(w, 0.0)) * z)


def _brownian_path(kind: str, key, r: Array, shape, levy_area, tol):
    if kind == "virtual":
        return diffrax.VirtualBrownianTree(
            r[0], r[-1], tol=tol, shape=shape, key=key, levy_area=levy_area
        )
    if kind == "unsafe":
        return diffrax.UnsafeBrownianPath(shape=shape, key=key, levy_area=levy_area)
    raise ValueError(f"unknown brownian path {kind!r}; allowed: virtual, unsafe")


def _solve_diffrax(reverse, solver, r, y0, path):
    sol = diffrax.diffeqsolve(
        reverse.terms(path), solver, t0=r[0], t1=r[-1], dt0=None, y0=y0,
        stepsize_controller=diffrax.StepTo(ts=r), saveat=diffrax.SaveAt(t1=True),
        args=jnp.asarray(r.shape[0] - 1, float),  # the run's N (see `solver_step`)
        max_steps=r.shape[0] - 1, throw=False,
        # UnsafeBrownianPath cannot be replayed backwards, so it needs forward-mode autodiff.
        adjoint=(diffrax.ForwardMode() if isinstance(path, diffrax.UnsafeBrownianPath)
                 else diffrax.RecursiveCheckpointAdjoint()),
    )
    return sol.ys[-1]


def _solve_scan(reverse, solver, r, y0, path):
    """The same solver object's init/step over the fixed grid in a lean lax.scan.
    Also returns the first step whose output is not finite (-1 if none)."""
    n_steps = jnp.asarray(r.shape[0] - 1, float)
    state0 = solver_init(reverse, solver, r[0], r[1], y0, path, n_steps)

    def body(carry, k):
        y, state, first_bad = carry
        y1, state1 = solver_step(reverse, solver, r[k], r[k + 1], y, state, path, n_steps)
        bad = ~jnp.all(jnp.isfinite(y1))
        first_bad = jnp.where((first_bad < 0) & bad, k, first_bad)
        return (y1, state1, first_bad), None

    (y, _, first_bad), _ = jax.lax.scan(body, (y0, state0, jnp.array(-1)), jnp.arange(r.shape[0] - 1))
    return y, first_bad


@mesh_invariant_jit
def _sample_particles(key, n, mesh, reverse, solver, r, start, brownian, route, tol,
                      final_step="none"):
    """n particles split over `mesh` (`map_particles`): (samples, first bad step or -1)."""
    levy_area = levy_area_of(solver)

    def one(key):
        k_start, k_path = jr.split(key)
        y0 = _draw_start(k_start, start)
        path = _brownian_path(brownian, k_path, r, y0.shape, levy_area, tol)
        if route == "diffrax":
            y, first_bad = _solve_diffrax(reverse, solver, r, y0, path), jnp.array(-1)
        else:
            y, first_bad = _solve_scan(reverse, solver, r, y0, path)
        return apply_final_step(reverse, final_step, y, -r[-1]), first_bad

    return map_particles(lambda idx: jax.vmap(one)(particle_keys(key, idx)), mesh, n)


def sample(key: PRNGKeyArray, reverse: ReverseDiffusion, grid: Array,
           solver: diffrax.AbstractSolver, start: GaussianLaw, n_samples: int, *,
           brownian: str = "virtual", route: str = "diffrax", tol: float = 1e-6,
           devices: Devices = None, final_step: str = "none") -> Samples:
    """Run `n_samples` particles of the reverse family over `grid` (decreasing times).

    Particle i uses the key `jax.random.fold_in(key, i)`: the same key gives the same
    samples whatever the batch size. Each particle starts from a draw of `start` and
    follows its own Brownian path: `brownian="virtual"` (a VirtualBrownianTree, the
    same path for every grid: use it for strong-error studies; `tol` is relative to
    the time span) or `"unsafe"` (cheaper, fixed grids only). `route="diffrax"` runs
    `diffrax.diffeqsolve` with `StepTo(grid)`; `route="scan"` drives the same solver's
    init/step from a lax.scan. Both give the same numbers on the same noise.
    `final_step="denoise"` ends with the practitioners' jump to sigma = 0, x <- D(x, grid[-1])
    (`apply_final_step`; one more score evaluation): the samples then approximate the data law.

    The particles are split over `devices` (default: all; a count takes the first ones;
    see `sampling._sharding`): the samples are the same on 1 or 8 devices, bit for bit
    (particle i's key depends on i alone), and come back split over the devices.

    Raises NonFiniteError, naming the first bad step, if any particle diverges.
    """
    if route not in ("diffrax", "scan"):
        raise ValueError(f"unknown route {route!r}; allowed: diffrax, scan")
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    extra_nfe = final_step_evaluations(final_step)
    grid = jnp.asarray(grid, float)
    reverse.check_eta_on_grid(grid)
    check_solver_use(solver, reverse, grid)
    r = reversed_times(grid)
    mesh, n = particle_mesh(devices), int(n_samples)
    tol = float(tol) * float(grid[0] - grid[-1])  # a Python float: static under jit
    x, first_bad = _sample_particles(key, n, mesh, reverse, solver, r, start, brownian, route, tol,
                                     final_step)
    if not bool(jnp.all(jnp.isfinite(x))):
        if route == "diffrax":
            # Replay the same noise through the scan route to find where it broke.
            _, first_bad = _sample_particles(key, n, mesh, reverse, solver, r, start, brownian, "scan",
                                             tol)
        bad = to_host(first_bad)  # every process takes this branch (the check above is global)
        k = int(bad[bad >= 0].min()) if np.any(bad >= 0) else grid.shape[0] - 2
        raise NonFiniteError(
            f"non-finite samples first appeared at step {k} (t = {float(grid[k]):.6g} -> "
            f"{float(grid[k + 1]):.6g}) of {grid.shape[0] - 1}; reduce the step size or check "
            f"the score model"
        )
    n_steps = grid.shape[0] - 1
    return Samples(x, n_steps, n_steps * score_evaluations_per_step(solver) + extra_nfe)


def sample_statistics(samples: Array) -> tuple[Array, Array, Array]:
    """Mean, covariance and standard errors of the per-coordinate variances (for tests and
    Monte Carlo checks): se_var_i = sqrt((m4_i - var_i^2) / n)."""
    n = samples.shape[0]
    mean = samples.mean(axis=0)
    centred = samples - mean
    cov = centred.T @ centred / (n - 1)
    var = jnp.diag(cov)
    m4 = jnp.mean(centred**4, axis=0)
    return mean, cov, jnp.sqrt(jnp.maximum(m4 - var**2, 0.0) / n)


