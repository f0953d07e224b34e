"""Atomic result files: write to a temporary file beside the target, then rename.

An interrupted run never leaves a half-written CSV, PNG or JSON behind, so a rerun can
trust every file that exists and skip the work that made it.
"""

import csv
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_path), then rename tmp_path to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_csv(path: Path, columns: dict[str, list]) -> Path:
    """Columns of equal length as a CSV with a header row."""
    def write(tmp: Path):
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            w.writerows(zip(*columns.values(), strict=True))
    return write_atomic(path, write)


def write_json(path: Path, obj) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, allow_nan=False)))


def save_figure(path: Path, fig) -> Path:
    """Save a Matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)
    return path
