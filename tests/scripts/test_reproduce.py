import csv
import json

import pytest

from scripts import reproduce as rep
from scripts._files import write_atomic, write_csv
from scripts._manifest import file_sha256


def test_write_atomic_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "a.csv"

    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert list(tmp_path.iterdir()) == []
    write_csv(target, {"n": [1, 2], "e": [0.5, 0.25]})
    with open(target) as fh:
        assert list(csv.reader(fh)) == [["n", "e"], ["1", "0.5"], ["2", "0.25"]]


class _FakeRecipe:
    NAME = "fake"
    TITLE = "fake title"
    OUTPUTS = ["fake.csv"]
    calls = 0

    @classmethod
    def make(cls, out_dir, quick=False):
        cls.calls += 1
        write_csv(out_dir / "fake.csv", {"x": [1]})


def test_reproduce_skips_finished_work_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(rep, "RECIPES", [_FakeRecipe])
    first = rep.reproduce(tmp_path, progress=False)
    second = rep.reproduce(tmp_path, progress=False)
    assert first["made"] == ["fake"] and second["skipped"] == ["fake"]
    assert _FakeRecipe.calls == 1
    index = (tmp_path / "index.md").read_text()
    assert "## fake title" in index and "[fake.csv](fake.csv)" in index
    rep.reproduce(tmp_path, force=True, progress=False)
    assert _FakeRecipe.calls == 2
    with pytest.raises(ValueError, match="unknown figure 'nope'; allowed: fake"):
        rep.reproduce(tmp_path, only=["nope"], progress=False)


def test_error_curve_figure_quick(tmp_path):
    result = rep.reproduce(tmp_path, only=["error_curves"], quick=True, progress=False)
    out = tmp_path / "quick"
    assert result["made"] == ["error_curves"]
    assert (out / "error_curves.png").stat().st_size > 10_000
    with open(out / "error_curves.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["grid"] for r in rows} >= {"uniform", "edm", "logsnr"}
    assert all(float(r["w2sq"]) > 0 for r in rows)


class _FigureRecipe:
    """Writes a PNG-like file and a CSV, counting its runs."""

    NAME = "figure"
    TITLE = "a figure"
    OUTPUTS = ["figure.png", "figure.csv"]
    calls = 0

    @classmethod
    def make(cls, out_dir, quick=False):
        cls.calls += 1
        write_atomic(out_dir / "figure.png", lambda tmp: tmp.write_bytes(b"\x89PNG" + bytes(100)))
        write_csv(out_dir / "figure.csv", {"n": [1, 2, 3], "w2sq": [0.1, 0.05, 0.02]})


@pytest.mark.parametrize("damage, reason", [
    (lambda out: (out / "figure.png").write_bytes(b""), "figure.png empty"),
    (lambda out: (out / "figure.csv").write_text("n,w2sq\n1,0.1\n"), "figure.csv changed since it was made"),
    (lambda out: (out / "figure.csv").unlink(), "figure.csv missing"),
    (lambda out: (out / "manifest.json").write_text("{not json"), "not in the manifest"),
])
def test_damaged_output_is_rebuilt_not_trusted(tmp_path, monkeypatch, damage, reason):
    monkeypatch.setattr(rep, "RECIPES", [_FigureRecipe])
    _FigureRecipe.calls = 0
    rep.reproduce(tmp_path, progress=False)
    assert rep.reproduce(tmp_path, progress=False)["skipped"] == ["figure"]
    damage(tmp_path)
    # A damaged recipe is left out of the index until it is made again.
    assert "a figure" not in rep.results_index(tmp_path, {"quick": False})
    again = rep.reproduce(tmp_path, progress=False)
    assert again["made"] == ["figure"] and again["rebuilt"] == {"figure": reason}
    assert _FigureRecipe.calls == 2
    assert (tmp_path / "figure.png").stat().st_size == 104
    assert "a figure" in (tmp_path / "index.md").read_text()


def test_outputs_of_other_settings_or_code_are_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(rep, "RECIPES", [_FigureRecipe])
    _FigureRecipe.calls = 0
    rep.reproduce(tmp_path, progress=False)
    # Outputs that exist but were made before the manifest (or by hand) are not trusted.
    (tmp_path / "manifest.json").unlink()
    assert rep.reproduce(tmp_path, progress=False)["rebuilt"] == {"figure": "not in the manifest"}
    # Other code: the fingerprint covers the library's source.
    monkeypatch.setattr(rep, "recipe_fingerprint", lambda recipe, settings: "other code")
    assert rep.reproduce(tmp_path, progress=False)["rebuilt"] == {"figure": "made by other code or settings"}
    assert _FigureRecipe.calls == 3
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["recipes"]["figure"]["files"]["figure.csv"] == file_sha256(tmp_path / "figure.csv")
