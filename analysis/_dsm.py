r"""Denoising score matching then Langevin: the W2 error of the whole pipeline for Gaussian
data ([DSM], MATH.md section 4).

Pipeline. Training set x_1..x_N ~ N(mu, Sigma), Sigma = U diag(lambda) U^T; empirical mean
xbar and covariance Sigma_hat (1/N). The linear (or affine) denoiser that minimises the DSM
loss E|x - D(x + sigma w)|^2 on the training set gives exactly the score of
N(xbar, Sigma_hat + sigma^2 I). ULA x+ = x + tau s(x) + sqrt(2 tau) z driven by that score is
stable iff 0 <= tau < 2 (mu_min(Sigma_hat) + sigma^2), and in an eigendirection of Sigma_hat
with eigenvalue mu its variance obeys c+ = rho^2 c + 2 tau, rho = 1 - tau/(mu + sigma^2), so

    g(mu) = (mu + sigma^2)^2 / (mu + sigma^2 - tau/2)
          = mu + sigma^2 + tau/2 + (tau/2)^2 / (mu + p),      p = sigma^2 - tau/2,
    c_K   = rho^(2K) c_0 + (1 - rho^(2K)) g(mu).

The sampler's stationary law is N(xbar, g(Sigma_hat)); its error is W2^2 to N(mu, Sigma).

- Population error (N = infinity): sum_i k(lambda_i), k(lambda) = (sqrt(lambda) - sqrt(g(lambda)))^2.
- First order in 1/N (known mean, Sigma_hat = X^T X / N, H = Sigma_hat - Sigma,
  E H_ij^2 = (l_i l_j + delta_ij l_i^2)/N in the eigenbasis):
      E W2^2 = sum_i k(l_i) + V1/N + O(N^-2),
      V1 = sum_ij (l_i l_j + delta_ij l_i^2) [K(l_i, l_j) + L(l_i, l_j)],
      K(a, b) = sqrt(ab) g1(a,b)^2 / (2 sqrt(g(a) g(b)) (sqrt(a g(a)) + sqrt(b g(b)))),
      L(a, b) = (1 - sqrt(a/g(a))) g2(a, b, a),
  with the divided differences of g, g1(a,b) = 1 - (tau/2)^2/((a+p)(b+p)) and
  g2(a,b,c) = (tau/2)^2/((a+p)(b+p)(c+p)). Derived here and checked against Monte Carlo over
  data sets (tests/analysis/test_dsm.py): MATH.md's K and L are right. With Sigma diagonal,
  the Daleckii–Krein expansion g(Sigma + H)_ij = g(l_i) delta_ij + g1(l_i, l_j) H_ij
  + sum_k g2(l_i, l_k, l_j) H_ik H_kj + ... fed into W2^2 = tr G + tr Sigma
  - 2 tr (Sigma^1/2 G Sigma^1/2)^1/2: K is the curvature of the square-root trace along the
  first-order part of G (divided difference of x^-1/2 at l_i g(l_i), l_j g(l_j)), L is the
  second-order part of G met by the first derivative 1 - sqrt(l_i/g(l_i)) of W2^2 in G_ii.
  sigma = tau = 0 gives V1 = sum_ij l_i l_j / (2(l_i + l_j)) + 1/4 sum_i l_i (d(d+1)/4 for I).
- Affine model (estimated mean, 1/N covariance): E|xbar - mu|^2 = tr Sigma / N and
  E Sigma_hat = (1 - 1/N) Sigma add  sum_i l_i - sum_i (1 - sqrt(l_i/g(l_i))) g'(l_i) l_i  to V1
  (derived here; same checks; with a 1/(N-1) covariance only sum_i l_i would remain).
- Diagonal model (denoiser diagonal in the known eigenbasis): lambda_hat_i ~ lambda_i chi^2_N / N,
  independent, so E W2^2 = sum_i E (sqrt(lambda_i) - sqrt(g(lambda_hat_i)))^2, 1-D Gamma(N/2)
  integrals done by a generalised Gauss–Laguerre rule (parameter N/2 - 1), written in the
  standardised variable so that it stays accurate for any N, with a trapezoid rule in
  log(lambda_hat) as the second route where Gauss converges slowly (small N).
- SGD on the DSM loss, one scalar direction, online, loss (x - theta y)^2 with y = x + sigma w
  and theta+ = theta - gamma d/dtheta loss: E theta_inf = lambda/a,
  Var theta_inf = gamma lambda sigma^2 / (a (1 - 3 gamma a)), a = lambda + sigma^2, needs
  gamma < 1/(3a) (MATH.md; the moment recursions of `dsm_sgd_moments` are derived here).
"""

import dataclasses
import functools
import math

import numpy as np
import scipy.linalg

from schedules._errors import as_float_array, check_finite_scalar

from ._spectra import check_spectrum

# ---------------------------------------------------------------------------------------------
# Validation.


def _nonnegative_scalar(name: str, value) -> float:
    v = check_finite_scalar(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v!r}")
    return v


def _noise_and_step(sigma, tau) -> tuple[float, float]:
    return _nonnegative_scalar("noise level sigma", sigma), _nonnegative_scalar("step size tau", tau)


def _nonnegative_array(name: str, value) -> np.ndarray:
    arr = as_float_array(name, value)
    if np.any(arr < 0):
        bad = float(arr[arr < 0].ravel()[0])
        raise ValueError(f"{name} must be >= 0, got {bad!r}")
    return arr


def _positive_array(name: str, value) -> np.ndarray:
    arr = as_float_array(name, value)
    if np.any(arr <= 0):
        bad = float(arr[arr <= 0].ravel()[0])
        raise ValueError(f"{name} must be > 0, got {bad!r}")
    return arr


def _check_stable(mu_min: float, sigma: float, tau: float, what: str) -> None:
    bound = 2.0 * (mu_min + sigma**2)
    if bound == 0.0:
        raise ValueError(f"{what} + sigma^2 = 0: the learned score is singular and no step size "
                         f"tau >= 0 is stable (the stability bound is 2 ({what} + sigma^2) = 0.0)")
    if not tau < bound:
        raise ValueError(f"step size tau = {tau!r} is at or above the stability bound "
                         f"tau_max = 2 ({what} + sigma^2) = {bound!r}: ULA with the learned "
                         f"score diverges (need 0 <= tau < tau_max)")


def _integer_at_least(name: str, value, minimum: int) -> int:
    ok = not isinstance(value, bool)
    try:
        ok = ok and int(value) == value
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _n_samples(n_samples) -> int:
    return _integer_at_least("n_samples", n_samples, 2)


def _n_steps(n_steps) -> int:
    return _integer_at_least("n_steps", n_steps, 0)


def _out(x: np.ndarray):
    return float(x) if np.ndim(x) == 0 else x


# ---------------------------------------------------------------------------------------------
# The stationary variance and its divided differences (no stability checks: callers check).


def _g(mu, sigma, tau):
    p = sigma**2 - tau / 2.0
    return mu + sigma**2 + tau / 2.0 + (tau / 2.0) ** 2 / (mu + p)


def _g_prime(mu, sigma, tau):
    p = sigma**2 - tau / 2.0
    return 1.0 - (tau / 2.0) ** 2 / (mu + p) ** 2


def _sqrt_gap(lam, mu, sigma, tau):
    """sqrt(lam) - sqrt(g(mu)) without cancellation: (lam - g)/(sqrt(lam) + sqrt(g)), with
    lam - g = (lam - mu) - sigma^2 - tau/2 - (tau/2)^2/(mu + p) formed from its parts."""
    p = sigma**2 - tau / 2.0
    diff = (lam - mu) - sigma**2 - tau / 2.0 - (tau / 2.0) ** 2 / (mu + p)
    return diff / (np.sqrt(lam) + np.sqrt(_g(mu, sigma, tau)))


def dsm_stability_bound(mu_min, sigma):
    r"""tau_max = 2 (mu_min + sigma^2): ULA driven by the learned score of
    N(xbar, Sigma_hat + sigma^2 I) is stable iff 0 <= tau < tau_max, mu_min the smallest
    eigenvalue of Sigma_hat ([DSM], MATH.md section 4). Elementwise in mu_min (>= 0)."""
    mu_min = _nonnegative_array("smallest eigenvalue mu_min", mu_min)
    sigma = _nonnegative_scalar("noise level sigma", sigma)
    return _out(2.0 * (mu_min + sigma**2))


def dsm_stationary_variance(mu, sigma, tau):
    r"""g(mu) = (mu + sigma^2)^2 / (mu + sigma^2 - tau/2), elementwise ([DSM], MATH.md section 4).

    The stationary variance of ULA x+ = x + tau s(x) + sqrt(2 tau) z driven by the learned
    score of N(xbar, Sigma_hat + sigma^2 I), in an eigendirection of Sigma_hat with eigenvalue
    mu. mu may be 0 (a rank-deficient Sigma_hat, e.g. N < d) when sigma > 0: what is needed is
    the stability condition 0 <= tau < 2 (min mu + sigma^2), which also rules out
    mu + sigma^2 = 0. tau = 0 gives mu + sigma^2, the law of the learned score itself.
    Raises ValueError for negative or non-finite mu, sigma, tau, or tau at/above the bound.
    """
    mu = _nonnegative_array("eigenvalue mu", mu)
    sigma, tau = _noise_and_step(sigma, tau)
    if mu.size:
        _check_stable(float(np.min(mu)), sigma, tau, "mu_min")
    return _out(_g(mu, sigma, tau))


def dsm_variance_after(c0, mu, sigma, tau, n_steps):
    r"""c_K = rho^(2K) c0 + (1 - rho^(2K)) g(mu), rho = 1 - tau/(mu + sigma^2): the variance after
    K = n_steps ULA steps from variance c0 in an eigendirection of Sigma_hat ([DSM], MATH.md
    section 4). Elementwise in c0 (>= 0) and mu (broadcast); same checks as
    `dsm_stationary_variance`, n_steps an integer >= 0."""
    c0 = _nonnegative_array("initial variance c0", c0)
    mu = _nonnegative_array("eigenvalue mu", mu)
    sigma, tau = _noise_and_step(sigma, tau)
    k = _n_steps(n_steps)
    if mu.size:
        _check_stable(float(np.min(mu)), sigma, tau, "mu_min")
    rho = 1.0 - tau / (mu + sigma**2)
    r2k = rho ** (2 * k)
    return _out(r2k * c0 + (1.0 - r2k) * _g(mu, sigma, tau))


# ---------------------------------------------------------------------------------------------
# Population error and the first-order (finite N) term.


def _population(eigenvalues, sigma, tau, where="eigenvalues"):
    lam = check_spectrum(eigenvalues, where)
    sigma, tau = _noise_and_step(sigma, tau)
    _check_stable(float(np.min(lam)), sigma, tau, "lambda_min")
    return lam, sigma, tau


def dsm_population_kernel(lam, sigma, tau):
    r"""k(lambda) = (sqrt(lambda) - sqrt(g(lambda)))^2, elementwise: the N = infinity error of one
    eigendirection ([DSM]); ~ (sigma^2 + tau/2)^2 / (4 lambda) for lambda >> sigma^2, tau, so
    small eigenvalues dominate. lam > 0, tau below 2 (min lam + sigma^2)."""
    lam = _positive_array("eigenvalue lambda", lam)
    sigma, tau = _noise_and_step(sigma, tau)
    if lam.size:
        _check_stable(float(np.min(lam)), sigma, tau, "lambda_min")
    return _out(_sqrt_gap(lam, lam, sigma, tau) ** 2)


def dsm_population_error(eigenvalues, sigma, tau) -> float:
    r"""sum_i k(lambda_i): W2^2 between N(mu, g(Sigma)) and N(mu, Sigma), the error with infinite
    data ([DSM], MATH.md section 4)."""
    lam, sigma, tau = _population(eigenvalues, sigma, tau)
    return float(np.sum(_sqrt_gap(lam, lam, sigma, tau) ** 2))


def _first_order_matrix(lam, sigma, tau) -> np.ndarray:
    """(l_i l_j + delta_ij l_i^2) [K(l_i, l_j) + L(l_i, l_j)] as a (d, d) array."""
    p = sigma**2 - tau / 2.0
    q = (tau / 2.0) ** 2
    g = _g(lam, sigma, tau)
    a, b = lam[:, None], lam[None, :]
    ga, gb = g[:, None], g[None, :]
    sa, sb = (lam + p)[:, None], (lam + p)[None, :]
    g1 = 1.0 - q / (sa * sb)
    g2_aba = q / (sa * sa * sb)
    k = np.sqrt(a * b) * g1**2 / (2.0 * np.sqrt(ga * gb) * (np.sqrt(a * ga) + np.sqrt(b * gb)))
    # 1 - sqrt(a/g(a)) = -(sqrt(a) - sqrt(g(a)))/sqrt(g(a)), without cancellation.
    one_minus = -_sqrt_gap(lam, lam, sigma, tau)[:, None] / np.sqrt(ga)
    el = one_minus * g2_aba
    weight = a * b + np.diag(lam**2)
    return weight * (k + el)


def _centred_extra(lam, sigma, tau) -> float:
    one_minus = -_sqrt_gap(lam, lam, sigma, tau) / np.sqrt(_g(lam, sigma, tau))
    return float(np.sum(lam) - np.sum(one_minus * _g_prime(lam, sigma, tau) * lam))


def dsm_first_order(eigenvalues, sigma, tau, centred: bool = False) -> float:
    r"""V1 with E W2^2 = sum_i k(l_i) + V1/N + O(N^-2) ([DSM], MATH.md section 4; derived here).

    V1 = sum_ij (l_i l_j + delta_ij l_i^2) [K(l_i, l_j) + L(l_i, l_j)] (K, L in the module
    docstring): the known-mean model, Sigma_hat = X^T X / N. centred=True is the affine model
    (estimated mean, Sigma_hat with 1/N) and adds sum_i l_i - sum_i (1 - sqrt(l_i/g(l_i)))
    g'(l_i) l_i (the |xbar - mu|^2 term and the -Sigma/N bias of Sigma_hat). Checked against
    Monte Carlo over data sets (tests): MATH.md's formulas hold as written.
    """
    lam, sigma, tau = _population(eigenvalues, sigma, tau)
    v1 = float(np.sum(_first_order_matrix(lam, sigma, tau)))
    return v1 + _centred_extra(lam, sigma, tau) if centred else v1


@dataclasses.dataclass(frozen=True)
class DsmExpansion:
    """The DSM-then-Langevin error to first order in 1/N ([DSM], MATH.md section 4).

    `bias` = sum_i k(lambda_i) (N = infinity), `first_order` = V1, `w2sq_expansion` =
    bias + first_order / n_samples (~ E W2^2 over data sets)."""

    eigenvalues: list[float]
    n_samples: int
    sigma: float
    tau: float
    centred: bool
    bias: float
    first_order: float
    w2sq_expansion: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def dsm_expansion(eigenvalues, n_samples, sigma, tau, centred: bool = False) -> DsmExpansion:
    """`DsmExpansion` of a spectrum: population bias plus the first-order finite-N term."""
    n = _n_samples(n_samples)
    lam, sigma, tau = _population(eigenvalues, sigma, tau)
    bias = dsm_population_error(lam, sigma, tau)
    v1 = dsm_first_order(lam, sigma, tau, centred=bool(centred))
    return DsmExpansion(eigenvalues=[float(x) for x in lam], n_samples=n, sigma=sigma, tau=tau,
                        centred=bool(centred), bias=bias, first_order=v1,
                        w2sq_expansion=bias + v1 / n)


def dsm_best_sigma(eigenvalues, n_samples, tau, centred: bool = False,
                   sigma_max: float = 10.0) -> tuple[float, float]:
    """The noise level sigma minimising bias + V1/N for N = `n_samples` training points and ULA
    step `tau`, and that minimum: bounded Brent in log sigma, above the population stability
    limit sigma^2 > tau/2 - lambda_min. With tau = 0 the optimum falls like N^-1/2; once tau > 0
    and the spectrum has eigenvalues below tau, sigma^2 stalls at a level set by tau ([DSM])."""
    from scipy.optimize import minimize_scalar

    lam = check_spectrum(eigenvalues, "eigenvalues")
    tau = _nonnegative_scalar("step size tau", tau)
    n = _n_samples(n_samples)
    lo = max(1e-6, math.sqrt(max(tau / 2.0 - float(np.min(lam)), 0.0)) * (1.0 + 1e-6))
    if not lo < sigma_max:
        raise ValueError(f"sigma_max = {sigma_max!r} is below the smallest stable noise level "
                         f"{lo:.6g} for tau = {tau!r}")

    def log_error(log_sigma):
        return math.log(dsm_expansion(lam, n, math.exp(log_sigma), tau, centred).w2sq_expansion)

    res = minimize_scalar(log_error, bounds=(math.log(lo), math.log(sigma_max)), method="bounded",
                          options={"xatol": 1e-7})
    return math.exp(res.x), math.exp(res.fun)


# ---------------------------------------------------------------------------------------------
# Diagonal model: Gamma(N/2) integrals by generalised Gauss–Laguerre.

_GAUSS_NODES = (16, 32, 64, 128, 256)
_TRAPEZOID_NODES = (64, 128, 256, 512, 1024, 2048, 4096)
_QUAD_RTOL = 1e-11
_TAIL_LOG = 40.0   # log-density drop at which the trapezoid route truncates (e^-40 ~ 4e-18)


@functools.lru_cache(maxsize=64)
def _gamma_rule(n: int, shape: float) -> tuple[np.ndarray, np.ndarray]:
    """n-point Gauss rule of the Gamma(shape, 1) law in z = (u - shape)/sqrt(shape), weights
    summing to 1 (Golub–Welsch). It is the generalised Gauss–Laguerre rule of parameter
    shape - 1 (scipy's roots_genlaguerre, whose weights overflow past shape ~ 170), with its
    Jacobi matrix (diagonal 2k + shape, off-diagonal sqrt(k (k + shape - 1))) shifted and
    scaled: as shape -> infinity it tends to the Gauss–Hermite matrix, so the nodes follow
    the peak of the density for every N."""
    k = np.arange(n, dtype=float)
    diag = 2.0 * k / math.sqrt(shape)
    off = np.sqrt(k[1:] * (k[1:] + shape - 1.0) / shape)
    z, vecs = scipy.linalg.eigh_tridiagonal(diag, off)
    w = vecs[0] ** 2
    z.setflags(write=False)
    w = w / np.sum(w)
    w.setflags(write=False)
    return z, w


def _gap_squared(lam, rel, sigma, tau):
    """(sqrt(lam) - sqrt(g(lam_hat)))^2 on a (d, nodes) grid, lam_hat = lam (1 + rel)."""
    lam_hat = lam[:, None] * np.maximum(1.0 + rel, 0.0)[None, :]
    p = sigma**2 - tau / 2.0
    diff = -lam[:, None] * rel[None, :] - sigma**2 - tau / 2.0 - (tau / 2.0) ** 2 / (lam_hat + p)
    return (diff / (np.sqrt(lam)[:, None] + np.sqrt(_g(lam_hat, sigma, tau)))) ** 2


def _gauss_terms(lam, shape, sigma, tau, n_nodes):
    z, w = _gamma_rule(n_nodes, shape)
    return _gap_squared(lam, z / math.sqrt(shape), sigma, tau) @ w


@functools.lru_cache(maxsize=64)
def _log_rule(n: int, shape: float) -> tuple[np.ndarray, np.ndarray]:
    """n-point trapezoid rule of the Gamma(shape, 1) law in x = log(u / shape), whose density
    exp(shape (1 + x - e^x) + c), c = shape log shape - shape - lgamma(shape), is truncated
    where shape (e^x - 1 - x) reaches _TAIL_LOG. Returns (e^x - 1, weights)."""
    from scipy.optimize import brentq

    level = _TAIL_LOG / shape
    drop = lambda x: np.expm1(x) - x - level
    right = brentq(drop, 0.0, math.log1p(level) + math.sqrt(2.0 * level) + 1.0)
    left = brentq(drop, -(1.0 + level) - 1.0, 0.0)
    x = np.linspace(left, right, n)
    c = shape * math.log(shape) - shape - math.lgamma(shape)
    w = np.exp(shape * (x - np.expm1(x)) + c) * (x[1] - x[0])
    w[[0, -1]] *= 0.5
    rel = np.expm1(x)
    rel.setflags(write=False)
    w.setflags(write=False)
    return rel, w


def _log_terms(lam, shape, sigma, tau, n_nodes):
    rel, w = _log_rule(n_nodes, shape)
    return _gap_squared(lam, rel, sigma, tau) @ w


def _converged(terms, lam, shape, sigma, tau, counts):
    """Run `terms` on node counts `counts` until two successive ones agree to _QUAD_RTOL
    relative in every direction; return (value, None) or (None, (worst index, relative change))."""
    prev = terms(lam, shape, sigma, tau, counts[0])
    for nodes in counts[1:]:
        cur = terms(lam, shape, sigma, tau, nodes)
        change = np.abs(cur - prev) / np.abs(cur)
        if np.all(change <= _QUAD_RTOL):
            return cur, None
        prev = cur
    i = int(np.argmax(change))
    return None, (i, float(change[i]))


def dsm_diagonal_expected_w2sq(eigenvalues, n_samples, sigma, tau) -> float:
    r"""E W2^2 of the diagonal model: sum_i E (sqrt(lambda_i) - sqrt(g(lambda_hat_i)))^2 with
    lambda_hat_i ~ lambda_i chi^2_N / N independent ([DSM], MATH.md section 4).

    Each expectation is a Gamma(N/2) integral (u = N lambda_hat / (2 lambda)). First route:
    the generalised Gauss–Laguerre rule (parameter N/2 - 1), in the standardised variable
    (see `_gamma_rule`) so that it follows the density's peak for large N, with 16, 32, ...,
    256 nodes until two successive rules agree to 1e-11 relative in every direction. It
    converges slowly when the integrand's singularity at lambda_hat = -(sigma^2 - tau/2)
    comes close to u = 0 relative to the spread of u (small N, sigma^2 - tau/2 << lambda):
    then a second route takes over, the trapezoid rule in x = log(u / shape) (derived here:
    that singularity sits at Im x = pi for every N, sigma, tau, and the density is entire
    and decays exponentially on the left, double-exponentially on the right, so the
    trapezoid rule converges geometrically), with
    64 ... 4096 nodes and the same test; ValueError if neither converges.

    The expectation exists only when tau < 2 sigma^2: lambda_hat is below any level with
    positive probability, and the chain diverges for data sets with
    lambda_hat + sigma^2 <= tau/2, so sigma^2 <= tau/2 raises ValueError.
    """
    n = _n_samples(n_samples)
    lam = check_spectrum(eigenvalues, "eigenvalues")
    sigma, tau = _noise_and_step(sigma, tau)
    if not tau < 2.0 * sigma**2:
        raise ValueError(
            f"the diagonal-model expectation needs tau < 2 sigma^2 = {2.0 * sigma**2!r}, got "
            f"tau = {tau!r}: lambda_hat takes values near 0 with positive probability and ULA "
            f"diverges whenever lambda_hat + sigma^2 <= tau/2, so E W2^2 over all data sets is "
            f"infinite/undefined (stability for every data set needs tau < 2 sigma^2)")
    shape = n / 2.0
    value, _ = _converged(_gauss_terms, lam, shape, sigma, tau, _GAUSS_NODES)
    if value is None:
        value, failure = _converged(_log_terms, lam, shape, sigma, tau, _TRAPEZOID_NODES)
        if value is None:
            i, change = failure
            raise ValueError(
                f"the diagonal-model quadrature did not converge (eigenvalue {float(lam[i])!r}, "
                f"N = {n}, sigma^2 - tau/2 = {sigma**2 - tau / 2.0!r}: relative change "
                f"{change:.2e} > {_QUAD_RTOL:g} with {_TRAPEZOID_NODES[-1]} nodes)")
    return float(np.sum(value))


# ---------------------------------------------------------------------------------------------
# SGD on the DSM loss, one scalar direction.


def _sgd_inputs(lam, sigma, gamma):
    lam = _positive_array("eigenvalue lambda", lam)
    sigma = _nonnegative_scalar("noise level sigma", sigma)
    gamma = check_finite_scalar("SGD step gamma", gamma, positive=True)
    return lam, sigma, gamma, lam + sigma**2


def dsm_sgd_stationary_moments(lam, sigma, gamma):
    r"""(E theta_inf, Var theta_inf) = (lambda/a, gamma lambda sigma^2 / (a (1 - 3 gamma a))),
    a = lambda + sigma^2: the stationary law of online SGD theta+ = theta + 2 gamma y (x - theta y)
    on the DSM loss (x - theta y)^2, y = x + sigma w, x ~ N(0, lambda) ([DSM], MATH.md section
    4). Elementwise in lam. Needs gamma < 1/(3a) (ValueError naming the bound otherwise)."""
    lam, sigma, gamma, a = _sgd_inputs(lam, sigma, gamma)
    bound = float(1.0 / (3.0 * np.max(a)))
    if not gamma < bound:
        raise ValueError(f"SGD step gamma = {gamma!r} is at or above the bound 1/(3a) = {bound!r} "
                         f"(a = lambda_max + sigma^2): the variance of theta diverges "
                         f"(need 0 < gamma < 1/(3a))")
    return _out(lam / a), _out(gamma * lam * sigma**2 / (a * (1.0 - 3.0 * gamma * a)))


def dsm_sgd_moments(lam, sigma, gamma, theta0, n_steps):
    r"""Exact mean and variance of theta_k, k = 0..n_steps, for online SGD on the DSM loss from
    theta_0 = theta0 (derived here).

    With e = theta - lambda/a, theta+ - lambda/a = e (1 - 2 gamma y^2) + 2 gamma y r, r = x - y lambda/a
    independent of y (E r^2 = lambda sigma^2 / a), so with fresh (x, y) each step
        E e+ = (1 - 2 gamma a) E e,
        Var+ = q Var + (q - (1 - 2 gamma a)^2) (E e)^2 + 4 gamma^2 lambda sigma^2,
        q = E (1 - 2 gamma y^2)^2 = 1 - 4 gamma a + 12 gamma^2 a^2:
    the cross term 8 gamma^2 a^2 (E e)^2 (from Var y^2 = 2 a^2) feeds the mean offset into the
    variance before stationarity. Solved in closed form, with e_0 = theta0 - lambda/a:
        mean_k = lambda/a + (1 - 2 gamma a)^k e_0,
        Var_k  = e_0^2 (q^k - (1 - 2 gamma a)^(2k)) + 4 gamma^2 lambda sigma^2 (1 - q^k)/(1 - q)
    (q - (1 - 2 gamma a)^2 = 8 gamma^2 a^2). Any gamma > 0 is accepted (the moments are exact for
    finite n_steps); for gamma >= 1/(3a), q >= 1 and the variance grows without bound. Elementwise
    in lam; returns (mean, variance), each of shape (n_steps + 1,) + shape of lam."""
    lam, sigma, gamma, a = _sgd_inputs(lam, sigma, gamma)
    theta0 = check_finite_scalar("initial theta0", theta0)
    k = np.arange(_n_steps(n_steps) + 1, dtype=float).reshape((-1,) + (1,) * lam.ndim)
    e0 = theta0 - lam / a
    contract = 1.0 - 2.0 * gamma * a
    log_q = np.log1p(-4.0 * gamma * a * (1.0 - 3.0 * gamma * a))   # q >= 2/3 > 0
    q_k = np.exp(k * log_q)
    # (1 - q^k)/(1 - q) = k at q = 1; expm1 keeps it accurate for q near 1
    with np.errstate(divide="ignore", invalid="ignore"):
        geometric = np.where(log_q == 0.0, k, np.expm1(k * log_q) / np.expm1(log_q))
    noise = 4.0 * gamma**2 * lam * sigma**2
    mean = lam / a + contract**k * e0
    var = e0**2 * (q_k - (contract**2) ** k) + noise * geometric
    return mean, var
