import json
import re
import subprocess
import sys

import numpy as np
import pytest

from analysis import error_curve, power_law_spectrum
from sampling import GaussianTarget
from schedules import VPCosine
from scripts.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_matches_the_python_api(capsys):
    code, out, err = run_cli(capsys, "error-curve", "--schedule", "vp-cosine", "--grid", "logsnr",
                             "--eta", "0.5", "--spectrum", "power:1.5:7", "--steps", "5", "20",
                             "--t-max", "0.95", "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    curve = error_curve(GaussianTarget(power_law_spectrum(1.5, 7)), VPCosine(t_max=0.95), [5, 20],
                        grid="logsnr", eta=0.5)
    np.testing.assert_allclose(result["w2sq"], curve.w2sq, rtol=1e-13)
    np.testing.assert_allclose(result["kl"], curve.kl, rtol=1e-13)
    assert result["steps"] == [5, 20]
    assert result["t_max"] == 0.95 and result["schedule"] == "vp-cosine"
    for key in ("discretization", "initialization", "truncation", "weak_trace"):
        assert key in result


def test_table_output(capsys):
    code, out, _ = run_cli(capsys, "error-curve", "--schedule", "edm", "--steps", "4", "8",
                           "--spectrum", "list:1,0.1")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[1].split()[:3] == ["steps", "w2sq", "kl"]
    assert lines[2].split()[0] == "4" and lines[3].split()[0] == "8"


def test_reference_data_and_rho(capsys):
    _, out_tmin, _ = run_cli(capsys, "error-curve", "--schedule", "ve", "--steps", "10",
                             "--rho", "3", "--json")
    _, out_data, _ = run_cli(capsys, "error-curve", "--schedule", "ve", "--steps", "10",
                             "--rho", "3", "--reference", "data", "--json")
    a, b = json.loads(out_tmin), json.loads(out_data)
    assert a["reference"] == "tmin" and b["reference"] == "data"
    assert a["w2sq"] != b["w2sq"] and a["rho"] == 3.0


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--steps", "0"], "step counts must be integers >= 1, got 0"),
        (["--steps", "5", "--spectrum", "list:1,-2"], r"eigenvalue\[1\] = -2.0"),
        (["--steps", "5", "--spectrum", "list:1,nan"], "must be finite"),
        (["--steps", "5", "--spectrum", "power:2"], "malformed spectrum 'power:2'"),
        (["--steps", "5", "--spectrum", "missing.npy"], "does not exist"),
        (["--steps", "5", "--schedule", "cosine"], "unknown schedule 'cosine'; allowed:"),
        (["--steps", "5", "--grid", "cosine"], "unknown grid 'cosine'; allowed:"),
        (["--steps", "5", "--solver", "rk4"], "unknown solver 'rk4'; allowed:"),
        (["--steps", "5", "--eta", "-1"], "eta must be a finite number >= 0"),
        (["--steps", "5", "--t-min", "0.5", "--t-max", "0.2"], "t_min must be < t_max"),
        (["--steps", "5", "--reference", "x0"], "unknown reference 'x0'"),
        (["--steps", "five"], "invalid int value: 'five'"),
        (["--steps", "5", "--schedule", "vp-cosine", "--t-max", "1.0"], "leaves the schedule's domain"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, match):
    try:
        code = main(["error-curve", *argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = capsys.readouterr()
    assert code == 2
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert re.search(match, lines[0]), lines[0]


def test_console_script_subprocess_contract(tmp_path):
    """A real process: stdout is exactly one JSON object; bad input has no traceback."""
    dlsim = [sys.executable, "-m", "scripts.cli"]
    ok = subprocess.run([*dlsim, "error-curve", "--steps", "3", "--json"], capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0
    assert set(json.loads(ok.stdout)) >= {"steps", "w2sq", "kl"}
    bad = subprocess.run([*dlsim, "error-curve", "--steps", "3", "--spectrum", "list:0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
