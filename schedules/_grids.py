r"""Discrete time grids $t_0 = t_{max} > t_1 > \dots > t_N = t_{min}$.

A grid is a plain 1-D float64 array of N + 1 decreasing times. Each named grid is a map
u -> t on [0, 1] (`_MAPS`), evaluated at u_k = k/N; spacings defined in the noise level
s = sigma/alpha or in the log-SNR are mapped back to t through the schedule's inverse.
The two endpoints are pinned to the schedule's t_max and t_min exactly.

Every builder runs one jitted program (`_grid_batch`) on a padded index array
k = 0..L with L the next power of two >= N and N a traced value, so grids of any N share
log2(max N) + 1 compiled programs per grid name and schedule type instead of recompiling
each primitive for every new length.
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._base import AbstractSchedule
from ._errors import as_float_array, is_concrete

GridBuilder = Callable[..., Array]
# (schedule, u, rho) -> t, elementwise in u in [0, 1]; rho is only read by "edm".
GridMap = Callable[[AbstractSchedule, Array, Array], Array]

# Largest batch x (L + 1) block one call evaluates: keeps memory bounded and make_grid,
# which runs the same programs as make_grids, cheap (about 0.3 ms per grid on a CPU).
_BATCH_POINTS = 2**14


def _check_steps(n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer):
        raise ValueError(f"number of steps must be an integer >= 1, got {n_steps!r}")
    if n_steps < 1:
        raise ValueError(f"number of steps must be >= 1, got {n_steps}")
    return int(n_steps)


def _check_rho(rho) -> None:
    if is_concrete(rho) and not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")


def _check_geometric(schedule: AbstractSchedule) -> None:
    if is_concrete(schedule.t_min) and schedule.t_min <= 0:
        raise ValueError(f"the geometric grid needs t_min > 0, got t_min={schedule.t_min!r}")


def _noise_level_range(schedule: AbstractSchedule) -> tuple[Array, Array]:
    return schedule.noise_level(schedule.t_max), schedule.noise_level(schedule.t_min)


# ---------------------------------------------------------------------------------------------
# The maps u -> t, each formula written once.


def _uniform_map(schedule, u, rho):
    return schedule.t_max + u * (schedule.t_min - schedule.t_max)


def _quadratic_map(schedule, u, rho):
    return schedule.t_min + (schedule.t_max - schedule.t_min) * (1 - u) ** 2


def _edm_map(schedule, u, rho):
    s_max, s_min = _noise_level_range(schedule)
    inv = 1.0 / rho
    return schedule.t_from_noise_level((s_max**inv + u * (s_min**inv - s_max**inv)) ** rho)


def _logsnr_map(schedule, u, rho):
    lam_lo, lam_hi = schedule.log_snr(schedule.t_max), schedule.log_snr(schedule.t_min)
    return schedule.t_from_log_snr(lam_lo + u * (lam_hi - lam_lo))


def _geometric_map(schedule, u, rho):
    log_t = jnp.log(schedule.t_max) + u * (jnp.log(schedule.t_min) - jnp.log(schedule.t_max))
    return jnp.exp(log_t)


def _kl_optimal_map(schedule, u, rho):
    s_max, s_min = _noise_level_range(schedule)
    return schedule.t_from_noise_level(jnp.tan((1 - u) * jnp.arctan(s_max) + u * jnp.arctan(s_min)))


_MAPS: dict[str, GridMap] = {
    "uniform": _uniform_map,
    "quadratic": _quadratic_map,
    "edm": _edm_map,
    "logsnr": _logsnr_map,
    "geometric": _geometric_map,
    "kl-optimal": _kl_optimal_map,
}
# Grids that read `rho` (the rest ignore it); `_practitioner_grids` adds its own.
_RHO_GRIDS = {"edm"}
# Grids built from a table or from integer timesteps (not a map u -> t; `_practitioner_grids`):
# name -> builder(schedule, n_steps, rho) returning a validated decreasing float64 array.
_TABLE_GRIDS: dict[str, Callable[..., np.ndarray]] = {}


# ---------------------------------------------------------------------------------------------
# The shared jitted evaluation.


def _bucket(n_steps: int) -> int:
    """Padded length L: the next power of two >= N."""
    return 1 << (n_steps - 1).bit_length()


def _batch_width(length: int) -> int:
    """Rows per eager call for bucket L: a power of two covering the L/2 values of N in
    (L/2, L], capped so that rows x (L + 1) <= _BATCH_POINTS."""
    cap = max(_BATCH_POINTS // (length + 1), 1)
    return min(max(length // 2, 1), 1 << (cap.bit_length() - 1))


def _is_number(x) -> bool:
    return isinstance(x, float | int | np.floating | np.integer) and not isinstance(x, bool)


def _traceable(schedule: AbstractSchedule) -> AbstractSchedule:
    # Schedules hold Python floats, which filter_jit would treat as static (one compilation
    # per parameter value); float64 arrays make them traced inputs instead.
    return jax.tree.map(lambda x: np.asarray(x, np.float64) if _is_number(x) else x, schedule)


def _as_rho(rho):
    return jnp.asarray(rho, float) if not is_concrete(rho) else np.asarray(rho, np.float64)


def _to_device(host: np.ndarray) -> Array:
    # device_put, not jnp.asarray: the latter compiles a staging program for every new shape.
    return jax.device_put(np.ascontiguousarray(host, np.float64))


@eqx.filter_jit
def _grid_batch(name: str, length: int, schedule: AbstractSchedule, rho, n_steps) -> Array:
    """Rows t_k = map(min(k, N)/N), k = 0..L, one row per N in `n_steps`, with t_0 = t_max
    and t_k = t_min for k >= N; row i is the N_i-step grid followed by padding."""
    k = jnp.arange(length + 1, dtype=float)

    def row(n):
        t = _MAPS[name](schedule, jnp.minimum(k, n) / n, rho)
        return jnp.where(k == 0, schedule.t_max, jnp.where(k >= n, schedule.t_min, t))

    return jax.vmap(row)(n_steps)


def _all_concrete(schedule: AbstractSchedule, rho) -> bool:
    return is_concrete(rho) and all(is_concrete(x) for x in jax.tree.leaves(schedule))


def _build(name: str, schedule: AbstractSchedule, n_steps: int, rho=7.0) -> Array:
    """The N-step grid `name` through `_grid_batch` (arguments already checked)."""
    schedule, rho = _traceable(schedule), _as_rho(rho)
    length = _bucket(n_steps)
    # Eagerly, share make_grids' program of this bucket (a full batch of copies of N); with
    # traced inputs the call is inlined into the caller's program, where one row suffices.
    width = _batch_width(length) if _all_concrete(schedule, rho) else 1
    out = _grid_batch(name, length, schedule, rho, np.full(width, n_steps, np.float64))
    if isinstance(out, jax.core.Tracer):  # under jit/grad/vmap: a traced slice compiles nothing
        return out[0, : n_steps + 1]
    # Slice on the host: an eager slice would compile a new program for every N.
    return _to_device(np.asarray(out)[0, : n_steps + 1])


# ---------------------------------------------------------------------------------------------
# Public builders.


def uniform_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Uniform in t: t_k = t_max + (k/N)(t_min - t_max)."""
    return _build("uniform", schedule, _check_steps(n_steps))


def quadratic_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Quadratic in t (DDIM): t_k = t_min + (t_max - t_min)(1 - k/N)^2."""
    return _build("quadratic", schedule, _check_steps(n_steps))


def edm_grid(schedule: AbstractSchedule, n_steps: int, rho: float = 7.0) -> Array:
    r"""EDM rho-spacing (Karras et al. 2022) in the noise level s = sigma/alpha.

    $s_k = (s_{max}^{1/\rho} + \tfrac{k}{N}(s_{min}^{1/\rho} - s_{max}^{1/\rho}))^\rho$, mapped
    back to t. rho = 1 is uniform in the noise level; rho -> infinity is geometric.
    """
    _check_rho(rho)
    return _build("edm", schedule, _check_steps(n_steps), rho)


def logsnr_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Uniform in the log-SNR log(alpha/sigma) (DPM-Solver), mapped back to t."""
    return _build("logsnr", schedule, _check_steps(n_steps))


def geometric_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Uniform in log t (needs t_min > 0)."""
    _check_geometric(schedule)
    return _build("geometric", schedule, _check_steps(n_steps))


def kl_optimal_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    r"""Tangent ("KL-optimal", Align Your Steps Thm 3.1 form) spacing in the noise level.

    $s(u) = \tan((1-u)\arctan s_{max} + u \arctan s_{min})$, mapped back to t.
    """
    return _build("kl-optimal", schedule, _check_steps(n_steps))


def validate_grid(schedule: AbstractSchedule, grid: ArrayLike) -> Array:
    """Check a user grid: 1-D, at least two points, strictly decreasing, inside [t_min, t_max].

    Returns it as a float64 array. The sampler starts at grid[0] and stops at grid[-1].
    """
    arr = as_float_array("grid", grid, ndim=1)
    if arr.size < 2:
        raise ValueError(f"grid needs at least 2 points (1 step), got {arr.size}")
    steps = np.diff(arr)
    if np.any(steps >= 0):
        k = int(np.argmax(steps >= 0))
        raise ValueError(
            f"grid must be strictly decreasing (t_0 = t_max > ... > t_N = t_min), but "
            f"t[{k}] = {float(arr[k])!r} <= t[{k + 1}] = {float(arr[k + 1])!r}"
        )
    if not schedule.in_range(arr):
        raise ValueError(
            f"grid [{float(arr[0])!r} ... {float(arr[-1])!r}] leaves the schedule's range "
            f"[t_min, t_max] = [{schedule.t_min!r}, {schedule.t_max!r}]"
        )
    return _to_device(arr)


GRIDS: dict[str, GridBuilder] = {
    "uniform": uniform_grid,
    "quadratic": quadratic_grid,
    "edm": edm_grid,
    "logsnr": logsnr_grid,
    "geometric": geometric_grid,
    "kl-optimal": kl_optimal_grid,
}


def _check_name(name: str, schedule: AbstractSchedule, rho) -> None:
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; allowed: {', '.join(GRIDS)}")
    if name in _RHO_GRIDS:
        _check_rho(rho)
    if name == "geometric":
        _check_geometric(schedule)


def named_grid_map(name: str, schedule: AbstractSchedule, rho: float = 7.0) -> Callable[[Array], Array]:
    """The continuous map u in [0, 1] -> t of a named grid (`GRIDS`), before its end points
    are pinned: make_grid(name, schedule, N) is this map at u = k/N."""
    _check_name(name, schedule, rho)
    if name in _TABLE_GRIDS:
        raise ValueError(f"grid {name!r} is built from a table or from integer timesteps and has "
                         f"no continuous map u -> t; grids with one: {', '.join(_MAPS)}")
    return lambda u: _MAPS[name](schedule, u, rho)


def make_grid(name: str, schedule: AbstractSchedule, n_steps: int, *, rho: float = 7.0) -> Array:
    """Build the named grid (`GRIDS`) with N = n_steps steps; `rho` only affects `edm` and
    `karras`."""
    _check_name(name, schedule, rho)
    n_steps = _check_steps(n_steps)
    if name in _TABLE_GRIDS:
        return _to_device(_TABLE_GRIDS[name](schedule, n_steps, rho))
    return _build(name, schedule, n_steps, rho if name in _RHO_GRIDS else 7.0)


def make_grids(name: str, schedule: AbstractSchedule, steps: Sequence[int], *,
               rho: float = 7.0) -> list[np.ndarray]:
    """The named grid (`GRIDS`) for every N in `steps`, in order, as float64 NumPy arrays;
    equal to `make_grid(name, schedule, N, rho=rho)` for each N.

    All N are evaluated at the padded length L of the largest (the next power of two >= max
    N), in batches of a fixed power-of-two width for that L, so a call compiles at most one
    program, and none when its largest N falls in a length already seen. Needs concrete schedule parameters
    and rho (use `make_grid` under jit).
    """
    _check_name(name, schedule, rho)
    steps = [_check_steps(n) for n in steps]
    if not _all_concrete(schedule, rho):
        raise ValueError("make_grids returns NumPy arrays and needs a concrete schedule and "
                         "rho; call make_grid inside jit")
    if name in _TABLE_GRIDS:
        return [np.array(_TABLE_GRIDS[name](schedule, n, rho)) for n in steps]
    schedule = _traceable(schedule)
    rho = _as_rho(rho if name in _RHO_GRIDS else 7.0)
    # One bucket for the whole call, that of the largest N: a sweep over N = 1..256 then
    # compiles one program per grid name, not one per power of two (a short grid evaluated
    # at a longer length costs nothing worth a compilation).
    by_bucket = {_bucket(max(steps)): sorted(set(steps))} if steps else {}
    grids: dict[int, np.ndarray] = {}
    for length, ns in by_bucket.items():
        width = _batch_width(length)
        for start in range(0, len(ns), width):
            chunk = ns[start : start + width]
            # Pad the batch with its last N so every call of this bucket has the same shape.
            padded = np.array(chunk + chunk[-1:] * (width - len(chunk)), np.float64)
            rows = np.asarray(_grid_batch(name, length, schedule, rho, padded))
            for i, n in enumerate(chunk):
                grids[n] = rows[i, : n + 1]
    # Independent, writable arrays (also for repeated N), not views of the batch block.
    return [grids[n].copy() for n in steps]
