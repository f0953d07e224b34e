r"""Choosing grids and eta for a spectrum (MATH.md section 3.5, [GEO]).

- Free-form density for a sign-definite integrand: minimising int w / rho subject to
  int rho = 1 gives rho* proportional to sqrt(w) (`sqrt_density_grid`); for the EDM ODE and one
  lambda this is the tangent law (`tangent_grid`); over a spectrum, the convex problem
  min sum_i (int w_i / rho)^2 / (4 m_i) is solved by a fixed point (`spectrum_density_grid`).
- Any schedule, solver and eta: gradient descent (optax Adam) on the exact Fréchet error
  W2^2 at the given N through the exact laws (`optimize_grid`), on a monotone grid
  parameterised by softmax increments in the variable u of the best standard grid, started
  at that grid, so the result is never worse than every standard grid.
- The best EDM rho (`optimize_edm_rho`), the best constant eta and a three-parameter
  eta(t) = exp(a + b s + c s^2), s the normalised log noise level (`optimize_eta`).

The exact error is differentiable: `exact_w2sq_function` vmaps the exact-law propagation of
`analysis._exact_law` (the map read off the solver's step) over the spectrum without a
jit boundary, so jax.grad reaches the grid times.
"""

import dataclasses
import warnings
from collections.abc import Callable

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy.optimize import minimize, minimize_scalar

from sampling import (
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    check_solver_use,
    make_solver,
    min_steps,
    reversed_times,
)
from schedules import GRIDS, AbstractSchedule, edm_grid, make_grid, validate_grid

from ._exact_law import _propagate, check_finite_law, exact_law_per_direction
from ._expansion import _local_error_density, _log_p, grid_map
from ._spectra import check_spectrum


def _solver(solver) -> diffrax.AbstractSolver:
    return make_solver(solver) if isinstance(solver, str) else solver


def exact_w2sq_function(schedule: AbstractSchedule, eigenvalues, solver="euler",
                        eta=0.0) -> Callable:
    """grid -> exact W2^2 between the sampler's output (started from the exact marginal at
    grid[0]) and the exact marginal at grid[-1], centred data with these eigenvalues.

    A pure JAX function of the grid (and of eta when `eta` is itself traced inside a caller),
    differentiable: sum_i (v_i - m_i)^2 / (sqrt(v_i) + sqrt(m_i))^2."""
    lam = jnp.asarray(check_spectrum(eigenvalues, "eigenvalues"))
    solver = _solver(solver)

    def value(grid, eta_value=eta):
        r = reversed_times(grid)
        start = schedule.alpha(grid[0]) ** 2 * lam + schedule.sigma(grid[0]) ** 2
        end = schedule.alpha(grid[-1]) ** 2 * lam + schedule.sigma(grid[-1]) ** 2

        def one(l, v0):
            target = GaussianTarget(l[None])
            reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), eta_value)
            _, cov = _propagate(reverse, solver, r, jnp.zeros(1), v0[None, None])
            return cov[0, 0]

        v = jax.vmap(one)(lam, start)
        return jnp.sum((v - end) ** 2 / (jnp.sqrt(v) + jnp.sqrt(end)) ** 2)

    return value


def exact_w2sq(schedule: AbstractSchedule, eigenvalues, grid, *, solver="euler", eta=0.0) -> float:
    """The exact W2^2 of a grid through the public exact-law route (validates the grid and the
    solver's use; raises FloatingPointError if the sampler diverges)."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    grid = validate_grid(schedule, grid)
    target = GaussianTarget(lam)
    law = check_finite_law(
        exact_law_per_direction(target, schedule, eta, grid, _solver(solver),
                                target.marginal_in_eigenbasis(schedule, grid[0])),
        f"the grid of {grid.shape[0] - 1} steps")
    ref = np.asarray(target.marginal_variances(schedule, grid[-1]))
    v = np.asarray(law.cov)
    return float(np.sum((v - ref) ** 2 / (np.sqrt(v) + np.sqrt(ref)) ** 2))


def standard_errors(schedule: AbstractSchedule, eigenvalues, n_steps: int, *, solver="euler",
                    eta=0.0, rho: float = 7.0) -> dict[str, float | None]:
    """Exact W2^2 of every standard grid (`schedules.GRIDS`) at N steps; None where a grid
    does not apply (its builder refuses this schedule or N, or its end points are not t_max
    and t_min) or the sampler diverges on it."""
    out: dict[str, float | None] = {}
    for name in GRIDS:
        try:
            with warnings.catch_warnings():
                # A table grid clipped to this schedule's range warns; it is still compared.
                warnings.simplefilter("ignore", UserWarning)
                grid = make_grid(name, schedule, n_steps, rho=rho)
        except ValueError:
            # Not applicable here (geometric with t_min = 0; a discrete-timestep grid whose
            # timesteps do not give N distinct steps): no entry to compare with.
            out[name] = None
            continue
        ends = np.asarray(grid)[[0, -1]]
        if not np.allclose(ends, [schedule.t_max, schedule.t_min], rtol=1e-9, atol=1e-12):
            # A grid that stops short of [t_min, t_max] measures a different problem (a
            # shorter path): it is not comparable.
            out[name] = None
            continue
        try:
            out[name] = exact_w2sq(schedule, eigenvalues, grid, solver=solver, eta=eta)
        except FloatingPointError:
            out[name] = None
        if out[name] is not None and not np.isfinite(out[name]):
            out[name] = None
    return out


def _best_standard(standard: dict[str, float | None]) -> str:
    finite = {k: v for k, v in standard.items() if v is not None}
    if not finite:
        raise FloatingPointError("the sampler diverges on every standard grid at this N")
    return min(finite, key=finite.get)


def _best_mapped(standard: dict[str, float | None], schedule, rho: float):
    """(name, map u -> t) of the best standard grid that has a continuous map (`grid_map`;
    grids defined only on discrete timesteps have none), the start of a free-form search."""
    finite = sorted((v, k) for k, v in standard.items() if v is not None)
    for _, name in finite:
        try:
            return name, grid_map(name, schedule, rho)
        except ValueError:
            continue
    raise FloatingPointError("the sampler diverges on every standard grid with a continuous map")


@dataclasses.dataclass(frozen=True)
class OptimizedGrid:
    """An optimised grid (or rho, or eta) and how it compares with the standard grids.

    `w2sq` is recomputed from `grid` through `exact_law_per_direction`; `standard` holds
    every standard grid's W2^2 at the same N (None: not applicable or diverging);
    `converged` says whether the optimiser met its stopping test (if not, the best point
    seen is returned and `message` says so)."""

    family: str
    steps: int
    grid: list[float]
    w2sq: float
    standard: dict
    best_standard: str
    converged: bool
    iterations: int
    message: str
    parameters: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _softmax_grid(tau, schedule, theta):
    u = jnp.concatenate([jnp.zeros(1), jnp.cumsum(jax.nn.softmax(theta))])
    t = jax.vmap(tau)(u)
    return t.at[0].set(schedule.t_max).at[-1].set(schedule.t_min)


def _theta_of_grid(tau, grid) -> jnp.ndarray:
    """Softmax parameters whose grid under `tau` is `grid`: u_k = tau^{-1}(t_k) by
    interpolation on a fine mesh (tau is monotone), theta = log of the u increments."""
    mesh = np.linspace(0.0, 1.0, 200_001)
    t_mesh = np.asarray(jax.vmap(tau)(jnp.asarray(mesh)))
    u = np.interp(-np.asarray(grid), -t_mesh, mesh)
    u[0], u[-1] = 0.0, 1.0
    return jnp.asarray(np.log(np.maximum(np.diff(u), 1e-300)))


def optimize_grid(schedule: AbstractSchedule, eigenvalues, n_steps: int, *, solver="euler",
                  eta=0.0, rho: float = 7.0, iterations: int = 300, learning_rate: float = 0.05,
                  ftol: float = 1e-6, patience: int = 40) -> OptimizedGrid:
    """Free-form N-step grid minimising the exact W2^2 (gradient descent through the exact law).

    Parameterisation: t_k = tau(u_k), u_k = sum_{j<k} softmax(theta)_j, with tau the continuous
    map of the best standard grid at this N; theta = 0 is that grid. The start is that grid,
    or the sqrt(w) fixed-point grid (`spectrum_density_grid`) where it applies and is better,
    so the result is never worse than any standard grid. Adam on log W2^2. Converged when the
    best value improved by less than `ftol` (relative) over the last `patience` iterations."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"number of steps must be an integer >= 1, got {n_steps!r}")
    n_steps = int(n_steps)
    solver = _solver(solver)
    standard = standard_errors(schedule, lam, n_steps, solver=solver, eta=eta, rho=rho)
    best_name = _best_standard(standard)
    if n_steps == 1:
        return OptimizedGrid(family="free", steps=1, grid=[schedule.t_max, schedule.t_min],
                             w2sq=standard[best_name], standard=standard, best_standard=best_name,
                             converged=True, iterations=0,
                             message="N = 1: the grid is its two end points, nothing to optimise",
                             parameters={"start": best_name,
                                         "eta": eta if not callable(eta) else None})
    # The search starts from the best grid with a continuous map (the best overall may be
    # defined on discrete timesteps only); the result is then compared with the best overall.
    mapped_name, tau = _best_mapped(standard, schedule, rho)
    value = exact_w2sq_function(schedule, lam, solver, eta)
    theta, start_name = jnp.zeros(n_steps), mapped_name
    if not callable(eta):
        # For a sign-definite integrand (e.g. the PF-ODE on EDM) the first-order optimal
        # density is a better start than any standard grid; use it when it is.
        try:
            candidate = spectrum_density_grid(schedule, lam, n_steps, eta=eta)
            if exact_w2sq(schedule, lam, candidate, solver=solver, eta=eta) < standard[mapped_name]:
                theta, start_name = _theta_of_grid(tau, candidate), "sqrt-w fixed point"
        except (ValueError, FloatingPointError):
            pass
    loss = lambda theta: jnp.log(value(_softmax_grid(tau, schedule, theta)))
    loss_and_grad = jax.jit(jax.value_and_grad(loss))
    opt = optax.adam(learning_rate)
    state = opt.init(theta)
    best_theta, best = theta, np.inf
    history: list[float] = []
    converged, message, k = False, "", 0
    for k in range(1, iterations + 1):
        f, g = loss_and_grad(theta)
        f = float(f)
        if not (np.isfinite(f) and bool(jnp.all(jnp.isfinite(g)))):
            message = (f"stopped at iteration {k}: non-finite loss or gradient; returning the "
                       f"best grid seen (not converged)")
            break
        if f < best:
            best, best_theta = f, theta
        history.append(best)
        if len(history) > patience and history[-patience - 1] - best < ftol * max(abs(best), 1.0):
            converged = True
            message = f"converged after {k} iterations (relative improvement < {ftol:g})"
            break
        updates, state = opt.update(g, state)
        theta = optax.apply_updates(theta, updates)
    if not message:
        message = (f"not converged after {iterations} iterations; returning the best grid seen")
    grid = np.asarray(_softmax_grid(tau, schedule, best_theta))
    w2 = exact_w2sq(schedule, lam, grid, solver=solver, eta=eta)
    if w2 > standard[best_name]:  # theta = 0 is the start grid; only an unmapped grid can win
        grid = np.asarray(make_grid(best_name, schedule, n_steps, rho=rho))
        w2 = standard[best_name]
        message += f"; the standard grid {best_name} is better and is returned"
    return OptimizedGrid(family="free", steps=n_steps, grid=grid.tolist(), w2sq=w2,
                         standard=standard, best_standard=best_name, converged=converged,
                         iterations=k, message=message,
                         parameters={"start": start_name, "eta": eta if not callable(eta) else None})


def _scan_then_brent(f, scan, *, xatol, diverged):
    """Minimise a scalar f: evaluate it on `scan`, then bounded Brent between the neighbours
    of the best scan point. f returns inf where the sampler diverges; if it does everywhere,
    FloatingPointError(diverged). Returns (best x, index of the best scan point, Brent result)."""
    values = np.array([f(x) for x in scan])
    if not np.any(np.isfinite(values)):
        raise FloatingPointError(diverged)
    i = int(np.nanargmin(np.where(np.isfinite(values), values, np.nan)))
    a, b = scan[max(i - 1, 0)], scan[min(i + 1, scan.size - 1)]
    res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": xatol})
    return (res.x if res.fun <= values[i] else scan[i]), i, res


def optimize_edm_rho(schedule: AbstractSchedule, eigenvalues, n_steps: int, *, solver="euler",
                     eta=0.0, bounds=(0.5, 60.0)) -> OptimizedGrid:
    """The EDM rho (grid in the noise level, `schedules.edm_grid`) minimising the exact W2^2:
    a scan over log rho, then bounded Brent around the best scan point. Not converged when the
    optimum sits on a bound."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    solver = _solver(solver)
    standard = standard_errors(schedule, lam, n_steps, solver=solver, eta=eta)
    value = jax.jit(exact_w2sq_function(schedule, lam, solver, eta))

    def f(log_rho):
        v = float(value(edm_grid(schedule, n_steps, float(np.exp(log_rho)))))
        return np.log(v) if np.isfinite(v) and v > 0 else np.inf

    scan = np.linspace(np.log(bounds[0]), np.log(bounds[1]), 25)
    best_log_rho, scan_index, res = _scan_then_brent(
        f, scan, xatol=1e-6, diverged="the sampler diverges on every EDM rho grid at this N")
    on_bound = scan_index in (0, scan.size - 1)
    rho = float(np.exp(best_log_rho))
    grid = np.asarray(edm_grid(schedule, n_steps, rho))
    w2 = exact_w2sq(schedule, lam, grid, solver=solver, eta=eta)
    converged = bool(res.success) and not on_bound
    message = (f"best rho = {rho:.6g}" + ("" if converged else
               f" on the search bound {bounds!r} or Brent failed (not converged)"))
    return OptimizedGrid(family="edm-rho", steps=int(n_steps), grid=grid.tolist(), w2sq=w2,
                         standard=standard, best_standard=_best_standard(standard),
                         converged=converged, iterations=int(scan.size + res.nfev),
                         message=message, parameters={"rho": rho, "eta": eta})


def _normalised_log_noise(schedule):
    lo = jnp.log(schedule.noise_level(schedule.t_min))
    hi = jnp.log(schedule.noise_level(schedule.t_max))
    return lambda t: 2.0 * (jnp.log(schedule.noise_level(t)) - lo) / (hi - lo) - 1.0


def eta_function(schedule: AbstractSchedule, params) -> Callable:
    """eta(t) = exp(a + b s + c s^2), s in [-1, 1] the normalised log noise level (s = -1 at
    t_min, +1 at t_max): positive everywhere, three parameters."""
    s_of = _normalised_log_noise(schedule)
    a, b, c = (jnp.asarray(p, float) for p in params)
    return lambda t: jnp.exp(a + b * s_of(t) + c * s_of(t) ** 2)


def optimize_eta(schedule: AbstractSchedule, eigenvalues, n_steps: int, *, grid="edm",
                 rho: float = 7.0, solver="euler", bounds=(0.0, 3.0)) -> OptimizedGrid:
    """The constant eta in `bounds` minimising the exact W2^2 on the given grid (scan + bounded
    Brent), then eta(t) = exp(a + b s + c s^2) by Nelder–Mead started at the best constant.
    `w2sq` and `parameters["eta"]` are those of the best constant eta; `parameters["eta_t"]`
    holds the time-dependent fit and its W2^2."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    solver = _solver(solver)
    g = make_grid(grid, schedule, n_steps, rho=rho) if isinstance(grid, str) else \
        validate_grid(schedule, grid)
    target = GaussianTarget(lam)
    check_solver_use(solver, ReverseDiffusion(schedule, GaussianScore(target, schedule), 0.5), g)
    value = exact_w2sq_function(schedule, lam, solver)
    at_eta = jax.jit(lambda e: value(g, e))

    def f(e):
        v = float(at_eta(jnp.asarray(e, float)))
        return np.log(v) if np.isfinite(v) and v > 0 else np.inf

    scan = np.linspace(bounds[0], bounds[1], 31)
    best_eta, scan_index, res = _scan_then_brent(
        f, scan, xatol=1e-7, diverged="the sampler diverges for every eta in the search range")
    best_eta = float(best_eta)
    w2 = exact_w2sq(schedule, lam, g, solver=solver, eta=best_eta)
    converged = bool(res.success) and scan_index != scan.size - 1

    at_params = jax.jit(lambda p: value(g, eta_function(schedule, p)))

    def f_t(p):
        v = float(at_params(jnp.asarray(p, float)))
        return np.log(v) if np.isfinite(v) and v > 0 else np.inf

    start = np.array([np.log(max(best_eta, 1e-3)), 0.0, 0.0])
    fit = minimize(f_t, start, method="Nelder-Mead",
                   options={"xatol": 1e-5, "fatol": 1e-8, "maxiter": 400})
    params = fit.x if fit.fun < f_t(start) else start
    w2_t = exact_w2sq(schedule, lam, g, solver=solver, eta=eta_function(schedule, params))
    standard = standard_errors(schedule, lam, n_steps, solver=solver, eta=best_eta, rho=rho)
    message = (f"best constant eta = {best_eta:.6g} (W2^2 {w2:.6g}); eta(t) fit W2^2 {w2_t:.6g}"
               + ("" if converged and fit.success else " (not converged)"))
    return OptimizedGrid(
        family="eta", steps=int(n_steps), grid=np.asarray(g).tolist(), w2sq=w2, standard=standard,
        best_standard=_best_standard(standard), converged=converged and bool(fit.success),
        iterations=int(scan.size + res.nfev + fit.nfev), message=message,
        parameters={"eta": best_eta, "grid": grid if isinstance(grid, str) else "user",
                    "eta_t": {"form": "exp(a + b s + c s^2), s = normalised log noise level",
                              "params": [float(x) for x in params], "w2sq": w2_t}})


# ---------------------------------------------------------------------------------------------
# How tuned is an optimum? Neighbouring step counts, perturbed spectra, robust optimisation.
#
# An optimised grid can win by a tuned cancellation: the errors of different directions (or of
# different steps) cancel at exactly this N and this spectrum, and the cancellation breaks as
# soon as either changes. The report below measures the gain where it was not tuned.


def perturbed_spectra(eigenvalues) -> dict[str, np.ndarray]:
    """Three perturbations of a spectrum (each named by what it does):

    - "truncated": the largest half of the eigenvalues only (the small directions dropped);
    - "extended": twice as many eigenvalues, the sorted spectrum continued by the straight
      line through log(lambda) against log(rank) fitted on its smaller half (power:A:D gives
      exactly power:A:2D);
    - "resampled": a bootstrap resample of the eigenvalues (same size, drawn with replacement
      with a fixed NumPy seed 0), i.e. another spectrum with the same empirical distribution.
    """
    lam = np.sort(check_spectrum(eigenvalues, "eigenvalues"))[::-1]
    d = lam.size
    out = {"truncated": lam[: max(1, d // 2)]}
    tail = np.arange(d // 2, d)  # 0-based ranks of the smaller half
    if tail.size >= 2:
        slope, intercept = np.polyfit(np.log(tail + 1.0), np.log(lam[tail]), 1)
    else:  # too few points for a line: continue flat
        slope, intercept = 0.0, float(np.log(lam[-1]))
    more = np.exp(intercept + slope * np.log(np.arange(d + 1, 2 * d + 1.0)))
    out["extended"] = np.concatenate([lam, np.minimum(more, lam[-1])])
    out["resampled"] = np.random.default_rng(0).choice(lam, size=d, replace=True)
    return out


def resample_grid(schedule: AbstractSchedule, grid, n_steps: int) -> np.ndarray:
    """The same grid map at another N: t(u) piecewise linear through the points (k/N, t_k),
    read at u = j/N' (N' = 2N inserts midpoints; N' = N/2, N even, keeps every other point)."""
    grid = np.asarray(grid, float)
    u = np.linspace(0.0, 1.0, grid.size)
    t = np.interp(np.linspace(0.0, 1.0, int(n_steps) + 1), u, grid)
    t[0], t[-1] = grid[0], grid[-1]
    return np.asarray(validate_grid(schedule, t))


def _w2sq_or_inf(schedule, lam, grid, solver, eta) -> float:
    try:
        v = exact_w2sq(schedule, lam, grid, solver=solver, eta=eta)
    except FloatingPointError:
        return np.inf
    return v if np.isfinite(v) else np.inf


def _case_grid(result: OptimizedGrid, schedule, n_steps: int, rho: float):
    if result.steps == n_steps:
        return np.asarray(result.grid)
    if result.family.startswith("edm-rho"):
        return np.asarray(edm_grid(schedule, n_steps, result.parameters["rho"]))
    if result.family.startswith("eta") and isinstance(result.parameters.get("grid"), str):
        return np.asarray(make_grid(result.parameters["grid"], schedule, n_steps, rho=rho))
    return resample_grid(schedule, result.grid, n_steps)


def robustness_report(schedule: AbstractSchedule, eigenvalues, result: OptimizedGrid, *,
                      solver="euler", eta=0.0, rho: float = 7.0) -> list[dict]:
    """How the optimum of `result` does where it was not tuned: at N/2 and 2N (same spectrum)
    and at N on each `perturbed_spectra`. One dict per case: `case`, `steps`, `spectrum`
    (which perturbation), `w2sq` (the optimum carried over), `baseline` and `baseline_w2sq`,
    `gain` = baseline_w2sq / w2sq (> 1: still better). Grid families (free, edm-rho) are
    compared with the best standard grid of that case (same eta), the free grid carried to
    another N by `resample_grid`; the eta family with the better of eta = 0 and eta = 1 on
    the same named grid (constant eta; the eta(t) fit is a row of its own)."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    solver = _solver(solver)
    n = result.steps
    cases = [("N", n, "as optimised", lam)]
    cases += [(f"N/2 = {n // 2}", n // 2, "as optimised", lam)] if n // 2 >= max(1, min_steps(solver)) else []
    cases += [(f"2N = {2 * n}", 2 * n, "as optimised", lam)]
    cases += [(f"spectrum {k}", n, k, v) for k, v in perturbed_spectra(lam).items()]
    rows = []
    is_eta = result.family.startswith("eta")
    for case, steps, spectrum, lam_case in cases:
        grid = _case_grid(result, schedule, steps, rho)
        etas = [("eta", result.parameters["eta"])] if is_eta else [("grid", eta)]
        if is_eta and result.parameters.get("eta_t"):
            etas.append(("eta(t)", eta_function(schedule, result.parameters["eta_t"]["params"])))
        if is_eta:
            base = {f"eta = {e:g}": _w2sq_or_inf(schedule, lam_case, grid, solver, e) for e in (0.0, 1.0)}
        else:
            std = standard_errors(schedule, lam_case, steps, solver=solver, eta=eta, rho=rho)
            base = {k: (np.inf if v is None else v) for k, v in std.items()}
        name = min(base, key=base.get)
        for what, e in etas:
            w2 = _w2sq_or_inf(schedule, lam_case, grid, solver, e)
            rows.append({"case": case, "optimised": what, "steps": steps, "spectrum": spectrum,
                         "dim": int(np.size(lam_case)), "w2sq": None if np.isinf(w2) else w2,
                         "baseline": name,
                         "baseline_w2sq": None if np.isinf(base[name]) else base[name],
                         "gain": (None if np.isinf(w2) or np.isinf(base[name]) else base[name] / w2)})
    return rows


AGGREGATES = ("mean", "worst")


def _aggregate(values, how: str):
    """mean: the mean of log W2^2 over the set (the geometric mean of the errors); worst: the
    largest log W2^2."""
    return jnp.mean(values) if how == "mean" else jnp.max(values)


def optimize_robust(schedule: AbstractSchedule, spectra, steps, *, family: str = "edm-rho",
                    aggregate: str = "mean", solver="euler", eta=0.0, grid: str = "edm",
                    rho: float = 7.0, iterations: int = 300, learning_rate: float = 0.05,
                    bounds=None) -> OptimizedGrid:
    """One grid (or rho, or eta) for a set of step counts x spectra: minimises the mean
    (`aggregate="mean"`, i.e. the geometric mean of the W2^2) or the largest ("worst") of
    log W2^2 over every (N, spectrum) of the set. Families: "edm-rho" and "eta" (constant eta
    on the named `grid`) take any set (their parameter does not depend on N); "free" takes one
    N (a free grid has N points) and a set of spectra, by Adam on the softmax parameters as in
    `optimize_grid`. The result's `steps` and `w2sq` are those of the first N and spectrum;
    `parameters["set"]` lists every member's W2^2."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {aggregate!r}; allowed: {', '.join(AGGREGATES)}")
    spectra = [check_spectrum(v, "eigenvalues") for v in spectra]
    steps = [int(n) for n in steps]
    if not spectra or not steps or any(n < 1 for n in steps):
        raise ValueError(f"give at least one spectrum and step counts >= 1, got steps {steps}")
    solver = _solver(solver)
    members = [(n, k) for n in steps for k in range(len(spectra))]

    def set_values(grid_of_n, eta_of=lambda: eta):
        return [_w2sq_or_inf(schedule, spectra[k], grid_of_n(n), solver, eta_of()) for n, k in members]

    if family in ("edm-rho", "eta"):
        lo, hi = bounds or ((0.5, 60.0) if family == "edm-rho" else (0.0, 3.0))
        fns = [jax.jit(exact_w2sq_function(schedule, spectra[k], solver, eta)) for k in range(len(spectra))]
        grids = {n: make_grid(grid, schedule, n, rho=rho) for n in steps} if family == "eta" else {}

        def f(x):
            vals = []
            for n, k in members:
                v = (float(fns[k](edm_grid(schedule, n, float(np.exp(x))))) if family == "edm-rho"
                     else float(fns[k](grids[n], jnp.asarray(x, float))))
                if not (np.isfinite(v) and v > 0):
                    return np.inf
                vals.append(np.log(v))
            return float(_aggregate(np.asarray(vals), aggregate))

        scan = (np.linspace(np.log(lo), np.log(hi), 25) if family == "edm-rho"
                else np.linspace(lo, hi, 31))
        best, index, res = _scan_then_brent(f, scan, xatol=1e-6,
                                            diverged="the sampler diverges everywhere in the range")
        value = float(np.exp(best)) if family == "edm-rho" else float(best)
        if family == "edm-rho":
            per = set_values(lambda n: edm_grid(schedule, n, value))
            params = {"rho": value, "eta": eta}
            out_grid = np.asarray(edm_grid(schedule, steps[0], value))
        else:
            per = set_values(lambda n: grids[n], lambda: value)
            params = {"eta": value, "grid": grid}
            out_grid = np.asarray(grids[steps[0]])
        converged = bool(res.success) and index not in (0, scan.size - 1)
        message = f"robust {family}: {aggregate} of log W2^2 over {len(members)} cases"
        iters = int(scan.size + res.nfev)
    elif family == "free":
        if len(steps) != 1:
            raise ValueError(f"a free-form grid has one N; robust over step counts {steps} needs "
                             f"--family edm-rho or eta")
        n = steps[0]
        std = standard_errors(schedule, spectra[0], n, solver=solver, eta=eta, rho=rho)
        start_name, tau = _best_mapped(std, schedule, rho)
        fns = [exact_w2sq_function(schedule, lam, solver, eta) for lam in spectra]
        loss = lambda theta: _aggregate(jnp.log(jnp.stack(
            [fn(_softmax_grid(tau, schedule, theta)) for fn in fns])), aggregate)
        loss_and_grad = jax.jit(jax.value_and_grad(loss))
        opt = optax.adam(learning_rate)
        theta = jnp.zeros(n)
        state, best_theta, best, iters = opt.init(theta), theta, np.inf, 0
        for iters in range(1, iterations + 1):  # noqa: B007 (the count is reported)
            f_val, g = loss_and_grad(theta)
            if not (np.isfinite(float(f_val)) and bool(jnp.all(jnp.isfinite(g)))):
                break
            if float(f_val) < best:
                best, best_theta = float(f_val), theta
            updates, state = opt.update(g, state)
            theta = optax.apply_updates(theta, updates)
        out_grid = np.asarray(_softmax_grid(tau, schedule, best_theta))
        per = set_values(lambda _: out_grid)
        params = {"start": start_name, "eta": eta if not callable(eta) else None}
        converged = False
        message = (f"robust free grid: {aggregate} of log W2^2 over {len(members)} spectra, "
                   f"{iters} Adam iterations (best point kept; no stopping test)")
    else:
        raise ValueError(f"unknown family {family!r}; allowed: free, edm-rho, eta")
    params.update(aggregate=aggregate, set=[
        {"steps": n, "spectrum": k, "w2sq": None if np.isinf(v) else v}
        for (n, k), v in zip(members, per, strict=True)])
    standard = standard_errors(schedule, spectra[0], steps[0], solver=solver,
                               eta=params["eta"] if family == "eta" else eta, rho=rho)
    return OptimizedGrid(family=f"{family} (robust)", steps=steps[0], grid=out_grid.tolist(),
                         w2sq=per[0], standard=standard, best_standard=_best_standard(standard),
                         converged=converged, iterations=iters, message=message,
                         parameters=params)


# ---------------------------------------------------------------------------------------------
# Free-form densities (sign-definite integrands).


def _log_noise_mesh(schedule, size=20001):
    lo = float(jnp.log(schedule.noise_level(schedule.t_min)))
    hi = float(jnp.log(schedule.noise_level(schedule.t_max)))
    ell = np.linspace(hi, lo, size)
    t = np.array(schedule.t_from_noise_level(jnp.exp(ell)))
    t[0], t[-1] = schedule.t_max, schedule.t_min
    return ell, t


def _grid_from_density(schedule, ell, t, density_ell, n_steps):
    """Invert u(l) = cumulative int sqrt-density (from t_max down) at u = k/N; map back to t."""
    seg = 0.5 * (density_ell[1:] + density_ell[:-1]) * np.abs(np.diff(ell))
    u = np.concatenate([[0.0], np.cumsum(seg)])
    if not (np.isfinite(u[-1]) and u[-1] > 0):
        raise ValueError("the grid density is zero or not finite everywhere")
    u /= u[-1]
    targets = np.arange(n_steps + 1) / n_steps
    ell_k = np.interp(targets, u, ell)
    grid = np.array(schedule.t_from_noise_level(jnp.exp(ell_k)))
    grid[0], grid[-1] = schedule.t_max, schedule.t_min
    return validate_grid(schedule, grid)


def sqrt_density_grid(schedule: AbstractSchedule, weight: Callable, n_steps: int):
    r"""N-step grid with density du/dt proportional to sqrt(w(t)), the minimiser of
    int w(t) / rho(t) dt over densities rho with int rho = 1 (Cauchy–Schwarz; [GEO] section 3.5).
    `weight` maps an array of times to w >= 0."""
    ell, t = _log_noise_mesh(schedule)
    w = np.asarray(weight(jnp.asarray(t)), float)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("the weight w(t) must be finite and >= 0 (sign-definite integrand)")
    dt_dell = np.abs(np.gradient(t, ell))
    return _grid_from_density(schedule, ell, t, np.sqrt(w) * dt_dell, n_steps)


def tangent_grid(schedule: AbstractSchedule, n_steps: int, lam: float = 1.0):
    r"""Tangent law in the noise level n: n(u) = sqrt(lam) tan((1-u) atan(n_max/sqrt(lam)) +
    u atan(n_min/sqrt(lam))), the sqrt(w) density of the EDM PF-ODE for one eigenvalue lam
    (w proportional to (lam + n^2)^-2); lam = 1 is `schedules.kl_optimal_grid`."""
    lam = float(check_spectrum([lam], "lambda")[0])
    root = np.sqrt(lam)
    n_max, n_min = (float(schedule.noise_level(x)) for x in (schedule.t_max, schedule.t_min))
    u = np.arange(n_steps + 1) / n_steps
    n = root * np.tan((1 - u) * np.arctan(n_max / root) + u * np.arctan(n_min / root))
    grid = np.array(schedule.t_from_noise_level(jnp.asarray(n)))
    grid[0], grid[-1] = schedule.t_max, schedule.t_min
    return validate_grid(schedule, grid)


def spectrum_density_grid(schedule: AbstractSchedule, eigenvalues, n_steps: int, *, eta=0.0,
                          iterations: int = 100, tol: float = 1e-10):
    r"""Fixed point for min over densities of sum_i (int w_i / rho)^2 / (4 m_i(t_min)),
    w_i = |L_i P_i| (MATH.md 3.5; convex in 1/rho): rho proportional to
    sqrt(sum_i A_i w_i / m_i), A_i = int w_i / rho. Needs each L_i P_i sign-definite (e.g. the
    EDM PF-ODE); otherwise raises ValueError (use `optimize_grid`)."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    ell, t = _log_noise_mesh(schedule, 8001)
    tj = jnp.asarray(t)
    point = lambda l, s: _local_error_density(schedule, eta, l, s) * jnp.exp(_log_p(schedule, eta, l, s))
    integrand = jax.jit(jax.vmap(lambda l: jax.vmap(lambda s: point(l, s))(tj)))
    lp = np.asarray(integrand(jnp.asarray(lam)))
    for i, row in enumerate(lp):
        scale = np.max(np.abs(row))
        if np.max(row) > 1e-9 * scale and np.min(row) < -1e-9 * scale:
            raise ValueError(f"L P changes sign for eigenvalue {float(lam[i])!r}: the integrand "
                             f"is not sign-definite, optimise the exact error (optimize_grid)")
    w = np.abs(lp)
    m = np.asarray(schedule.alpha(schedule.t_min) ** 2 * lam + schedule.sigma(schedule.t_min) ** 2)
    dt = np.abs(np.diff(t))
    mid = lambda f: 0.5 * (f[..., 1:] + f[..., :-1])
    rho = np.ones_like(t) / (schedule.t_max - schedule.t_min)
    for _ in range(iterations):
        a = np.sum(mid(w / rho) * dt, axis=-1)
        new = np.sqrt(np.sum(a[:, None] * w / m[:, None], axis=0))
        new /= np.sum(mid(new) * dt)
        if np.max(np.abs(new - rho) / np.maximum(rho, 1e-300)) < tol:
            rho = new
            break
        rho = new
    dt_dell = np.abs(np.gradient(t, ell))
    return _grid_from_density(schedule, ell, t, rho * dt_dell, n_steps)
