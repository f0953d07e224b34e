"""Reusing results: `--grid FILE` (.npy/.csv) against the API on the same array; `optimize
--save` replayed through `error-curve --grid FILE` (and the eta family's `--eta FILE`); bad
grid files rejected in one line."""

import json

import numpy as np
import pytest

from analysis import error_curve, eta_function, exact_w2sq
from sampling import GaussianTarget
from schedules import VPLinear, make_grid
from scripts.cli import main

LAM = np.arange(1, 9.0) ** -1.0


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_grid_file_equals_the_api(capsys, tmp_path, suffix):
    # A warped uniform grid, not a standard one: the file is what is used.
    s = VPLinear()
    grid = s.t_min + (s.t_max - s.t_min) * np.linspace(1.0, 0.0, 7) ** 1.7
    path = tmp_path / f"g{suffix}"
    if suffix == ".npy":
        np.save(path, grid)
    else:
        path.write_text("t\n" + "".join(f"{t!r}\n" for t in grid.tolist()))
    out = run_json(capsys, "error-curve", "--spectrum", "power:1:8", "--grid", str(path),
                   "--solver", "heun", "--eta", "0.5")
    expected = error_curve(GaussianTarget(LAM), s, [6], grid=grid, solver="heun", eta=0.5)
    assert out["steps"] == [6] and out["grid"] == str(path)
    for key in ("w2sq", "kl", "weak_trace"):
        assert out[key] == pytest.approx(getattr(expected, key), rel=1e-13)
    # The same file in a sweep, beside a named grid at the file's N.
    sweep = run_json(capsys, "sweep", "--spectrum", "power:1:8", "--grid", str(path), "edm",
                     "--steps", "6")
    assert sweep["rows"][0]["w2sq"] == pytest.approx(
        error_curve(GaussianTarget(LAM), s, [6], grid=grid).w2sq[0], rel=1e-13)


def test_optimize_save_replays_through_error_curve(capsys, tmp_path):
    path = tmp_path / "opt.npy"
    opt = run_json(capsys, "optimize", "--schedule", "vp", "--spectrum", "power:1:8", "--steps",
                   "5", "--iterations", "30", "--no-report", "--save", str(path))
    assert opt["saved"] == {"grid": str(path)}
    replay = run_json(capsys, "error-curve", "--schedule", "vp", "--spectrum", "power:1:8",
                      "--grid", str(path))
    assert replay["steps"] == [5]
    assert abs(replay["w2sq"][0] - opt["w2sq"]) <= 1e-12 * opt["w2sq"]
    np.testing.assert_array_equal(np.load(path), opt["grid"])


def test_optimize_eta_save_writes_a_reusable_eta(capsys, tmp_path):
    path = tmp_path / "eta.csv"
    opt = run_json(capsys, "optimize", "--schedule", "vp", "--spectrum", "power:1:8", "--steps",
                   "6", "--family", "eta", "--grid", "uniform", "--no-report", "--save", str(path))
    saved = opt["saved"]
    assert saved["eta"] == str(tmp_path / "eta.eta")
    form = (tmp_path / "eta.eta").read_text().strip()
    assert form == saved["eta_form"]
    assert opt["eta"] == opt["parameters"]["eta"]  # the optimised constant, not an echo
    replay = run_json(capsys, "error-curve", "--schedule", "vp", "--spectrum", "power:1:8",
                      "--grid", str(path), "--eta", saved["eta"])
    s = VPLinear()
    if form.startswith("exp-quad:"):
        params = [float(x) for x in form.split(":")[1].split(",")]
        assert params == opt["parameters"]["eta_t"]["params"]
        expected = exact_w2sq(s, LAM, make_grid("uniform", s, 6), eta=eta_function(s, params))
        assert replay["w2sq"][0] == pytest.approx(opt["parameters"]["eta_t"]["w2sq"], rel=1e-10)
    else:
        expected = opt["w2sq"]
    assert replay["w2sq"][0] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("content, message", [
    ("0.5\n0.7\n0.001\n", "must be strictly decreasing"),
    ("1.0\n0.5\n0.0\n", "leaves the schedule's range"),
    ("1.0\n", "at least 2 times"),
    ("1.0\nabc\n", "cannot read grid file"),
])
def test_bad_grid_file_is_one_line_exit_2(capsys, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["error-curve", "--spectrum", "list:1", "--grid", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and str(path) in err


def test_grid_file_and_steps_must_agree(capsys, tmp_path):
    path = tmp_path / "g.npy"
    np.save(path, np.array([1.0, 0.5, 0.001]))
    assert main(["error-curve", "--spectrum", "list:1", "--grid", str(path), "--steps", "4"]) == 2
    assert "the grid file has N = 2 steps; --steps gives [4]" in capsys.readouterr().err
    assert main(["error-curve", "--spectrum", "list:1", "--grid", str(tmp_path / "no.npy")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("eta, message", [
    ("-1", "eta must be a finite number >= 0"),
    ("exp-quad:1,2", "needs three finite numbers"),
    ("fast", "allowed: a number >= 0, exp-quad:A,B,C"),
])
def test_bad_eta(capsys, eta, message):
    assert main(["error-curve", "--spectrum", "list:1", "--steps", "2", "--eta", eta]) == 2
    assert message in capsys.readouterr().err
