"""`dlsim expansion` (DESIGN.md section 4)."""

import json

import pytest

from scripts.cli import main


def test_expansion_json_check_values(capsys):
    code = main(["expansion", "--schedule", "edm", "--grid", "edm", "--rho", "7", "--eta", "0",
                 "--spectrum", "list:1,0.1", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"eigenvalues", "I", "frechet_constant", "weak_trace_constant"}
    assert out["I"][0] == pytest.approx(-5.148, abs=6e-4)
    m = [1.0 + 0.002**2, 0.1 + 0.002**2]
    expected = sum(i**2 / (4 * mi) for i, mi in zip(out["I"], m, strict=True))
    assert out["frechet_constant"] == pytest.approx(expected, rel=1e-12)
    assert out["weak_trace_constant"] == pytest.approx(sum(out["I"]), rel=1e-12)


def test_expansion_table(capsys):
    assert main(["expansion", "--schedule", "vp", "--spectrum", "power:1:3"]) == 0
    assert "N^2 W2^2 ->" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--spectrum", "list:1,-1"], "must be > 0"),
    (["--solver", "heun"], "solver"),
    (["--eta", "-1"], "eta must be"),
])
def test_expansion_bad_input(capsys, argv, message):
    assert main(["expansion", "--schedule", "edm", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "\n" == err[-1] and err.count("\n") == 1
