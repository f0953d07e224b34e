"""`--plot FILE.png` writes a real PNG (signature, IHDR size) for error-curve, sweep, compare;
the slope in the legend is the least-squares slope of the asymptotic half."""

import json
import struct

import pytest

from scripts._plot import fitted_slope
from scripts.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("argv", [
    ["sweep", "--grid", "edm", "uniform", "logsnr", "--steps", "2", "4", "8", "16"],
    ["error-curve", "--steps", "4", "8", "16"],
    ["compare", "--solver", "euler", "heun", "--grid", "edm", "--nfe", "4", "8", "16"],
])
def test_plot_writes_a_png(capsys, tmp_path, argv):
    path = tmp_path / "curves.png"
    assert main([*argv, "--spectrum", "power:1:4", "--plot", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plot"] == str(path)
    width, height = png_size(path)
    assert 400 <= width <= 2000 and 300 <= height <= 2000
    assert path.stat().st_size > 5000  # axes, curves and legend, not an empty canvas
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]  # atomic: no temporary


def test_plot_needs_png_name(capsys):
    assert main(["error-curve", "--steps", "4", "--plot", "curves.pdf"]) == 2
    assert "--plot needs a .png file name, got 'curves.pdf'" in capsys.readouterr().err


def test_fitted_slope_is_the_asymptotic_rate():
    steps = [1, 2, 4, 8, 16, 32]
    assert fitted_slope(steps, [3.0 * n**-2.0 for n in steps]) == pytest.approx(-2.0, rel=1e-12)
    # Only the last half counts: a pre-asymptotic bump does not bias the rate.
    values = [10.0, 0.1, 7.0 * 8**-1.0, 7.0 * 16**-1.0, 7.0 * 32**-1.0, 7.0 * 64**-1.0]
    assert fitted_slope([1, 2, 8, 16, 32, 64], values) == pytest.approx(-1.0, rel=1e-12)
    assert fitted_slope([4], [1.0]) is None
