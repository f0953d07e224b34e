"""Denoising score matching at a fixed noise level, then ULA ([DSM], MATH.md section 4).

Oracles are the closed forms of MATH.md section 4, written here (sampling never imports
analysis); Monte Carlo checks are within 4 standard errors.
"""

import logging

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from sampling import (
    MALA,
    ULA,
    AffineDenoiser,
    GaussianPotential,
    dsm_loss,
    expected_dsm_loss,
    fit_affine_denoiser,
    run_langevin,
    train_denoiser_sgd,
)

SIGMA = 0.5


@pytest.fixture(scope="module")
def data():
    """40 points in d = 3 from a correlated Gaussian with nonzero mean."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T / 3 + 0.2 * np.eye(3)
    return rng.multivariate_normal([0.5, -0.3, 0.2], cov, size=40)


def _moments(x, centred=True, ddof=0):
    xbar = x.mean(0) if centred else np.zeros(x.shape[1])
    r = x - xbar
    return xbar, r.T @ r / (x.shape[0] - ddof)


def _gaussian_score(y, mean, cov):
    return -np.linalg.solve(cov, (y - mean).T).T


def _param_grad(denoiser, samples, train_bias=True):
    """Gradient of expected_dsm_loss in (W, b) (in W only when the bias is not trained)."""
    def loss(w, b):
        return expected_dsm_loss(AffineDenoiser(w, b, denoiser.sigma), samples)

    argnums = (0, 1) if train_bias else (0,)
    grads = jax.grad(loss, argnums=argnums)(denoiser.weight, denoiser.bias)
    return max(float(jnp.max(jnp.abs(g))) for g in grads)


@pytest.mark.parametrize("centred, ddof", [(True, 0), (False, 0), (True, 1), (False, 1)])
def test_closed_form_fit_is_the_gaussian_score(data, centred, ddof):
    """Score of the fit = exact score of N(xbar, Sigma_hat + sigma^2 I), Sigma_hat with
    1/(N - ddof); with ddof = 0 the fit zeroes the gradient of the expected loss."""
    den = fit_affine_denoiser(data, SIGMA, centred=centred, ddof=ddof)
    xbar, cov = _moments(data, centred, ddof)
    c = cov + SIGMA**2 * np.eye(3)
    y = np.random.default_rng(1).normal(size=(16, 3)) * 2.0
    s = np.asarray(jax.vmap(den.score)(jnp.asarray(y)))
    np.testing.assert_allclose(s, _gaussian_score(y, xbar, c), rtol=1e-11, atol=1e-12)
    p, m = den.precision_and_mean()
    np.testing.assert_allclose(np.asarray(p), np.linalg.inv(c), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(m), xbar, atol=1e-12)
    if not centred:
        assert np.all(np.asarray(den.bias) == 0.0)
    if ddof == 0:
        assert _param_grad(den, data, centred) < 1e-10
        # The test can fail: a perturbed W has a gradient and a larger loss.
        off = AffineDenoiser(den.weight + 1e-3, den.bias, SIGMA)
        assert _param_grad(off, data, centred) > 1e-4
        assert float(expected_dsm_loss(off, data)) > float(expected_dsm_loss(den, data))
    else:
        # 1/(N-1) at sigma is 1/N at sigma' = sigma sqrt((N-1)/N): S (S + (N-1) sigma^2)^-1.
        n = data.shape[0]
        alt = fit_affine_denoiser(data, SIGMA * np.sqrt((n - 1) / n), centred=centred)
        np.testing.assert_allclose(np.asarray(den.weight), np.asarray(alt.weight), atol=1e-12)
        np.testing.assert_allclose(np.asarray(den.bias), np.asarray(alt.bias), atol=1e-12)


def test_expected_loss_matches_monte_carlo(data):
    """expected_dsm_loss vs 400 independent dsm_loss draws, for a non-optimal denoiser."""
    rng = np.random.default_rng(2)
    den = AffineDenoiser(rng.normal(size=(3, 3)) * 0.4, rng.normal(size=3) * 0.3, SIGMA)
    exact = float(expected_dsm_loss(den, data))
    mc = np.asarray(jax.vmap(lambda k: dsm_loss(den, k, data, n_noise=4))(
        jr.split(jr.key(3), 400)))
    se = mc.std(ddof=1) / np.sqrt(mc.size)
    assert abs(mc.mean() - exact) < 4 * se
    assert se < 0.01 * exact  # the test has power: the noise term is a visible share
    assert SIGMA**2 * float(jnp.sum(den.weight**2)) > 10 * se


def test_sgd_scalar_stationary_law_matches_math():
    """d = 1, linear model, batch 1, data N(0, lam): over 20000 chains theta_inf has mean
    lam/a and variance gamma lam sigma^2 / (a (1 - 3 gamma a)), a = lam + sigma^2.

    The training set has 2^22 points, so online SGD on it is online SGD on N(0, lam) up to
    O(N^-1/2) in its moments; the check below bounds that gap by a quarter of a standard error.
    Relaxation: the second moment contracts by 1 - 4 gamma a + 12 gamma^2 a^2 = 0.72 per step,
    so 150 steps leave 0.72^150 < 1e-21 of the start. gamma a = 0.099 keeps the fourth moment
    of theta_inf finite (E(1 - 2 gamma y^2)^4 < 1), so the variance's standard error is valid.
    """
    lam, sigma, gamma, chains = 0.5, 0.7, 0.1, 20000
    x = np.sqrt(lam) * np.asarray(jr.normal(jr.key(4), (2**22, 1)))
    den, losses = jax.vmap(lambda k: train_denoiser_sgd(
        k, x, sigma, learning_rate=gamma, n_steps=150, centred=False))(jr.split(jr.key(5), chains))
    assert losses.shape == (chains, 150)
    assert np.all(np.asarray(den.bias) == 0.0)
    theta = np.asarray(den.weight[:, 0, 0])
    a = lam + sigma**2
    mean, var = lam / a, gamma * lam * sigma**2 / (a * (1 - 3 * gamma * a))
    m_hat, v_hat = theta.mean(), theta.var()
    se_m = np.sqrt(v_hat / chains)
    se_v = np.sqrt((np.mean((theta - m_hat) ** 4) - v_hat**2) / chains)
    lam_hat = float(np.mean(x**2))  # the stationary mean is exactly lam_hat / (lam_hat + s^2)
    assert abs(lam_hat / (lam_hat + sigma**2) - mean) < 0.25 * se_m
    assert abs(m_hat - mean) < 4 * se_m
    assert abs(v_hat - var) < 4 * se_v
    # Power: dropping the 1/(1 - 3 gamma a) factor (0.30 here) is far outside the band.
    assert abs(var * (1 - 3 * gamma * a) - var) > 20 * se_v


def test_sgd_approaches_the_closed_form(data):
    """d = 3, affine model, batch 8, gamma = 0.02, 3000 steps, 64 chains.

    The batch gradient is affine in (W, b) with data independent of the current parameters,
    so E theta_k -> theta* exactly: the stationary mean is the closed form, the gap after k
    steps is at most rho^k |theta_0 - theta*| with rho = max |1 - 2 gamma mu(H)|,
    H = E[(y, 1)(y, 1)^T] (checked below to be < 1e-12). What remains is the O(sqrt(gamma))
    stationary spread, so the chain mean must match theta* within 4 standard errors.
    """
    gamma, n_steps, chains = 0.02, 3000, 64
    fit = fit_affine_denoiser(data, SIGMA)
    m2 = data.T @ data / data.shape[0] + SIGMA**2 * np.eye(3)
    xbar = data.mean(0)
    h = np.block([[m2, xbar[:, None]], [xbar[None, :], np.ones((1, 1))]])
    mu_h = np.linalg.eigvalsh(h)
    rho = np.max(np.abs(1 - 2 * gamma * mu_h))
    theta_star = np.concatenate([np.asarray(fit.weight), np.asarray(fit.bias)[:, None]], 1)
    assert rho**n_steps * np.linalg.norm(theta_star) < 1e-12
    den, losses = jax.vmap(lambda k: train_denoiser_sgd(
        k, data, SIGMA, learning_rate=gamma, n_steps=n_steps, batch_size=8))(
        jr.split(jr.key(6), chains))
    theta = np.concatenate([np.asarray(den.weight), np.asarray(den.bias)[:, :, None]], 2)
    se = theta.std(0, ddof=1) / np.sqrt(chains)
    assert np.all(np.abs(theta.mean(0) - theta_star) < 4 * se)
    # Each chain is close too (spread ~ sqrt(gamma)), and it starts far away (W = 0, b = 0).
    rms = np.sqrt(np.mean((theta - theta_star) ** 2))
    assert rms < 0.05 < 0.5 * np.sqrt(np.mean(theta_star**2))
    best = float(expected_dsm_loss(fit, data))
    excess = np.asarray(jax.vmap(lambda d: expected_dsm_loss(d, data))(den)) - best
    assert np.all(excess >= -1e-12) and np.mean(excess) < 0.03 * best  # O(gamma): 1% here
    assert float(jnp.mean(losses[:, :10])) > 2 * float(jnp.mean(losses[:, -500:]))


def test_sgd_custom_optimizer_and_init(data):
    """A custom optax optimizer and a warm start at the optimum: the run stays near it."""
    fit = fit_affine_denoiser(data, SIGMA)
    den, losses = train_denoiser_sgd(jr.key(7), data, SIGMA, learning_rate=None, n_steps=50,
                                     batch_size=4, init=fit, optimizer=optax.sgd(1e-4))
    assert losses.shape == (50,)
    assert float(jnp.max(jnp.abs(den.weight - fit.weight))) < 0.02
    # Same key, same numbers.
    again, _ = train_denoiser_sgd(jr.key(7), data, SIGMA, learning_rate=None, n_steps=50,
                                  batch_size=4, init=fit, optimizer=optax.sgd(1e-4))
    assert bool(jnp.all(again.weight == den.weight))


def test_ula_on_the_learned_score_matches_the_stationary_law(data):
    """ULA(den.score_target(), tau): stationary N(xbar, g(Sigma_hat)) with
    g(mu) = (mu + sigma^2)^2 / (mu + sigma^2 - tau/2) in the eigenbasis of Sigma_hat."""
    tau, chains, n_steps = 0.2, 4000, 400
    den = fit_affine_denoiser(data, SIGMA)
    xbar, cov = _moments(data)
    mu, v = np.linalg.eigh(cov)
    c = mu + SIGMA**2
    g = c**2 / (c - tau / 2)
    rho = 1 - tau / c  # from zero: mean gap rho^K |xbar|, covariance gap rho^(2K) g
    assert np.max(np.abs(rho)) ** n_steps < 1e-12
    run = run_langevin(jr.key(8), ULA(den.score_target(), tau), jnp.zeros((chains, 3)), n_steps)
    z = (np.asarray(run.state.position) - xbar) @ v  # eigen-coordinates, variances g
    zm, zc = z.mean(0), np.cov(z.T, ddof=1)
    assert np.all(np.abs(zm) < 4 * np.sqrt(g / chains))
    se_c = np.sqrt((np.outer(g, g) + np.diag(g**2)) / chains)
    assert np.all(np.abs(zc - np.diag(g)) < 4 * se_c)
    # Power: the exact target's covariance Sigma_hat + sigma^2 I is well outside the band.
    assert np.max(np.abs(c - g) / np.diag(se_c)) > 8


def test_score_target_is_the_gaussian_potential_under_ula(data):
    """ULA on the score and ULA on N(m, P^-1) take the same steps on the same keys."""
    den = fit_affine_denoiser(data, SIGMA)
    p, m = den.precision_and_mean()
    gauss = GaussianPotential(0.5 * (p + p.T), m)
    x0 = jr.normal(jr.key(9), (8, 3))
    a = run_langevin(jr.key(10), ULA(den.score_target(), 0.05), x0, 30).state.position
    b = run_langevin(jr.key(10), ULA(gauss, 0.05), x0, 30).state.position
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)


def test_bad_input(data):
    with pytest.raises(ValueError, match=r"shape \(N, d\).*got shape \(40,\)"):
        fit_affine_denoiser(data[:, 0], SIGMA)
    with pytest.raises(ValueError, match=r"shape \(N, d\).*got shape \(2, 4, 3\)"):
        fit_affine_denoiser(np.zeros((2, 4, 3)), SIGMA)
    with pytest.raises(ValueError, match="need N >= 2 samples, got N = 1"):
        fit_affine_denoiser(data[:1], SIGMA)
    for bad, allowed in ((0.0, "> 0"), (-1.0, "> 0"), (np.inf, "finite"), (np.nan, "finite")):
        with pytest.raises(ValueError, match=f"noise level sigma must be {allowed}, got"):
            fit_affine_denoiser(data, bad)
    nan_data = data.copy()
    nan_data[3, 1] = np.nan
    with pytest.raises(ValueError, match="samples must be finite, found nan"):
        fit_affine_denoiser(nan_data, SIGMA)
    with pytest.raises(ValueError, match="ddof must be 0.*or 1.*got 2"):
        fit_affine_denoiser(data, SIGMA, ddof=2)
    den = fit_affine_denoiser(data, SIGMA)
    with pytest.raises(ValueError, match="dimension d = 2 but the denoiser has d = 3"):
        expected_dsm_loss(den, data[:, :2])
    with pytest.raises(ValueError, match="n_noise must be an integer >= 1, got 0"):
        dsm_loss(den, jr.key(0), data, n_noise=0)
    with pytest.raises(ValueError, match=r"bias b must have shape \(3,\)"):
        AffineDenoiser(np.eye(3), np.zeros(2), SIGMA)
    with pytest.raises(ValueError, match="I - W is singular"):
        AffineDenoiser(np.eye(3), np.zeros(3), SIGMA).precision_and_mean()
    with pytest.raises(ValueError, match=r"diverged: non-finite.*from step \d+ of 3000.*"
                                         r"learning_rate=2.0"):
        train_denoiser_sgd(jr.key(0), data, SIGMA, learning_rate=2.0, n_steps=3000)
    with pytest.raises(ValueError, match="learning_rate must be > 0, got -0.1"):
        train_denoiser_sgd(jr.key(0), data, SIGMA, learning_rate=-0.1, n_steps=10)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        train_denoiser_sgd(jr.key(0), data, SIGMA, learning_rate=0.1, n_steps=10, batch_size=0)
    with pytest.raises(ValueError, match="not both"):
        train_denoiser_sgd(jr.key(0), data, SIGMA, learning_rate=0.1, n_steps=10,
                           optimizer=optax.sgd(0.1))
    with pytest.raises(ValueError, match="init has noise level sigma = 0.5.*sigma = 0.3"):
        train_denoiser_sgd(jr.key(0), data, 0.3, learning_rate=0.1, n_steps=10, init=den)
    with pytest.raises(ValueError, match="centred=False keeps the bias at 0"):
        train_denoiser_sgd(jr.key(0), data, SIGMA, learning_rate=0.1, n_steps=10, init=den,
                           centred=False)
    with pytest.raises(TypeError, match="no potential"):
        run_langevin(jr.key(0), MALA(den.score_target(), 0.1), jnp.zeros((2, 3)), 5)


def test_divergence_under_vmap_is_an_error_not_nan(data):
    with pytest.raises(Exception, match="diverged"):
        out = jax.vmap(lambda k: train_denoiser_sgd(k, data, SIGMA, learning_rate=2.0,
                                                    n_steps=3000)[0].weight)(jr.split(jr.key(0), 2))
        jax.block_until_ready(out)


def test_sgd_compiles_once(data):
    """New data, sigma, learning rate and key reuse the compiled scan; n_steps is its length."""
    class Count(logging.Handler):
        def __init__(self):
            super().__init__()
            self.compiles = 0

        def emit(self, record):
            self.compiles += "Compiling jit(_sgd_scan)" in record.getMessage()

    train_denoiser_sgd(jr.key(0), data, SIGMA, learning_rate=0.01, n_steps=17)
    count = Count()
    logging.getLogger("jax").addHandler(count)
    try:
        with jax.log_compiles():
            train_denoiser_sgd(jr.key(1), 2 * data, 0.3, learning_rate=0.02, n_steps=17)
            assert count.compiles == 0
            train_denoiser_sgd(jr.key(1), data, SIGMA, learning_rate=0.01, n_steps=18)
            assert count.compiles == 1
    finally:
        logging.getLogger("jax").removeHandler(count)
