"""The --steps syntax (N, A:B, A:B:K) and the CLI's clean exits (closed stdout, out of memory)."""

import json
import re
import subprocess
import sys

import pytest

from scripts import _cmd_error_curve
from scripts._options import parse_steps
from scripts.cli import main

DLSIM = [sys.executable, "-m", "scripts.cli"]


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("tokens, expected", [
    (["1:4"], [1, 2, 3, 4]),
    (["10:100:10", "200"], [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200]),
    (["3"], [3]),
    (["1:10:4"], [1, 5, 9]),
    (["5:5"], [5]),
    (["1:3:5"], [1]),
    (["8", "1:3", "2", "8"], [8, 1, 2, 3]),  # order as given; exact repeats dropped, first one kept
    ([4, "1:2"], [4, 1, 2]),  # ints pass through, so parsing twice is harmless
])
def test_parse_steps_good(tokens, expected):
    assert parse_steps(tokens) == expected


@pytest.mark.parametrize("token, problem", [
    ("5:1", "range end 1 is before its start 5"),
    ("0:3", "must be integers >= 1, got 0"),
    ("a:b", "invalid int value: 'a'"),
    ("1:10:0", "stride must be an integer >= 1, got 0"),
    ("1:10:-2", "stride must be an integer >= 1, got -2"),
    ("1:2:3:4", "too many ':'"),
    ("", "empty value"),
    ("-3", "must be integers >= 1, got -3"),
    ("2.5", "invalid int value: '2.5'"),
    ("1:", "invalid int value: ''"),
    ("1:10000000", "more than 100000 step counts"),
])
def test_parse_steps_bad_names_token_and_syntax(token, problem):
    with pytest.raises(ValueError) as info:
        parse_steps(["2", token])
    message = str(info.value)
    assert f"bad --steps value {token!r}" in message
    assert problem in message
    assert "allowed: integers N >= 1 and inclusive ranges A:B or A:B:K" in message


def test_parse_steps_empty_list():
    with pytest.raises(ValueError, match="at least one value"):
        parse_steps([])


def test_error_curve_accepts_ranges(capsys):
    code, out, err = run_cli(capsys, "error-curve", "--spectrum", "power:1:3", "--steps", "1:5:2",
                             "3", "4", "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["steps"] == [1, 3, 5, 4]


@pytest.mark.parametrize("steps", ["5:1", "0:3", "a:b", "1:10:0", "1:2:3:4", "2.5"])
def test_cli_rejects_bad_steps_one_line_exit_2(capsys, steps):
    code, out, err = run_cli(capsys, "error-curve", "--spectrum", "power:1:3", "--steps", steps)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dlsim error-curve: error: bad --steps value")
    assert repr(steps) in lines[0]


def test_closed_stdout_exits_quietly():
    """The reader closes the pipe before dlsim writes: no traceback, no 'Exception ignored', exit 0.

    Exit 0 is the chosen behaviour (see scripts/cli.py main): the reader stopping early is not a
    failure of dlsim. A Python crash would give 1 (or 120 when the final flush fails).
    """
    proc = subprocess.Popen([*DLSIM, "error-curve", "--spectrum", "power:1:5", "--steps", "1:3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err == ""
    assert proc.returncode == 0


def _raiser(exc):
    def run(args):
        raise exc
    return run


def test_memory_error_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(_cmd_error_curve, "run", _raiser(MemoryError()))
    code, out, err = run_cli(capsys, "error-curve", "--steps", "3")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["dlsim error-curve: error: out of memory: the host ran out of memory"]


def test_jax_resource_exhausted_is_one_line_exit_2(capsys, monkeypatch):
    from jax.errors import JaxRuntimeError

    exc = JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 8589934592 bytes.\n"
                          "BufferAssignment OOM Debugging.\n  lots of detail")
    monkeypatch.setattr(_cmd_error_curve, "run", _raiser(exc))
    code, out, err = run_cli(capsys, "error-curve", "--steps", "3")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"dlsim error-curve: error: out of memory: Out of memory while trying to "
                        r"allocate 8589934592 bytes\.", lines[0]), lines[0]


def test_other_runtime_errors_are_not_hidden(capsys, monkeypatch):
    monkeypatch.setattr(_cmd_error_curve, "run", _raiser(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["error-curve", "--steps", "3"])
