"""Exact Gaussian references of the Langevin family against MATH.md section 5."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import (
    continuous_time_covariance,
    continuous_time_law,
    dual_w2,
    langevin_curve,
    langevin_law,
    read_increment,
    stability_bound,
    stationary_covariance,
    stationary_law,
    w2_gaussian,
)
from sampling import (
    ULA,
    DualLangevin,
    EntropyOrthant,
    GaussianLaw,
    GaussianPotential,
    LogNormal,
    NewtonLangevin,
    PreconditionedULA,
    ScoreTarget,
    run_langevin,
)

LAM = [1.0, 0.01]  # covariance eigenvalues: A = diag(1, 100)
A_FULL = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
M_FULL = np.array([[1.0, 0.2, 0.1], [0.2, 3.0, 0.0], [0.1, 0.0, 2.0]])


def test_math_md_numbers():
    ula = langevin_curve(LAM, "identity", [0.01, 2e-4])
    assert ula.w2[0] == pytest.approx(4.150e-2, abs=5e-6)
    assert ula.w2[1] == pytest.approx(5.063e-4, abs=5e-8)
    newton = langevin_curve(LAM, "newton", [0.02])
    assert newton.w2[0] == pytest.approx(5.063e-3, abs=5e-7)
    assert ula.stability_bound == 0.02 and newton.stability_bound == 2.0


def test_small_h_limit_and_slope_one():
    steps = np.geomspace(1e-7, 1e-5, 5)
    curve = langevin_curve(LAM, "identity", steps)
    ratio = np.array(curve.w2) / steps
    assert ratio[0] == pytest.approx(np.sqrt(101) / 4, rel=1e-4)
    slope = np.polyfit(np.log(steps), np.log(curve.w2), 1)[0]
    assert slope == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("mirror, m", [("identity", [1.0, 1.0]), ("newton", [1.0, 100.0]),
                                        ("diag:2,30", [2.0, 30.0])])
def test_per_direction_matches_closed_form(mirror, m):
    a, m = 1 / np.array(LAM), np.array(m)
    for h in [1e-3, 0.015]:
        if h >= 2 / np.max(a / m):
            continue
        curve = langevin_curve(LAM, mirror, [h])
        closed = np.diag(stationary_covariance(np.diag(a), np.diag(m), h))
        np.testing.assert_allclose(curve.variances[0], closed, rtol=1e-13)
        w2 = np.sqrt(np.sum((np.sqrt(closed) - np.sqrt(LAM)) ** 2))
        assert curve.w2[0] == pytest.approx(w2, rel=1e-9)
        assert curve.w2_dual[0] == pytest.approx(
            np.sqrt(np.sum(m**2 * (np.sqrt(closed) - np.sqrt(LAM)) ** 2)), rel=1e-9)


@pytest.mark.parametrize("make", [
    lambda t, h: ULA(t, h),
    lambda t, h: PreconditionedULA(t, h, M_FULL),
    lambda t, h: NewtonLangevin(t, h),
])
def test_stationary_law_formula_vs_lyapunov(make):
    target = GaussianPotential(A_FULL, mean=[0.5, -1.0, 2.0])
    h = 0.1
    kernel = make(target, h)
    law = stationary_law(kernel, 3)
    inc = read_increment(kernel, 3)
    step = np.eye(3) + inc.drift
    lyap = scipy.linalg.solve_discrete_lyapunov(step, inc.noise @ inc.noise.T)
    m = {ULA: None, PreconditionedULA: M_FULL, NewtonLangevin: A_FULL}[type(kernel)]
    closed = stationary_covariance(A_FULL, m, h)
    np.testing.assert_allclose(np.asarray(law.cov), closed, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(lyap, closed, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(law.mean), [0.5, -1.0, 2.0], atol=1e-12)


def test_stationary_law_of_a_score_field_symmetric_and_not():
    # A learned affine score s = -P (x - m): P symmetric (closed-form DSM fit) takes the
    # eigenbasis route, a non-symmetric P (SGD) the Kronecker route; both against SciPy.
    m = jnp.array([0.5, -1.0, 2.0])
    for p in (A_FULL, A_FULL + np.array([[0.0, 0.2, 0.0], [-0.1, 0.0, 0.0], [0.0, 0.05, 0.0]])):
        matrix = jnp.asarray(p)
        kernel = ULA(ScoreTarget(lambda x, matrix=matrix: -matrix @ (x - m)), 0.1)
        law = stationary_law(kernel, 3)
        step = np.eye(3) - 0.1 * p
        lyap = scipy.linalg.solve_discrete_lyapunov(step, 0.2 * np.eye(3))
        np.testing.assert_allclose(np.asarray(law.cov), lyap, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(law.mean), m, atol=1e-12)


def test_law_after_k_steps_doubling_vs_recursion_and_curve():
    target = GaussianPotential(1 / np.array(LAM))
    h = 0.012
    kernel = ULA(target, h)
    start = GaussianLaw(jnp.zeros(2), jnp.zeros((2, 2)))
    for k in [0, 1, 7, 300]:
        law = langevin_law(kernel, start, k)
        # MATH.md section 4 oracle: c_K = rho^2K c0 + (1 - rho^2K) g, rho = 1 - h a.
        a = 1 / np.array(LAM)
        rho = 1 - h * a
        g = 1 / (a * (1 - h * a / 2))
        np.testing.assert_allclose(np.diag(np.asarray(law.cov)), (1 - rho ** (2 * k)) * g,
                                   rtol=1e-12, atol=1e-300)
        if k:
            curve = langevin_curve(LAM, "identity", [h], iterations=k)
            ref = target.law()
            assert curve.w2[0] == pytest.approx(float(w2_gaussian(law, ref)), rel=1e-9)


def test_many_iterations_reach_the_stationary_law():
    stat = langevin_curve(LAM, "diag:3,40", [0.01])
    late = langevin_curve(LAM, "diag:3,40", [0.01], iterations=10**6, start="normal")
    assert late.w2[0] == pytest.approx(stat.w2[0], rel=1e-12)
    zero = langevin_curve(LAM, "diag:3,40", [0.01], iterations=0, start="normal")
    assert zero.w2[0] == pytest.approx(np.sqrt(np.sum((1 - np.sqrt(LAM)) ** 2)), rel=1e-12)


def test_continuous_time_limit():
    """K steps of size h approach the diffusion's law at t = K h, with error O(h)."""
    cov0 = np.eye(3)
    t = 0.7
    exact = continuous_time_covariance(A_FULL, M_FULL, cov0, t)
    errs = []
    for k in [100, 200, 400]:
        law = langevin_law(PreconditionedULA(GaussianPotential(A_FULL), t / k, M_FULL),
                           GaussianLaw(jnp.zeros(3), jnp.asarray(cov0)), k)
        errs.append(np.max(np.abs(np.asarray(law.cov) - exact)))
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.05)
    assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.05)
    np.testing.assert_allclose(continuous_time_covariance(A_FULL, M_FULL, cov0, 60.0),
                               np.linalg.inv(A_FULL), atol=1e-10)
    target = GaussianPotential(A_FULL, mean=[1.0, 2.0, -1.0])
    start = GaussianLaw(jnp.zeros(3), jnp.asarray(cov0))
    law = continuous_time_law(target, M_FULL, start, t)
    chain = langevin_law(PreconditionedULA(target, t / 400, M_FULL), start, 400)
    np.testing.assert_allclose(np.asarray(law.mean), np.asarray(chain.mean), atol=5e-3)
    assert np.max(np.abs(np.asarray(law.mean) - np.asarray(chain.mean))) > 1e-5  # O(h), not 0


def test_exact_law_vs_monte_carlo_within_four_standard_errors():
    target = GaussianPotential(np.array([1.0, 25.0]), mean=[1.0, -0.5])
    kernel = PreconditionedULA(target, 0.05, np.array([1.0, 4.0]))
    start = GaussianLaw(jnp.array([3.0, 0.0]), jnp.array([0.5, 0.2]))
    n, k = 20000, 25
    x0 = start.mean + jnp.sqrt(start.cov) * jr.normal(jr.key(1), (n, 2))
    run = run_langevin(jr.key(2), kernel, x0, k)
    x = np.asarray(run.state.position)
    law = langevin_law(kernel, GaussianLaw(start.mean, jnp.diag(start.cov)), k)
    mean, var = np.asarray(law.mean), np.diag(np.asarray(law.cov))
    assert np.all(np.abs(x.mean(0) - mean) < 4 * np.sqrt(var / n))
    assert np.all(np.abs(x.var(0, ddof=1) - var) < 4 * var * np.sqrt(2 / (n - 1)))


def test_dual_w2_newton():
    a = np.array([1.0, 100.0])
    law = GaussianLaw(jnp.zeros(2), jnp.asarray(np.diag(1 / (a * (1 - 0.02 / 2)))))
    target = GaussianLaw(jnp.zeros(2), jnp.asarray(np.diag(1 / a)))
    curve = langevin_curve(LAM, "newton", [0.02])
    assert float(dual_w2(law, target, a)) == pytest.approx(curve.w2_dual[0], rel=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match=r"stability bound .* = 0.02"):
        langevin_curve(LAM, "identity", [0.02])
    with pytest.raises(ValueError, match=r"stability bound .* = 2.0"):
        langevin_curve(LAM, "newton", [2.5])
    with pytest.raises(ValueError, match="positive definite"):
        stability_bound(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="positive definite"):
        langevin_curve(LAM, "diag:1,-2", [0.01])
    with pytest.raises(ValueError, match="2 entries, the target has dimension 3"):
        langevin_curve([1.0, 2.0, 3.0], "diag:1,2", [0.01])
    with pytest.raises(ValueError, match="unknown mirror 'cubic'"):
        langevin_curve(LAM, "cubic", [0.01])
    with pytest.raises(ValueError, match="positive definite"):
        GaussianPotential(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="positive definite"):
        PreconditionedULA(GaussianPotential(np.ones(2)), 0.1, np.array([[1.0, 3.0], [3.0, 1.0]]))
    with pytest.raises(ValueError, match="step size must be finite and > 0"):
        ULA(GaussianPotential(np.ones(2)), -0.1)
    with pytest.raises(ValueError, match=r"stability bound .* = 0.02 of ULA"):
        stationary_law(ULA(GaussianPotential(np.array([1.0, 100.0])), 0.03), 2)
    with pytest.raises(ValueError, match=r"stability bound .* = 0.04 of preconditioned ULA"):
        stationary_law(PreconditionedULA(GaussianPotential(np.array([1.0, 100.0])), 0.05,
                                         np.array([1.0, 2.0])), 2)
    with pytest.raises(ValueError, match="spectral radius"):  # no closed form: read off the step
        stationary_law(DualLangevin(LogNormal([0.0], [0.25]), EntropyOrthant(), 0.6), 1)
    with pytest.raises(ValueError, match="iterations must be an integer >= 0"):
        langevin_curve(LAM, "identity", [0.01], iterations=-1)


def _independent_w2(lam, m, h, iterations, v0):
    """Plain NumPy closed forms (MATH.md section 5), written apart from the library."""
    a = 1 / lam
    v = 1 / (a - h / 2 * a**2 / m)
    if iterations is not None:
        rho2 = (1 - h * a / m) ** (2 * iterations)
        v = rho2 * v0 + (1 - rho2) * v
    return np.sqrt(np.sum((np.sqrt(v) - np.sqrt(lam)) ** 2))


@settings(max_examples=60, deadline=None)
@given(
    lam=st.lists(st.floats(-3, 2), min_size=1, max_size=4).map(lambda v: 10.0 ** np.array(v)),
    kind=st.sampled_from(["identity", "newton", "diag"]),
    m_exp=st.lists(st.floats(-1, 1), min_size=4, max_size=4),
    frac=st.floats(1e-4, 0.95),
    iterations=st.one_of(st.none(), st.integers(0, 10000)),
    start=st.sampled_from(["zero", "normal"]),
)
def test_curve_matches_independent_closed_form(lam, kind, m_exp, frac, iterations, start):
    d = lam.size
    m = {"identity": np.ones(d), "newton": 1 / lam,
         "diag": 10.0 ** np.array(m_exp[:d])}[kind]
    spec = kind if kind != "diag" else "diag:" + ",".join(repr(float(v)) for v in m)
    h = frac * 2 * np.min(m * lam)
    curve = langevin_curve(lam, spec, [h], iterations=iterations, start=start)
    ref = _independent_w2(lam, m, h, iterations, 0.0 if start == "zero" else 1.0)
    assert curve.w2[0] == pytest.approx(ref, rel=1e-8, abs=1e-300)
