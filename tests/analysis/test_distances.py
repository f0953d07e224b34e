import numpy as np
import pytest
import scipy.linalg

from analysis import kl_gaussian, w2_gaussian, w2sq_gaussian, weak_error_quadratic
from sampling import GaussianLaw


def _random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_w2_one_dimensional_closed_form():
    p, q = GaussianLaw(np.array([1.0]), np.array([4.0])), GaussianLaw(np.array([-1.0]), np.array([9.0]))
    assert float(w2sq_gaussian(p, q)) == pytest.approx(4.0 + 1.0, rel=1e-14)
    assert float(w2_gaussian(p, q)) == pytest.approx(np.sqrt(5.0), rel=1e-14)


def test_bures_matches_scipy_sqrtm_formula():
    rng = np.random.default_rng(0)
    s1, s2 = _random_spd(rng, 5), _random_spd(rng, 5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    r2 = scipy.linalg.sqrtm(s2).real
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(
        scipy.linalg.sqrtm(r2 @ s1 @ r2).real)
    got = float(w2sq_gaussian(GaussianLaw(m1, s1), GaussianLaw(m2, s2)))
    assert got == pytest.approx(expected, rel=1e-10)


def test_commuting_fast_path_equals_bures_and_is_accurate_for_close_laws():
    v1 = np.array([1.0, 2.0, 0.5])
    v2 = v1 * (1 + 1e-7)
    p, q = GaussianLaw(np.zeros(3), v1), GaussianLaw(np.zeros(3), v2)
    exact = np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)  # ~ sum v * 1e-14 / 4
    assert float(w2sq_gaussian(p, q)) == pytest.approx(np.sum(v1) * 1e-14 / 4, rel=1e-6)
    assert float(w2sq_gaussian(p, q)) == pytest.approx(exact, rel=1e-2)
    pd, qd = GaussianLaw(np.zeros(3), np.diag([1.0, 2.0, 0.5])), GaussianLaw(np.ones(3), np.diag([2.0, 1.0, 3.0]))
    pv, qv = GaussianLaw(np.zeros(3), np.array([1.0, 2.0, 0.5])), GaussianLaw(np.ones(3), np.array([2.0, 1.0, 3.0]))
    assert float(w2sq_gaussian(pd, qd)) == pytest.approx(float(w2sq_gaussian(pv, qv)), rel=1e-12)


def test_kl_closed_form_and_routes():
    rng = np.random.default_rng(1)
    s1, s2 = _random_spd(rng, 4), _random_spd(rng, 4)
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    inv = np.linalg.inv(s2)
    expected = 0.5 * (np.trace(inv @ s1) - 4 - np.log(np.linalg.det(inv @ s1))
                      + (m1 - m2) @ inv @ (m1 - m2))
    assert float(kl_gaussian(GaussianLaw(m1, s1), GaussianLaw(m2, s2))) == pytest.approx(expected, rel=1e-10)
    v1, v2 = np.array([1.0, 3.0]), np.array([2.0, 0.5])
    diag = float(kl_gaussian(GaussianLaw(m1[:2], v1), GaussianLaw(m2[:2], v2)))
    full = float(kl_gaussian(GaussianLaw(m1[:2], np.diag(v1)), GaussianLaw(m2[:2], np.diag(v2))))
    assert diag == pytest.approx(full, rel=1e-12)
    assert float(kl_gaussian(GaussianLaw(m1, s1), GaussianLaw(m1, s1))) == pytest.approx(0.0, abs=1e-12)


def test_weak_error_of_quadratic_test_functions():
    rng = np.random.default_rng(2)
    s1, s2 = _random_spd(rng, 3), _random_spd(rng, 3)
    m1, m2 = rng.normal(size=3), rng.normal(size=3)
    q = _random_spd(rng, 3)
    p_law, q_law = GaussianLaw(m1, s1), GaussianLaw(m2, s2)
    expected = np.trace(q @ (s1 - s2)) + m1 @ q @ m1 - m2 @ q @ m2
    assert float(weak_error_quadratic(p_law, q_law, q)) == pytest.approx(expected, rel=1e-12)
    expected_identity = np.trace(s1 - s2) + m1 @ m1 - m2 @ m2
    assert float(weak_error_quadratic(p_law, q_law)) == pytest.approx(expected_identity, rel=1e-12)
