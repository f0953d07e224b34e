"""The exact law read off the sampler step, against hand-derived oracles and Monte Carlo."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import error_curve, exact_law, exact_law_per_direction, power_law_spectrum
from sampling import (
    AbstractScoreModel,
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    make_solver,
    sample,
    sample_statistics,
)
from schedules import EDM, VE, LinearInterpolant, VPCosine, VPLinear, make_grid

EULER = make_solver("euler")


def em_recursion(schedule, grid, eta, lam, mu, mean0, var0):
    """MATH.md section 2, written out by hand in NumPy (the test oracle)."""
    lam, mu = np.asarray(lam, float), np.asarray(mu, float)
    mean, var = np.array(mean0, float), np.array(var0, float)
    grid = np.asarray(grid)
    for k in range(len(grid) - 1):
        t, h = grid[k], grid[k] - grid[k + 1]
        a, g2, f = float(schedule.alpha(t)), float(schedule.g2(t)), float(schedule.f(t))
        e = eta(t) if callable(eta) else eta
        m = a**2 * lam + float(schedule.sigma(t)) ** 2
        c = f + (1 + e) * g2 / (2 * m)
        var = (1 - h * c) ** 2 * var + e * g2 * h
        mean = (1 - h * c) * mean + h * (1 + e) * g2 * a * mu / (2 * m)
    return mean, var


CASES = [
    (VPLinear(), "edm"),
    (VPCosine(), "logsnr"),
    (VE(), "geometric"),
    (EDM(), "kl-optimal"),
    (LinearInterpolant(), "quadratic"),
    (VPLinear(t_min=0.01, t_max=0.7), "uniform"),
]


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0, lambda t: 0.3 + 0.0 * t], ids=["0", "0.5", "1", "fn"])
@pytest.mark.parametrize("schedule, grid_name", CASES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_per_direction_law_matches_hand_recursion(schedule, grid_name, eta):
    lam = np.array([3.0, 0.7, 0.05])
    mu = np.array([1.0, -0.5, 2.0])
    target = GaussianTarget(lam, mean=mu)
    grid = make_grid(grid_name, schedule, 12)
    start = target.marginal_in_eigenbasis(schedule, grid[0])
    law = exact_law_per_direction(target, schedule, eta, grid, EULER, start)
    mean, var = em_recursion(schedule, grid, eta, lam, mu, start.mean, start.cov)
    np.testing.assert_allclose(law.cov, var, rtol=1e-11)
    np.testing.assert_allclose(law.mean, mean, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_full_matrix_route_agrees_with_per_direction_route(eta):
    schedule = VPCosine()
    u, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(4, 4)))
    target = GaussianTarget([2.0, 1.0, 0.3, 0.01], u, [0.5, -1.0, 0.0, 2.0])
    grid = make_grid("edm", schedule, 9)
    reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), eta)
    full = exact_law(reverse, grid, EULER, target.marginal(schedule, grid[0]))
    per = exact_law_per_direction(target, schedule, eta, grid, EULER,
                                  target.marginal_in_eigenbasis(schedule, grid[0]))
    rotated = per.rotate(target.basis())
    np.testing.assert_allclose(full.mean, rotated.mean, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(full.cov, rotated.cov, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_exact_law_matches_monte_carlo(eta):
    """Mean and variance of 2e4 Diffrax particles within 4 Monte Carlo standard errors."""
    schedule = EDM(t_min=0.05, t_max=10.0)
    target = GaussianTarget([1.5, 0.1], mean=[1.0, -2.0])
    grid = make_grid("edm", schedule, 6)
    reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), eta)
    start = target.marginal(schedule, grid[0])
    law = exact_law(reverse, grid, EULER, start)
    n = 20_000
    out = sample(jax.random.key(7), reverse, grid, EULER, start, n, brownian="unsafe")
    mean, cov, se_var = sample_statistics(out.samples)
    se_mean = np.sqrt(np.diag(law.cov) / n)
    assert np.all(np.abs(mean - law.mean) < 4 * se_mean), (mean, law.mean, se_mean)
    assert np.all(np.abs(np.diag(cov) - np.diag(law.cov)) < 4 * se_var), (cov, law.cov, se_var)
    # The discretization error is visible: the exact law is not the marginal at t_min.
    assert abs(float(law.cov[1, 1] - target.marginal(schedule, grid[-1]).cov[1, 1])) > 10 * float(se_var[1])


@pytest.mark.parametrize("n", [1, 5, 50])
def test_vp_unit_variance_ode_is_exact(n):
    """VP with lambda = 1 and eta = 0: c(t) = 0, every Euler step is the identity."""
    schedule = VPLinear()
    curve = error_curve(GaussianTarget([1.0, 1.0]), schedule, [n], grid="uniform", eta=0.0)
    assert curve.w2sq[0] < 1e-12 and curve.kl[0] < 1e-12


def test_check_values_edm_rho7():
    """MATH.md section 3: N (v_N - m(t_min)) = -4.891, -5.082, -5.131, -5.143."""
    schedule = EDM()
    target = GaussianTarget([1.0])
    expected = {50: -4.891, 200: -5.082, 800: -5.131, 3200: -5.143}
    for n, value in expected.items():
        grid = make_grid("edm", schedule, n)
        law = exact_law_per_direction(target, schedule, 0.0, grid, EULER,
                                      target.marginal_in_eigenbasis(schedule, grid[0]))
        scaled = n * float(law.cov[0] - target.marginal_variances(schedule, schedule.t_min)[0])
        assert scaled == pytest.approx(value, abs=1e-3)


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("schedule", [VPLinear(), EDM()], ids=["vp", "edm"])
def test_euler_w2sq_order_is_two(schedule, eta):
    steps = [64, 128, 256, 512, 1024]
    curve = error_curve(GaussianTarget(power_law_spectrum(1.0, 10)), schedule, steps,
                        grid="edm", eta=eta)
    slope = np.polyfit(np.log(steps), np.log(curve.w2sq), 1)[0]
    assert slope == pytest.approx(-2.0, abs=0.15)


class _CubicScore(AbstractScoreModel):
    def __call__(self, x, t):
        return -(x**3)


def test_exact_law_refuses_a_non_affine_score():
    schedule = EDM()
    reverse = ReverseDiffusion(schedule, _CubicScore(), 0.0)
    grid = make_grid("edm", schedule, 4)
    target = GaussianTarget([1.0, 1.0])
    with pytest.raises(ValueError, match="_CubicScore is not affine in x"):
        exact_law(reverse, grid, EULER, target.marginal(schedule, grid[0]))


def test_diffrax_and_scan_routes_agree_on_the_same_noise():
    schedule = VPLinear()
    target = GaussianTarget([2.0, 0.2], mean=[1.0, 0.0])
    reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), 1.0)
    grid = make_grid("logsnr", schedule, 15)
    start = target.marginal(schedule, grid[0])
    a = sample(jax.random.key(1), reverse, grid, EULER, start, 64, route="diffrax")
    b = sample(jax.random.key(1), reverse, grid, EULER, start, 64, route="scan")
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-12, atol=1e-12)
    c = sample(jax.random.key(1), reverse, grid, EULER, start, 8, route="scan")
    np.testing.assert_array_equal(c.samples, b.samples[:8])  # batch-size invariant
    assert a.nfe == 15 and a.n_steps == 15
    assert jnp.all(jnp.isfinite(a.samples))


def test_no_recompilation_for_a_new_grid_or_spectrum_of_the_same_size():
    import analysis._exact_law as module

    schedule = EDM()
    sizes = []
    for lam, rho in [([1.0, 2.0], 7.0), ([3.0, 0.5], 3.0), ([0.1, 9.0], 1.0)]:
        target = GaussianTarget(lam)
        grid = make_grid("edm", schedule, 10, rho=rho)
        exact_law_per_direction(target, schedule, 0.5, grid, EULER,
                                target.marginal_in_eigenbasis(schedule, grid[0]))
        sizes.append(module._per_direction_jit._cached._cache_size())
    assert sizes[1] == sizes[0] and sizes[2] == sizes[0]


def test_float32_input_gives_float64_laws():
    schedule = VPLinear()
    target = GaussianTarget(np.array([1.0, 0.1], dtype=np.float32))
    grid = make_grid("edm", schedule, 5).astype(np.float32)
    law = exact_law_per_direction(target, schedule, 1.0, grid, EULER,
                                  target.marginal_in_eigenbasis(schedule, grid[0]))
    assert law.cov.dtype == jnp.float64 and law.mean.dtype == jnp.float64
