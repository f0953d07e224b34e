import numpy as np
import pytest

from analysis import error_curve, power_law_spectrum
from sampling import GaussianTarget
from schedules import EDM, VE, VPLinear


@pytest.fixture(scope="module")
def target():
    return GaussianTarget(power_law_spectrum(1.0, 6), mean=np.linspace(-1, 1, 6))


def test_parts_and_triangle_inequality(target):
    schedule = VE()
    steps = [16, 64]
    total = error_curve(target, schedule, steps, grid="edm", eta=1.0, start="prior", reference="data")
    disc = error_curve(target, schedule, steps, grid="edm", eta=1.0)
    np.testing.assert_allclose(total.discretization, disc.w2sq, rtol=1e-12)
    assert disc.start == "marginal" and disc.reference == "tmin"
    for k in range(len(steps)):
        parts = np.sqrt([total.discretization[k], total.initialization[k], total.truncation])
        assert np.sqrt(total.w2sq[k]) <= parts.sum() * (1 + 1e-12)
        assert total.initialization[k] > 0
    assert total.truncation > 0
    # The VE prior N(0, sigma_max^2 I) misses the data mean and variance, but the reverse
    # dynamics contract that error by ~ sigma_min / sigma_max: tiny at t_min, yet non-zero.
    assert max(total.initialization) < 1e-6


def test_reference_data_adds_the_truncation(target):
    schedule = EDM(t_min=0.5)
    c = error_curve(target, schedule, [2000], grid="edm", eta=0.0, reference="data")
    # At large N the discretization is negligible: the error is the t_min truncation.
    assert c.w2sq[0] == pytest.approx(c.truncation, rel=0.05)
    lam = np.asarray(target.eigenvalues)
    expected_truncation = np.sum((np.sqrt(lam + 0.5**2) - np.sqrt(lam)) ** 2)
    assert c.truncation == pytest.approx(expected_truncation, rel=1e-10)


def test_weak_trace_of_the_ode_is_negative_on_edm(target):
    """MATH.md section 3: Euler on the EDM probability-flow ODE under-disperses."""
    c = error_curve(target, EDM(), [100, 400], grid="edm", eta=0.0)
    assert all(w < 0 for w in c.weak_trace)
    assert c.to_dict()["steps"] == [100, 400]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=[0]), r"step counts must be integers >= 1, got 0"),
        (dict(steps=[]), r"at least one step count"),
        (dict(steps=[4], start="noise"), r"unknown start 'noise'; allowed: marginal, prior"),
        (dict(steps=[4], reference="t0"), r"unknown reference 't0'; allowed: tmin, data"),
        (dict(steps=[4], grid="nope"), r"unknown grid 'nope'"),
        (dict(steps=[4], solver="rk4"), r"unknown solver 'rk4'"),
        (dict(steps=[4], eta=-1.0), r"eta must be a finite number >= 0"),
        (dict(steps=[4], grid=lambda s, n: np.linspace(0.001, 1.0, n + 1)), r"strictly decreasing"),
    ],
)
def test_bad_input(target, kwargs, match):
    steps = kwargs.pop("steps")
    with pytest.raises(ValueError, match=match):
        error_curve(target, VPLinear(), steps, **kwargs)


def test_divergence_is_reported_not_returned_as_nan():
    """sigma_max = 1e200 overflows g^2 = 2 sigma^2 log(ratio) in float64: say so."""
    target = GaussianTarget([1.0, 0.5])
    with pytest.raises(FloatingPointError, match=r"exact law of euler on the uniform grid with eta = 1.0 at N = 1 steps is not finite"):
        error_curve(target, VE(sigma_max=1e200), [1], grid="uniform", eta=1.0)
