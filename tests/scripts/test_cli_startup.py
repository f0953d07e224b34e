"""Start-up: --help, every subcommand's --help and argument errors never import the numerical
stack (jax, the dlsim packages, matplotlib), so they answer in a fraction of a second.

Timing is a benchmark (README); the test checks the cause: what is in sys.modules."""

import json
import subprocess
import sys

HEAVY = ("jax", "jaxlib", "numpy", "scipy", "matplotlib", "diffrax", "equinox", "analysis",
         "sampling", "schedules")

# One child process runs several invocations in turn and reports after each which heavy
# modules it has imported (a child: this test process has imported jax already).
CHILD = r"""
import contextlib, io, json, sys
from scripts.cli import COMMANDS, main
heavy = HEAVY_MODULES
argvs = [["--help"]] + [[c.replace("_", "-"), "--help"] for c in COMMANDS] + [
    ["error-curve"],                                   # argparse: --steps missing
    ["error-curve", "--steps", "4", "--rho", "x"],     # argparse: bad float
    ["error-curve", "--solver", "rk4", "--steps", "4"],  # unknown solver (checked before imports)
    ["sweep", "--grid", "cosine", "--steps", "4"],      # unknown grid
    ["compare", "--metric", "fid"],                     # unknown metric
    ["error-curve", "--steps", "0:3"],                  # bad --steps
    ["langevin", "--target", "list:1", "--step", "0.1", "--start", "far"],
]
report = []
for argv in argvs:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    report.append({"argv": argv, "code": code, "err": err.getvalue(),
                   "heavy": sorted(m for m in heavy if m in sys.modules)})
print(json.dumps(report))
""".replace("HEAVY_MODULES", repr(HEAVY))


def test_help_and_argument_errors_import_no_numerical_stack():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "DLSIM_CACHE_DIR": "off"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for entry in report:
        assert entry["heavy"] == [], f"{entry['argv']} imported {entry['heavy']}"
    helps = [e for e in report if "--help" in e["argv"]]
    assert all(e["code"] == 0 for e in helps)
    errors = [e for e in report if "--help" not in e["argv"]]
    assert [e["code"] for e in errors] == [2] * len(errors)
    for e in errors:  # one line each, naming the bad value
        assert len(e["err"].strip().splitlines()) == 1, e
    assert "unknown solver 'rk4'" in errors[2]["err"]
    assert "unknown grid 'cosine'" in errors[3]["err"]
    assert "unknown metric 'fid'; allowed: w2sq, kl, weak" in errors[4]["err"]
    assert "unknown start 'far'" in errors[6]["err"]
