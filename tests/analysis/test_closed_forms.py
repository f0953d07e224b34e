"""Closed forms of MATH.md section 3 against the general quadrature."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from analysis import first_order_constant
from analysis._closed_forms import (
    cancelling_eta,
    edm_geometric_relative_constant,
    edm_rho_relative_constant,
    edm_uniform_relative_constant,
    first_order_cancelling_eta,
    rho_grid_factor,
    sharp_w2_rate,
    variance_time_relative_constant,
)
from schedules import EDM, AbstractSchedule


class VarianceTime(AbstractSchedule):
    """alpha = 1, sigma^2 = t (test-only schedule for the variance-time closed forms)."""

    t_min: float = eqx.field(default=1e-6, converter=float)
    t_max: float = eqx.field(default=1e6, converter=float)

    def alpha(self, t):
        return jnp.ones_like(jnp.asarray(t, float))

    def sigma(self, t):
        return jnp.sqrt(jnp.asarray(t, float))

    def t_from_noise_level(self, noise_level):
        return jnp.asarray(noise_level, float) ** 2


def test_rho_grid_formula_within_0p2_percent_at_lambda_0p1():
    I, _ = first_order_constant(EDM(), [0.1], grid="edm", rho=7.0, eta=0.0)
    assert edm_rho_relative_constant(0.1, rho=7.0, eta=0.0) == pytest.approx(I[0] / 0.1, rel=2e-3)
    I1, _ = first_order_constant(EDM(), [0.1], grid="edm", rho=7.0, eta=1.0)
    assert edm_rho_relative_constant(0.1, rho=7.0, eta=1.0) == pytest.approx(I1[0] / 0.1, rel=2e-3)


def test_rho_grid_factor_beta_function_value():
    # rho = 1, eta = 0: a = 1/2, J = 1/2 B(1/2, 1/2)(1/2 - 1) = -pi/4.
    assert float(rho_grid_factor(0.0, 1.0)) == pytest.approx(-np.pi / 4, rel=1e-14)


@pytest.mark.parametrize("rho, expected", [(7.0, 1 / 13), (1.0, 1.0), (3.0, 0.2)])
def test_cancelling_eta(rho, expected):
    assert float(cancelling_eta(rho)) == pytest.approx(expected, rel=1e-14)
    assert abs(float(rho_grid_factor(cancelling_eta(rho), rho))) < 1e-14


@pytest.mark.parametrize("lam, expected", [(1e-4, 0.080), (1e-2, 0.099), (10.0, 0.158)])
def test_cancelling_eta_drifts_with_lambda_on_a_finite_interval(lam, expected):
    eta = first_order_cancelling_eta(EDM(), lam, grid="edm", rho=7.0)
    assert eta == pytest.approx(expected, abs=6e-4)
    assert abs(first_order_constant(EDM(), [lam], eta=eta)[0][0]) < 1e-8


def test_uniform_and_geometric_sigma_grid_limits():
    s = EDM(t_min=1e-5, t_max=1e5)
    I, _ = first_order_constant(s, [1.0], grid="uniform")
    assert I[0] == pytest.approx(edm_uniform_relative_constant(1.0, 1e5), rel=1e-4)
    for lam in (0.1, 1.0, 10.0):
        I, _ = first_order_constant(s, [lam], grid="geometric")
        assert I[0] / lam == pytest.approx(edm_geometric_relative_constant(1e-5, 1e5), rel=1e-3)


def test_edm_ode_integral_against_scipy():
    # I = -lambda (lambda + t_min^2) int |tau'(tau^-1(t))| / (lambda + t^2)^2 dt, rho-grid.
    s, lam, rho = EDM(), 0.3, 7.0
    a, b = s.t_max ** (1 / rho), s.t_min ** (1 / rho)
    density = lambda t: rho * (a - b) * t ** (1 - 1 / rho)   # |tau'| at u = tau^-1(t)
    val, _ = quad(lambda t: density(t) / (lam + t**2) ** 2, s.t_min, s.t_max, limit=500,
                  epsabs=0, epsrel=1e-12, points=[np.sqrt(lam)])
    I, _ = first_order_constant(s, [lam], grid="edm", rho=rho)
    assert I[0] == pytest.approx(-lam * (lam + s.t_min**2) * val, rel=1e-9)


@pytest.mark.parametrize("eta", [0, 1])
def test_variance_time_geometric_grid(eta):
    lam = np.array([0.5, 3.0])
    I, _ = first_order_constant(VarianceTime(), lam, grid="geometric", eta=eta)
    expected = variance_time_relative_constant(lam, t_min=1e-6, t_max=1e6, eta=eta)
    np.testing.assert_allclose(I / lam, expected, rtol=1e-4)


def test_sharp_rate_from_the_first_order_expansion():
    n = 1_000_000
    lam = np.array([0.5, 1.0, 2.0])
    s = VarianceTime(t_min=float(n) ** -2, t_max=float(n) ** 0.5)
    I, _ = first_order_constant(s, lam, grid="geometric", eta=1.0)
    m = lam + s.t_min
    w2 = np.sqrt(np.sum(I**2 / (4 * m))) / n
    assert w2 == pytest.approx(sharp_w2_rate(lam.sum(), n), rel=0.005)


def test_bad_inputs():
    with pytest.raises(ValueError, match="lambda must be finite and > 0"):
        edm_rho_relative_constant(-1.0)
    with pytest.raises(ValueError, match="eta must be finite and >= 0"):
        rho_grid_factor(-0.1, 7.0)
    with pytest.raises(ValueError, match="needs rho > 1/2"):
        cancelling_eta(0.25)
    with pytest.raises(ValueError, match="has one sign"):
        first_order_cancelling_eta(EDM(), 1.0, bracket=(0.5, 1.0))
    with pytest.raises(ValueError, match="eta = 0 or 1"):
        variance_time_relative_constant(1.0, t_min=1e-3, t_max=10.0, eta=0.5)
