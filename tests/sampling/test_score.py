"""Score models: the Gaussian mixture against autodiff of its log-density, the affine score
against the exact Gaussian one, the MLP in every sampler, the one-call sampling API."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import exact_law
from sampling import (
    SOLVERS,
    AffineScore,
    GaussianMixtureScore,
    GaussianScore,
    GaussianTarget,
    MLPScore,
    ReverseDiffusion,
    make_solver,
    sample_diffusion,
    sample_statistics,
    score_evaluations_per_step,
    score_from_denoiser,
    score_from_epsilon,
    solver_kind,
)
from schedules import EDM, VPLinear, make_grid

RNG = np.random.default_rng(0)


def _mixture(schedule, k=3, d=2):
    a = RNG.normal(size=(k, d, d))
    cov = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(d)
    return GaussianMixtureScore(RNG.uniform(0.2, 1.0, k), RNG.normal(scale=2.0, size=(k, d)),
                                cov, schedule)


@pytest.mark.parametrize("schedule", [VPLinear(), EDM()], ids=lambda s: type(s).__name__)
def test_mixture_score_is_gradient_of_log_density(schedule):
    score = _mixture(schedule)
    xs = jnp.asarray(RNG.normal(scale=3.0, size=(5, 2)))
    ts = jnp.array([schedule.t_min, 0.3 * schedule.t_max, schedule.t_max])

    @jax.jit
    def both(x, t):
        return score(x, t), jax.grad(score.log_density)(x, t)

    ours, auto = jax.vmap(jax.vmap(both, (None, 0)), (0, None))(xs, ts)
    np.testing.assert_allclose(ours, auto, rtol=1e-10, atol=1e-12)


def test_mixture_score_is_stable_far_from_every_component():
    """log-sum-exp: at |x| ~ 1e3 the densities underflow, the score must not."""
    schedule = VPLinear()
    score = _mixture(schedule)
    s = score(jnp.array([1e3, -2e3]), schedule.t_min)
    assert np.all(np.isfinite(s)) and np.linalg.norm(s) > 1.0


def test_one_component_mixture_is_the_gaussian_score():
    schedule = VPLinear()
    u, _ = np.linalg.qr(RNG.normal(size=(3, 3)))
    target = GaussianTarget([2.0, 0.5, 0.01], u, [1.0, 0.0, -1.0])
    mix = GaussianMixtureScore([1.0], target.mean[None], target.covariance()[None], schedule)
    x = jnp.asarray(RNG.normal(size=3))
    for t in (schedule.t_min, 0.5):
        np.testing.assert_allclose(mix(x, t), GaussianScore(target, schedule)(x, t), rtol=1e-10)


def test_mixture_diagonal_covariances_and_bad_input():
    schedule = VPLinear()
    diag = GaussianMixtureScore([1, 1], [[0.0, 0.0], [1.0, 1.0]], [[1.0, 2.0], [0.5, 0.5]],
                                schedule)
    np.testing.assert_allclose(diag.covariances[0], np.diag([1.0, 2.0]))
    np.testing.assert_allclose(diag.weights, [0.5, 0.5])
    with pytest.raises(ValueError, match=r"weights must be > 0, got \[1.0, -1.0\]"):
        GaussianMixtureScore([1.0, -1.0], [[0.0], [1.0]], [[1.0], [1.0]], schedule)
    with pytest.raises(ValueError, match=r"means must have shape \(2, d\) for 2 weights"):
        GaussianMixtureScore([1.0, 1.0], [[0.0]], [[1.0]], schedule)
    with pytest.raises(ValueError, match=r"positive definite, got smallest eigenvalue -1.0 in "
                                         r"component 1"):
        GaussianMixtureScore([1.0, 1.0], [[0.0], [1.0]], [[1.0], [-1.0]], schedule)


def test_affine_score_reproduces_exact_gaussian_law():
    schedule = VPLinear()
    u, _ = np.linalg.qr(RNG.normal(size=(2, 2)))
    target = GaussianTarget([1.0, 0.1], u, [0.5, -0.5])

    def precision(t):
        return jnp.linalg.inv(schedule.alpha(t) ** 2 * target.covariance()
                              + schedule.sigma(t) ** 2 * jnp.eye(2))

    affine = AffineScore(precision, lambda t: schedule.alpha(t) * target.mean_vector())
    grid = make_grid("edm", schedule, 8)
    start = target.marginal(schedule, grid[0])
    for name in ("dpm2m",):
        a = exact_law(ReverseDiffusion(schedule, affine, 0.0), grid, make_solver(name), start)
        b = exact_law(ReverseDiffusion(schedule, GaussianScore(target, schedule), 0.0), grid,
                      make_solver(name), start)
        np.testing.assert_allclose(a.cov, b.cov, rtol=1e-10)
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10, atol=1e-12)
    # Constant parameters: diagonal and matrix forms.
    x = jnp.array([1.0, 2.0])
    np.testing.assert_allclose(AffineScore(jnp.array([2.0, 3.0]), 1.0)(x, 0.5), [0.0, -3.0])
    np.testing.assert_allclose(AffineScore(jnp.eye(2) * 2.0)(x, 0.5), [-2.0, -4.0])


def test_score_conversions_recover_the_exact_score():
    schedule, t = VPLinear(), 0.4
    target = GaussianTarget([0.7, 3.0], mean=[1.0, -2.0])
    x = jnp.array([0.3, -1.2])
    exact = GaussianScore(target, schedule)(x, t)
    a, s = schedule.alpha(t), schedule.sigma(t)
    eps = -s * exact  # the exact noise prediction
    x0 = (x + s**2 * exact) / a  # the exact data prediction (Tweedie)
    np.testing.assert_allclose(score_from_epsilon(eps, s), exact, rtol=1e-13)
    np.testing.assert_allclose(score_from_denoiser(x0, x, a, s), exact, rtol=1e-12)


@pytest.mark.parametrize("parameterisation, solvers", [
    pytest.param("epsilon", list(SOLVERS), marks=pytest.mark.slow),
    ("epsilon", ["heun", "ddim-sde"]),
    ("denoiser", ["dpm2m"]),
])
def test_mlp_score_plugs_into_every_sampler(parameterisation, solvers):
    schedule = VPLinear()
    mlp = MLPScore(3, schedule, jax.random.key(0), width=16, depth=1,
                   parameterisation=parameterisation)
    assert mlp(jnp.ones(3), 0.5).shape == (3,)
    for name in solvers:
        solver = make_solver(name)
        eta = 1.0 if name == "ddim-sde" or solver_kind(solver) == "sde" else 0.0
        out = sample_diffusion(jax.random.key(1), mlp, schedule, "edm", n_steps=4, dim=3,
                               n_samples=3, solver=name, eta=eta, brownian="unsafe",
                               route="scan")
        assert out.samples.shape == (3, 3) and np.all(np.isfinite(out.samples))
        assert out.n_steps == 4 and out.nfe == 4 * score_evaluations_per_step(solver)


def test_mlp_bad_parameterisation():
    with pytest.raises(ValueError, match=r"unknown parameterisation 'v'; allowed: epsilon, "
                                         r"denoiser"):
        MLPScore(2, VPLinear(), jax.random.key(0), parameterisation="v")


def test_sample_diffusion_mixture_matches_data_moments():
    """Heun on the probability-flow ODE with the exact mixture score, from the prior:
    mean and variances of the output within 4 standard errors of the mixture's own
    (truncation at t_min = 1e-3 and 40 Heun steps are far below the Monte Carlo error)."""
    schedule = VPLinear()
    w, mu, var = np.array([0.3, 0.7]), np.array([[-2.0, 0.0], [1.5, 1.0]]), \
        np.array([[0.3, 0.5], [0.6, 0.2]])
    score = GaussianMixtureScore(w, mu, var, schedule)
    n = 3000
    out = sample_diffusion(jax.random.key(2), score, schedule, "edm", n_steps=40, dim=2,
                           n_samples=n, solver="heun", brownian="unsafe", route="scan")
    mean, cov, se_var = sample_statistics(out.samples)
    true_mean = w @ mu
    true_var = w @ (var + mu**2) - true_mean**2
    data = score.sample_data(jax.random.key(3), 20_000)  # the data sampler agrees too
    assert np.all(np.abs(data.mean(axis=0) - true_mean) < 4 * np.sqrt(true_var / 20_000))
    assert np.all(np.abs(mean - true_mean) < 4 * np.sqrt(np.diag(cov) / n)), (mean, true_mean)
    assert np.all(np.abs(np.diag(cov) - true_var) < 4 * se_var), (np.diag(cov), true_var)


def test_sample_diffusion_bad_input():
    score = GaussianScore(GaussianTarget([1.0]), VPLinear())
    with pytest.raises(ValueError, match=r"grid 'edm' is a name: give n_steps"):
        sample_diffusion(jax.random.key(0), score, VPLinear(), "edm", n_samples=2, dim=1)
    with pytest.raises(ValueError, match=r"give the dimension dim >= 1"):
        sample_diffusion(jax.random.key(0), score, VPLinear(), "edm", n_steps=3, n_samples=2)
