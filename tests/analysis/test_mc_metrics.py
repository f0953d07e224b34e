"""Monte Carlo errors: sliced W2^2, MMD^2 and Fréchet against closed forms on Gaussians (within
4 standard errors), the Gaussian-target Fréchet error against the exact law, the coupled
error's order on a Gaussian mixture with exact score, and the particle driver against
`sample` bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import (
    coupled_error,
    error_curve,
    frechet,
    mc_curve,
    mmd2,
    mmd2_gaussians,
    order_fit,
    run_particles,
    sliced_w2sq,
    sliced_w2sq_gaussians,
    w2sq_gaussian,
)
from sampling import (
    GaussianLaw,
    GaussianMixtureScore,
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    make_solver,
    sample,
)
from schedules import EDM, VPLinear, make_grid

D = 3


def draw(law: GaussianLaw, n: int, seed: int):
    return law.mean + jnp.sqrt(law.cov) * jax.random.normal(jax.random.key(seed), (n, law.dim))


@pytest.fixture(scope="module")
def isotropic():
    p = GaussianLaw(jnp.array([0.6, -0.3, 0.0]), jnp.full(D, 1.5))
    q = GaussianLaw(jnp.zeros(D), jnp.full(D, 0.8))
    return p, q, draw(p, 2000, 1), draw(q, 2000, 2)


def test_sliced_w2sq_against_the_isotropic_closed_form(isotropic):
    p, q, x, y = isotropic
    # theta ~ uniform on the sphere: E (theta . m)^2 = |m|^2 / d; the spreads are a, b in every
    # direction, so SW2^2 = |m_p - m_q|^2 / d + (sqrt a - sqrt b)^2 exactly.
    exact = float(jnp.sum((p.mean - q.mean) ** 2)) / D + (np.sqrt(1.5) - np.sqrt(0.8)) ** 2
    key = jax.random.key(3)
    for reference in (q, y):
        est = sliced_w2sq(key, x, reference)
        assert 0 < est.se < 0.1 * exact
        assert abs(est.value - exact) < 4 * est.se, (est, exact)
    closed = sliced_w2sq_gaussians(key, p, q)
    assert abs(closed.value - exact) < 4 * closed.se + 1e-12


def test_mmd2_against_the_gaussian_closed_form(isotropic):
    p, q, x, y = isotropic
    exact = mmd2_gaussians(p, q, bandwidth=1.7)
    for reference in (q, y):  # the closed-form cross terms, and plain kernel sums
        est = mmd2(x, reference, bandwidth=1.7)
        assert 0 < est.se < 0.3 * exact
        assert abs(est.value - exact) < 4 * est.se, (est, exact)
    same = mmd2(x, p, bandwidth=1.7)  # unbiased: no floor when the laws agree
    assert abs(same.value) < 4 * same.se


def test_frechet_against_w2sq_and_its_plugin_bias():
    p = GaussianLaw(jnp.array([0.3, 0.0, 0.0]), jnp.array([1.0, 0.5, 2.0]))
    q = GaussianLaw(jnp.zeros(D), jnp.array([1.2, 0.5, 1.0]))
    x = draw(p, 2000, 4)
    exact = float(w2sq_gaussian(p, q))
    for reference in (q, draw(q, 2000, 5)):
        est = frechet(jax.random.key(6), x, reference)
        assert abs(est.value - exact) < 4 * est.se, (est, exact)
        assert est.value == pytest.approx(est.plugin - est.bias, rel=1e-12)
    # Same law: the plug-in bias is tr S / n + (1/2n)[sum_{i != j} l_i l_j/(l_i + l_j) + sum l]
    # to leading order; the bootstrap estimates it, and the corrected value is ~0.
    lam = np.asarray(p.cov)
    pairs = lam[:, None] * lam[None, :] / (lam[:, None] + lam[None, :])
    predicted = (lam.sum() + 0.5 * (pairs.sum() - np.trace(pairs) + lam.sum())) / 2000
    est = frechet(jax.random.key(7), x, p)
    assert est.bias == pytest.approx(predicted, rel=0.3)
    assert abs(est.value) < 4 * est.se


def test_coupled_error_and_order_fit_on_known_numbers():
    x = jnp.zeros((4, 2))
    y = jnp.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    est = coupled_error(x, y)
    sq = np.array([1.0, 4.0, 2.0, 0.0])
    assert est.value == pytest.approx(sq.mean()) and est.se == pytest.approx(sq.std(ddof=1) / 2)
    steps = np.array([8, 16, 32, 64])
    noise = np.exp(0.1 * np.random.default_rng(0).normal(size=(500, 4)))
    fit = order_fit(jax.random.key(0), steps, 3.0 * steps**-3.0 * noise)
    assert abs(fit.slope + 3.0) < 4 * fit.slope_se and fit.slope_se < 0.05
    assert fit.order == pytest.approx(-fit.slope / 2)


@pytest.mark.parametrize("name, eta", [
    ("euler", 0.0),  # the program of the Fréchet cross-check below (same shapes): compiled once
    pytest.param("heun", 0.0, marks=pytest.mark.slow),
    pytest.param("euler", 1.0, marks=pytest.mark.slow),  # the tree: compiles twice, slowly
    pytest.param("dpm2m", 0.0, marks=pytest.mark.slow),
])
def test_run_particles_equals_sample(name, eta):
    schedule = VPLinear()
    target = GaussianTarget([1.0, 0.3, 0.05])
    reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), eta)
    start = target.marginal_in_eigenbasis(schedule, schedule.t_max)
    grid = make_grid("edm", schedule, 6)
    key = jax.random.key(11)
    ours = run_particles(key, reverse, grid, make_solver(name), start, 2000, length=16)
    theirs = sample(key, reverse, grid, make_solver(name), start, 2000, route="scan").samples
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_gaussian_target_frechet_matches_the_exact_law():
    # Shapes shared with the other tests and the CLI test (2000 x 3 against a diagonal law,
    # grids padded to 16 points), so the compiled programs are reused.
    schedule = VPLinear()
    target = GaussianTarget([1.0, 0.3, 0.05])
    reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), 0.0)
    start = target.marginal_in_eigenbasis(schedule, schedule.t_max)
    reference = target.marginal_in_eigenbasis(schedule, schedule.t_min)
    steps = [3, 6]
    exact = error_curve(target, schedule, steps, grid="edm", eta=0.0, solver="euler").w2sq
    for n, w2sq in zip(steps, exact, strict=True):
        x = run_particles(jax.random.key(n), reverse, make_grid("edm", schedule, n),
                          make_solver("euler"), start, 2000, length=16)
        est = frechet(jax.random.key(0), x, reference)
        assert est.se < 0.3 * w2sq
        assert abs(est.value - w2sq) < 4 * est.se, (n, est, w2sq)


@pytest.mark.parametrize("name, order", [("euler", 1.0),
                                         pytest.param("heun", 2.0, marks=pytest.mark.slow)])
def test_coupled_error_shows_the_solver_order_on_a_mixture(name, order):
    # Exact score of a 3-component mixture: Euler (order 1) and Heun (order 2) on the
    # probability-flow ODE; E|X_N - X_ref|^2 ~ N^(-2p) against a 512-step reference that
    # starts from the same prior draws.
    schedule = EDM()
    score = GaussianMixtureScore([0.3, 0.3, 0.4], [[-1.5, 0.0], [1.5, 0.0], [0.0, 1.5]],
                                 [[0.2, 0.3], [0.3, 0.2], [0.25, 0.25]], schedule)
    reverse = ReverseDiffusion(schedule, score, 0.0)
    start = GaussianLaw(jnp.zeros(2), jnp.full(2, float(schedule.prior_variance())))
    steps = [16, 32, 64]
    key = jax.random.key(0)
    solver = make_solver(name)
    run = lambda n: run_particles(key, reverse, make_grid("edm", schedule, n), solver, start, 200,
                                  length=1024)
    ref = run(512)
    squared = np.stack([np.sum(np.asarray(run(n) - ref) ** 2, axis=1) for n in steps], axis=1)
    fit = order_fit(jax.random.key(1), steps, squared)
    assert abs(fit.order - order) < 0.25, (name, fit)
    assert fit.order_se < 0.05


def test_bad_inputs_name_the_problem():
    x = jnp.zeros((10, 2))
    with pytest.raises(ValueError, match="at least 2 samples, got 1"):
        sliced_w2sq(jax.random.key(0), x[:1], x)
    with pytest.raises(ValueError, match="dimension 3, the samples have 2"):
        frechet(jax.random.key(0), x, jnp.zeros((10, 3)))
    with pytest.raises(ValueError, match="bandwidth must be a finite number > 0"):
        mmd2(x, x, bandwidth=-1.0)
    with pytest.raises(ValueError, match="paired particles, got 10 and 9"):
        coupled_error(x, x[:9])
    schedule = VPLinear()
    target = GaussianTarget([1.0])
    law = target.law_in_eigenbasis()
    with pytest.raises(ValueError, match="particles must be >= 2"):
        mc_curve(jax.random.key(0), GaussianScore(target, schedule), schedule, [4], start=law,
                 reference=law, n_particles=1)
    with pytest.raises(ValueError, match="reference steps must exceed every N"):
        mc_curve(jax.random.key(0), GaussianScore(target, schedule), schedule, [4, 8], start=law,
                 reference=law, n_particles=10, reference_steps=8)
