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
    does not apply (geometric with t_min = 0) or the sampler diverges on it."""
    out: dict[str, float | None] = {}
    for name in GRIDS:
        try:
            out[name] = exact_w2sq(schedule, eigenvalues, make_grid(name, schedule, n_steps, rho=rho),
                                   solver=solver, eta=eta)
        except FloatingPointError:
            out[name] = None
        except ValueError as err:
            if "geometric grid needs" not in str(err):
                raise
            out[name] = None
        if out[name] is not None and not np.isfinite(out[name]):
            out[name] = None
    return out


def _best_standard(standard: dict[str, float | None]) -> str:
    finite = {k: v for k, v in standard.items() if v is not None}
    if not finite:
        raise FloatingPointError("the sampler diverges on every standard grid at this N")
    return min(finite, key=finite.get)


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
    tau = grid_map(best_name, schedule, rho)
    value = exact_w2sq_function(schedule, lam, solver, eta)
    theta, start_name = jnp.zeros(n_steps), best_name
    if not callable(eta):
        # For a sign-definite integrand (e.g. the PF-ODE on EDM) the first-order optimal
        # density is a better start than any standard grid; use it when it is.
        try:
            candidate = spectrum_density_grid(schedule, lam, n_steps, eta=eta)
            if exact_w2sq(schedule, lam, candidate, solver=solver, eta=eta) < standard[best_name]:
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
    if w2 > standard[best_name]:  # round-off only: theta = 0 is the standard grid itself
        grid = np.asarray(make_grid(best_name, schedule, n_steps, rho=rho))
        w2 = standard[best_name]
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
