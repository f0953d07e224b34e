r"""Closed forms of the first-order constants (MATH.md section 3; derived here, checked against
the quadrature of `analysis.first_order_constant`).

All are asymptotic forms of the relative constant rbar = I(lambda)/lambda, i.e.
(v_N - lambda)/lambda ~ rbar/N, for the EDM schedule (alpha = 1, sigma = t) or the
variance-time schedule (alpha = 1, sigma^2 = t), in the regime t_min << sqrt(lambda) << t_max
where the end points stop mattering. [GEO] states the first-order expansion these come from;
the explicit integrals below are ours.
"""

import numpy as np
from scipy.special import beta as _beta


def _positive(name: str, value) -> np.ndarray:
    arr = np.asarray(value, float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return arr


def _interval(t_min, t_max) -> tuple[float, float]:
    t_min, t_max = float(_positive("t_min", t_min)), float(_positive("t_max", t_max))
    if not t_min < t_max:
        raise ValueError(f"need t_min < t_max, got {t_min!r} and {t_max!r}")
    return t_min, t_max


def _eta(eta) -> np.ndarray:
    arr = np.asarray(eta, float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"eta must be finite and >= 0, got {eta!r}")
    return arr


def rho_grid_factor(eta, rho):
    r"""J(eta, rho) = 1/2 B(1 - a, eta + a) [(1 + eta)(1 - a) - 1], a = 1/(2 rho) (B: Euler beta)."""
    eta, rho = _eta(eta), _positive("rho", rho)
    a = 1.0 / (2.0 * rho)
    return 0.5 * _beta(1.0 - a, eta + a) * ((1.0 + eta) * (1.0 - a) - 1.0)


def edm_rho_relative_constant(lam, *, rho=7.0, eta=0.0, t_min=0.002, t_max=80.0):
    r"""EDM schedule, rho-grid, any eta: rbar = rho Delta lambda^{-1/(2 rho)} J(eta, rho),
    Delta = t_max^{1/rho} - t_min^{1/rho} (derived here; valid for t_min << sqrt(lambda) << t_max)."""
    lam, rho = _positive("lambda", lam), _positive("rho", rho)
    t_min, t_max = _interval(t_min, t_max)
    delta = t_max ** (1.0 / rho) - t_min ** (1.0 / rho)
    return rho * delta * lam ** (-1.0 / (2.0 * rho)) * rho_grid_factor(eta, rho)


def cancelling_eta(rho):
    r"""eta* = 1/(2 rho - 1): the eta at which J(eta, rho) = 0, so the first-order error of the
    rho-grid cancels in the limit t_min -> 0, t_max -> infinity (derived here)."""
    rho = _positive("rho", rho)
    if np.any(rho <= 0.5):
        raise ValueError(f"eta* = 1/(2 rho - 1) needs rho > 1/2, got {rho!r}")
    return 1.0 / (2.0 * rho - 1.0)


def edm_uniform_relative_constant(lam, t_max=80.0):
    r"""EDM PF-ODE on the uniform sigma-grid: rbar = -(pi/4) t_max / sqrt(lambda) (derived here)."""
    lam = _positive("lambda", lam)
    return -(np.pi / 4.0) * float(_positive("t_max", t_max)) / np.sqrt(lam)


def edm_geometric_relative_constant(t_min=0.002, t_max=80.0):
    r"""EDM PF-ODE on the geometric grid: rbar = -(1/2) log(t_max / t_min), the same for every
    lambda (derived here)."""
    t_min, t_max = _interval(t_min, t_max)
    return -0.5 * np.log(t_max / t_min)


def variance_time_relative_constant(lam, *, t_min, t_max, eta):
    r"""Variance time (alpha = 1, sigma^2 = t), geometric grid from T = t_max down to
    delta = t_min: reverse SDE (eta = 1) rbar = 1/2 log(T/delta) for every lambda; PF-ODE
    (eta = 0) rbar = 1/4 log(T/delta) (log(T/lambda) - 1) (derived here; delta << lambda << T)."""
    lam = _positive("lambda", lam)
    t_min, t_max = _interval(t_min, t_max)
    span = np.log(t_max / t_min)
    if eta == 1:
        return 0.5 * span * np.ones_like(lam)
    if eta == 0:
        return 0.25 * span * (np.log(t_max / lam) - 1.0)
    raise ValueError(f"the variance-time closed form is known for eta = 0 or 1, got {eta!r}")


def sharp_w2_rate(trace_cov, n_steps):
    r"""W2 ~ (5/8) sqrt(tr Sigma) log N / N: the reverse SDE in variance time on the geometric
    grid with T ~ sqrt(N), delta ~ N^-2 (rbar = 1/2 log(T/delta) = (5/4) log N), as published
    by Perbost, Bach & Marion (2026); reproduced here from the first-order expansion."""
    trace_cov = float(_positive("trace of the covariance", trace_cov))
    n = _positive("N", n_steps)
    return 0.625 * np.sqrt(trace_cov) * np.log(n) / n


def first_order_cancelling_eta(schedule, lam: float, *, grid="edm", rho: float = 7.0,
                               bracket=(0.0, 2.0), xtol: float = 1e-10) -> float:
    r"""The eta in `bracket` at which I(lambda; eta) = 0 for a finite schedule interval, by
    Brent's method on the quadrature. With finite t_min, t_max it drifts with lambda away from
    the limit 1/(2 rho - 1) (EDM, rho = 7: 0.080 ... 0.158 for lambda = 1e-4 ... 10), so the
    best eta depends on the spectrum. Raises ValueError when I has one sign on the bracket."""
    from scipy.optimize import brentq

    from ._expansion import first_order_constant

    value = lambda e: float(first_order_constant(schedule, [lam], grid=grid, rho=rho, eta=e)[0][0])
    lo, hi = float(bracket[0]), float(bracket[1])
    f_lo, f_hi = value(lo), value(hi)
    if f_lo * f_hi > 0:
        raise ValueError(f"I(lambda = {lam!r}) has one sign for eta in [{lo!r}, {hi!r}] "
                         f"({f_lo:.4g}, {f_hi:.4g}): no first-order cancellation there")
    return float(brentq(value, lo, hi, xtol=xtol))
