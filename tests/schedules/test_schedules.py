import jax.numpy as jnp
import numpy as np
import pytest

from schedules import (
    EDM,
    SCHEDULES,
    VE,
    AbstractSchedule,
    LinearInterpolant,
    VPCosine,
    VPLinear,
    make_schedule,
)

ALL = [VPLinear(), VPCosine(), VE(), EDM(), LinearInterpolant()]
IDS = [type(s).__name__ for s in ALL]


def _times(s, n=9):
    return jnp.linspace(s.t_min, s.t_max, n)


@pytest.mark.parametrize("schedule", ALL, ids=IDS)
def test_closed_form_f_and_g2_match_autodiff(schedule):
    t = _times(schedule)
    f_ad = AbstractSchedule.f(schedule, t)
    g2_ad = AbstractSchedule.g2(schedule, t)
    np.testing.assert_allclose(schedule.f(t), f_ad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(schedule.g2(t), g2_ad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("schedule", ALL, ids=IDS)
def test_noise_level_inverse_and_log_snr(schedule):
    t = _times(schedule)
    np.testing.assert_allclose(schedule.t_from_noise_level(schedule.noise_level(t)), t, rtol=1e-10)
    np.testing.assert_allclose(schedule.t_from_log_snr(schedule.log_snr(t)), t, rtol=1e-10)
    np.testing.assert_allclose(schedule.log_snr(t), jnp.log(schedule.alpha(t) / schedule.sigma(t)),
                               rtol=1e-12)
    # log-SNR decreases with t: noise grows.
    assert np.all(np.diff(np.asarray(schedule.log_snr(t))) < 0)


@pytest.mark.parametrize("schedule", [VPLinear(), VPCosine()], ids=["VPLinear", "VPCosine"])
def test_vp_marginal_variance_is_one_for_unit_data(schedule):
    t = _times(schedule)
    np.testing.assert_allclose(schedule.alpha(t) ** 2 + schedule.sigma(t) ** 2, 1.0, rtol=1e-13)
    np.testing.assert_allclose(schedule.g2(t), -2 * schedule.f(t), rtol=1e-13)


def test_known_values():
    # VP-linear: B(1) = 0.1 + 19.9 / 2 = 10.05.
    np.testing.assert_allclose(VPLinear().alpha(1.0), np.exp(-10.05 / 2), rtol=1e-14)
    np.testing.assert_allclose(VE().sigma(1.0), 50.0, rtol=1e-14)
    np.testing.assert_allclose(VE().sigma(0.0), 0.01, rtol=1e-14)
    np.testing.assert_allclose(LinearInterpolant().g2(0.5), 2.0, rtol=1e-14)
    np.testing.assert_allclose(VPCosine().alpha(0.0), 1.0, rtol=1e-14)
    assert float(VE().prior_variance()) == pytest.approx(2500.0)
    assert float(VPLinear().prior_variance()) == pytest.approx(1.0)


def test_registry_names_and_overrides():
    assert set(SCHEDULES) == {"vp", "vp-cosine", "ve", "edm", "flow"}
    s = make_schedule("edm", t_min=0.01, t_max=10.0)
    assert (s.t_min, s.t_max) == (0.01, 10.0)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: make_schedule("vp-linear"), r"unknown schedule 'vp-linear'; allowed: vp, vp-cosine"),
        (lambda: VPLinear(t_min=0.5, t_max=0.5), r"t_min must be < t_max, got t_min=0.5"),
        (lambda: EDM(t_min=-1.0), r"leaves the schedule's domain \(0.0, inf\)"),
        (lambda: VPCosine(t_max=1.0), r"leaves the schedule's domain \(0.0, 1.0\)"),
        (lambda: LinearInterpolant(t_max=1.5), r"domain"),
        (lambda: EDM(t_max=float("nan")), r"EDM.t_max must be finite, got nan"),
        (lambda: VE(sigma_min=5.0, sigma_max=1.0), r"sigma_min must be < sigma_max"),
        (lambda: VPLinear(beta_min=-1.0), r"VPLinear.beta_min must be > 0"),
    ],
)
def test_bad_schedules(make, match):
    with pytest.raises(ValueError, match=match):
        make()
