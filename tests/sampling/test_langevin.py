"""Langevin kernels: invariance, bias, exact laws vs Monte Carlo (4 standard errors)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from analysis import dual_scheme_stationary_law, langevin_law, stationary_law
from sampling import (
    MALA,
    ULA,
    AnnealedLangevin,
    BetaProduct,
    BoxBarrier,
    BurgEntropy,
    Dirichlet,
    DualLangevin,
    EntropySimplex,
    FermiDirac,
    GaussianLaw,
    GaussianPotential,
    GaussianScore,
    GaussianTarget,
    LogitNormal,
    LogNormal,
    MirrorLangevin,
    MirrorMALA,
    NonFiniteError,
    PreconditionedULA,
    QuadraticMirror,
    run_langevin,
)
from schedules import VE

BETA = BetaProduct(2.0, 5.0)
N = 20000


def within_four_se(x: np.ndarray, mean, var):
    """Sample mean and variance of independent draws against exact values (per coordinate)."""
    n = x.shape[0]
    z_mean = (x.mean(0) - mean) / np.sqrt(var / n)
    # Var of the sample variance: (mu4 - var^2)/n with the sample fourth central moment.
    mu4 = np.mean((x - x.mean(0)) ** 4, axis=0)
    z_var = (x.var(0, ddof=1) - var) / np.sqrt((mu4 - var**2) / n)
    return np.abs(z_mean).max(), np.abs(z_var).max()


@pytest.fixture(scope="module")
def beta_start():
    return BETA.sample(jr.key(0), N)


@pytest.mark.parametrize("make", [
    lambda h: MALA(BETA, h),
    lambda h: MirrorMALA(BETA, FermiDirac(), h),
    lambda h: MirrorMALA(BETA, BoxBarrier(0.0, 1.0), h),
], ids=["mala", "mirror-mala-fermi-dirac", "mirror-mala-box-barrier"])
def test_metropolis_kernels_leave_beta_invariant(beta_start, make):
    h = 0.05 if not isinstance(make(0.1), MALA) else 0.01
    run = run_langevin(jr.key(1), make(h), beta_start, 30)
    x = np.asarray(run.state.position)
    zm, zv = within_four_se(x, BETA.mean(), BETA.variance())
    assert zm < 4 and zv < 4
    assert 0.5 < float(run.acceptance_rate.mean()) < 1.0


def test_unadjusted_mirror_langevin_is_biased_and_bias_decreases_with_h(beta_start):
    biases, ses = [], []
    for h in [0.2, 0.05]:
        run = run_langevin(jr.key(2), MirrorLangevin(BETA, FermiDirac(), h), beta_start,
                           int(8 / h))
        x = np.asarray(run.state.position[:, 0])
        biases.append(x.mean() - BETA.mean()[0])
        ses.append(x.std() / np.sqrt(N))
    assert biases[0] > 10 * ses[0]  # the same invariance test rejects the unadjusted chain
    assert biases[0] - biases[1] > 4 * np.hypot(*ses)
    assert biases[1] > 0


def test_mirror_mala_on_dirichlet():
    target = Dirichlet([2.0, 3.0, 4.0])
    x0 = target.sample(jr.key(3), N)
    run = run_langevin(jr.key(4), MirrorMALA(target, EntropySimplex(), 0.05), x0, 20)
    x = np.asarray(run.state.position)
    zm, zv = within_four_se(x, target.mean(), target.variance())
    assert zm < 4 and zv < 4
    assert np.all(x > 0) and np.all(x.sum(1) < 1)


def test_dual_scheme_matches_exact_dual_law():
    target = LogitNormal([0.5, -1.0], [0.4, 0.9])
    h = 0.2
    law, mirror = dual_scheme_stationary_law(target, h)
    a = 1 / np.array([0.4, 0.9])
    np.testing.assert_allclose(np.diag(np.asarray(law.cov)), 1 / (a - h / 2 * a**2), rtol=1e-10)
    kernel = DualLangevin(target, mirror, h)
    y0 = jnp.asarray(target.sample(jr.key(5), N))
    run = run_langevin(jr.key(6), kernel, y0, 40, record=None)
    y = np.asarray(run.state.dual)
    zm, zv = within_four_se(y, np.asarray(law.mean), np.diag(np.asarray(law.cov)))
    assert zm < 4 and zv < 4


def test_lognormal_dual_law_and_stationary_law_of_dual_kernel():
    target = LogNormal([0.0], [0.25])
    law, mirror = dual_scheme_stationary_law(target, 0.1)
    assert float(law.cov[0, 0]) == pytest.approx(1 / (4 - 0.05 * 16), rel=1e-10)
    with pytest.raises(ValueError, match="stability bound"):
        dual_scheme_stationary_law(target, 0.5)


def test_burg_dual_exits_are_rejected_and_reported():
    target = LogNormal([0.0, 0.0], [1.0, 1.0])
    x0 = jnp.ones((500, 2))
    run = run_langevin(jr.key(7), MirrorLangevin(target, BurgEntropy(), 0.5), x0, 50)
    assert int(run.domain_exits.sum()) > 0
    assert np.all(np.asarray(run.state.position) > 0)
    assert np.all(np.asarray(run.state.dual) < 0)


def test_quadratic_mirror_is_preconditioned_ula():
    target = GaussianPotential(np.array([1.0, 30.0]), mean=[0.5, -0.5])
    m = np.array([2.0, 10.0])
    x0 = jr.normal(jr.key(8), (50, 2))
    a = run_langevin(jr.key(9), MirrorLangevin(target, QuadraticMirror(m), 0.05), x0, 20)
    b = run_langevin(jr.key(9), PreconditionedULA(target, 0.05, m), x0, 20)
    np.testing.assert_allclose(a.state.position, b.state.position, rtol=1e-10, atol=1e-12)


def test_same_key_same_chain_whatever_the_batch():
    target = GaussianPotential(np.array([1.0, 4.0]))
    x0 = jr.normal(jr.key(10), (5, 2))
    small = run_langevin(jr.key(11), MALA(target, 0.3), x0[:2], 15, record=lambda s: s.position)
    big = run_langevin(jr.key(11), MALA(target, 0.3), x0, 15, record=lambda s: s.position)
    np.testing.assert_array_equal(small.trace[:, :2], big.trace[:, :2])
    assert big.trace.shape == (15, 5, 2)
    untraced = run_langevin(jr.key(11), MALA(target, 0.3), x0, 15)
    np.testing.assert_array_equal(untraced.state.position, big.state.position)
    np.testing.assert_allclose(untraced.acceptance_rate, big.acceptance_rate, rtol=1e-12)


def test_mala_acceptance_falls_with_h():
    target = GaussianPotential(np.array([1.0, 100.0]))
    x0 = target.law().mean + jr.normal(jr.key(12), (2000, 2)) * jnp.sqrt(target.law().cov)
    rates = [float(run_langevin(jr.key(13), MALA(target, h), x0, 10).acceptance_rate.mean())
             for h in [0.001, 0.01, 0.03]]
    assert rates[0] > rates[1] > rates[2]
    assert rates[0] > 0.95


def test_annealed_langevin_exact_law_vs_monte_carlo():
    data = GaussianTarget(jnp.array([1.0, 0.05]))
    schedule = VE()
    kernel = AnnealedLangevin(GaussianScore(data, schedule), schedule,
                              jnp.array([2.0, 0.5, 0.1]), 8, 0.01)
    start = GaussianLaw(jnp.zeros(2), jnp.eye(2) * 4.0)
    law = langevin_law(kernel, start, kernel.n_steps)
    x0 = jnp.sqrt(4.0) * jr.normal(jr.key(14), (N, 2))
    x = np.asarray(run_langevin(jr.key(15), kernel, x0, kernel.n_steps).state.position)
    zm, zv = within_four_se(x, np.asarray(law.mean), np.diag(np.asarray(law.cov)))
    assert zm < 4 and zv < 4


def test_annealed_single_level_reaches_the_dsm_stationary_law():
    """One level sigma, step tau: variance g = (l + s^2)^2 / (l + s^2 - tau/2) (MATH.md sec. 4)."""
    lam, sigma, tau = np.array([1.0, 0.05]), 0.1, 0.02
    schedule = VE()
    kernel = AnnealedLangevin(GaussianScore(GaussianTarget(jnp.asarray(lam)), schedule),
                              schedule, jnp.array([sigma]), 4000, tau)
    law = langevin_law(kernel, GaussianLaw(jnp.zeros(2), jnp.zeros((2, 2))), 400)
    c = lam + sigma**2
    g = c**2 / (c - tau / 2)
    rho = 1 - tau / c
    np.testing.assert_allclose(np.diag(np.asarray(law.cov)), (1 - rho**800) * g, rtol=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match="Dirichlet parameters alpha must be > 0"):
        Dirichlet([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="outside the domain of the entropy-simplex"):
        run_langevin(jr.key(0), MirrorLangevin(Dirichlet([2.0, 2.0, 2.0]), EntropySimplex(), 0.1),
                     jnp.array([[0.2, 0.3], [0.7, 0.4]]), 5)
    with pytest.raises(ValueError, match="strictly decreasing"):
        AnnealedLangevin(GaussianScore(GaussianTarget(jnp.ones(1)), VE()), VE(),
                         jnp.array([0.1, 1.0]), 2, 0.01)
    with pytest.raises(ValueError, match="dual domain of the burg"):
        DualLangevin(LogNormal([0.0], [1.0]), BurgEntropy(), 0.1).init_dual(jnp.array([0.5]))
    with pytest.raises(NonFiniteError, match="non-finite"):
        run_langevin(jr.key(0), ULA(GaussianPotential(np.array([1.0, 100.0])), 0.05),
                     jnp.ones((4, 2)), 2000)
    with pytest.raises(ValueError, match="exact law"):
        stationary_law(MALA(GaussianPotential(np.ones(1)), 0.1), 1)
