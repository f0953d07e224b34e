import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import (
    EDM,
    MAPPED_GRIDS,
    VE,
    LinearInterpolant,
    VPCosine,
    VPLinear,
    edm_grid,
    make_grid,
    quadratic_grid,
    uniform_grid,
    validate_grid,
)

SCHEDULE_CLASSES = [VPLinear, VPCosine, VE, EDM, LinearInterpolant]


# The map-based grids (the table-built ones: tests/schedules/test_practitioner_grids.py).
@pytest.mark.parametrize("name", list(MAPPED_GRIDS))
@pytest.mark.parametrize("cls", SCHEDULE_CLASSES, ids=lambda c: c.__name__)
def test_endpoints_length_and_decrease(name, cls):
    s = cls(t_min=max(cls().t_min, 1e-3))
    g = make_grid(name, s, 17)
    assert g.shape == (18,)
    assert float(g[0]) == s.t_max and float(g[-1]) == s.t_min
    assert np.all(np.diff(np.asarray(g)) < 0)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(MAPPED_GRIDS)),
    cls=st.sampled_from(SCHEDULE_CLASSES),
    lo=st.floats(0.01, 0.3),
    width=st.floats(0.05, 0.6),
    n=st.integers(1, 300),
    rho=st.floats(0.5, 12.0),
)
def test_strictly_decreasing_for_random_valid_parameters(name, cls, lo, width, n, rho):
    s = cls(t_min=lo, t_max=lo + width)
    g = np.asarray(make_grid(name, s, n, rho=rho))
    assert g.shape == (n + 1,)
    assert g[0] == s.t_max and g[-1] == s.t_min
    assert np.all(np.diff(g) < 0)


def test_formulas():
    s = EDM()
    u = np.arange(5) / 4
    np.testing.assert_allclose(uniform_grid(s, 4), 80 + u * (0.002 - 80), rtol=1e-11)
    np.testing.assert_allclose(quadratic_grid(s, 4), 0.002 + (80 - 0.002) * (1 - u) ** 2, rtol=1e-11)
    expected = (80 ** (1 / 7) + u * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    np.testing.assert_allclose(edm_grid(s, 4), expected, rtol=1e-13)
    tangent = np.tan((1 - u) * np.arctan(80) + u * np.arctan(0.002))
    np.testing.assert_allclose(make_grid("kl-optimal", s, 4), tangent, rtol=1e-13)
    np.testing.assert_allclose(make_grid("geometric", s, 4), 80 * (0.002 / 80) ** u, rtol=1e-13)


def test_rho_one_is_uniform_in_noise_level():
    np.testing.assert_allclose(edm_grid(EDM(), 12, rho=1.0), uniform_grid(EDM(), 12), rtol=1e-13)
    s = VPLinear()
    levels = np.asarray(s.noise_level(edm_grid(s, 12, rho=1.0)))
    np.testing.assert_allclose(np.diff(levels), np.diff(levels)[0], rtol=1e-9)


def test_logsnr_grid_is_uniform_in_log_snr():
    s = VPCosine()
    lam = np.asarray(s.log_snr(make_grid("logsnr", s, 10)))
    np.testing.assert_allclose(np.diff(lam), np.diff(lam)[0], rtol=1e-9)


def test_validate_grid_accepts_and_rejects():
    s = VPLinear()
    g = validate_grid(s, [1.0, 0.5, 0.1, 0.001])
    assert g.dtype == jnp.float64
    with pytest.raises(ValueError, match=r"strictly decreasing .* t\[1\] = 0.5 <= t\[2\] = 0.7"):
        validate_grid(s, [1.0, 0.5, 0.7, 0.001])
    with pytest.raises(ValueError, match=r"leaves the schedule's range \[t_min, t_max\] = \[0.001, 1.0\]"):
        validate_grid(s, [2.0, 0.5, 0.001])
    with pytest.raises(ValueError, match=r"at least 2 points"):
        validate_grid(s, [1.0])
    with pytest.raises(ValueError, match=r"must be a 1-D array, got shape \(2, 2\)"):
        validate_grid(s, [[1.0, 0.5], [0.2, 0.1]])
    with pytest.raises(ValueError, match=r"grid must be finite, found nan"):
        validate_grid(s, [1.0, float("nan"), 0.001])


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_step_counts(n):
    with pytest.raises(ValueError, match="number of steps must be"):
        make_grid("uniform", EDM(), n)


def test_unknown_grid_and_bad_rho():
    with pytest.raises(ValueError, match=r"unknown grid 'cosine'; allowed: uniform, quadratic, edm"):
        make_grid("cosine", EDM(), 4)
    with pytest.raises(ValueError, match=r"rho must be a finite number > 0, got -1.0"):
        edm_grid(EDM(), 4, rho=-1.0)
