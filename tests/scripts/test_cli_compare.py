"""`dlsim compare`: equal score-evaluation budgets; rows equal `compare_at_equal_nfe`, whose
numbers are checked against the sweep engine (a separate exact-law route), and the winner per
budget under each metric."""

import csv
import json
import math

import pytest

from analysis import (
    compare_at_equal_nfe,
    exact_law_per_direction,
    kl_gaussian,
    w2sq_gaussian,
    weak_error_quadratic,
)
from sampling import GaussianTarget, make_solver
from schedules import VPLinear, make_grid
from scripts.cli import main

LAM = [1.0, 0.3, 0.05, 0.01]
ARGS = ["compare", "--schedule", "vp", "--spectrum", "list:1,0.3,0.05,0.01", "--solver", "euler",
        "heun", "dpm2m", "--grid", "edm", "uniform", "--nfe", "1", "4", "10"]


@pytest.fixture(scope="module")
def api():
    return compare_at_equal_nfe(GaussianTarget(LAM), VPLinear(), budgets=[1, 4, 10],
                                solvers=["euler", "heun", "dpm2m"], grids=["edm", "uniform"])


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("metric, column", [("w2sq", "w2sq"), ("kl", "kl"), ("weak", "weak_trace")])
def test_rows_equal_the_api_and_the_winner_is_the_argmin(capsys, api, metric, column):
    out = run_json(capsys, *ARGS, "--metric", metric)
    rows = out["rows"]
    assert [(r["solver"], r["grid"], r["nfe"]) for r in rows] == [
        (s, g, b) for s in ("euler", "heun", "dpm2m") for g in ("edm", "uniform") for b in (1, 4, 10)]
    per_step = {"euler": 1, "heun": 2, "dpm2m": 1}
    assert out["evaluations_per_step"] == per_step
    for r in rows:
        assert r["steps"] == r["nfe"] // per_step[r["solver"]]
        i = [1, 4, 10].index(r["nfe"])
        for key in ("w2sq", "kl", "weak_trace"):
            assert r[key] == getattr(api, key)[r["solver"]][r["grid"]][i]
    # Budget too small: heun at 1 NFE buys 0 steps, dpm2m (2-step method) at 1 NFE 1 step.
    assert [r["w2sq"] for r in rows if r["nfe"] == 1 and r["solver"] != "euler"] == [None] * 4
    for b in (1, 4, 10):
        cells = [r for r in rows if r["nfe"] == b and r[column] is not None]
        winner = min(cells, key=lambda r: abs(r[column]))
        assert [r for r in rows if r["nfe"] == b and r["best"]] == [winner]
        assert out["best"][str(b)]["solver"] == winner["solver"]
        assert out["best"][str(b)]["grid"] == winner["grid"]
        assert out["best"][str(b)]["kl"] == winner["kl"]  # every metric beside the winner
    assert out["metric"] == metric
    # Unstable: W2^2 above the total variance sum(LAM) (euler, 1 step on this VP problem).
    flags = [r["w2sq"] is not None and r["w2sq"] > sum(LAM) for r in rows]
    assert [r["unstable"] for r in rows] == flags and out["unstable"] is any(flags)


def test_api_numbers_equal_the_per_direction_exact_law(api):
    # compare_at_equal_nfe runs the packed sweep engine; here each cell is propagated alone
    # through exact_law_per_direction (start: exact marginal at t_max; reference: t_min).
    target, schedule = GaussianTarget(LAM), VPLinear()
    for solver, n, i in (("heun", 5, 2), ("dpm2m", 4, 1)):
        grid = make_grid("uniform", schedule, n)
        law = exact_law_per_direction(target, schedule, 0.0, grid, make_solver(solver),
                                      target.marginal_in_eigenbasis(schedule, grid[0]))
        ref = target.marginal_in_eigenbasis(schedule, grid[-1])
        for key, f in (("w2sq", w2sq_gaussian), ("kl", kl_gaussian),
                       ("weak_trace", weak_error_quadratic)):
            got = getattr(api, key)[solver]["uniform"][i]
            assert got == pytest.approx(float(f(law, ref)), rel=1e-10, abs=1e-15)


def test_metrics_can_disagree_and_the_ranking_follows_the_metric(api):
    # Rank by W2^2 and by KL at 10 NFE: the winner is each metric's own argmin.
    for metric, key in (("w2sq", "w2sq"), ("kl", "kl")):
        s, g, v = api.best(10, metric)
        values = [getattr(api, key)[s2][g2][2] for s2 in api.solvers for g2 in api.grids]
        assert v == min(x for x in values if x is not None and math.isfinite(x))


def test_table_csv_and_help(capsys, tmp_path):
    path = tmp_path / "compare.csv"
    assert main([*ARGS, "--csv", str(path)]) == 0
    text = capsys.readouterr().out
    assert "winners:" in text and "NFE 10:" in text and "evaluations per step: euler 1, heun 2" in text
    with open(path) as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 18 and list(table[0]) == ["solver", "grid", "nfe", "steps", "w2sq", "kl",
                                                   "weak_trace", "best", "ranked", "unstable"]
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "heun (2 NFE/step)" in help_text and "(default: w2sq)" in help_text
    assert "weak_trace:" in help_text  # output columns explained


@pytest.mark.parametrize("argv, message", [
    (["--solver", "shark"], "solver shark runs at eta > 0 only, got --eta 0"),
    (["--nfe", "0"], "--nfe budgets must be integers >= 1, got 0"),
    (["--grid", "edm.npy"], "unknown grid 'edm.npy'"),
])
def test_bad_input(capsys, argv, message):
    assert main(["compare", "--spectrum", "list:1", *argv]) == 2
    assert message in capsys.readouterr().err
