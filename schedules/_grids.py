r"""Discrete time grids $t_0 = t_{max} > t_1 > \dots > t_N = t_{min}$.

A grid is a plain 1-D float64 array of N + 1 decreasing times. Each builder maps
u = k/N in [0, 1] to a time; spacings defined in the noise level
s = sigma/alpha or in the log-SNR are mapped back to t through the schedule's
inverse. The two endpoints are pinned to the schedule's t_max and t_min exactly.
"""

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._base import AbstractSchedule
from ._errors import as_float_array, is_concrete

GridBuilder = Callable[..., Array]


def _check_steps(n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer):
        raise ValueError(f"number of steps must be an integer >= 1, got {n_steps!r}")
    if n_steps < 1:
        raise ValueError(f"number of steps must be >= 1, got {n_steps}")
    return int(n_steps)


def _fractions(n_steps: int) -> Array:
    return jnp.arange(n_steps + 1, dtype=float) / n_steps


def _pin_endpoints(schedule: AbstractSchedule, t: Array) -> Array:
    return t.at[0].set(schedule.t_max).at[-1].set(schedule.t_min)


def _from_noise_levels(schedule: AbstractSchedule, noise_levels: Array) -> Array:
    return _pin_endpoints(schedule, schedule.t_from_noise_level(noise_levels))


def _noise_level_range(schedule: AbstractSchedule) -> tuple[Array, Array]:
    return schedule.noise_level(schedule.t_max), schedule.noise_level(schedule.t_min)


def uniform_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Uniform in t: t_k = t_max + (k/N)(t_min - t_max)."""
    u = _fractions(_check_steps(n_steps))
    return _pin_endpoints(schedule, schedule.t_max + u * (schedule.t_min - schedule.t_max))


def quadratic_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Quadratic in t (DDIM): t_k = t_min + (t_max - t_min)(1 - k/N)^2."""
    u = _fractions(_check_steps(n_steps))
    return _pin_endpoints(schedule, schedule.t_min + (schedule.t_max - schedule.t_min) * (1 - u) ** 2)


def edm_grid(schedule: AbstractSchedule, n_steps: int, rho: float = 7.0) -> Array:
    r"""EDM rho-spacing (Karras et al. 2022) in the noise level s = sigma/alpha.

    $s_k = (s_{max}^{1/\rho} + \tfrac{k}{N}(s_{min}^{1/\rho} - s_{max}^{1/\rho}))^\rho$, mapped
    back to t. rho = 1 is uniform in the noise level; rho -> infinity is geometric.
    """
    if is_concrete(rho) and not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")
    u = _fractions(_check_steps(n_steps))
    s_max, s_min = _noise_level_range(schedule)
    inv = 1.0 / rho
    return _from_noise_levels(schedule, (s_max**inv + u * (s_min**inv - s_max**inv)) ** rho)


def logsnr_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Uniform in the log-SNR log(alpha/sigma) (DPM-Solver), mapped back to t."""
    u = _fractions(_check_steps(n_steps))
    lam_lo, lam_hi = schedule.log_snr(schedule.t_max), schedule.log_snr(schedule.t_min)
    return _pin_endpoints(schedule, schedule.t_from_log_snr(lam_lo + u * (lam_hi - lam_lo)))


def geometric_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    """Uniform in log t (needs t_min > 0)."""
    if schedule.t_min <= 0:
        raise ValueError(f"the geometric grid needs t_min > 0, got t_min={schedule.t_min!r}")
    u = _fractions(_check_steps(n_steps))
    log_t = jnp.log(schedule.t_max) + u * (jnp.log(schedule.t_min) - jnp.log(schedule.t_max))
    return _pin_endpoints(schedule, jnp.exp(log_t))


def kl_optimal_grid(schedule: AbstractSchedule, n_steps: int) -> Array:
    r"""Tangent ("KL-optimal", Align Your Steps Thm 3.1 form) spacing in the noise level.

    $s(u) = \tan((1-u)\arctan s_{max} + u \arctan s_{min})$, mapped back to t.
    """
    u = _fractions(_check_steps(n_steps))
    s_max, s_min = _noise_level_range(schedule)
    angle = (1 - u) * jnp.arctan(s_max) + u * jnp.arctan(s_min)
    return _from_noise_levels(schedule, jnp.tan(angle))


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
    return jnp.asarray(arr)


GRIDS: dict[str, GridBuilder] = {
    "uniform": uniform_grid,
    "quadratic": quadratic_grid,
    "edm": edm_grid,
    "logsnr": logsnr_grid,
    "geometric": geometric_grid,
    "kl-optimal": kl_optimal_grid,
}


def make_grid(name: str, schedule: AbstractSchedule, n_steps: int, *, rho: float = 7.0) -> Array:
    """Build the named grid (`GRIDS`) with N = n_steps steps; `rho` only affects `edm`."""
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; allowed: {', '.join(GRIDS)}")
    if name == "edm":
        return edm_grid(schedule, n_steps, rho=rho)
    return GRIDS[name](schedule, n_steps)
