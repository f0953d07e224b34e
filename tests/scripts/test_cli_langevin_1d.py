"""`dlsim langevin-1d`: JSON keys and values, and bad input (one line, exit code 2)."""

import json

import pytest

from scripts.cli import main


def run_json(capsys, *argv):
    assert main(["langevin-1d", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_keys_and_values(capsys):
    out = run_json(capsys, "--target", "gaussian:0:1", "--step", "0.1", "0.5", "--time", "2")
    assert out["step"] == [0.1, 0.5] and out["n_steps"] == [20, 4]
    for key in ("escaped", "survivor_variance_error", "stationary_bias", "escape_rate"):
        assert len(out[key]) == 2
    # ULA on N(0, 1): stationary variance 1 / (1 - h/2), from the target it is reached at once
    assert out["stationary_bias"] == pytest.approx([0.1 / 1.9, 0.5 / 1.5], abs=1e-10)
    assert max(out["escaped"]) < 1e-30
    fd = run_json(capsys, "--target", "beta:2:5", "--mirror", "fermi-dirac", "--step", "0.05",
                  "--time", "6")
    assert fd["stationary_bias"] == [None]  # it escapes: no stationary law
    assert fd["escaped"][0] == pytest.approx(0.3049, abs=2e-4)
    assert fd["escaped"][0] == pytest.approx(fd["escaped_below"][0] + fd["escaped_above"][0])
    assert fd["survivor_variance_error"][0] == pytest.approx(9.9455e-3, rel=1e-3)
    assert fd["initial_outside"][0] < 1e-20 and fd["grid_error"][0] < 1e-5


@pytest.mark.parametrize("argv, message", [
    (["--target", "beta:2", "--step", "0.1", "--time", "1"], "malformed target 'beta:2'"),
    (["--target", "beta:2:5", "--mirror", "burg", "--step", "0.1", "--time", "1"],
     "unknown mirror 'burg'"),
    (["--target", "beta:2:5", "--step", "-0.1", "--time", "1"], "step size must be finite and > 0"),
    (["--target", "beta:2:5", "--step", "0.1", "--time", "0"], "time must be finite and > 0"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    assert main(["langevin-1d", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("dlsim langevin-1d: error:")
