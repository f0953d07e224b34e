"""First-order expansion of the EM error ([GEO], MATH.md section 3): quadrature route,
Richardson route, check values, and the first-order predictions against exact errors."""

import jax.numpy as jnp
import numpy as np
import pytest

from analysis import (
    GRID_MAPS,
    bures_first_order,
    compare_routes,
    error_curve,
    exact_scaled_errors,
    expansion,
    first_order_constant,
    grid_from_map,
    grid_map,
    w2sq_gaussian,
    weak_constant,
)
from sampling import GaussianLaw, GaussianTarget
from schedules import EDM, make_grid, make_schedule


@pytest.mark.parametrize("eta, expected", [(0.0, -5.148), (1.0, 4.412)])
def test_math_md_check_values(eta, expected):
    I, err = first_order_constant(EDM(), [1.0], grid="edm", rho=7.0, eta=eta)
    assert I[0] == pytest.approx(expected, abs=6e-4)
    assert err[0] < 1e-9


def test_exact_route_check_values_tend_to_I():
    e = exact_scaled_errors(EDM(), [1.0], [50, 3200])
    np.testing.assert_allclose(e[:, 0], [-4.891, -5.143], atol=6e-4)


@pytest.mark.parametrize("schedule", ["vp", "vp-cosine", "ve", "edm", "flow"])
@pytest.mark.parametrize("grid", list(GRID_MAPS))
def test_grid_maps_reproduce_the_grid_builders(schedule, grid):
    s = make_schedule(schedule)
    if grid == "geometric" and s.t_min <= 0:
        pytest.skip("geometric needs t_min > 0")
    expected = np.asarray(make_grid(grid, s, 7, rho=5.0))
    got = np.asarray(grid_from_map(grid_map(grid, s, 5.0), s, 7))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("schedule, grid, eta, n0", [
    ("vp", "edm", 0.7, 200),
    pytest.param("vp-cosine", "logsnr", 0.0, 200, marks=pytest.mark.slow),
    ("ve", "edm", 1.0, 200),
    ("edm", "kl-optimal", 0.0, 200),
    # step density -> 0 at t_min: slower Richardson
    pytest.param("flow", "quadratic", 0.3, 400, marks=pytest.mark.slow),
])
def test_richardson_agrees_with_quadrature(schedule, grid, eta, n0):
    r = compare_routes(make_schedule(schedule), [0.05, 0.5, 2.0], grid=grid, eta=eta,
                       steps=(n0, 2 * n0, 4 * n0, 8 * n0))
    # Agreement to 1e-6, or within Richardson's own error estimate where it converges slowly
    # (the quadratic grid's vanishing step density at t_min).
    quad, rich = np.array(r["I_quadrature"]), np.array(r["I_richardson"])
    assert np.all(np.abs(quad - rich) <= np.maximum(1e-6 * np.abs(quad), r["I_richardson_error"]))
    assert r["max_relative_difference"] < 1e-4


@pytest.mark.parametrize("schedule", ["edm", "vp"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_exact_to_predicted_ratio_within_one_percent_at_3200(schedule, eta):
    s = make_schedule(schedule)
    lam = np.array([0.02, 0.3, 3.0])
    exp = expansion(s, lam, grid="edm", eta=eta)
    curve = error_curve(GaussianTarget(lam), s, [3200], grid="edm", eta=eta)
    ratio = curve.discretization[0] * 3200**2 / exp.frechet_constant
    assert ratio == pytest.approx(1.0, abs=0.01)
    weak_ratio = curve.weak_trace[0] * 3200 / exp.weak_trace_constant
    assert weak_ratio == pytest.approx(1.0, abs=0.01)


def test_time_dependent_eta_matches_constant_and_richardson():
    s = make_schedule("vp")
    lam = [0.1, 1.5]
    const, _ = first_order_constant(s, lam, eta=0.4)
    as_function, _ = first_order_constant(s, lam, eta=lambda t: 0.4 + 0.0 * t)
    np.testing.assert_allclose(as_function, const, rtol=1e-10)
    eta_t = lambda t: 0.2 + 0.8 * t
    r = compare_routes(s, lam, eta=eta_t, steps=(200, 400, 800, 1600))
    quad, rich = np.array(r["I_quadrature"]), np.array(r["I_richardson"])
    assert np.all(np.abs(quad - rich) <= np.maximum(1e-6 * np.abs(quad), r["I_richardson_error"]))
    assert r["max_relative_difference"] < 1e-5


def test_user_grid_map_equals_named_grid():
    s = EDM()
    a, b = s.t_max ** (1 / 7), s.t_min ** (1 / 7)
    named, _ = first_order_constant(s, [0.3], grid="edm")
    user, _ = first_order_constant(s, [0.3], grid=lambda u: (a + u * (b - a)) ** 7)
    np.testing.assert_allclose(user, named, rtol=1e-9)


def test_vp_ode_with_unit_eigenvalue_is_exact():
    I, _ = first_order_constant(make_schedule("vp"), [1.0], grid="uniform", eta=0.0)
    assert abs(I[0]) < 1e-10


def test_frechet_and_weak_constants():
    s = EDM()
    exp = expansion(s, [0.5, 2.0], eta=0.0)
    I, m = np.array(exp.I), np.array(exp.m_tmin)
    assert exp.frechet_constant == pytest.approx(np.sum(I**2 / (4 * m)), rel=1e-14)
    assert exp.weak_trace_constant == pytest.approx(I.sum(), rel=1e-14)
    theta = 0.3
    u = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    q = np.array([[2.0, 0.5], [0.5, 1.0]])
    expected = np.trace(q @ u @ np.diag(I) @ u.T)
    assert weak_constant(I, q, u) == pytest.approx(expected, rel=1e-12)


def test_bures_quadratic_form_matches_w2_for_small_non_commuting_errors():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    s = a @ a.T + 0.5 * np.eye(3)
    b = rng.normal(size=(3, 3))
    b = b + b.T
    mean_err = rng.normal(size=3)
    form = bures_first_order(b, s, mean_err)
    eps = 1e-4
    w2 = w2sq_gaussian(GaussianLaw(jnp.asarray(eps * mean_err), jnp.asarray(s + eps * b)),
                       GaussianLaw(jnp.zeros(3), jnp.asarray(s)))
    assert float(w2) / eps**2 == pytest.approx(form, rel=1e-3)


def test_bad_inputs():
    s = EDM()
    with pytest.raises(ValueError, match="must be > 0"):
        first_order_constant(s, [1.0, 0.0])
    with pytest.raises(ValueError, match="eta must be a finite number >= 0"):
        first_order_constant(s, [1.0], eta=-0.5)
    with pytest.raises(ValueError, match=r"eta\(t\) must be finite and >= 0"):
        first_order_constant(s, [1.0], eta=lambda t: 1.0 - t)
    with pytest.raises(ValueError, match="unknown grid"):
        first_order_constant(s, [1.0], grid="cubic")
    # |tau'|^2 ~ 1/(1-u) near t_min: the integral diverges, so no tolerance can be met.
    with pytest.raises(ValueError, match="did not reach the requested tolerance: achieved error"):
        first_order_constant(s, [1.0], grid=lambda u: s.t_min + (s.t_max - s.t_min) * jnp.sqrt(1 - u))
    with pytest.raises(ValueError, match="must send 0 to t_max"):
        first_order_constant(s, [1.0], grid=lambda u: 50.0 * (1 - u) + 0.002)
