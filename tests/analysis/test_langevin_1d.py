"""The 1-D grid law of Langevin / mirror-Langevin chains (analysis._langevin_1d), against the
exact Gaussian route, against Monte Carlo, and the escape accounting of mirror runs."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from analysis import (
    kernel_1d,
    langevin_1d,
    langevin_law,
    parse_target_1d,
    power_law_slope,
    stationary_mask,
    survivor_statistics,
)
from analysis._langevin_1d import DUAL_EDGE
from sampling import ULA, BetaProduct, BoxBarrier, FermiDirac, GaussianLaw, MirrorLangevin
from sampling.langevin import run_mirror_langevin
from sampling.targets import GaussianPotential

BETA = BetaProduct(2.0, 5.0)
N_CHAINS = 20000


@pytest.mark.parametrize("h", [0.3, 0.05])
def test_grid_law_equals_exact_gaussian_law_for_ula(h):
    # Target N(0.5, 2) (A = 1/2), start from it, 37 steps: the grid (trapezoid rule on a
    # Gaussian kernel spanning 4+ nodes) is exact to rounding; stated accuracy 1e-12.
    target = GaussianPotential(jnp.array([0.5]), jnp.array([0.5]))
    law = langevin_1d(ULA(target, h), 37)
    exact = langevin_law(ULA(target, h), GaussianLaw(jnp.array([0.5]), jnp.array([[2.0]])), 37)
    v = float(exact.covariance_matrix()[0, 0])
    assert abs(law.variance[-1] - v) < 1e-12
    assert abs(law.mean[-1] - float(exact.mean[0])) < 1e-12
    pdf = np.exp(-(law.positions - 0.5) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)
    assert np.max(np.abs(law.density - pdf)) < 1e-12
    assert law.escaped[-1] < 1e-30 and law.stationary
    a = 0.5  # stationary variance (A - h A^2 / 2)^-1 ([MLMC], MATH.md section 5)
    assert abs(law.stationary_bias - (1 / (a - h * a * a / 2) - 2.0)) < 1e-10
    assert law.mass_defect < 1e-12 and law.grid_check["survivor_variance"] < 1e-12


def _lost_chains(run):
    return 1.0 - float(np.mean(np.asarray(run.survived)))


def test_grid_agrees_with_monte_carlo_on_beta_fermi_dirac():
    # Beta(2, 5), Fermi-Dirac map, h = 0.1, 30 steps: a third of the mass escapes. The Monte
    # Carlo chains escape when their dual point leaves the grid's edges or a move is refused.
    h, k, n = 0.1, 30, N_CHAINS
    kernel = MirrorLangevin(BETA, FermiDirac(), h)
    law = langevin_1d(kernel, k)
    run = run_mirror_langevin(jr.key(1), kernel, BETA.sample(jr.key(0), n), k,
                              escape_box=(-DUAL_EDGE, DUAL_EDGE))
    s = survivor_statistics(run, float(BETA.mean()[0]), float(BETA.variance()[0]))
    assert 0.3 < law.escaped[-1] < 0.6
    assert abs(s.lost - law.escaped[-1]) < 4 * s.lost_se
    assert abs(s.survivor_variance_error - law.survivor_variance_error) < \
        4 * s.survivor_variance_error_se
    assert abs(s.survivor_mean_error - (law.mean[-1] - law.target_mean)) < \
        4 * s.survivor_mean_error_se
    # stated grid accuracy: bookkeeping and spacing-doubling changes far below the MC error
    assert law.mass_defect < 1e-6 and law.grid_check["escaped"] < 1e-5


def test_escape_rate_decreases_with_h_and_matches_independent_numbers():
    rates, lost = [], []
    for h in (0.05, 0.025, 0.0125):
        law = langevin_1d(MirrorLangevin(BETA, FermiDirac(), h), int(round(6 / h)), check=False)
        rates.append(law.escape_rate)
        lost.append(law.escaped[-1])
        assert not law.stationary and law.stationary_bias is None
    assert rates[0] > rates[1] > rates[2] > 0 and lost[0] > lost[1] > lost[2]
    # issue 14's independent NumPy run: ~0.008 per unit time and 4.8% lost by T = 6 at h = 0.0125
    assert abs(rates[2] - 0.00816) < 5e-5 and abs(lost[2] - 0.0477) < 5e-4
    box = langevin_1d(MirrorLangevin(BETA, BoxBarrier(0.0, 1.0), 0.05), 1, check=False)
    assert box.stationary and box.escaped[-1] < 1e-15


def test_survivor_bias_slope_tends_to_one_on_the_box_map():
    steps = [0.025, 0.0125, 0.00625, 0.003125]
    bias = [langevin_1d(MirrorLangevin(BETA, BoxBarrier(0.0, 1.0), h), 1,
                        check=False).stationary_bias for h in steps]
    local = np.diff(np.log(bias)) / np.diff(np.log(steps))
    assert np.all(np.diff(local) < 0), local  # 1.10, 1.04, 1.02 falling to 1
    assert abs(local[-1] - 1.0) < 0.03, local
    slope, se = power_law_slope(steps[1:], bias[1:])
    assert abs(slope - 1.03) < 0.02 and se < 0.03


def test_frozen_chains_are_counted_not_averaged_in():
    # Chains started at x = 1 - 1e-12 (dual 27.6, inside the escape box): the drift
    # h f'(x) ~ 4h / 1e-12 throws the dual point to -2e11, whose primal image rounds to 0, so
    # every move is refused and the chain freezes where it started.
    h, k = 0.05, 25
    x0 = np.array(BETA.sample(jr.key(0), N_CHAINS))  # same shapes as the test above: no recompile
    stuck = np.full((7, 1), 1.0 - 1e-12)
    x0[-7:] = stuck
    kernel = MirrorLangevin(BETA, FermiDirac(), h)
    run = run_mirror_langevin(jr.key(4), kernel, x0, k, escape_box=(-DUAL_EDGE, DUAL_EDGE))
    frozen = np.asarray(run.frozen)
    assert np.all(frozen[-7:]) and np.all(np.asarray(run.refusals)[-7:] == k)
    np.testing.assert_array_equal(np.asarray(run.state.position)[-7:], stuck)
    s = survivor_statistics(run, float(BETA.mean()[0]), float(BETA.variance()[0]))
    assert s.frozen * s.n_chains == int(frozen.sum()) >= 7
    surv = np.asarray(run.survived)
    x = np.asarray(run.state.position)[:, 0]
    assert s.survivor_variance_error == pytest.approx(np.var(x[surv], ddof=1) - BETA.variance()[0],
                                                      rel=1e-12)
    assert s.all_variance_error > s.survivor_variance_error + 0.01  # the stuck chains at x ~ 1


def test_power_law_slope_and_stationarity_helpers():
    h = np.array([0.01, 0.02, 0.04])
    slope, se = power_law_slope(h, 3 * h**1.5)
    assert slope == pytest.approx(1.5, abs=1e-12) and se < 1e-10
    # two points with standard errors: s.e. = sqrt(r1^2 + r2^2) / log(h2 / h1), r = se / value
    slope, se = power_law_slope([0.01, 0.04], [1e-3, 4e-3], [1e-4, 2e-4])
    assert slope == pytest.approx(1.0) and se == pytest.approx(np.hypot(0.1, 0.05) / np.log(4))
    assert stationary_mask([1.0, 1.0], [0.1, 0.1], [1.2, 2.0], [0.1, 0.1]).tolist() == [True, False]
    with pytest.raises(ValueError, match="needs >= 3 points"):
        power_law_slope([0.1, 0.2], [1.0, 2.0])


def test_bad_inputs():
    with pytest.raises(ValueError, match="malformed target 'beta:2'"):
        parse_target_1d("beta:2")
    with pytest.raises(ValueError, match="unknown mirror 'burg'"):
        kernel_1d(BETA, "burg", 0.1)
    with pytest.raises(ValueError, match="takes only --mirror identity"):
        kernel_1d(parse_target_1d("gaussian:0:1"), "fermi-dirac", 0.1)
    with pytest.raises(ValueError, match="stability bound"):
        langevin_1d(ULA(GaussianPotential(jnp.array([1.0])), 2.5), 3)
    with pytest.raises(ValueError, match="1-D targets"):
        langevin_1d(ULA(BetaProduct([2.0, 2.0], [3.0, 3.0]), 0.1), 3)
