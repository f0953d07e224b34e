"""`dlsim train`: JSON contract, untrained baseline, exact resume, refusals (issue 10)."""

import json

import jax
import numpy as np
import pytest

from scripts.cli import main

SMALL = ["--width", "8", "--depth", "1", "--batch", "32"]


def train(capsys, *argv):
    code = main(["train", *argv, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def test_json_keys_and_untrained_baseline(capsys, tmp_path):
    from sampling.training import build_mlp_score, load_trained_score, read_sidecar

    code, out, _ = train(capsys, "--data", "moons", "--out", str(tmp_path), "--iterations", "0",
                         *SMALL)
    assert code == 0
    assert {"checkpoint", "iterations", "loss", "params_sha256"} <= set(out)
    assert out["iterations"] == 0 and out["checkpoint"] == str(tmp_path)
    # untrained: the F = 0 baseline 1 plus E|F|^2 of the random output layer
    assert 1.0 - 4 * out["loss_se"] < out["loss"] < 2.0 and out["loss_se"] > 0
    model, sidecar = load_trained_score(tmp_path)
    fresh = build_mlp_score(sidecar["config"]["model"], jax.random.split(jax.random.key(0))[0])
    for a, b in zip(jax.tree.leaves(model.mlp), jax.tree.leaves(fresh.mlp), strict=True):
        np.testing.assert_array_equal(a, b)  # --iterations 0 writes the network of --seed 0
    assert read_sidecar(tmp_path)["leaves_sha256"] == out["params_sha256"]


def test_resume_gives_the_same_params_sha256(capsys, tmp_path):
    args = ["--data", "moons", *SMALL]
    code, full, _ = train(capsys, *args, "--out", str(tmp_path / "a"), "--iterations", "130")
    assert code == 0 and full["iterations"] == 130
    code, half, _ = train(capsys, *args, "--out", str(tmp_path / "b"), "--iterations", "70")
    assert code == 0 and half["params_sha256"] != full["params_sha256"]
    code, resumed, _ = train(capsys, *args, "--out", str(tmp_path / "b"), "--iterations", "130",
                             "--resume")
    assert code == 0 and resumed["resumed_from"] == 70
    assert resumed["params_sha256"] == full["params_sha256"]
    assert resumed["loss"] == full["loss"]
    # a refused resume: other settings
    code, _, err = train(capsys, *args, "--out", str(tmp_path / "b"), "--iterations", "200",
                         "--resume", "--lr", "0.01")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "another config (train.learning_rate 0.002 -> 0.01)" in err


@pytest.mark.parametrize("damage", ["truncate", "empty-sidecar"])
def test_damaged_checkpoint_exits_2_with_one_line(capsys, tmp_path, damage):
    code, _, _ = train(capsys, "--data", "moons", "--out", str(tmp_path), "--iterations", "0",
                       *SMALL)
    assert code == 0
    if damage == "truncate":
        leaves = tmp_path / "checkpoint.eqx"
        leaves.write_bytes(leaves.read_bytes()[:-7])
        message = "is truncated or modified"
    else:
        (tmp_path / "checkpoint.json").write_text("")
        message = "unreadable (truncated or not JSON"
    code, _, err = train(capsys, "--data", "moons", "--out", str(tmp_path), "--iterations", "10",
                         "--resume", *SMALL)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("argv, message", [
    (["--data", "mnist"], "unknown data set 'mnist'; allowed: digits, moons, eight-gaussians, "
                          "checkerboard, mixture:FILE.npz"),
    (["--data", "mixture:/nonexistent.npz"], "mixture file '/nonexistent.npz' not found"),
    (["--data", "moons", "--resume"], "no checkpoint in"),
    (["--data", "moons", "--iterations", "-1"], "--iterations must be an integer >= 0, got -1"),
    (["--data", "moons", "--lr", "0"], "--lr must be a finite number > 0, got 0.0"),
])
def test_bad_input_one_line_exit_2(capsys, tmp_path, argv, message):
    code, _, err = train(capsys, *argv, "--out", str(tmp_path / "none"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
