"""`dlsim optimize` says how tuned its optimum is: the same optimum at N/2, 2N and on perturbed
spectra, against the best standard grid there; `--robust` optimises over a set."""

import json

import numpy as np
import pytest

from analysis import exact_w2sq, perturbed_spectra, resample_grid, standard_errors
from schedules import VPLinear, edm_grid
from scripts.cli import main

LAM = np.arange(1, 7.0) ** -1.0


@pytest.fixture(scope="module")
def free_vp(tmp_path_factory):
    # A free 6-step VP grid for power:1:6: ~40x better than every standard grid at N = 6,
    # ~15-50x worse than kl-optimal at N = 3 and N = 12 (a cancellation tuned at N = 6).
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["optimize", "--schedule", "vp", "--spectrum", "power:1:6", "--steps", "6",
                     "--iterations", "40", "--json"]) == 0
    return json.loads(buf.getvalue())


def test_report_shows_the_collapse_and_its_numbers_are_exact(free_vp):
    rows = {r["case"]: r for r in free_vp["robustness"]}
    assert list(rows) == ["N", "N/2 = 3", "2N = 12", "spectrum truncated", "spectrum extended",
                          "spectrum resampled"]
    assert rows["N"]["gain"] > 10 and rows["N"]["w2sq"] == free_vp["w2sq"]
    assert rows["2N = 12"]["gain"] < 0.5 and rows["N/2 = 3"]["gain"] < 0.5  # the collapse
    s = VPLinear()
    two_n = resample_grid(s, free_vp["grid"], 12)
    np.testing.assert_allclose(two_n[::2], free_vp["grid"], rtol=1e-15)  # midpoints inserted
    assert rows["2N = 12"]["w2sq"] == pytest.approx(exact_w2sq(s, LAM, two_n), rel=1e-12)
    best12 = min(v for v in standard_errors(s, LAM, 12).values() if v is not None)
    assert rows["2N = 12"]["baseline_w2sq"] == pytest.approx(best12, rel=1e-12)
    extended = perturbed_spectra(LAM)["extended"]
    np.testing.assert_allclose(extended, np.arange(1, 13.0) ** -1.0, rtol=1e-10)  # power law continued
    assert rows["spectrum extended"]["dim"] == 12
    assert rows["spectrum extended"]["w2sq"] == pytest.approx(
        exact_w2sq(s, extended, free_vp["grid"]), rel=1e-12)


def test_table_warns_of_a_tuned_cancellation(capsys, free_vp):
    from scripts._cmd_optimize import render

    text = render(free_vp)
    assert "how tuned" in text and "2N = 12" in text
    assert "a tuned cancellation; consider --robust" in text


def test_robust_rho_over_step_counts_beats_the_tuned_rho_on_average(capsys):
    argv = ["optimize", "--schedule", "edm", "--spectrum", "list:1,0.1,0.01", "--steps", "6",
            "--family", "edm-rho", "--no-report", "--json"]
    assert main(argv) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert main([*argv, "--robust", "--robust-steps", "3", "6", "12"]) == 0
    robust = json.loads(capsys.readouterr().out)
    assert robust["family"] == "edm-rho (robust)" and robust["parameters"]["aggregate"] == "mean"
    assert [m["steps"] for m in robust["parameters"]["set"]] == [6, 3, 12]
    s, lam = tuned_schedule(), [1.0, 0.1, 0.01]

    def mean_log(rho):
        return np.mean([np.log(exact_w2sq(s, lam, edm_grid(s, n, rho))) for n in (3, 6, 12)])

    assert mean_log(robust["parameters"]["rho"]) <= mean_log(tuned["parameters"]["rho"]) + 1e-9
    for m in robust["parameters"]["set"]:
        assert m["w2sq"] == pytest.approx(
            exact_w2sq(s, lam, edm_grid(s, m["steps"], robust["parameters"]["rho"])), rel=1e-12)


def tuned_schedule():
    from schedules import EDM

    return EDM()
