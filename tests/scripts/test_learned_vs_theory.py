"""The learned-vs-theory study recipe: rank-correlation helpers against hand-computed values,
and its quick path on a tiny configuration (outputs written, numbers finite, checkpoints in
the manifest and reused only when intact). The full study is `slow`."""

import csv
import json

import numpy as np
import pytest

from scripts import reproduce as rep
from scripts._manifest import MANIFEST, file_sha256
from scripts.figures import learned_vs_theory as lvt


def test_spearman_hand_computed():
    # Ranks (1..5) against (2, 1, 4, 3, 5): d = (-1, 1, -1, 1, 0), sum d^2 = 4,
    # rho = 1 - 6 * 4 / (5 * (25 - 1)) = 0.8.
    assert lvt.spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8, abs=1e-15)
    # Monotone transforms do not change it; reversing the order flips its sign.
    assert lvt.spearman([1e-6, 1e-3, 1.0, 1e3], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert lvt.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Ties get their average rank: x ranks (1.5, 1.5, 3, 4), y ranks (1, 2, 3, 4); Pearson of
    # the ranks: centred (-1, -1, 0.5, 1.5)·(-1.5, -0.5, 0.5, 1.5) = 4.5, norms sqrt(4.5 * 5).
    assert lvt.spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5.0))
    with pytest.raises(ValueError, match="undefined when one side is constant"):
        lvt.spearman([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="same length >= 3"):
        lvt.spearman([1, 2], [1, 2])


def test_spearman_bootstrap_se_and_groups():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200)
    y = x + rng.standard_normal(200)
    rho, se = lvt.spearman_bootstrap(x, y, n_bootstrap=500)
    assert rho == pytest.approx(lvt.spearman(x, y))
    # Fisher's large-sample SE of a rank correlation, (1 - rho^2)/sqrt(n) to first order.
    assert se == pytest.approx((1 - rho**2) / np.sqrt(200), rel=0.3)
    assert lvt.spearman_bootstrap(x, y, n_bootstrap=500) == (rho, se)  # fixed seed
    # Within groups: the mean of the per-group rho; a shift between groups does not count.
    g = np.repeat([0, 1], 100)
    rho_g, _ = lvt.spearman_bootstrap(x + 10 * g, y - 10 * g, groups=g, n_bootstrap=50)
    expect = np.mean([lvt.spearman(x[g == k], y[g == k]) for k in (0, 1)])
    assert rho_g == pytest.approx(expect)


TINY = lvt.Sizes(steps=(5,), digits_iterations=3, toy_iterations=3, width=8, depth=1,
                 toy_width=8, particles=64, coupled_particles=64, reference_steps=16,
                 bootstrap=4, projections=8, optimize_iterations=2, measured_seeds=1, batch=32)


class _Picked:
    """Stand-in for an `optimize_*` result: the theory's optimisers have their own tests, and
    compiling them is most of a cold quick run."""

    def __init__(self, grid=None, eta=None):
        self.grid, self.parameters = grid, {"eta": eta}


def _tiny(monkeypatch, *, fast: bool):
    # One toy and two digits seeds: the quick path's code, a fraction of its compilations.
    monkeypatch.setattr(lvt, "QUICK", TINY)
    monkeypatch.setattr(lvt, "TOYS", ("eight-gaussians",))
    monkeypatch.setattr(lvt, "DIGITS_SEEDS", (0, 1))
    monkeypatch.setattr(lvt, "OUTPUTS", lvt.outputs((0, 1), ("eight-gaussians",)))
    monkeypatch.setattr(rep, "RECIPES", [lvt])
    if fast:  # digits only, one solver
        monkeypatch.setattr(lvt, "TOYS", ())
        monkeypatch.setattr(lvt, "OUTPUTS", lvt.outputs((0, 1), ()))
        monkeypatch.setattr(lvt, "SOLVERS", ("euler",))
        monkeypatch.setattr(lvt, "optimize_robust", lambda *a, **k: _Picked(eta=0.3))
        monkeypatch.setattr(lvt, "optimize_grid", lambda schedule, lam, n, **k: _Picked(
            grid=np.asarray(lvt.make_grid("kl-optimal", schedule, n))))


def _check_outputs(out, n_rows):
    for name in lvt.OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    with open(out / lvt.CSV) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_rows
    numeric = ("pred_w2sq", "pred_discretization", "frechet", "frechet_se", "coupled",
               "coupled_se", "sliced_w2", "sliced_w2_se")
    for r in rows:
        assert r["diverged"] in ("True", "False")
        if r["diverged"] == "False":
            assert all(np.isfinite(float(r[c])) for c in numeric), r
    table = (out / lvt.TABLE).read_text()
    assert "rho, within N" in table and "nan" not in table.lower()
    assert "Does the theory's pick win?" in (out / "index.md").read_text()


@pytest.mark.slow  # ~20 s: trains three networks and measures them
def test_quick_path_writes_outputs_and_manifest_records_checkpoints(tmp_path, monkeypatch):
    _tiny(monkeypatch, fast=True)
    first = rep.reproduce(tmp_path, only=["learned_vs_theory"], quick=True, progress=False)
    out = tmp_path / "quick"
    assert first["made"] == ["learned_vs_theory"]
    # 5 grids x 3 etas x 1 solver x 1 N, digits (one measured seed).
    _check_outputs(out, 5 * 3)
    manifest = json.loads((out / MANIFEST).read_text())["recipes"]["learned_vs_theory"]["files"]
    leaves = f"{lvt.checkpoint_dir('digits', 0)}/checkpoint.eqx"
    assert manifest[leaves] == file_sha256(out / leaves)
    # An intact checkpoint is reused; a truncated one is trained again (same bytes: the run
    # is deterministic).
    data = lvt.load_dataset("digits")
    assert lvt.train_or_reuse(out, data, TINY, 1)["reused"]
    toy_leaves = out / lvt.checkpoint_dir("digits", 1) / "checkpoint.eqx"
    intact = toy_leaves.read_bytes()
    toy_leaves.write_bytes(intact[:100])
    assert not lvt.train_or_reuse(out, data, TINY, 1)["reused"]
    assert toy_leaves.read_bytes() == intact


@pytest.mark.slow
def test_quick_path_rebuilds_damaged_outputs_and_reuses_intact_checkpoints(tmp_path, monkeypatch):
    _tiny(monkeypatch, fast=False)
    rep.reproduce(tmp_path, only=["learned_vs_theory"], quick=True, progress=False)
    out = tmp_path / "quick"
    _check_outputs(out, 2 * 5 * 3 * 2)
    (out / lvt.FIGURE).write_bytes(b"")
    second = rep.reproduce(tmp_path, only=["learned_vs_theory"], quick=True, progress=False)
    assert second["rebuilt"] == {"learned_vs_theory": f"{lvt.FIGURE} empty"}
    with open(out / lvt.TRAINING_CSV) as fh:
        assert {r["reused"] for r in csv.DictReader(fh)} == {"True"}
    leaves = f"{lvt.checkpoint_dir('digits', 0)}/checkpoint.eqx"
    (out / leaves).write_bytes((out / leaves).read_bytes()[:100])
    third = rep.reproduce(tmp_path, only=["learned_vs_theory"], quick=True, progress=False)
    assert third["rebuilt"] == {"learned_vs_theory": f"{leaves} changed since it was made"}
    with open(out / lvt.TRAINING_CSV) as fh:
        reused = {(r["data"], r["seed"]): r["reused"] for r in csv.DictReader(fh)}
    assert reused[("digits", "0")] == "False" and reused[("digits", "1")] == "True"


def test_time_features_keep_the_first_layer_scale_of_x():
    """With n_frequencies = 8 the first layer's weights on (x, log n) are drawn as for fan-in
    d + 1 (bound 1/sqrt(d + 1)), not shrunk by the 16 time features (which made training
    collapse onto F = 0 on eight Gaussians)."""
    import jax

    from sampling import MLPScore
    from schedules import EDM

    w0 = MLPScore(2, EDM(), jax.random.key(0), n_frequencies=0).mlp.layers[0].weight
    w8 = MLPScore(2, EDM(), jax.random.key(0), n_frequencies=8).mlp.layers[0].weight
    bound = 1 / np.sqrt(3)
    assert float(np.abs(w0).max()) <= bound and float(np.abs(w8).max()) <= bound
    assert float(np.abs(w8[:, :3]).max()) > 0.9 * bound  # not 0.4 * bound
    assert w8.shape == (64, 19)


@pytest.mark.slow
def test_full_study_theory_orders_the_digits_samplers(tmp_path):
    lvt.make(tmp_path, quick=False)
    table = (tmp_path / lvt.TABLE).read_text()
    assert "| digits | coupled vs discretization |" in table
    with open(tmp_path / lvt.CSV) as fh:
        rows = [r for r in csv.DictReader(fh) if r["data"] == "digits" and r["diverged"] == "False"]
    rho = lvt.spearman([float(r["pred_discretization"]) for r in rows],
                       [float(r["coupled"]) for r in rows])
    assert rho > 0.8
