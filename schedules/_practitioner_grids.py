r"""The noise-level schedules practitioners use (k-diffusion, ComfyUI, diffusers, Align Your
Steps), as dlsim grids (SAMPLERS.md section 3).

Each schedule is first written as its sources write it, a decreasing list of noise levels
sigma_0 > ... > sigma_{n-1} (the `*_sigmas` functions; the sources append a final 0, which
is left out here). A dlsim grid of N steps is the schedule with n = N + 1 levels, mapped to
times through the schedule's noise level s(t) = sigma(t)/alpha(t): t_k = s^{-1}(sigma_k).
So an N-step dlsim grid followed by the practitioners' final jump to sigma = 0 (a final
denoising step, `final_step="denoise"`) is exactly their (N + 1)-step schedule, for every
name (for `ays`, A1111's convention: N + 1 interpolated levels, then 0; ComfyUI instead
replaces the last interpolated level by 0).

Checked against the sources (SAMPLERS.md section 3): the grids that do not run from t_max
to t_min do so by definition, not by a bug, and are kept as defined: the table schedules
end at a table level above the first (`simple`, `sgm-uniform`, `trailing`, `beta`) or start
below the last (`leading`, `ddim-uniform`: timestep 901 of 1000 for 10 levels); `ays` spans
Stable Diffusion's noise range [0.029, 14.6], inside VP-linear's [0.01, 157]; and
`linear-quadratic`, written for flow models (sigma_max = 1), stops at 0.29 sigma_max for 10
levels, its last step being meant to reach 0. Every error is the law at the grid's own
last time (or after the final denoise), started at its own first time; the equal-NFE
comparison ranks such a grid only where that compares like with like
(`analysis.Comparison.ranked`).

Two kinds:
- Schedules defined by the model's noise range (`karras` = `edm`, `exponential` = `logsnr`,
  `polyexponential`, `linear-quadratic`) take (sigma_min, sigma_max) = (s(t_min), s(t_max))
  of the dlsim schedule: they start at t_max and end at t_min (linear-quadratic, designed
  for flow models, ends above t_min: its last step is meant to reach 0). The first three
  are maps u -> t like dlsim's own grids (`_grids._MAPS`), compiled once per name.
- Schedules defined by a table: `ays*` (the published 10-step Align-Your-Steps lists) and
  the timestep schedules of a discrete 1000-step model (`simple`, `sgm-uniform`,
  `ddim-uniform`, `beta`, diffusers' `leading`/`trailing`/`linspace`). dlsim's discrete
  model is the VP-linear schedule (`VPLinear()`: beta from 0.1 to 20) at its discrete
  timesteps t_j = (j + 1)/1000, j = 0..999 (DPM-Solver's convention), whose noise levels
  form the table. Their levels are the table's own, so such a grid may start below t_max
  (ddim-uniform, leading) and end above t_min (simple, trailing, ...), as in practice;
  levels outside the schedule's noise range are clipped to it, with a warning that says
  so. They depend on N through integer timesteps and interpolation of a table, not through
  a map u -> t, so they are built in NumPy (exact integer arithmetic, the sources' own
  rounding); only the last map sigma -> t runs in JAX, one compiled program per schedule
  type and power-of-two length, shared by all of them.
"""

import warnings

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._base import AbstractSchedule
from ._grids import (
    _MAPS,
    _RHO_GRIDS,
    _TABLE_GRIDS,
    GRIDS,
    _bucket,
    _build,
    _check_rho,
    _check_steps,
    _edm_map,
    _logsnr_map,
    _noise_level_range,
    _to_device,
    _traceable,
    edm_grid,
    logsnr_grid,
)
from ._vp import VPLinear

DISCRETE_STEPS = 1000

# Align Your Steps (Sabour, Fidler & Kreis 2024), the 10-step noise levels published on
# https://research.nvidia.com/labs/toronto-ai/AlignYourSteps/howto.html (as ComfyUI's
# nodes_align_your_steps.py lists them).
AYS_TABLES: dict[str, tuple[float, ...]] = {
    "sd15": (14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520, 1.8841921177,
             1.3943805092, 0.9642583904, 0.6523686016, 0.3977456272, 0.1515232662,
             0.0291671582),
    "sdxl": (14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945,
             0.8620721141, 0.5550693289, 0.3798540708, 0.2332364134, 0.1114188177,
             0.0291671582),
    "svd": (700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002),
}
DIFFUSERS_SPACINGS = ("leading", "trailing", "linspace")


# ---------------------------------------------------------------------------------------------
# Tables of a discrete 1000-step model (ascending in the timestep index).


def vp_linear_table(n_train: int = DISCRETE_STEPS) -> np.ndarray:
    """Noise levels of dlsim's VP-linear schedule at t_j = (j + 1)/n_train, j = 0..n_train-1."""
    s = VPLinear()
    t = np.arange(1, n_train + 1, dtype=float) / n_train
    integrated = s.beta_min * t + 0.5 * (s.beta_max - s.beta_min) * t**2
    return np.sqrt(np.expm1(integrated))


def scaled_linear_table(n_train: int = DISCRETE_STEPS, beta_start: float = 0.00085,
                        beta_end: float = 0.012) -> np.ndarray:
    """Stable Diffusion 1.x/2.x/XL's table: beta = linspace(sqrt(b0), sqrt(b1), T)^2,
    sigma_j = sqrt((1 - abar_j)/abar_j) (sigma_0 = 0.02917, sigma_999 = 14.6146)."""
    betas = np.linspace(np.sqrt(beta_start), np.sqrt(beta_end), n_train) ** 2
    abar = np.cumprod(1.0 - betas)
    return np.sqrt((1.0 - abar) / abar)


def _table_sigma(table: np.ndarray, t: np.ndarray) -> np.ndarray:
    """ComfyUI's sigma(t): log-linear interpolation between integer timesteps."""
    t = np.clip(np.asarray(t, float), 0, table.shape[0] - 1)
    lo, hi = np.floor(t).astype(int), np.ceil(t).astype(int)
    w = t - lo
    return np.exp((1 - w) * np.log(table[lo]) + w * np.log(table[hi]))


# ---------------------------------------------------------------------------------------------
# The schedules as their sources write them: n decreasing noise levels (the final 0 left out).


def _check_levels(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"number of noise levels must be an integer >= 1, got {n!r}")
    return int(n)


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> np.ndarray:
    """k-diffusion `get_sigmas_karras`: (smax^{1/rho} + j/(n-1) (smin^{1/rho} - smax^{1/rho}))^rho."""
    n = _check_levels(n)
    ramp = np.linspace(0, 1, n)
    return (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


def exponential_sigmas(n: int, sigma_min: float, sigma_max: float) -> np.ndarray:
    """k-diffusion `get_sigmas_exponential`: uniform in log sigma."""
    return np.exp(np.linspace(np.log(sigma_max), np.log(sigma_min), _check_levels(n)))


def polyexponential_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> np.ndarray:
    """k-diffusion `get_sigmas_polyexponential`: exp(u^rho (log smax - log smin) + log smin),
    u = linspace(1, 0, n); rho = 1 is `exponential_sigmas`."""
    ramp = np.linspace(1, 0, _check_levels(n)) ** rho
    return np.exp(ramp * (np.log(sigma_max) - np.log(sigma_min)) + np.log(sigma_min))


def ays_sigmas(n: int, model: str = "sd15") -> np.ndarray:
    """The Align-Your-Steps levels of `model` ("sd15", "sdxl", "svd") at n points: the 11
    published values (10 steps) interpolated log-linearly (ComfyUI/A1111 `loglinear_interp`:
    log sigma linear in the position linspace(0, 1, .)). n = 11 returns the table."""
    n = _check_levels(n)
    table = ays_table(model)
    xs = np.linspace(0, 1, table.shape[0])
    ys = np.log(table[::-1])
    return np.exp(np.interp(np.linspace(0, 1, n), xs, ys))[::-1].copy()


def ays_table(model: str) -> np.ndarray:
    if model not in AYS_TABLES:
        raise ValueError(f"unknown Align-Your-Steps model {model!r}; allowed: {', '.join(AYS_TABLES)}")
    return np.array(AYS_TABLES[model])


def linear_quadratic_sigmas(n: int, sigma_max: float, threshold_noise: float = 0.025,
                            linear_steps: int | None = None) -> np.ndarray:
    """ComfyUI `linear_quadratic_schedule` (from Mochi): u linear up to `threshold_noise` over
    the first n//2 levels, then quadratic to 1 at n; sigma = sigma_max (1 - u)."""
    n = _check_levels(n)
    if n == 1:
        return np.array([float(sigma_max)])
    lin = n // 2 if linear_steps is None else int(linear_steps)
    j = np.arange(n, dtype=float)
    quad = n - lin
    step_diff = lin - threshold_noise * n
    a = step_diff / (lin * quad**2)
    b = threshold_noise / lin - 2 * step_diff / quad**2
    c = a * lin**2
    u = np.where(j < lin, j * threshold_noise / lin, a * j**2 + b * j + c)
    return sigma_max * (1.0 - u)


def simple_sigmas(n: int, table: np.ndarray) -> np.ndarray:
    """ComfyUI `simple`: table[T - 1 - floor(j T/n)], j = 0..n-1."""
    n = _check_levels(n)
    total = table.shape[0]
    return np.array([table[-(1 + int(j * (total / n)))] for j in range(n)])


def sgm_uniform_sigmas(n: int, table: np.ndarray) -> np.ndarray:
    """ComfyUI `sgm_uniform`: timesteps linspace(T - 1, 0, n + 1) without the last,
    levels by log-linear interpolation of the table."""
    n = _check_levels(n)
    return _table_sigma(table, np.linspace(table.shape[0] - 1, 0, n + 1)[:-1])


def ddim_uniform_sigmas(n: int, table: np.ndarray) -> np.ndarray:
    """ComfyUI `ddim_uniform`: timesteps 1, 1 + s, 1 + 2s, ... < T with stride s = T // n,
    reversed. May give more than n levels (n = 7: 8); starts at table[901] for n = 10."""
    n = _check_levels(n)
    stride = max(table.shape[0] // n, 1)
    return table[np.arange(1, table.shape[0], stride)][::-1].copy()


def beta_sigmas(n: int, table: np.ndarray, alpha: float = 0.6, beta: float = 0.6) -> np.ndarray:
    """ComfyUI `beta` (Lee et al. 2024, arXiv 2407.12173): timesteps
    rint(BetaPPF(1 - j/n; alpha, beta) (T - 1)), j = 0..n-1, repeated timesteps dropped,
    levels table[t]. May give fewer than n levels (large n)."""
    n = _check_levels(n)
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"beta schedule {name} must be a finite number > 0, got {value!r}")
    u = 1 - np.linspace(0, 1, n, endpoint=False)
    import scipy.special  # here: it costs ~0.3 s of every start otherwise

    t = np.rint(scipy.special.betaincinv(alpha, beta, u) * (table.shape[0] - 1)).astype(int)
    keep = np.concatenate([[True], t[1:] != t[:-1]])
    return table[t[keep]]


def diffusers_sigmas(n: int, table: np.ndarray, spacing: str, steps_offset: int = 1) -> np.ndarray:
    """diffusers' Euler/LMS `timestep_spacing` ("leading", "trailing", "linspace"), levels
    linear in sigma between integer timesteps (np.interp). leading: arange(n) (T // n),
    reversed, + steps_offset (1 in the Stable Diffusion configs: 901, 801, ... for n = 10);
    trailing: round(arange(T, 0, -T/n)) - 1 (999, 899, ...); linspace: linspace(0, T - 1, n)
    reversed."""
    n = _check_levels(n)
    total = table.shape[0]
    if spacing == "linspace":
        t = np.linspace(0, total - 1, n)[::-1]
    elif spacing == "leading":
        t = (np.arange(n) * (total // n)).round()[::-1] + steps_offset
    elif spacing == "trailing":
        t = np.round(np.arange(total, 0, -total / n)) - 1
    else:
        raise ValueError(f"unknown diffusers timestep spacing {spacing!r}; allowed: "
                         f"{', '.join(DIFFUSERS_SPACINGS)}")
    return np.interp(t.astype(float), np.arange(total), table)


# ---------------------------------------------------------------------------------------------
# Levels -> times on a dlsim schedule.


@eqx.filter_jit
def _times(schedule: AbstractSchedule, levels):
    return schedule.t_from_noise_level(levels)


def grid_from_noise_levels(schedule: AbstractSchedule, levels, name: str = "grid") -> np.ndarray:
    """The times t_k = s^{-1}(sigma_k) of decreasing noise levels on `schedule`, levels outside
    its noise range [s(t_min), s(t_max)] clipped to it (with a warning); the range's ends map
    to t_max and t_min exactly. Raises ValueError if the result is not strictly decreasing."""
    levels = np.asarray(levels, float)
    s_hi, s_lo = (float(v) for v in _noise_level_range(schedule))
    clipped = np.clip(levels, s_lo, s_hi)
    moved = np.abs(clipped - levels) > 1e-12 * np.maximum(np.abs(levels), 1e-300)
    if np.any(moved):
        warnings.warn(
            f"{name}: noise levels [{levels.max():.6g} ... {levels.min():.6g}] leave the "
            f"schedule's noise range [{s_lo:.6g}, {s_hi:.6g}]; {int(moved.sum())} of "
            f"{levels.size} clipped to it", stacklevel=3)
    # Pad to a power-of-two length: one compiled program per schedule type and length class.
    length = _bucket(levels.size) + 1
    padded = np.concatenate([clipped, np.full(length - levels.size, clipped[-1])])
    t = np.asarray(_times(_traceable(schedule), _to_device(padded)))[: levels.size].copy()
    t[clipped >= s_hi] = schedule.t_max
    t[clipped <= s_lo] = schedule.t_min
    bad = np.diff(t) >= 0
    if np.any(bad):
        k = int(np.argmax(bad))
        raise ValueError(
            f"{name} grid of {levels.size - 1} steps is not strictly decreasing on this schedule: "
            f"noise levels {levels[k]!r} and {levels[k + 1]!r} give t[{k}] = {t[k]!r} <= "
            f"t[{k + 1}] = {t[k + 1]!r} (levels clipped to the schedule's range, or too many "
            f"steps for the table)")
    return t


def _levels_checked(levels: np.ndarray, n_levels: int, name: str) -> np.ndarray:
    if levels.size != n_levels:
        raise ValueError(f"the {name} schedule gives {levels.size - 1} steps, not {n_levels - 1}, "
                         f"for N = {n_levels - 1} on the {DISCRETE_STEPS}-step model (its integer "
                         f"timesteps repeat or its stride does not divide); choose another N")
    return levels


def ays_grid(schedule: AbstractSchedule, n_steps: int, model: str = "sd15") -> np.ndarray:
    """Align Your Steps for `model` ("sd15", "sdxl", "svd"): the published levels interpolated
    to N + 1 points, mapped through the noise level (clipped to the schedule's range)."""
    ays_table(model)
    n = _check_steps(n_steps) + 1
    return grid_from_noise_levels(schedule, ays_sigmas(n, model), f"ays ({model})")


def _discrete(levels_of, name):
    def build(schedule: AbstractSchedule, n_steps: int, rho=None) -> np.ndarray:
        n = _check_steps(n_steps) + 1
        levels = _levels_checked(levels_of(n, vp_linear_table()), n, name)
        return grid_from_noise_levels(schedule, levels, name)

    build.__name__ = f"{name.replace('-', '_')}_grid"
    build.__doc__ = (f"The `{name}` schedule of the discrete {DISCRETE_STEPS}-step VP-linear model "
                     f"(`{levels_of.__name__}` with N + 1 levels), mapped to times.")
    return build


simple_grid = _discrete(simple_sigmas, "simple")
sgm_uniform_grid = _discrete(sgm_uniform_sigmas, "sgm-uniform")
ddim_uniform_grid = _discrete(ddim_uniform_sigmas, "ddim-uniform")
leading_grid = _discrete(lambda n, table: diffusers_sigmas(n, table, "leading"), "leading")
trailing_grid = _discrete(lambda n, table: diffusers_sigmas(n, table, "trailing"), "trailing")
linspace_grid = _discrete(lambda n, table: diffusers_sigmas(n, table, "linspace"), "linspace")


def beta_grid(schedule: AbstractSchedule, n_steps: int, alpha: float = 0.6,
              beta: float = 0.6) -> np.ndarray:
    """ComfyUI's beta schedule (alpha = beta = 0.6 by default) on the discrete VP-linear model."""
    n = _check_steps(n_steps) + 1
    levels = _levels_checked(beta_sigmas(n, vp_linear_table(), alpha, beta), n, "beta")
    return grid_from_noise_levels(schedule, levels, "beta")


def linear_quadratic_grid(schedule: AbstractSchedule, n_steps: int,
                          threshold_noise: float = 0.025) -> np.ndarray:
    """ComfyUI's linear-quadratic schedule with sigma_max = s(t_max) of the schedule."""
    n = _check_steps(n_steps) + 1
    s_max = float(_noise_level_range(schedule)[0])
    return grid_from_noise_levels(schedule, linear_quadratic_sigmas(n, s_max, threshold_noise),
                                  "linear-quadratic")


def karras_grid(schedule: AbstractSchedule, n_steps: int, rho: float = 7.0):
    """k-diffusion's Karras schedule: the same grid as `edm_grid`."""
    return edm_grid(schedule, n_steps, rho)


def exponential_grid(schedule: AbstractSchedule, n_steps: int):
    """k-diffusion's exponential schedule (uniform in log sigma): the same grid as `logsnr_grid`."""
    return logsnr_grid(schedule, n_steps)


def _polyexponential_map(schedule, u, rho):
    s_max, s_min = _noise_level_range(schedule)
    log_s = (1 - u) ** rho * (jnp.log(s_max) - jnp.log(s_min)) + jnp.log(s_min)
    return schedule.t_from_noise_level(jnp.exp(log_s))


def polyexponential_grid(schedule: AbstractSchedule, n_steps: int, rho: float = 1.0):
    """k-diffusion's polyexponential schedule; rho = 1 (its default, and that of the registry
    name, which does not read make_grid's rho) is `exponential`."""
    _check_rho(rho)
    return _build("polyexponential-rho", schedule, _check_steps(n_steps), rho)


# ---------------------------------------------------------------------------------------------
# Registration in `GRIDS` (done once, when `schedules` is imported).

# "polyexponential" by name is k-diffusion's default rho = 1 (make_grid's rho, 7 by default,
# is EDM's); "polyexponential-rho" (not a registry name) serves polyexponential_grid's rho.
_MAPS.update({"karras": _edm_map, "exponential": _logsnr_map,
              "polyexponential": lambda schedule, u, rho: _polyexponential_map(schedule, u, 1.0),
              "polyexponential-rho": _polyexponential_map})
_RHO_GRIDS.add("karras")
def _ays_named(model: str):
    def build(schedule: AbstractSchedule, n_steps: int, rho=None) -> np.ndarray:
        return ays_grid(schedule, n_steps, model)

    build.__name__ = f"ays_{model}_grid"
    build.__doc__ = f"`ays_grid` for the {model} table."
    return build


def _with_defaults(builder):
    def build(schedule: AbstractSchedule, n_steps: int, rho=None) -> np.ndarray:
        return builder(schedule, n_steps)

    build.__name__, build.__doc__ = builder.__name__, builder.__doc__
    return build


_TABLE_GRIDS.update({
    "ays": _ays_named("sd15"),
    "ays-sdxl": _ays_named("sdxl"),
    "ays-svd": _ays_named("svd"),
    "beta": _with_defaults(beta_grid),
    "linear-quadratic": _with_defaults(linear_quadratic_grid),
    "simple": simple_grid,
    "sgm-uniform": sgm_uniform_grid,
    "ddim-uniform": ddim_uniform_grid,
    "leading": leading_grid,
    "trailing": trailing_grid,
    "linspace": linspace_grid,
})
GRIDS.update({"karras": karras_grid, "exponential": exponential_grid,
              "polyexponential": polyexponential_grid})
GRIDS.update(_TABLE_GRIDS)
# The grids with a continuous map u -> t, end points pinned (the rest come from tables).
MAPPED_GRIDS = tuple(name for name in GRIDS if name in _MAPS)
