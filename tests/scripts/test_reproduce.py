import csv

import pytest

from scripts import reproduce as rep
from scripts._files import write_atomic, write_csv


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
