"""The final jump to sigma = 0 (`final_step="denoise"`, x <- D(x, t_N)): the exact law the
sweep reads off `sampling.apply_final_step` against a closed form and against Monte Carlo
of `sample` (the same function on particles), the switch of the reference to the data law,
and the CLI option."""

import json

import jax
import numpy as np
import pytest

import sampling
from analysis import compare_at_equal_nfe, error_curve, error_sweep, resolve_reference
from sampling import GaussianLaw, GaussianScore, GaussianTarget, ReverseDiffusion, make_solver, sample
from schedules import EDM, VPLinear, make_grid
from scripts import _names
from scripts.cli import main


def _euler_ode_then_denoise(lam, mu, grid):
    """MATH.md section 2 (EDM: alpha = 1, sigma = t, f = 0, g^2 = 2t; eta = 0): the Euler
    recursion of mean and variance from the exact marginal at grid[0], then the denoiser
    D(x) = (lam x + t_N^2 mu)/(lam + t_N^2) (Tweedie for N(mu, lam) data)."""
    mean, var = mu, lam + grid[0] ** 2
    for t, t_next in zip(grid[:-1], grid[1:], strict=True):
        h, m = t - t_next, lam + t**2
        c = 2 * t / (2 * m)  # f + (1 + eta) g^2 / (2 m)
        mean = (1 - h * c) * mean + h * 2 * t * mu / (2 * m)
        var = (1 - h * c) ** 2 * var
    tn = grid[-1]
    a = lam / (lam + tn**2)
    return a * mean + (1 - a) * mu, a * a * var


def test_exact_law_after_denoise_matches_the_closed_form_in_1d():
    lam, mu, schedule, steps = 0.3, 0.8, EDM(), [3, 8]
    target = GaussianTarget(np.array([lam]), None, np.array([mu]))
    curve = error_curve(target, schedule, steps, grid="edm", solver="euler", final_step="denoise")
    assert curve.reference == "data" and curve.final_step == "denoise"
    for i, n in enumerate(steps):
        grid = np.asarray(make_grid("edm", schedule, n))
        mean, var = _euler_ode_then_denoise(lam, mu, grid)
        w2sq = (mean - mu) ** 2 + (np.sqrt(var) - np.sqrt(lam)) ** 2
        kl = 0.5 * (var / lam - 1 - np.log(var / lam) + (mean - mu) ** 2 / lam)
        np.testing.assert_allclose(curve.w2sq[i], w2sq, rtol=1e-10)
        np.testing.assert_allclose(curve.kl[i], kl, rtol=1e-10)
        np.testing.assert_allclose(curve.weak_trace[i], mean**2 + var - mu**2 - lam, rtol=1e-10)
    # truncation: the exact marginal at t_min denoised, N(mu, lam^2/(lam + t_min^2)), vs the data.
    a = lam / (lam + schedule.t_min**2)
    np.testing.assert_allclose(curve.truncation, (np.sqrt(a * lam) - np.sqrt(lam)) ** 2, rtol=1e-10)


# Euler–Maruyama at eta = 1 from the prior on VP ending at t_min = 0.05 (sigma/alpha = 0.18,
# where the denoiser shrinks a direction of variance 0.03 by ~2.5), data with a non-zero mean.
VP_END = VPLinear(t_min=0.05)
LAM, MU = np.array([0.03]), np.array([0.2])
SWEEP = dict(grids=["logsnr"], etas=[1.0], solvers=["euler"], start="prior")


def test_exact_law_after_denoise_matches_monte_carlo():
    # E x^2 of the denoised particles against the sweep's exact weak error.
    n, n_mc = 6, 20000
    target = GaussianTarget(LAM, None, MU)
    row = error_sweep(target, VP_END, [n], final_step="denoise", **SWEEP).rows[0]
    exact_second_moment = row.weak_trace + np.sum(LAM + MU**2)
    reverse = ReverseDiffusion(VP_END, GaussianScore(target, VP_END), 1.0)
    grid = make_grid("logsnr", VP_END, n)
    prior = GaussianLaw(np.zeros(1), np.full(1, float(VP_END.prior_variance())))
    out = sample(jax.random.key(3), reverse, grid, make_solver("euler"), prior, n_mc,
                 brownian="unsafe", route="scan", final_step="denoise")
    assert out.nfe == n + 1  # the final denoise costs one score evaluation
    sq = np.asarray(out.samples[:, 0]) ** 2
    se = sq.std(ddof=1) / np.sqrt(n_mc)
    assert abs(sq.mean() - exact_second_moment) < 4 * se, (sq.mean(), exact_second_moment, se)
    # The check can tell: without the denoise the exact E x^2 is many standard errors away.
    plain = error_sweep(target, VP_END, [n], reference="data", **SWEEP).rows[0]
    assert abs(plain.weak_trace - row.weak_trace) > 20 * se


def test_denoise_switches_the_reference_to_the_data_law():
    target = GaussianTarget(LAM, None, MU)
    assert resolve_reference(None, "none") == "tmin"
    to_data = error_sweep(target, VP_END, [6], reference="data", **SWEEP)
    denoised = error_sweep(target, VP_END, [6], final_step="denoise", **SWEEP)
    assert (to_data.reference, to_data.final_step) == ("data", "none")
    assert (denoised.reference, denoised.final_step) == ("data", "denoise")
    # Truncation: the exact marginal at t_min, N(alpha mu, m), m = alpha^2 lam + sigma^2,
    # against the data law; after the denoiser D(x) = mu + alpha lam (x - alpha mu)/m it is
    # N(mu, alpha^2 lam^2 / m).
    alpha, sigma = float(VP_END.alpha(VP_END.t_min)), float(VP_END.sigma(VP_END.t_min))
    m = alpha**2 * LAM[0] + sigma**2
    np.testing.assert_allclose(to_data.rows[0].truncation,
                               (alpha * MU[0] - MU[0]) ** 2 + (np.sqrt(m) - np.sqrt(LAM[0])) ** 2,
                               rtol=1e-10)
    np.testing.assert_allclose(denoised.rows[0].truncation,
                               (alpha * LAM[0] / np.sqrt(m) - np.sqrt(LAM[0])) ** 2, rtol=1e-10)
    with pytest.raises(ValueError, match="reference 'tmin' does not fit final step 'denoise'"):
        error_sweep(target, VP_END, [6], reference="tmin", final_step="denoise", **SWEEP)
    with pytest.raises(ValueError, match=r"unknown final step 'zero'; allowed: none, denoise"):
        error_sweep(target, VP_END, [6], final_step="zero", **SWEEP)
    with pytest.raises(ValueError, match=r"unknown final step 'zero'; allowed: none, denoise"):
        sample(jax.random.key(0), ReverseDiffusion(VP_END, GaussianScore(target, VP_END)),
               make_grid("edm", VP_END, 3), make_solver("euler"), target.marginal(VP_END, 1.0),
               2, final_step="zero")


def test_cli_final_step_option(capsys):
    assert _names.FINAL_STEPS == sampling.FINAL_STEPS
    argv = ["--schedule", "edm", "--spectrum", "list:0.3,2", "--steps", "4", "9", "--json"]
    assert main(["error-curve", *argv, "--final-step", "denoise"]) == 0
    result = json.loads(capsys.readouterr().out)
    curve = error_curve(GaussianTarget(np.array([0.3, 2.0])), EDM(), [4, 9], final_step="denoise")
    assert result["reference"] == "data" and result["final_step"] == "denoise"
    np.testing.assert_allclose(result["w2sq"], curve.w2sq, rtol=1e-13)
    assert main(["sweep", *argv, "--final-step", "denoise"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    np.testing.assert_allclose([r["w2sq"] for r in rows], curve.w2sq, rtol=1e-13)
    assert main(["compare", "--schedule", "edm", "--spectrum", "list:0.3,2", "--solver", "euler",
                 "--grid", "edm", "--nfe", "5", "10", "--final-step", "denoise", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["final_step"], result["reference"]) == ("denoise", "data")
    assert result["steps"]["euler"] == [4, 9]  # the jump to sigma = 0 takes one evaluation
    np.testing.assert_allclose(result["w2sq"]["euler"]["edm"], curve.w2sq, rtol=1e-13)
    for bad, message in ((["--final-step", "zero"], "unknown final step 'zero'; allowed: none, "
                                                     "denoise"),
                         (["--final-step", "denoise", "--reference", "tmin"],
                          "--reference tmin does not fit --final-step denoise")):
        assert main(["error-curve", *argv, *bad]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_equal_nfe_shows_grids_that_do_not_span_without_ranking_them():
    # On VP, `simple` ends above t_min (its last level is the table's 1000/n-th) and `ays`
    # starts below t_max (at SD's sigma_max 14.6): both are computed and shown, never the
    # winner of a comparison they do not cover, though their numbers are the smallest. The
    # final denoise charges the early end, so `simple` is ranked there; `ays` never is (it
    # skips the start of the path, started from the exact marginal at its own first time).
    target, schedule = GaussianTarget(np.array([1.0, 0.05])), VPLinear()
    kwargs = dict(budgets=[11], solvers=["dpm2m"], grids=["edm", "simple", "ays"])
    plain = compare_at_equal_nfe(target, schedule, **kwargs)
    denoised = compare_at_equal_nfe(target, schedule, final_step="denoise", **kwargs)
    assert plain.steps["dpm2m"] == [11] and denoised.steps["dpm2m"] == [10]  # the jump costs 1
    for comp in (plain, denoised):
        assert all(comp.w2sq["dpm2m"][g][0] is not None for g in kwargs["grids"])
        assert comp.span["dpm2m"]["edm"][0] == [1.0, 0.001]
        assert comp.span["dpm2m"]["ays"][0][0] < 0.75
        assert "starts at t = " in comp.unranked_reason("dpm2m", "ays", 0)
    assert plain.span["dpm2m"]["simple"][0][1] > 0.05
    assert "ends at t = " in plain.unranked_reason("dpm2m", "simple", 0)
    w2 = {g: plain.w2sq["dpm2m"][g][0] for g in kwargs["grids"]}
    assert w2["simple"] < w2["ays"] < w2["edm"] and plain.best(11) == ("dpm2m", "edm", w2["edm"])
    # After the denoise, simple competes (and wins: its steps are spent at the noise levels
    # that matter for eigenvalues 1 and 0.05); ays, smaller still, is not ranked.
    w2 = {g: denoised.w2sq["dpm2m"][g][0] for g in kwargs["grids"]}
    assert denoised.ranked("dpm2m", "simple", 0) and w2["ays"] < w2["simple"] < w2["edm"]
    assert denoised.best(11) == ("dpm2m", "simple", w2["simple"])
    table = plain.to_markdown()
    assert "†" in table and "not ranked: the grid starts below t_max or ends above t_min" in table
