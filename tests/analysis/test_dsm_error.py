"""The [DSM] pipeline end to end: fit by score matching, exact stationary law of ULA read off
its step, exact W2^2 per training set, averaged over training sets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from analysis import (
    dsm_best_sigma,
    dsm_diffusion_monte_carlo,
    dsm_diffusion_w2sq,
    dsm_expansion,
    dsm_monte_carlo,
    dsm_stationary_variance,
    dsm_w2sq,
    learned_gaussian_target,
    learned_stationary_law,
)
from sampling import GaussianLaw, GaussianScore, fit_affine_denoiser, train_denoiser_sgd
from schedules import EDM

LAM = np.array([1.0, 0.4, 0.1])


def _samples(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, LAM.size)) * np.sqrt(LAM)


@pytest.mark.parametrize("centred", [True, False])
def test_stationary_law_is_g_of_the_empirical_covariance(centred):
    x = _samples(30)
    sigma, tau = 0.3, 0.05
    law = learned_stationary_law(fit_affine_denoiser(x, sigma, centred=centred), tau)
    xbar = x.mean(0) if centred else np.zeros(LAM.size)
    cov = (x - xbar).T @ (x - xbar) / x.shape[0]
    mu, u = np.linalg.eigh(cov)
    expected = u @ np.diag(dsm_stationary_variance(mu, sigma, tau)) @ u.T
    np.testing.assert_allclose(np.asarray(law.cov), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.asarray(law.mean), xbar, atol=1e-12)


def test_sgd_trained_denoiser_has_an_exact_law_too():
    # A non-symmetric weight (SGD) goes through the general Lyapunov route: against SciPy's
    # discrete Lyapunov solve of the same ULA step, and near the closed-form fit's law.
    x = jnp.asarray(_samples(40, seed=1))
    trained, _ = train_denoiser_sgd(jax.random.key(0), x, 0.3, learning_rate=0.02,
                                    n_steps=3000, batch_size=8)
    tau = 0.05
    law = learned_stationary_law(trained, tau)
    p, m = (np.asarray(a) for a in trained.precision_and_mean())
    assert not np.allclose(p, p.T, atol=1e-8)
    oracle = scipy.linalg.solve_discrete_lyapunov(np.eye(3) - tau * p, 2 * tau * np.eye(3))
    np.testing.assert_allclose(np.asarray(law.cov), oracle, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(law.mean), m, rtol=1e-9)
    # SGD's stationary noise leaves the weights ~0.02 RMS from the closed form
    # (tests/sampling/test_score_matching.py); the laws then differ by a few hundredths.
    closed = learned_stationary_law(fit_affine_denoiser(x, 0.3), tau)
    np.testing.assert_allclose(np.asarray(law.cov), np.asarray(closed.cov), atol=0.1)


def test_step_above_the_training_sets_bound_names_it():
    x = _samples(30)
    mu_min = np.linalg.eigvalsh(x.T @ x / 30)[0]
    bound = 2 * (mu_min + 0.1**2)
    with pytest.raises(ValueError, match=r"stability bound tau_max = 2 \(mu_min\(Sigma_hat\) "
                                         r"\+ sigma\^2\) = ([0-9.e-]+)") as err:
        learned_stationary_law(fit_affine_denoiser(x, 0.1, centred=False), bound * 1.01)
    assert float(str(err.value).split(" = ")[-1].split(":")[0]) == pytest.approx(bound, rel=1e-12)


@pytest.mark.parametrize("model", ["linear", "affine"])
def test_average_over_training_sets_matches_the_expansion(model):
    n, sigma, tau = 500, 0.05, 0.002
    mc = dsm_monte_carlo(jax.random.key(3), LAM, n, sigma, tau, 150, centred=model == "affine")
    exp = dsm_expansion(LAM, n, sigma, tau, centred=model == "affine")
    # The O(1/N^2) remainder is about 1% of V1/N here, well under the standard error.
    assert abs(mc.mean - exp.w2sq_expansion) < 4 * mc.standard_error
    # The finite-N part is resolved, not swamped by the bias: V1/N is many standard errors.
    assert exp.first_order / n > 5 * mc.standard_error


def test_training_set_i_does_not_depend_on_how_many_are_drawn():
    few = dsm_monte_carlo(jax.random.key(5), LAM, 50, 0.2, 0.02, 3)
    more = dsm_monte_carlo(jax.random.key(5), LAM, 50, 0.2, 0.02, 6)
    np.testing.assert_array_equal(few.values, more.values[:3])


def test_w2sq_of_one_training_set_by_hand():
    x = _samples(25, seed=2)
    data = GaussianLaw(jnp.zeros(3), jnp.asarray(LAM))
    w2 = dsm_w2sq(x, data, 0.2, 0.02, centred=False)
    mu, u = np.linalg.eigh(x.T @ x / 25)
    s = u @ np.diag(dsm_stationary_variance(mu, 0.2, 0.02)) @ u.T
    root = np.diag(np.sqrt(LAM))
    w, v = np.linalg.eigh(root @ s @ root)
    expected = np.trace(s) + LAM.sum() - 2 * np.sum(np.sqrt(w))
    assert w2 == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_samples=1), "n_samples must be an integer >= 2"),
    (dict(n_datasets=1), "n_datasets must be an integer >= 2"),
    (dict(eigenvalues=[1.0, -0.5]), "eigenvalue"),
])
def test_bad_input(kwargs, message):
    args = dict(eigenvalues=LAM, n_samples=20, sigma=0.2, tau=0.02, n_datasets=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        dsm_monte_carlo(jax.random.key(0), args.pop("eigenvalues"), args.pop("n_samples"),
                        args.pop("sigma"), args.pop("tau"), args.pop("n_datasets"), **args)


def test_best_sigma_scales_like_n_to_the_minus_half_without_a_step():
    lam = np.arange(1, 21.0) ** -1.0
    ns = np.array([1e3, 1e4, 1e5])
    best = [dsm_best_sigma(lam, int(n), 0.0) for n in ns]
    slope = np.polyfit(np.log(ns), np.log([b[0] for b in best]), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.02)
    sigma, err = best[0]
    assert err == pytest.approx(dsm_expansion(lam, 1000, sigma, 0.0).w2sq_expansion, rel=1e-12)
    for s in (sigma * 0.9, sigma * 1.1):  # a minimum
        assert dsm_expansion(lam, 1000, s, 0.0).w2sq_expansion > err
    # With a step above some eigenvalues the best sigma^2 stops falling.
    stalled = [dsm_best_sigma(lam, int(n), 0.1)[0] ** 2 for n in ns]
    assert stalled[-1] == pytest.approx(stalled[0], rel=0.1)
    assert stalled[-1] > 100 * best[-1][0] ** 2  # where tau = 0 has fallen 100-fold


@pytest.mark.parametrize("model", ["linear", "affine"])
def test_learned_target_score_is_the_dsm_optimum_at_every_noise_level(model):
    # EDM: alpha = 1, sigma = t, so the fixed-level fit at sigma = t is the same problem.
    x = _samples(30, seed=4)
    learned = learned_gaussian_target(x, centred=model == "affine")
    y = np.random.default_rng(5).normal(size=3)
    for t in (0.05, 0.7, 12.0):
        fitted = fit_affine_denoiser(x, t, centred=model == "affine").score(jnp.asarray(y))
        exact = GaussianScore(learned, EDM())(jnp.asarray(y), t)
        np.testing.assert_allclose(np.asarray(exact), np.asarray(fitted), rtol=1e-9, atol=1e-12)


def test_diffusion_on_the_learned_score_converges_in_the_step_count():
    x = _samples(40, seed=6)
    data = GaussianLaw(jnp.zeros(3), jnp.asarray(LAM))
    limit = dsm_diffusion_w2sq(x, data, EDM(), None)
    ns = [200, 400, 800, 1600]
    gaps = [abs(dsm_diffusion_w2sq(x, data, EDM(), n) - limit) for n in ns]
    # Euler on the ODE: the law moves by O(1/n), and so does its W2^2 to the data law.
    slope = np.polyfit(np.log(ns), np.log(gaps), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.15)
    assert gaps[-1] < 1e-2 * limit


def test_continuous_limit_matches_the_sigma_tau_zero_expansion():
    # With n -> infinity and t_min -> 0 the sampler returns N(xbar, Sigma_hat): E W2^2 is the
    # [DSM] expansion at sigma = tau = 0 (t_min = 0.002 adds a variance of 4e-6, negligible).
    n = 1000
    mc = dsm_diffusion_monte_carlo(jax.random.key(2), LAM, n, EDM(), [None], 200, centred=True)
    expected = dsm_expansion(LAM, n, 0.0, 0.0, centred=True).w2sq_expansion
    assert abs(mc["mean"][0] - expected) < 4 * mc["standard_error"][0]


def test_learned_target_needs_a_nonsingular_covariance():
    with pytest.raises(ValueError, match="N = 3 samples in d = 3 is singular"):
        learned_gaussian_target(_samples(3))
