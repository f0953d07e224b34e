"""`dlsim langevin`: the CLI contract of DESIGN.md section 4."""

import json

import numpy as np
import pytest

from scripts.cli import main


def run_json(capsys, *argv):
    assert main(["langevin", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def closed_w2(lam, m, h, k=None):
    lam, m = np.asarray(lam), np.asarray(m)
    a = 1 / lam
    v = 1 / (a - h / 2 * a**2 / m)
    if k is not None:
        v = (1 - (1 - h * a / m) ** (2 * k)) * v
    return np.sqrt(np.sum((np.sqrt(v) - np.sqrt(lam)) ** 2))


def test_stationary_json_matches_math_md(capsys):
    out = run_json(capsys, "--target", "list:1,0.01", "--step", "0.01", "2e-4")
    assert out["step"] == [0.01, 2e-4]
    np.testing.assert_allclose(out["w2"], [4.149730006080828e-2, 5.062570502272618e-4], rtol=1e-10)
    assert out["eigenvalues"] == [1.0, 0.01] and out["mirror"] == "identity"
    assert out["stationary"] is True and out["iterations"] is None
    assert out["stability_bound"] == 0.02


@pytest.mark.parametrize("mirror, m", [("newton", [1.0, 100.0, 4.0]),
                                        ("diag:2,50,1", [2.0, 50.0, 1.0])])
def test_mirrors_and_iterations(capsys, mirror, m):
    lam = [1.0, 0.01, 0.25]
    out = run_json(capsys, "--target", "list:1,0.01,0.25", "--mirror", mirror,
                   "--step", "0.003", "0.01", "--iterations", "40")
    assert out["iterations"] == 40 and out["start"] == "zero" and out["mirror"] == mirror
    assert out["preconditioner"] == pytest.approx(m)
    for h, w in zip(out["step"], out["w2"], strict=True):
        assert w == pytest.approx(closed_w2(lam, m, h, 40), rel=1e-10)


def test_table_output(capsys):
    assert main(["langevin", "--target", "power:1:3", "--step", "0.1"]) == 0
    text = capsys.readouterr().out
    assert "ULA" in text and "stationary law" in text and "w2" in text


@pytest.mark.parametrize("argv, message", [
    # An unstable step is a row marked unstable (test_cli_warnings.py); --strict makes it an error.
    (["--target", "list:1,0.01", "--step", "0.05", "--strict"], r"stability bound h_max = .* = 0\.02"),
    (["--target", "list:1,0.01", "--mirror", "diag:1", "--step", "0.01"], "2"),
    (["--target", "list:1,-1", "--step", "0.01"], "eigenvalue"),
    (["--target", "list:1,1", "--mirror", "bogus", "--step", "0.01"], "unknown mirror"),
    (["--target", "list:1,1", "--step", "0.01", "--start", "far"], "unknown start"),
])
def test_bad_input_exits_2(capsys, argv, message):
    assert main(["langevin", *argv, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert pytest.approx(0) == 0 and __import__("re").search(message, captured.err)
