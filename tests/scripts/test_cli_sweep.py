"""`dlsim sweep`: rows nested grid > eta > solver > steps, equal to the Python API; CSV and
table output; one-line errors; the persistent compilation cache serves a second run."""

import csv
import json
import os
import subprocess
import sys

import numpy as np

from analysis import error_sweep, power_law_spectrum
from sampling import GaussianTarget
from schedules import VPLinear
from scripts.cli import main

ARGS = ["sweep", "--schedule", "vp", "--grid", "edm", "uniform", "--eta", "0", "0.5",
        "--solver", "euler", "heun", "--spectrum", "power:1:6", "--steps", "1:3", "8"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_rows_are_nested_and_equal_the_api(capsys):
    code, out, err = run_cli(capsys, *ARGS, "--json")
    assert code == 0
    result = json.loads(out)
    rows = result["rows"]
    keys = [(r["grid"], r["eta"], r["solver"], r["steps"]) for r in rows]
    assert keys == [(g, e, s, n) for g in ("edm", "uniform") for e in (0.0, 0.5)
                    for s in ("euler", "heun") for n in (1, 2, 3, 8)]
    assert set(rows[0]) == {"grid", "eta", "solver", "steps", "w2sq", "kl", "weak_trace",
                            "discretization", "initialization", "unstable"}
    total = float(np.sum(power_law_spectrum(1.0, 6)))  # unstable: W2^2 above the total variance
    assert [r["unstable"] for r in rows] == [r["w2sq"] > total for r in rows]
    assert result["unstable"] is any(r["unstable"] for r in rows)
    sweep = error_sweep(GaussianTarget(power_law_spectrum(1.0, 6)), VPLinear(), [1, 2, 3, 8],
                        grids=["edm", "uniform"], etas=[0.0, 0.5], solvers=["euler", "heun"])
    for row, expected in zip(rows, sweep.rows, strict=True):
        for name in ("w2sq", "kl", "weak_trace", "discretization", "initialization"):
            np.testing.assert_allclose(row[name], getattr(expected, name), rtol=1e-13)
    assert result["steps"] == [1, 2, 3, 8] and result["schedule"] == "vp"
    assert result["grids"] == ["edm", "uniform"] and result["solvers"] == ["euler", "heun"]


def test_csv_file_and_table(capsys, tmp_path):
    path = tmp_path / "rows.csv"
    code, out, _ = run_cli(capsys, *ARGS, "--csv", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["grid", "eta", "solver", "steps", "w2sq", "kl", "weak_trace",
                                "discretization", "initialization", "unstable"]
    assert len(lines) == 2 + 32
    with open(path) as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 32 and table[0]["grid"] == "edm" and table[-1]["steps"] == "8"
    assert not [p for p in os.listdir(tmp_path) if p != "rows.csv"]  # no temporary left behind


def test_bad_input_is_one_line_exit_2(capsys):
    for bad, message in ((["--solver", "rk4"], "unknown solver 'rk4'"),
                         (["--grid", "nope"], "unknown grid 'nope'"),
                         (["--steps", "5:1"], "range end 1 is before its start 5"),
                         (["--solver", "dpm2m", "--steps", "1"], "dpm2m is a 2-step method")):
        argv = ["sweep", "--spectrum", "power:1:3", "--steps", "2", *bad]
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and message in err


def test_a_second_run_reads_the_compiled_sweep_from_the_cache(tmp_path):
    env = {**os.environ, "DLSIM_CACHE_DIR": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "scripts.cli", "sweep", "--spectrum", "power:1:5", "--steps", "1:4",
           "--eta", "0.3", "--json"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    written = sorted(os.listdir(tmp_path))
    assert any(name.startswith("jit__sweep_block") for name in written)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert sorted(os.listdir(tmp_path)) == written  # every program came from the cache
    assert json.loads(first.stdout)["rows"] == json.loads(second.stdout)["rows"]
