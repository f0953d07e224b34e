"""Score matching then Langevin ([DSM], MATH.md section 4): the stationary variance, the
population error, the first-order finite-N expansion against Monte Carlo over data sets, the
diagonal model's quadrature, and the SGD moments."""

import dataclasses
import json

import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import quad
from scipy.special import gammaln, roots_genlaguerre

from analysis import (
    DsmExpansion,
    dsm_diagonal_expected_w2sq,
    dsm_expansion,
    dsm_first_order,
    dsm_population_error,
    dsm_population_kernel,
    dsm_sgd_moments,
    dsm_sgd_stationary_moments,
    dsm_stability_bound,
    dsm_stationary_variance,
    dsm_variance_after,
)

LAM4 = np.array([1.0, 0.5, 0.25, 0.1])


def naive_g(mu, sigma, tau):
    return (mu + sigma**2) ** 2 / (mu + sigma**2 - tau / 2)


# ---------------------------------------------------------------------------------------------
# Stationary variance, finite-K variance, stability bound.


def test_stationary_variance_is_the_lyapunov_solution_of_the_ula_recursion():
    # Full (non-diagonal) Sigma_hat: C = B C B^T + 2 tau I, B = I - tau (Sigma_hat + sigma^2 I)^-1,
    # solved by scipy's discrete Lyapunov solver, equals g(Sigma_hat) through eigh.
    rng = np.random.default_rng(1)
    q = rng.standard_normal((4, 4))
    s_hat = q @ q.T / 4 + 0.05 * np.eye(4)
    sigma, tau = 0.3, 0.2
    b = np.eye(4) - tau * np.linalg.inv(s_hat + sigma**2 * np.eye(4))
    c = scipy.linalg.solve_discrete_lyapunov(b, 2 * tau * np.eye(4))
    w, v = np.linalg.eigh(s_hat)
    g = dsm_stationary_variance(w, sigma, tau)
    np.testing.assert_allclose((v * g) @ v.T, c, rtol=1e-10, atol=1e-12)


def test_stationary_variance_scalar_forms():
    assert isinstance(dsm_stationary_variance(0.5, 0.3, 0.1), float)
    assert dsm_stationary_variance(0.5, 0.3, 0.0) == pytest.approx(0.59, rel=1e-14)   # tau = 0: mu + sigma^2
    # mu = 0 (rank-deficient Sigma_hat) is allowed when sigma > 0: g(0) = sigma^4 / (sigma^2 - tau/2).
    assert dsm_stationary_variance(0.0, 0.5, 0.1) == pytest.approx(0.0625 / 0.2, rel=1e-14)
    mu = np.array([[0.1, 1.0], [3.0, 10.0]])
    got = dsm_stationary_variance(mu, 0.2, 0.15)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, naive_g(mu, 0.2, 0.15), rtol=1e-14)
    # the AR(1) fixed point c = rho^2 c + 2 tau
    rho = 1 - 0.15 / (mu + 0.04)
    np.testing.assert_allclose(got, 0.3 / (1 - rho**2), rtol=1e-12)


def test_variance_after_matches_iterating_the_recursion():
    mu, c0, sigma, tau = np.array([0.05, 0.3, 2.0]), np.array([0.0, 1.0, 5.0]), 0.25, 0.2
    rho = 1 - tau / (mu + sigma**2)   # rho < 0 for the first direction: oscillating approach
    assert rho[0] < 0
    c = c0.copy()
    for k in range(40):
        np.testing.assert_allclose(dsm_variance_after(c0, mu, sigma, tau, k), c, rtol=1e-12)
        c = rho**2 * c + 2 * tau
    np.testing.assert_allclose(dsm_variance_after(c0, mu, sigma, tau, 10**6),
                               dsm_stationary_variance(mu, sigma, tau), rtol=1e-12)


def test_stability_bound_is_sharp():
    bound = dsm_stability_bound(0.1, 0.3)
    assert bound == pytest.approx(0.38, rel=1e-14)
    np.testing.assert_allclose(dsm_stability_bound([0.0, 1.0], 0.5), [0.5, 2.5])
    assert np.all(np.isfinite(dsm_stationary_variance([0.1, 2.0], 0.3, 0.999 * bound)))
    with pytest.raises(ValueError, match=rf"tau = 0.38 is at or above .*= {bound!r}"):
        dsm_stationary_variance([0.1, 2.0], 0.3, bound)


# ---------------------------------------------------------------------------------------------
# Population error and the first-order term.


def test_population_kernel_and_error():
    lam, sigma, tau = np.logspace(-1, 3, 9), 0.2, 0.1
    k = dsm_population_kernel(lam, sigma, tau)
    np.testing.assert_allclose(k, (np.sqrt(lam) - np.sqrt(naive_g(lam, sigma, tau))) ** 2, rtol=1e-9)
    # lambda >> sigma^2, tau: k ~ (sigma^2 + tau/2)^2 / (4 lambda)
    assert k[-1] * 4 * lam[-1] / (sigma**2 + tau / 2) ** 2 == pytest.approx(1.0, rel=1e-3)
    assert dsm_population_error(lam, sigma, tau) == pytest.approx(np.sum(k), rel=1e-14)
    assert dsm_population_error(lam, 0.0, 0.0) == 0.0


def test_first_order_without_noise_or_step():
    # Sigma = I: d(d+1)/4
    assert dsm_first_order(np.ones(5), 0.0, 0.0) == pytest.approx(7.5, rel=1e-14)
    lam = np.arange(1, 8, dtype=float) ** -1.5
    li, lj = lam[:, None], lam[None, :]
    expected = np.sum(li * lj / (2 * (li + lj))) + np.sum(lam) / 4
    assert dsm_first_order(lam, 0.0, 0.0) == pytest.approx(expected, rel=1e-13)
    # g = identity: the affine model only adds E|xbar|^2 = tr Sigma / N
    assert dsm_first_order(lam, 0.0, 0.0, centred=True) == pytest.approx(expected + lam.sum(), rel=1e-13)


@pytest.mark.parametrize("lam, sigma, tau", [(1.0, 0.3, 0.15), (0.1, 0.3, 0.15), (2.0, 0.0, 0.5)])
def test_first_order_in_one_dimension_is_the_taylor_term(lam, sigma, tau):
    # d = 1: E H^2 = 2 lam^2 / N, so V1 = lam^2 f''(lam), f(mu) = (sqrt(lam) - sqrt(g(mu)))^2
    # (second difference), and the centred extra is lam - f'(lam) lam.
    f = lambda mu: (np.sqrt(lam) - np.sqrt(naive_g(mu, sigma, tau))) ** 2
    h = 1e-4 * lam
    f2 = (f(lam + h) - 2 * f(lam) + f(lam - h)) / h**2
    f1 = (f(lam + h) - f(lam - h)) / (2 * h)
    assert dsm_first_order([lam], sigma, tau) == pytest.approx(lam**2 * f2, rel=1e-5)
    assert dsm_first_order([lam], sigma, tau, centred=True) == pytest.approx(
        lam**2 * f2 + lam - f1 * lam, rel=1e-5)


def _bures(g_hat, lam):
    """W2^2(N(0, G), N(0, diag(lam))) for a batch of G, eigh-based."""
    s = np.sqrt(lam)
    ev = np.linalg.eigvalsh(s[:, None] * g_hat * s[None, :])
    return np.trace(g_hat, axis1=-2, axis2=-1) + lam.sum() - 2 * np.sqrt(np.clip(ev, 0, None)).sum(-1)


def _scaled_error(lam, n, sigma, tau, n_sets, centred, rng, chunk=2000):
    """N (W2^2 - bias) over n_sets data sets of n samples of N(0, diag(lam)); returns (mean, s.e.).

    Control variate: the first-order term sum_i c_i (S0_ii - lam_i) of the known-mean empirical
    covariance S0 has mean exactly 0, and removing it takes the O(N^-1/2) fluctuation out."""
    g = naive_g(lam, sigma, tau)
    c = (1 - np.sqrt(lam / g)) * (1 - (tau / 2) ** 2 / (lam + sigma**2 - tau / 2) ** 2)
    bias = np.sum((np.sqrt(lam) - np.sqrt(g)) ** 2)
    vals = []
    for start in range(0, n_sets, chunk):
        x = rng.standard_normal((min(chunk, n_sets - start), n, lam.size)) * np.sqrt(lam)
        s0 = np.einsum("bni,bnj->bij", x, x) / n
        s_hat = s0
        if centred:
            xbar = x.mean(axis=1)
            s_hat = s0 - xbar[:, :, None] * xbar[:, None, :]   # 1/N covariance about xbar
        w, v = np.linalg.eigh(s_hat)
        g_hat = (v * naive_g(w, sigma, tau)[:, None, :]) @ np.swapaxes(v, -1, -2)
        err = _bures(g_hat, lam)
        if centred:
            err = err + np.sum(xbar**2, axis=-1)   # N(xbar, g) against N(0, Sigma)
        vals.append(err - (np.diagonal(s0, axis1=1, axis2=2) - lam) @ c)
    vals = n * (np.concatenate(vals) - bias)
    return vals.mean(), vals.std(ddof=1) / np.sqrt(vals.size)


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize("sigma, tau", [(0.3, 0.15), (0.0, 0.0)])
def test_first_order_against_monte_carlo_over_data_sets(sigma, tau, centred):
    # y(N) = N (E W2^2 - bias) = V1 + c/N + O(N^-2): Richardson from N = 100 and 400 removes the
    # 1/N term without a tuned allowance, (4 y(400) - y(100))/3 = V1 + O(N^-2).
    # With (0.3, 0.15) the L part of V1 is 0.118 and the centred extra's g' part 0.22, both
    # more than 10 standard errors: a formula without either fails.
    rng = np.random.default_rng(20240 + 2 * int(centred) + int(sigma > 0))
    y1, s1 = _scaled_error(LAM4, 100, sigma, tau, 12000, centred, rng)
    y4, s4 = _scaled_error(LAM4, 400, sigma, tau, 12000, centred, rng)
    estimate, se = (4 * y4 - y1) / 3, np.hypot(4 * s4, s1) / 3
    v1 = dsm_first_order(LAM4, sigma, tau, centred=centred)
    assert abs(estimate - v1) < 4 * se, (estimate, se, v1)
    assert se < 0.01 * v1


def test_expansion_object():
    e = dsm_expansion(LAM4, 500, 0.3, 0.15, centred=True)
    assert isinstance(e, DsmExpansion)
    assert e.bias == pytest.approx(dsm_population_error(LAM4, 0.3, 0.15), rel=1e-15)
    assert e.first_order == pytest.approx(dsm_first_order(LAM4, 0.3, 0.15, centred=True), rel=1e-15)
    assert e.w2sq_expansion == pytest.approx(e.bias + e.first_order / 500, rel=1e-15)
    d = json.loads(json.dumps(e.to_dict()))
    assert d["eigenvalues"] == LAM4.tolist() and d["n_samples"] == 500 and d["centred"] is True
    assert set(d) == {"eigenvalues", "n_samples", "sigma", "tau", "centred", "bias", "first_order",
                      "w2sq_expansion"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.bias = 0.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Diagonal model.


def test_gamma_rule_is_the_generalised_gauss_laguerre_rule():
    from analysis._dsm import _gamma_rule

    for n_samples in (2, 3, 10, 60):
        shape = n_samples / 2
        z, w = _gamma_rule(24, shape)
        u, wl = roots_genlaguerre(24, shape - 1)
        np.testing.assert_allclose(shape + np.sqrt(shape) * z, u, rtol=1e-12)
        np.testing.assert_allclose(w, wl / np.exp(gammaln(shape)), rtol=1e-9, atol=1e-15)


def _diagonal_by_quad(lam, n, sigma, tau):
    shape = n / 2

    def integrand(u):
        g = naive_g(lam * u / shape, sigma, tau)
        return (np.sqrt(lam) - np.sqrt(g)) ** 2 * np.exp((shape - 1) * np.log(u) - u - gammaln(shape))

    kw = dict(epsabs=0.0, epsrel=1e-13, limit=400)
    return quad(integrand, 0, shape, **kw)[0] + quad(integrand, shape, np.inf, **kw)[0]


@pytest.mark.parametrize("n, sigma, tau", [
    (2, 0.01, 0.0),        # singularity at lambda_hat = -1e-4: the log-variable trapezoid route
    (3, 0.1, 0.015),
    (8, 0.2, 0.05),
    (40, 0.3, 0.15),       # the Gauss route
    (500, 0.05, 0.0),
])
def test_diagonal_model_against_adaptive_quadrature(n, sigma, tau):
    lam = np.array([2.0, 0.3, 0.01])
    expected = sum(_diagonal_by_quad(l, n, sigma, tau) for l in lam)
    assert dsm_diagonal_expected_w2sq(lam, n, sigma, tau) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n, sigma, tau", [(5, 0.1, 0.01), (60, 0.3, 0.15)])
def test_diagonal_model_against_chi_square_monte_carlo(n, sigma, tau):
    rng = np.random.default_rng(7 + n)
    lam_hat = LAM4[:, None] * rng.chisquare(n, size=(LAM4.size, 200_000)) / n
    per_set = np.sum((np.sqrt(LAM4)[:, None] - np.sqrt(naive_g(lam_hat, sigma, tau))) ** 2, axis=0)
    se = per_set.std(ddof=1) / np.sqrt(per_set.size)
    got = dsm_diagonal_expected_w2sq(LAM4, n, sigma, tau)
    assert abs(per_set.mean() - got) < 4 * se
    assert se < 0.01 * got


def test_diagonal_model_at_large_n_is_the_diagonal_part_of_the_first_order_term():
    # The diagonal model keeps the i = j terms of V1: sum_i V1([lam_i]). Richardson in N.
    lam, sigma, tau = LAM4, 0.3, 0.15
    v1_diag = sum(dsm_first_order([l], sigma, tau) for l in lam)
    bias = dsm_population_error(lam, sigma, tau)
    y = {n: n * (dsm_diagonal_expected_w2sq(lam, n, sigma, tau) - bias) for n in (10_000, 20_000)}
    assert y[20_000] == pytest.approx(v1_diag, rel=2e-3)
    assert 2 * y[20_000] - y[10_000] == pytest.approx(v1_diag, rel=1e-5)
    # and it is only part of V1: the off-diagonal pairs carry the rest
    assert v1_diag < 0.8 * dsm_first_order(lam, sigma, tau)


def test_diagonal_model_at_very_large_n():
    lam, sigma = np.array([1.0, 0.01]), 0.1
    bias = dsm_population_error(lam, sigma, 0.0)
    v1_diag = sum(dsm_first_order([l], sigma, 0.0) for l in lam)
    n = 10**8
    assert n * (dsm_diagonal_expected_w2sq(lam, n, sigma, 0.0) - bias) == pytest.approx(v1_diag, rel=1e-4)


# ---------------------------------------------------------------------------------------------
# SGD on the DSM loss.


def test_sgd_moments_against_monte_carlo_chains():
    lam, sigma, gamma, theta0 = 1.0, 0.5, 0.1, 0.0
    steps = 40
    mean, var = dsm_sgd_moments(lam, sigma, gamma, theta0, steps)
    assert mean.shape == var.shape == (steps + 1,)
    rng = np.random.default_rng(3)
    theta = np.full(200_000, theta0)
    a = lam + sigma**2
    checked = (1, 3, 10, 40)
    naive_var = 0.0   # the variance recursion without the mean-offset term
    for k in range(1, steps + 1):
        x = np.sqrt(lam) * rng.standard_normal(theta.size)
        y = x + sigma * rng.standard_normal(theta.size)
        theta = theta + 2 * gamma * y * (x - theta * y)   # theta - gamma d/dtheta (x - theta y)^2
        naive_var = (1 - 4 * gamma * a + 12 * gamma**2 * a**2) * naive_var + 4 * gamma**2 * lam * sigma**2
        if k in checked:
            m, v = theta.mean(), theta.var(ddof=1)
            se_m = np.sqrt(v / theta.size)
            se_v = np.sqrt((np.mean((theta - m) ** 4) - v**2) / theta.size)
            assert abs(m - mean[k]) < 4 * se_m, (k, m, mean[k])
            assert abs(v - var[k]) < 4 * se_v, (k, v, var[k])
            if k == 3:
                assert abs(v - naive_var) > 10 * se_v   # the cross term is visible early on


@pytest.mark.parametrize("gamma", [0.05, 0.2, 1 / 3.75, 0.3])   # 1/(3a) = 1/3.75 and above: no bound
def test_sgd_moments_solve_the_moment_recursion(gamma):
    lam, sigma, theta0 = 1.0, 0.5, -0.4
    a = lam + sigma**2
    mean, var = dsm_sgd_moments(lam, sigma, gamma, theta0, 60)
    m, v = theta0, 0.0
    for k in range(61):
        assert mean[k] == pytest.approx(m, rel=1e-12, abs=1e-14)
        assert var[k] == pytest.approx(v, rel=1e-11, abs=1e-16)
        # E theta+ = E theta (1 - 2 gamma a) + 2 gamma lam; E theta+^2 from E y^2 = a,
        # E y^4 = 3 a^2, E xy = lam, E x y^3 = 3 a lam, E x^2 y^2 = lam a + 2 lam^2
        s2 = v + m**2
        s2 = (s2 * (1 - 4 * gamma * a + 12 * gamma**2 * a**2) + 4 * gamma**2 * (lam * a + 2 * lam**2)
              + 2 * m * (2 * gamma * lam - 12 * gamma**2 * a * lam))
        m = m * (1 - 2 * gamma * a) + 2 * gamma * lam
        v = s2 - m**2


def test_sgd_moments_tend_to_the_stationary_moments():
    lam, sigma, gamma = np.array([1.0, 0.2, 0.01]), 0.3, 0.15
    mean, var = dsm_sgd_moments(lam, sigma, gamma, 2.0, 3000)
    assert mean.shape == var.shape == (3001, 3)
    m_inf, v_inf = dsm_sgd_stationary_moments(lam, sigma, gamma)
    np.testing.assert_allclose(mean[-1], m_inf, rtol=1e-12)
    np.testing.assert_allclose(var[-1], v_inf, rtol=1e-10)
    a = lam + sigma**2
    np.testing.assert_allclose(mean[7], lam / a + (1 - 2 * gamma * a) ** 7 * (2.0 - lam / a), rtol=1e-13)
    m, v = dsm_sgd_stationary_moments(1.0, 0.5, 0.1)
    assert isinstance(m, float) and v == pytest.approx(0.1 * 0.25 / (1.25 * (1 - 0.375)), rel=1e-14)


# ---------------------------------------------------------------------------------------------
# Bad inputs.

BAD = [
    (dsm_stationary_variance, (-0.1, 0.3, 0.1), r"eigenvalue mu must be >= 0, got -0.1"),
    (dsm_stationary_variance, (np.nan, 0.3, 0.1), r"eigenvalue mu must be finite"),
    (dsm_stationary_variance, (0.5, -0.3, 0.1), r"sigma must be >= 0"),
    (dsm_stationary_variance, (0.5, np.inf, 0.1), r"sigma must be finite"),
    (dsm_stationary_variance, (0.5, 0.3, -0.1), r"tau must be >= 0"),
    (dsm_stationary_variance, (0.5, 0.3, np.nan), r"tau must be finite"),
    (dsm_stationary_variance, (0.5, 0.3, 1.2), r"tau = 1.2 .* stability bound .*= 1.18"),
    (dsm_stationary_variance, (0.0, 0.0, 0.0), r"mu_min \+ sigma\^2 = 0: the learned score is singular.*= 0.0"),
    (dsm_stability_bound, (-1.0, 0.3), r"mu_min must be >= 0"),
    (dsm_variance_after, (-1.0, 0.5, 0.3, 0.1, 3), r"initial variance c0 must be >= 0"),
    (dsm_variance_after, (1.0, 0.5, 0.3, 0.1, 2.5), r"n_steps must be an integer >= 0, got 2.5"),
    (dsm_variance_after, (1.0, 0.5, 0.3, 0.1, -1), r"n_steps must be an integer >= 0"),
    (dsm_variance_after, (1.0, 0.5, 0.3, 1.18, 3), r"stability bound .*= 1.18"),
    (dsm_population_kernel, (0.0, 0.3, 0.1), r"eigenvalue lambda must be > 0, got 0.0"),
    (dsm_population_error, ([1.0, -0.5], 0.3, 0.1), r"eigenvalue\[1\] = -0.5"),
    (dsm_population_error, ([1.0, np.inf], 0.3, 0.1), r"must be finite"),
    (dsm_population_error, ([1.0, 0.1], 0.3, 0.38), r"tau = 0.38 .*\(lambda_min \+ sigma\^2\) = 0.38"),
    (dsm_first_order, ([1.0, 0.1], 0.3, 0.5), r"tau = 0.5 .*stability bound"),
    (dsm_first_order, ([[1.0, 0.1]], 0.3, 0.1), r"1-D array"),
    (dsm_expansion, (LAM4, 1, 0.3, 0.1), r"n_samples must be an integer >= 2, got 1"),
    (dsm_expansion, (LAM4, 100.5, 0.3, 0.1), r"n_samples must be an integer >= 2, got 100.5"),
    (dsm_expansion, (LAM4, True, 0.3, 0.1), r"n_samples must be an integer >= 2"),
    (dsm_expansion, (LAM4, "100", 0.3, 0.1), r"n_samples must be an integer >= 2"),
    (dsm_expansion, (LAM4, 100, 0.3, 0.4), r"stability bound"),
    (dsm_diagonal_expected_w2sq, (LAM4, 100, 0.3, 0.18), r"tau < 2 sigma\^2 = 0.18.*infinite"),
    (dsm_diagonal_expected_w2sq, (LAM4, 100, 0.0, 0.0), r"tau < 2 sigma\^2 = 0.0"),
    (dsm_diagonal_expected_w2sq, (LAM4, 0, 0.3, 0.1), r"n_samples must be an integer >= 2"),
    (dsm_diagonal_expected_w2sq, ([1.0, -1.0], 10, 0.3, 0.1), r"must be > 0"),
    (dsm_sgd_stationary_moments, (1.0, 0.5, 0.27), r"gamma = 0.27 .* 1/\(3a\) = 0.266"),
    (dsm_sgd_stationary_moments, (1.0, 0.5, 0.0), r"gamma must be > 0"),
    (dsm_sgd_stationary_moments, (-1.0, 0.5, 0.1), r"lambda must be > 0"),
    (dsm_sgd_moments, (1.0, 0.5, 0.1, np.nan, 10), r"theta0 must be finite"),
    (dsm_sgd_moments, (1.0, 0.5, 0.1, 0.0, 1.5), r"n_steps must be an integer >= 0"),
]


@pytest.mark.parametrize("fn, args, match", BAD, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(BAD)])
def test_bad_inputs(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)
