r"""Monte Carlo error curves of samplers with any score model: every (grid, eta, solver, N).

Each run pushes the same particles through the sampler: particle i starts from the same
draw and reads the same Brownian path (a `diffrax.VirtualBrownianTree` on [t_min, t_max],
a deterministic function of its key and of time) at every N, for every grid and solver
with the same kind of Lévy area, and in the fine reference run. So

- the distribution metrics (`_mc_metrics`: sliced W2^2, MMD^2, Fréchet) of different rows
  use common random numbers, and their differences are far less noisy than their values;
- the coupled discretization error $E|X_N - X_{ref}|^2$, with $X_{ref}$ the same sampler on
  the same grid family with M >> N steps, has no sampling floor: it measures the
  discretization alone, with the variance of a strong error, not of a comparison of two
  independent sample sets.

The particles are driven by `run_particles`, which follows `sampling.sample` exactly (same
keys, same start draw, same tree, the solver's own init/step: the step is defined once)
but loops over a grid padded to a fixed length, so one compiled program serves every N
(and the reference) of a (solver, eta kind, particle count, dimension).
"""

import dataclasses
from collections.abc import Callable, Sequence

import diffrax
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from sampling import (
    AbstractScoreModel,
    GaussianLaw,
    NonFiniteError,
    ReverseDiffusion,
    check_solver_use,
    levy_area_of,
    make_solver,
    sample,
    score_evaluations_per_step,
    solver_init,
    solver_name,
    solver_step,
)
from sampling._sharding import (
    Devices,
    map_particles,
    mesh_invariant_jit,
    particle_keys,
    particle_mesh,
    to_host,
)

# The start draw and the tree are `sample`'s own, so that both drivers consume the same noise.
from sampling.diffusion._sample import _brownian_path, _draw_start
from schedules import AbstractSchedule

from ._error_curve import resolve_grid
from ._mc_metrics import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_PROJECTIONS,
    McEstimate,
    OrderFit,
    coupled_error,
    default_bandwidth,
    frechet,
    mmd2,
    order_fit,
    sliced_w2sq,
)

METRICS = ("sliced_w2", "frechet", "mmd", "coupled")


def _padded_length(n_points: int) -> int:
    """The next power of two >= n_points: grids of up to that many points share one program."""
    return 1 << max(1, (int(n_points) - 1).bit_length())


@mesh_invariant_jit
def _particles(key, n, mesh, reverse, solver, r, n_steps, start, tol):
    # The keys `sample` gives its particles, fold_in(key, i), split over the mesh as there.
    levy_area = levy_area_of(solver)

    def one(key):
        k_start, k_path = jr.split(key)
        y0 = _draw_start(k_start, start)
        # The tree spans the run's own end points, as in `sample`.
        path = _brownian_path("virtual", k_path, jnp.stack([r[0], r[n_steps]]), y0.shape,
                              levy_area, tol)
        run_length = jnp.asarray(n_steps, float)  # the run's N (see `solver_step`)
        state0 = solver_init(reverse, solver, r[0], r[1], y0, path, run_length)

        def body(k, carry):
            y, state = carry
            return solver_step(reverse, solver, r[k], r[k + 1], y, state, path, run_length)

        # n_steps is traced: a while loop that runs N steps of the padded grid.
        y, _ = jax.lax.fori_loop(0, n_steps, body, (y0, state0))
        return y

    return map_particles(lambda idx: jax.vmap(one)(particle_keys(key, idx)), mesh, n)


def run_particles(key: PRNGKeyArray, reverse: ReverseDiffusion, grid, solver: diffrax.AbstractSolver,
                  start: GaussianLaw, n_particles: int, *, length: int | None = None,
                  tol: float = 1e-6, devices: Devices = None) -> Array:
    """The particles `sample(key, reverse, grid, solver, start, n_particles, brownian="virtual",
    tol=tol)` returns (same numbers), from one compiled program for every grid of at most
    `length` points (default: the next power of two >= len(grid)), split like `sample`'s
    over `devices` (default: all; the same numbers on any number). Raises NonFiniteError
    (naming the step, found by replaying `sample`) if a particle diverges."""
    grid = np.asarray(grid, float)
    reverse.check_eta_on_grid(grid)
    check_solver_use(solver, reverse, grid)
    n_points = grid.shape[0]
    length = _padded_length(n_points) if length is None else int(length)
    if length < n_points:
        raise ValueError(f"length {length} is shorter than the grid ({n_points} points)")
    # Padded in NumPy: no eager jax op whose shape depends on N (each would compile).
    r = jnp.asarray(np.concatenate([-grid, np.full(length - n_points, -grid[-1])]))
    mesh = particle_mesh(devices)
    span = float(tol) * float(grid[0] - grid[-1])  # a Python float, static, as in `sample`
    x = _particles(key, int(n_particles), mesh, reverse, solver, r, jnp.asarray(n_points - 1), start,
                   span)
    if not bool(jnp.all(jnp.isfinite(x))):
        sample(key, reverse, grid, solver, start, n_particles, route="scan", tol=tol,
               devices=devices)  # raises
        raise NonFiniteError(f"non-finite samples after {n_points - 1} steps")
    return x


@dataclasses.dataclass(frozen=True)
class McRow:
    """Monte Carlo errors of one sampler (grid, eta, solver) at N = `steps`, each with its
    standard error (`*_se`); all squared (see `_mc_metrics`): `sliced_w2` = SW_2^2,
    `frechet` = bias-corrected Bures W2^2 of Gaussian fits (`frechet_plugin`, `frechet_bias`
    beside it), `mmd` = unbiased MMD^2 (None below 4 particles), `coupled` = E|X_N - X_ref|^2
    (None without a reference run)."""

    grid: str
    eta: float | str
    solver: str
    steps: int
    nfe: int
    sliced_w2: float
    sliced_w2_se: float
    frechet: float
    frechet_se: float
    frechet_plugin: float
    frechet_bias: float
    mmd: float | None
    mmd_se: float | None
    coupled: float | None
    coupled_se: float | None


@dataclasses.dataclass(frozen=True)
class McFit:
    """Slope of the coupled error against N for one sampler (`OrderFit`)."""

    grid: str
    eta: float | str
    solver: str
    slope: float
    slope_se: float
    order: float
    order_se: float


@dataclasses.dataclass(frozen=True)
class McCurve:
    """Rows nested grid > eta > solver > steps; `fits` per (grid, eta, solver) when the
    coupled error exists at >= 2 step counts; `floor`: the metrics of an exact sample of the
    same size against the reference (the sampling floor), when one was given."""

    rows: list[McRow]
    fits: list[McFit]
    floor: dict | None
    particles: int
    reference_steps: int | None
    bandwidth: float
    projections: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _label(value) -> float | str:
    if isinstance(value, str):
        return value
    if callable(value):
        return getattr(value, "__name__", "custom")
    return float(value)


def _eta_argument(eta):
    """eta = 0 as a Python number keeps the probability-flow ODE (no noise term); every other
    number becomes an array, so all positive etas share one compiled program."""
    if callable(eta) or isinstance(eta, str):
        return eta
    return 0.0 if float(eta) == 0.0 else jnp.asarray(float(eta))


def _metrics(keys, x, reference, n_projections, n_bootstrap, bandwidth):
    k_proj, k_boot = keys
    sw = sliced_w2sq(k_proj, x, reference, n_projections=n_projections)
    fr = frechet(k_boot, x, reference, n_bootstrap=n_bootstrap)
    mmd = mmd2(x, reference, bandwidth=bandwidth) if x.shape[0] >= 4 else None
    return sw, fr, mmd


def _floor_dict(sw: McEstimate, fr: McEstimate, mmd: McEstimate | None) -> dict:
    return {"sliced_w2": sw.value, "sliced_w2_se": sw.se, "frechet": fr.value,
            "frechet_se": fr.se, "frechet_plugin": fr.plugin,
            "mmd": None if mmd is None else mmd.value, "mmd_se": None if mmd is None else mmd.se}


def mc_curve(key: PRNGKeyArray, score: AbstractScoreModel, schedule: AbstractSchedule,
             steps: Sequence[int], *, start: GaussianLaw, reference: GaussianLaw | Array,
             n_particles: int, grids: Sequence[str | Callable] = ("edm",),
             etas: Sequence = (0.0,), eta_labels: Sequence | None = None,
             solvers: Sequence[str | diffrax.AbstractSolver] = ("euler",),
             rho: float = 7.0, reference_steps: int | None = None,
             floor_samples: Array | None = None, n_projections: int = DEFAULT_PROJECTIONS,
             n_bootstrap: int = DEFAULT_BOOTSTRAP, bandwidth: float | None = None,
             tol: float | None = None, progress: bool = False,
             devices: Devices = None) -> McCurve:
    """Monte Carlo errors of every (grid, eta, solver, N) with the score model `score`.

    `n_particles` particles start from `start` at t_max (the exact marginal, or the prior)
    and are compared with `reference`: an exact `GaussianLaw` (an exact target's marginal at
    t_min or its data law) or samples (held-out data, or exact draws of a non-Gaussian
    law). With `reference_steps` = M the same sampler runs on the same grid family with M
    steps from the same starts and Brownian paths, giving the coupled error of every row and
    its slope in log N. `tol` is the tree's tolerance relative to [t_min, t_max], one for
    every run (the tree, hence the path, depends on it); default: half the smallest step of
    the finest grids, diffrax's advice (no step inside one leaf of the tree), which costs
    far fewer tree levels than a fixed 1e-6. `floor_samples` (exact draws of the reference
    law, independent of it, as many as the particles) give the sampling floor of each metric.
    One key drives all: the particles' keys are the same in every row (coupling and common
    random numbers).
    `eta_labels` name the etas in the rows (default: the numbers, or a function's name).
    The particles are split over `devices` (default: all; a count takes the first ones):
    they are the same bit for bit on any number of devices, and so are the metrics, which
    reduce in blocks of a fixed shape where the particles are (`sampling._sharding.map_blocks`).
    """
    if eta_labels is None:
        eta_labels = [_label(e) for e in etas]
    if len(eta_labels) != len(etas):
        raise ValueError(f"{len(eta_labels)} eta labels for {len(etas)} etas")
    steps = [int(n) for n in steps]
    if not steps or min(steps) < 1:
        raise ValueError(f"steps must be integers >= 1, got {steps!r}")
    n_particles = int(n_particles)
    if n_particles < 2:
        raise ValueError(f"particles must be >= 2 (a spread needs two), got {n_particles}")
    if reference_steps is not None:
        reference_steps = int(reference_steps)
        if reference_steps <= max(steps):
            raise ValueError(f"reference steps must exceed every N (max {max(steps)}), got "
                             f"{reference_steps}")
    if isinstance(reference, GaussianLaw):
        if reference.dim != start.dim:
            raise ValueError(f"reference has dimension {reference.dim}, the sampler {start.dim}")
    else:
        reference = jnp.asarray(reference, float)
        if reference.ndim != 2 or reference.shape[1] != start.dim or reference.shape[0] < 2:
            raise ValueError(f"reference samples must have shape (m >= 2, {start.dim}), got "
                             f"{reference.shape}")
    h = default_bandwidth(reference) if bandwidth is None else float(bandwidth)
    k_particles, k_proj, k_boot, k_fit = jr.split(key, 4)
    metric_keys = (k_proj, k_boot)
    finest = max(steps + [reference_steps or 0])
    length = _padded_length(finest + 1)
    if tol is None:
        tol = _tree_tolerance([resolve_grid(g, schedule, finest, rho) for g in grids])
    bar = _progress(len(grids) * len(etas) * len(solvers) * (len(steps) + bool(reference_steps)),
                    progress)
    rows, fits = [], []
    for grid in grids:
        for eta, eta_name in zip(etas, eta_labels, strict=True):
            for solver in solvers:
                solver_obj = make_solver(solver) if isinstance(solver, str) else solver
                reverse = ReverseDiffusion(schedule, score, _eta_argument(eta))
                labels = dict(grid=_label(grid), eta=eta_name, solver=solver_name(solver_obj))

                def run(n, grid, reverse, solver):
                    g = resolve_grid(grid, schedule, n, rho)
                    x = run_particles(k_particles, reverse, g, solver, start, n_particles,
                                      length=length, tol=tol, devices=devices)
                    bar.update(1)
                    return x

                x_ref = (run(reference_steps, grid, reverse, solver_obj) if reference_steps
                         else None)
                squared = []
                for n in steps:
                    x = run(n, grid, reverse, solver_obj)
                    sw, fr, mmd = _metrics(metric_keys, x, reference, n_projections, n_bootstrap, h)
                    coupled = None
                    if x_ref is not None:
                        coupled = coupled_error(x, x_ref)
                        # One number per particle comes to the host, not the particles.
                        squared.append(to_host(jnp.sum((x - x_ref) ** 2, axis=1)))
                    rows.append(McRow(
                        **labels, steps=n, nfe=n * score_evaluations_per_step(solver_obj),
                        sliced_w2=sw.value, sliced_w2_se=sw.se, frechet=fr.value,
                        frechet_se=fr.se, frechet_plugin=fr.plugin, frechet_bias=fr.bias,
                        mmd=None if mmd is None else mmd.value,
                        mmd_se=None if mmd is None else mmd.se,
                        coupled=None if coupled is None else coupled.value,
                        coupled_se=None if coupled is None else coupled.se))
                if x_ref is not None and len(steps) >= 2 and all(np.all(s > 0) for s in squared):
                    fit: OrderFit = order_fit(k_fit, steps, np.stack(squared, axis=1), n_bootstrap)
                    fits.append(McFit(**labels, **fit.to_dict()))
    bar.close()
    floor = None
    if floor_samples is not None:
        floor = _floor_dict(*_metrics(metric_keys, jnp.asarray(floor_samples, float), reference,
                                      n_projections, n_bootstrap, h))
    return McCurve(rows=rows, fits=fits, floor=floor, particles=n_particles,
                   reference_steps=reference_steps, bandwidth=h, projections=int(n_projections))


def _tree_tolerance(grids) -> float:
    """Half the smallest step of `grids`, relative to their span (at most 1e-3)."""
    grids = [np.asarray(g, float) for g in grids]
    smallest = min(float(np.min(-np.diff(g)) / (g[0] - g[-1])) for g in grids)
    return min(1e-3, 0.5 * smallest)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total: int, show: bool):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    # Appears only for runs longer than a couple of seconds.
    return tqdm(total=total, desc="mc-curve", unit="run", delay=2.0, leave=False)

