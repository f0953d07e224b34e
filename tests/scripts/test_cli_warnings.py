"""Unstable results are flagged (stderr, JSON `unstable`), --strict makes them exit 2; in
`dlsim langevin` an unstable step is a row of its own, beside stable ones."""

import json

import numpy as np
import pytest

from scripts.cli import main

# Heun on the reverse SDE (eta = 1) on the uniform VP grid: W2^2 ~ 2e4 at N = 2, 43 at N = 4,
# 0.26 at N = 8 for power:1:100, whose total variance is H_100 = 5.187...
UNSTABLE = ["error-curve", "--solver", "heun", "--eta", "1", "--grid", "uniform",
            "--spectrum", "power:1:100", "--steps", "2", "4", "8"]
TOTAL = float(np.sum(1.0 / np.arange(1, 101)))


def test_unstable_rows_flagged_in_json_and_on_stderr(capsys):
    assert main([*UNSTABLE, "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["total_variance"] == pytest.approx(TOTAL, rel=1e-14)
    assert out["unstable"] is True
    assert out["unstable_steps"] == [n for n, w in zip(out["steps"], out["w2sq"], strict=True)
                                     if w > TOTAL] == [2, 4]
    assert captured.err.strip().splitlines() == [
        f"dlsim error-curve: warning: W2^2 exceeds the data's total variance {TOTAL:.6g} at "
        f"N = [2, 4]: the sampler is unstable there"]


def test_strict_turns_the_warning_into_exit_2(capsys):
    assert main([*UNSTABLE, "--strict", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().endswith("the sampler is unstable there (--strict)")
    assert len(captured.err.strip().splitlines()) == 1
    # A stable result passes --strict quietly.
    assert main(["error-curve", "--spectrum", "power:1:100", "--steps", "8", "--strict"]) == 0
    assert capsys.readouterr().err == ""


def closed_w2(lam, h, k=None):
    """ULA on N(0, diag(lam)) from x_0 = 0: v = 1/(a - h a^2/2), v_K = (1 - (1 - h a)^2K) v."""
    a = 1 / np.asarray(lam)
    v = 1 / (a - h / 2 * a**2)
    if k is not None:
        v = (1 - (1 - h * a) ** (2 * k)) * v
    return float(np.sqrt(np.sum((np.sqrt(v) - np.sqrt(lam)) ** 2)))


def test_langevin_mixed_stable_and_unstable_rows_with_several_iterations(capsys):
    lam = [1.0, 0.01]  # bound h < 2 / 100 = 0.02
    assert main(["langevin", "--target", "list:1,0.01", "--step", "0.01", "0.05", "0.015",
                 "--iterations", "10", "100", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["stability_bound"] == 0.02 and out["iterations"] == [10, 100]
    assert out["iterations_of_row"] == [10, 10, 10, 100, 100, 100]
    assert out["step"] == [0.01, 0.05, 0.015] * 2
    assert out["unstable"] == [False, True, False] * 2
    for k, h, w, u in zip(out["iterations_of_row"], out["step"], out["w2"], out["unstable"],
                          strict=True):
        assert (w is None) if u else w == pytest.approx(closed_w2(lam, h, k), rel=1e-10)
    assert "step size h = 0.05 is at or above the stability bound" in captured.err
    assert main(["langevin", "--target", "list:1,0.01", "--step", "0.05", "0.01"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[2].split() == ["0.05", "unstable", "unstable", "unstable"]


def test_langevin_csv(capsys, tmp_path):
    path = tmp_path / "l.csv"
    assert main(["langevin", "--target", "list:1,0.01", "--step", "0.01", "0.05", "--csv",
                 str(path)]) == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "step,w2,w2_dual,kl,unstable" and lines[2] == "0.05,,,,True"
    assert float(lines[1].split(",")[1]) == pytest.approx(closed_w2([1.0, 0.01], 0.01), rel=1e-10)
