"""`dlsim mc-curve`: JSON rows equal to the Python API (`mc_curve`), every metric with its
standard error; bad inputs are one line on stderr with exit code 2."""

import json

import jax
import numpy as np
import pytest

from analysis import mc_curve
from sampling import GaussianScore, GaussianTarget
from schedules import VPLinear
from scripts.cli import main

# Shapes shared with tests/analysis/test_mc_metrics.py (2000 particles in d = 3, grids padded
# to 16 points), so that a run of both compiles each program once.
ARGS = ["mc-curve", "--target", "list:1,0.3,0.05", "--schedule", "vp", "--grid", "edm",
        "--eta", "0", "--solver", "euler", "--steps", "3", "6", "--particles", "2000",
        "--reference-steps", "12", "--seed", "5"]
METRICS = ("sliced_w2", "frechet", "mmd", "coupled")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_rows_equal_the_api(capsys):
    code, out, _ = run_cli(capsys, *ARGS, "--json")
    assert code == 0
    result = json.loads(out)
    rows = result["rows"]
    assert [(r["grid"], r["eta"], r["solver"], r["steps"]) for r in rows] == [
        ("edm", 0.0, "euler", 3), ("edm", 0.0, "euler", 6)]
    for row in rows:
        for name in METRICS:
            assert np.isfinite(row[name]) and row[f"{name}_se"] > 0
    assert result["reference"] == "tmin" and result["start"] == "marginal"
    assert result["particles"] == 2000 and result["reference_steps"] == 12
    assert set(result["quantities"]) == set(METRICS)
    assert result["floor"]["frechet_se"] > 0 and len(result["fits"]) == 1

    schedule = VPLinear()
    target = GaussianTarget([1.0, 0.3, 0.05])
    _, k_curve = jax.random.split(jax.random.key(5))
    api = mc_curve(k_curve, GaussianScore(target, schedule), schedule, [3, 6],
                   start=target.marginal_in_eigenbasis(schedule, schedule.t_max),
                   reference=target.marginal_in_eigenbasis(schedule, schedule.t_min),
                   n_particles=2000, reference_steps=12)
    for row, expected in zip(rows, api.rows, strict=True):
        for name in METRICS:
            assert row[name] == pytest.approx(getattr(expected, name), rel=1e-12, abs=1e-15)
            assert row[f"{name}_se"] == pytest.approx(getattr(expected, f"{name}_se"), rel=1e-12)
    assert result["fits"][0]["slope"] == pytest.approx(api.fits[0].slope, rel=1e-12)


@pytest.mark.parametrize("extra, message", [
    (["--target", "list:1", "--particles", "1"],
     "--particles must be an integer >= 2 (a standard error needs two), got 1"),
    (["--model", "somewhere", "--reference", "tmin"],
     "--reference tmin needs an exact target (--target); a trained model has no exact marginal"),
    (["--target", "list:1", "--reference", "later"], "unknown reference 'later'; allowed: tmin, data"),
    (["--target", "mixture:m.npz", "--start", "marginal"], "--start marginal needs a Gaussian"),
    (["--target", "list:1", "--reference-steps", "4"],
     "--reference-steps must exceed every N (max 6), got 4"),
])
def test_bad_input_is_one_line_exit_2(capsys, extra, message):
    code, out, err = run_cli(capsys, "mc-curve", "--steps", "3", "6", *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("dlsim mc-curve: error: ")
    assert message in err
