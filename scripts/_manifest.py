"""A record of what `dlsim reproduce` made, so that only verified work is reused.

An output folder holds `manifest.json`: for every finished recipe, the sha256 of each file it
wrote and a fingerprint of what made them (the recipe's name and settings, and the source of
the code: the recipe module and the four dlsim packages). A recipe is up to date only when
its entry exists, its fingerprint is today's and every file is still there, non-empty, with
the recorded content hash. Anything else (an emptied figure, a truncated CSV, a file edited
by hand, outputs made by other code or other settings, a folder from before the manifest)
is rebuilt, never reported as up to date. The manifest is JSON, written atomically after
each recipe, so an interrupted run keeps what it finished.
"""

import functools
import hashlib
import inspect
import json
from pathlib import Path

from ._files import write_json

MANIFEST = "manifest.json"
_FORMAT = 1
# The library code every recipe runs on: a change anywhere in it may change any figure.
_PACKAGES = ("schedules", "sampling", "analysis", "scripts")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def library_fingerprint() -> str:
    """sha256 over the paths and contents of every .py file of the dlsim packages."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def recipe_fingerprint(recipe, settings: dict) -> str:
    """What made a recipe's outputs: its name, the settings, its own source and the library."""
    try:
        source = inspect.getsource(recipe)
    except (OSError, TypeError):  # no source available: its qualified name stands in
        source = f"{getattr(recipe, '__module__', '')}.{getattr(recipe, '__qualname__', recipe)}"
    blob = json.dumps({"recipe": recipe.NAME, "settings": settings, "source": source,
                       "library": library_fingerprint()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class Manifest:
    """The manifest of one output folder (an unreadable or foreign one counts as empty)."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / MANIFEST
        self.entries: dict[str, dict] = {}
        try:
            data = json.loads(self.path.read_text())
            if data.get("format") == _FORMAT and isinstance(data.get("recipes"), dict):
                self.entries = data["recipes"]
        except (OSError, ValueError, AttributeError):
            pass

    def stale_reason(self, recipe, fingerprint: str) -> str | None:
        """Why the recipe's outputs cannot be trusted (None: they can)."""
        entry = self.entries.get(recipe.NAME)
        if entry is None:
            return "not in the manifest"
        if entry.get("fingerprint") != fingerprint:
            return "made by other code or settings"
        files = entry.get("files", {})
        for name in recipe.OUTPUTS:
            path = self.path.parent / name
            if name not in files:
                return f"{name} not recorded"
            if not path.is_file():
                return f"{name} missing"
            if path.stat().st_size == 0:
                return f"{name} empty"
            if file_sha256(path) != files[name]:
                return f"{name} changed since it was made"
        return None

    def record(self, recipe, fingerprint: str) -> None:
        """Record the recipe's freshly made outputs and write the manifest atomically."""
        files = {}
        for name in recipe.OUTPUTS:
            path = self.path.parent / name
            if not path.is_file() or path.stat().st_size == 0:
                raise RuntimeError(f"figure recipe {recipe.NAME!r} did not write {name}")
            files[name] = file_sha256(path)
        self.entries[recipe.NAME] = {"fingerprint": fingerprint, "files": files}
        write_json(self.path, {"format": _FORMAT, "recipes": self.entries})

    def forget(self, name: str) -> None:
        """Drop a recipe's entry (before remaking it: a half-made recipe is never trusted)."""
        if self.entries.pop(name, None) is not None:
            write_json(self.path, {"format": _FORMAT, "recipes": self.entries})
