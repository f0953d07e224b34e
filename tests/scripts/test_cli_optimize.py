"""`dlsim optimize` (DESIGN.md section 4)."""

import json

import numpy as np
import pytest

from analysis import error_curve
from sampling import GaussianTarget
from schedules import make_schedule
from scripts.cli import main


def test_optimize_json_beats_standard_and_is_reproducible(capsys):
    code = main(["optimize", "--schedule", "edm", "--spectrum", "power:1:8", "--steps", "6",
                 "--iterations", "80", "--no-report", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["grid"]) == 7
    assert out["w2sq"] <= min(v for v in out["standard"].values() if v is not None)
    assert set(out["standard"]) >= {"uniform", "edm", "logsnr", "kl-optimal"}
    lam = np.arange(1, 9.0) ** -1.0
    curve = error_curve(GaussianTarget(lam), make_schedule("edm"), [6], grid=np.array(out["grid"]))
    assert curve.w2sq[0] == pytest.approx(out["w2sq"], rel=1e-10)


def test_optimize_edm_rho_table(capsys):
    assert main(["optimize", "--schedule", "edm", "--spectrum", "list:0.1,1", "--steps", "6",
                 "--family", "edm-rho", "--no-report"]) == 0
    assert "edm-rho optimisation" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--family", "cubic"], "unknown family"),
    (["--spectrum", "list:1,0"], "must be > 0"),
    (["--steps", "0"], "--steps must be >= 1"),
])
def test_optimize_bad_input(capsys, argv, message):
    base = ["optimize", "--schedule", "edm", "--spectrum", "list:1", "--steps", "4"]
    assert main(base + argv) == 2
    assert message in capsys.readouterr().err
