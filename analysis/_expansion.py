r"""First-order (geometry-aware) expansion of the Euler–Maruyama error, exact score ([GEO]).

Per eigen-direction of Gaussian data, with $m(t) = \alpha^2\lambda + \sigma^2$,
$c = f + (1+\eta) g^2/(2m)$, the grid $t = \tau(u)$ (u = k/N) and (MATH.md section 3)

    L(t) = c^2 m - m''/2,   P(t) = exp(-2 \int_{t_min}^t c),
    I(lambda) = \int L P |\tau'(\tau^{-1}(t))| dt = \int_0^1 L(\tau(u)) P(\tau(u)) \tau'(u)^2 du,
    v_N - m(t_min) = I(lambda)/N + O(1/N^2).

The weak error of x^T Q x is (1/N) sum_i (U^T Q U)_ii I_i and the Fréchet (W2^2) error
is (1/N^2) sum_i I_i^2 / (4 m_i(t_min)).

Two routes compute I and must agree: an adaptive Gauss–Legendre quadrature in the grid
variable u (`expansion`), and Richardson extrapolation of N (v_N - m(t_min)) from the
exact laws of the sampler (`richardson_constant`); `compare_routes` reports how far apart.

Derived here (not quoted from [GEO]): since $g^2/(2m) = m'/(2m) - f$, for constant eta
$P = (m(t_{min})/m)^{1+\eta} (\alpha/\alpha(t_{min}))^{2\eta}$ in closed form; for eta(t),
$\log P = \log(m(t_{min})/m) - \int \eta\, d\phi$ with $\phi = \log(1 + n^2/\lambda)$, n = sigma/alpha
the noise level, an inner integral done by composite Gauss–Legendre in log n.
"""

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from sampling import GaussianTarget, make_solver
from schedules import MAPPED_GRIDS, AbstractSchedule, named_grid_map, validate_grid

from ._exact_law import check_finite_law, exact_law_per_direction
from ._spectra import check_spectrum

GridMap = Callable[[Array], Array]

# Continuous grid maps u -> t of the named grids of `schedules.GRIDS`: the builders' own maps
# (`schedules.named_grid_map`), so grid_map(name)(k/N) is make_grid(name, N) at every point.
GRID_MAPS: dict[str, Callable[[AbstractSchedule, float], GridMap]] = {
    name: (lambda schedule, rho, name=name: named_grid_map(name, schedule, rho))
    for name in MAPPED_GRIDS  # the table-built grids have no continuous map
}


def grid_map(grid: str | GridMap, schedule: AbstractSchedule, rho: float = 7.0) -> GridMap:
    """The continuous map u in [0, 1] -> t of a named grid (`GRID_MAPS`), or `grid` itself
    when it is already a callable map (it must be JAX-differentiable, decreasing, with
    tau(0) = t_max and tau(1) = t_min)."""
    if isinstance(grid, str):
        if grid not in GRID_MAPS:
            raise ValueError(f"unknown grid {grid!r}; allowed: {', '.join(GRID_MAPS)}")
        if not (np.isfinite(rho) and rho > 0):
            raise ValueError(f"rho must be a finite number > 0, got {rho!r}")
        return GRID_MAPS[grid](schedule, float(rho))
    if not callable(grid):
        raise ValueError(f"grid must be a grid name ({', '.join(GRID_MAPS)}) or a map u -> t, "
                         f"got {grid!r}")
    u = jnp.linspace(0.0, 1.0, 65)
    t = np.asarray(jax.vmap(grid)(u), float)
    span = schedule.t_max - schedule.t_min
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) >= 0):
        raise ValueError("a grid map must be finite and strictly decreasing on [0, 1]")
    if abs(t[0] - schedule.t_max) > 1e-9 * span or abs(t[-1] - schedule.t_min) > 1e-9 * span:
        raise ValueError(f"a grid map must send 0 to t_max = {schedule.t_max!r} and 1 to "
                         f"t_min = {schedule.t_min!r}, got {t[0]!r} and {t[-1]!r}")
    return grid


def grid_from_map(tau: GridMap, schedule: AbstractSchedule, n_steps: int) -> Array:
    """The N-step grid tau(k/N), k = 0..N, end points pinned to t_max and t_min."""
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"number of steps must be an integer >= 1, got {n_steps!r}")
    t = jax.vmap(tau)(jnp.arange(int(n_steps) + 1, dtype=float) / n_steps)
    return validate_grid(schedule, t.at[0].set(schedule.t_max).at[-1].set(schedule.t_min))


# ---------------------------------------------------------------------------------------------
# The integrand and its quadrature.

_GL_HI = np.polynomial.legendre.leggauss(15)
_GL_LO = np.polynomial.legendre.leggauss(7)
_GL_INNER = np.polynomial.legendre.leggauss(16)
_INNER_PANELS = 12


def _marginal_variance(schedule, lam):
    return lambda t: schedule.alpha(t) ** 2 * lam + schedule.sigma(t) ** 2


def _log_p(schedule, eta, lam, t):
    """log P(t) = -2 int_{t_min}^t c (closed form for constant eta; inner quadrature else)."""
    m = _marginal_variance(schedule, lam)
    log_m_ratio = jnp.log(m(schedule.t_min)) - jnp.log(m(t))
    if not callable(eta):
        log_alpha = jnp.log(schedule.alpha(t)) - jnp.log(schedule.alpha(schedule.t_min))
        return (1.0 + eta) * log_m_ratio + 2.0 * eta * log_alpha
    # int_{t_min}^t eta d(phi), phi = log1p(n^2/lam), in the variable l = log n: there t(l) is
    # smooth for every schedule (phi itself puts a square-root branch point next to t_min for
    # VP) and d(phi)/dl = 2 / (1 + lam e^{-2l}) is a logistic step of width O(1).
    lo, hi = jnp.log(schedule.noise_level(schedule.t_min)), jnp.log(schedule.noise_level(t))
    edges = lo + (hi - lo) * jnp.arange(_INNER_PANELS + 1) / _INNER_PANELS
    x, w = (jnp.asarray(a) for a in _GL_INNER)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    nodes = mid[:, None] + half[:, None] * x
    times = schedule.t_from_noise_level(jnp.exp(nodes))
    dphi = 2.0 / (1.0 + lam * jnp.exp(-2.0 * nodes))
    return log_m_ratio - jnp.sum(half[:, None] * w * eta(times.ravel()).reshape(nodes.shape) * dphi)


def _local_error_density(schedule, eta, lam, t):
    """L(t) = c^2 m - m''/2, the leading local error of one EM step on the variance."""
    m = _marginal_variance(schedule, lam)
    m_t = m(t)
    m_dd = jax.grad(jax.grad(m))(t)
    e = eta(t) if callable(eta) else eta
    c = schedule.f(t) + 0.5 * (1.0 + e) * schedule.g2(t) / m_t
    return c**2 * m_t - 0.5 * m_dd


def _integrand(schedule, tau, eta, lam, u):
    t, dt = jax.jvp(tau, (u,), (jnp.ones_like(u),))
    return _local_error_density(schedule, eta, lam, t) * jnp.exp(_log_p(schedule, eta, lam, t)) * dt**2


_RULES: dict = {}


def _panel_rule(schedule, grid, rho, eta):
    """A jitted function (lam, a, b) -> (Q15, Q7, Q15 of |f|) on batches of intervals.

    Compiled once per (schedule, grid, rho, kind of eta) and cached; a constant eta is a
    runtime argument, so scanning eta (root finding, figures) does not recompile."""
    key = (schedule, grid, float(rho), eta if callable(eta) else None)
    try:
        compiled = _RULES.get(key)
    except TypeError:  # an unhashable user object: no caching
        key, compiled = None, None
    if compiled is None:
        tau = grid_map(grid, schedule, rho)
        xh, wh = (jnp.asarray(a) for a in _GL_HI)
        xl, wl = (jnp.asarray(a) for a in _GL_LO)

        @jax.jit
        def compiled(lam, a, b, eta_value):
            e = eta if callable(eta) else eta_value
            point = jax.vmap(jax.vmap(lambda lam, u: _integrand(schedule, tau, e, lam, u),
                                      in_axes=(None, 0)), in_axes=(0, 0))
            mid, half = (a + b) / 2, (b - a) / 2
            fh = point(lam, mid[:, None] + half[:, None] * xh)
            fl = point(lam, mid[:, None] + half[:, None] * xl)
            return half * (fh @ wh), half * (fl @ wl), half * (jnp.abs(fh) @ wh)

        if key is not None:
            if len(_RULES) > 64:
                _RULES.clear()
            _RULES[key] = compiled
    eta_value = jnp.asarray(0.0 if callable(eta) else eta, float)
    return lambda lam, a, b: compiled(lam, a, b, eta_value)


def _padded(n: int) -> int:
    return max(64, 1 << (int(n) - 1).bit_length())


def _check_eta_nonnegative(eta, tau) -> None:
    if not callable(eta):
        if not (np.isfinite(eta) and eta >= 0):
            raise ValueError(f"eta must be a finite number >= 0 (or a function of t), got {eta!r}")
        return
    t = jax.vmap(tau)(jnp.linspace(0.0, 1.0, 2049))
    values = np.asarray(eta(t), float)
    bad = ~np.isfinite(values) | (values < 0)
    if np.any(bad):
        k = int(np.argmax(bad))
        raise ValueError(f"eta(t) must be finite and >= 0 on [t_min, t_max], got "
                         f"eta({float(t[k])!r}) = {float(values[k])!r}")


def _adaptive_quadrature(rule, lam: np.ndarray, rtol: float, atol: np.ndarray,
                         max_rounds: int = 60, max_intervals: int = 400_000):
    """Locally adaptive Gauss–Legendre (7/15-point pairs) on [0, 1], one integral per
    eigenvalue, all eigenvalues in one batch. An interval is accepted when its error
    estimate |Q15 - Q7| is below tol * width, tol = max(rtol |I|, atol, 1e-13 int|f|)
    (the last term: the round-off floor where I cancels). Returns (I, error, int |f|)."""
    d = lam.size
    k0 = 16
    idx = np.repeat(np.arange(d), k0)
    a = np.tile(np.arange(k0) / k0, d)
    b = a + 1.0 / k0
    total = np.zeros(d)
    error = np.zeros(d)
    absolute = np.zeros(d)
    for _ in range(max_rounds):
        n = idx.size
        size = _padded(n)
        pad = size - n
        q_hi, q_lo, q_abs = (np.asarray(x)[:n] for x in rule(
            jnp.asarray(np.concatenate([lam[idx], np.ones(pad)])),
            jnp.asarray(np.concatenate([a, np.zeros(pad)])),
            jnp.asarray(np.concatenate([b, np.full(pad, 1.0 / k0)]))))
        if not (np.all(np.isfinite(q_hi)) and np.all(np.isfinite(q_lo))):
            k = int(idx[np.argmax(~np.isfinite(q_hi) | ~np.isfinite(q_lo))])
            raise ValueError(f"the first-order integrand is not finite for eigenvalue "
                             f"{float(lam[k])!r} (schedule, grid or eta out of range)")
        err = np.abs(q_hi - q_lo)
        est = total + np.bincount(idx, q_hi, d)
        est_abs = absolute + np.bincount(idx, q_abs, d)
        tol = np.maximum(np.maximum(rtol * np.abs(est), atol), 1e-13 * est_abs)
        width = b - a
        # A margin of 4: the |I| estimate, hence tol, moves as intervals are refined.
        done = (err <= 0.25 * tol[idx] * width) | (width < 1e-15)
        total += np.bincount(idx[done], q_hi[done], d)
        error += np.bincount(idx[done], err[done], d)
        absolute += np.bincount(idx[done], q_abs[done], d)
        idx, a, b = idx[~done], a[~done], b[~done]
        if idx.size == 0:
            break
        mid = (a + b) / 2
        idx, a, b = np.repeat(idx, 2), np.ravel(np.c_[a, mid]), np.ravel(np.c_[mid, b])
        if idx.size > max_intervals:
            break
    if idx.size:  # out of rounds or memory: keep the last estimates, the check below reports
        q_hi, q_lo, q_abs = (np.asarray(x) for x in rule(jnp.asarray(lam[idx]), jnp.asarray(a),
                                                         jnp.asarray(b)))
        total += np.bincount(idx, q_hi, d)
        error += np.bincount(idx, np.abs(q_hi - q_lo), d)
        absolute += np.bincount(idx, q_abs, d)
    return total, error, absolute


@dataclasses.dataclass(frozen=True)
class Expansion:
    """First-order constants of the EM discretization error for a spectrum ([GEO]).

    `I[i]`: N (v_N - m_i(t_min)) -> I[i]; `I_error`: the quadrature's error estimate;
    `m_tmin`: the exact variances at t_min; `frechet_constant` = sum I^2 / (4 m(t_min))
    (N^2 W2^2 -> it); `weak_trace_constant` = sum I (N x the weak error of |x|^2 -> it).
    """

    eigenvalues: list[float]
    I: list[float]
    I_error: list[float]
    m_tmin: list[float]
    frechet_constant: float
    weak_trace_constant: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def frechet_kernel(self) -> np.ndarray:
        """Per-eigenvalue contribution I^2 / (4 m(t_min)) to the Fréchet constant."""
        return np.asarray(self.I) ** 2 / (4 * np.asarray(self.m_tmin))


def first_order_constant(schedule: AbstractSchedule, eigenvalues, *, grid: str | GridMap = "edm",
                         rho: float = 7.0, eta: float | Callable = 0.0, rtol: float = 1e-8,
                         atol: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """I(lambda) for each eigenvalue, by adaptive quadrature in the grid variable u.

    `grid` is a grid name (`GRID_MAPS`; `rho` for "edm") or a map u -> t; `eta` a number
    >= 0 or a function eta(t) >= 0. Returns (I, error estimate). Raises ValueError when the
    error estimate does not reach max(rtol |I|, atol) (with the accuracy achieved); `atol`
    defaults to 1e-12 m(t_min) per eigenvalue (I is a variance error times N, so this is
    the scale below which I is zero to round-off, e.g. VP with lambda = 1 and eta = 0).
    """
    lam = check_spectrum(eigenvalues, "eigenvalues")
    if atol is None:
        atol = 1e-12 * _marginals_at_tmin(schedule, lam)
    atol = np.broadcast_to(np.asarray(atol, float), lam.shape)
    if not (0 < rtol < 1):
        raise ValueError(f"rtol must be in (0, 1), got {rtol!r}")
    tau = grid_map(grid, schedule, rho)
    _check_eta_nonnegative(eta, tau)
    eta_value = eta if callable(eta) else float(eta)
    rule = _panel_rule(schedule, grid, rho, eta_value)
    total, error, absolute = _adaptive_quadrature(rule, lam, rtol, atol)
    allowed = np.maximum(np.maximum(rtol * np.abs(total), atol), 1e-13 * absolute)
    bad = error > allowed
    if np.any(bad):
        k = int(np.argmax(error / allowed))
        raise ValueError(
            f"the first-order integral for eigenvalue {float(lam[k])!r} did not reach the "
            f"requested tolerance: achieved error {float(error[k]):.3g} on I = {float(total[k]):.6g} "
            f"(relative {float(error[k] / max(abs(total[k]), 1e-300)):.3g}), requested rtol {rtol!r}")
    return total, error


def frechet_constant(I, m_tmin) -> float:
    """sum_i I_i^2 / (4 m_i(t_min)): N^2 W2^2 -> this constant (commuting case, [GEO])."""
    I, m = np.asarray(I, float), np.asarray(m_tmin, float)
    return float(np.sum(I**2 / (4.0 * m)))


def weak_constant(I, test_matrix=None, eigenvectors=None) -> float:
    """sum_i (U^T Q U)_ii I_i: N x (E x^T Q x under the sampler - under the exact law) -> this.
    Q = I (the trace) by default; U = identity by default."""
    I = np.asarray(I, float)
    if test_matrix is None:
        return float(np.sum(I))
    q = np.asarray(test_matrix, float)
    if q.shape != (I.size, I.size):
        raise ValueError(f"test matrix must have shape ({I.size}, {I.size}), got {q.shape}")
    u = np.eye(I.size) if eigenvectors is None else np.asarray(eigenvectors, float)
    return float(np.sum(np.einsum("ji,jk,ki->i", u, q, u) * I))


def bures_first_order(cov_error, reference_cov, mean_error=None) -> float:
    r"""The quadratic form of W2^2 to second order for a small, non-commuting perturbation:
    W2^2(N(m + a, S + B), N(m, S)) = |a|^2 + 1/2 sum_ij Btilde_ij^2/(l_i + l_j) + o(|a|^2 + |B|^2),
    S = U diag(l) U^T, Btilde = U^T B U ([GEO]; reduces to sum I_i^2 / (4 l_i) when diagonal)."""
    s = np.asarray(reference_cov, float)
    b = np.asarray(cov_error, float)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or b.shape != s.shape:
        raise ValueError(f"cov_error and reference_cov must be square of one shape, got "
                         f"{b.shape} and {s.shape}")
    lam, u = np.linalg.eigh(s)
    if np.any(lam <= 0):
        raise ValueError(f"reference covariance must be positive definite, smallest eigenvalue "
                         f"{float(lam.min())!r}")
    bt = u.T @ ((b + b.T) / 2) @ u
    value = 0.5 * np.sum(bt**2 / (lam[:, None] + lam[None, :]))
    if mean_error is not None:
        value += float(np.sum(np.asarray(mean_error, float) ** 2))
    return float(value)


def _marginals_at_tmin(schedule, lam):
    return np.asarray(schedule.alpha(schedule.t_min) ** 2 * lam + schedule.sigma(schedule.t_min) ** 2)


def expansion(schedule: AbstractSchedule, eigenvalues, *, grid: str | GridMap = "edm",
              rho: float = 7.0, eta: float | Callable = 0.0, rtol: float = 1e-8) -> Expansion:
    """First-order constants (I per eigenvalue, Fréchet and weak-trace constants) for centred
    Gaussian data with covariance eigenvalues `eigenvalues`, Euler–Maruyama on `grid`."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    I, err = first_order_constant(schedule, lam, grid=grid, rho=rho, eta=eta, rtol=rtol)
    m = _marginals_at_tmin(schedule, lam)
    return Expansion(eigenvalues=lam.tolist(), I=I.tolist(), I_error=err.tolist(),
                     m_tmin=m.tolist(), frechet_constant=frechet_constant(I, m),
                     weak_trace_constant=weak_constant(I))


# ---------------------------------------------------------------------------------------------
# Second route: Richardson extrapolation of the exact errors.


def exact_scaled_errors(schedule: AbstractSchedule, eigenvalues, steps: Sequence[int], *,
                        grid: str | GridMap = "edm", rho: float = 7.0, eta=0.0,
                        solver="euler") -> np.ndarray:
    """N (v_N - m(t_min)) per eigenvalue (columns) for each N in `steps` (rows), from the
    exact law of the sampler started at the exact marginal at t_max."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    tau = grid_map(grid, schedule, rho)
    target = GaussianTarget(lam)
    solver = make_solver(solver) if isinstance(solver, str) else solver
    start = target.marginal_in_eigenbasis(schedule, schedule.t_max)
    m = _marginals_at_tmin(schedule, lam)
    rows = []
    for n in steps:
        g = grid_from_map(tau, schedule, n)
        law = check_finite_law(exact_law_per_direction(target, schedule, eta, g, solver, start),
                               f"N = {n} steps")
        rows.append(n * (np.asarray(law.cov) - m))
    return np.array(rows)


def richardson_constant(schedule: AbstractSchedule, eigenvalues, *, grid: str | GridMap = "edm",
                        rho: float = 7.0, eta=0.0, steps: Sequence[int] = (200, 400, 800, 1600),
                        solver="euler") -> tuple[np.ndarray, np.ndarray]:
    """I(lambda) by Richardson extrapolation of e_N = N (v_N - m(t_min)) = I + a/N + b/N^2 + ...
    over N doubling in `steps`. Returns (estimate, |last - previous diagonal entry|)."""
    steps = [int(n) for n in steps]
    if len(steps) < 2 or any(b != 2 * a for a, b in zip(steps, steps[1:], strict=False)):
        raise ValueError(f"Richardson steps must double (e.g. 200, 400, 800), got {steps!r}")
    e = exact_scaled_errors(schedule, eigenvalues, steps, grid=grid, rho=rho, eta=eta,
                            solver=solver)
    table = [e[0]]
    diag = [e[0]]
    for k in range(1, len(steps)):
        row = [e[k]]
        for j in range(1, k + 1):
            row.append((2**j * row[j - 1] - table[j - 1]) / (2**j - 1))
        table = row
        diag.append(row[-1])
    return diag[-1], np.abs(diag[-1] - diag[-2])


def compare_routes(schedule: AbstractSchedule, eigenvalues, *, grid: str | GridMap = "edm",
                   rho: float = 7.0, eta=0.0, steps: Sequence[int] = (200, 400, 800, 1600)) -> dict:
    """Quadrature and Richardson routes side by side: I from each, their relative
    difference per eigenvalue and the largest one, and the Fréchet constants."""
    lam = check_spectrum(eigenvalues, "eigenvalues")
    quad, quad_err = first_order_constant(schedule, lam, grid=grid, rho=rho, eta=eta)
    rich, rich_err = richardson_constant(schedule, lam, grid=grid, rho=rho, eta=eta, steps=steps)
    m = _marginals_at_tmin(schedule, lam)
    # Relative to |I|, floored at 1e-8 m(t_min) so that an I that is zero (VP, lambda = 1,
    # eta = 0) compares as an absolute difference instead of a ratio of round-off.
    rel = np.abs(quad - rich) / np.maximum(np.abs(quad), 1e-8 * m)
    return {"eigenvalues": lam.tolist(), "I_quadrature": quad.tolist(),
            "I_quadrature_error": quad_err.tolist(), "I_richardson": rich.tolist(),
            "I_richardson_error": rich_err.tolist(), "relative_difference": rel.tolist(),
            "max_relative_difference": float(rel.max()),
            "frechet_quadrature": frechet_constant(quad, m),
            "frechet_richardson": frechet_constant(rich, m)}


def predicted_w2sq(exp: Expansion, n_steps) -> np.ndarray:
    """First-order prediction of the Fréchet error, frechet_constant / N^2."""
    return exp.frechet_constant / np.asarray(n_steps, float) ** 2

