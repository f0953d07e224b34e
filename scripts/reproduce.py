"""Run the figure recipes into an output folder, with a progress bar and resume.

What is reused is checked, not assumed: a recipe counts as done only when the folder's
manifest (`scripts._manifest`) records it with today's code and settings and every output
still has its recorded content hash; otherwise it is made again.
"""

from pathlib import Path

from tqdm import tqdm

from ._files import write_atomic
from ._manifest import Manifest, recipe_fingerprint
from .figures import RECIPES

INDEX = "index.md"


def recipe_names() -> list[str]:
    return [r.NAME for r in RECIPES]


def reproduce(out_dir: Path, only: list[str] | None = None, quick: bool = False,
              force: bool = False, progress: bool = True) -> dict:
    """Make each selected recipe's outputs in `out_dir`; skip those verified up to date.

    Afterwards `index.md` in `out_dir` lists every recipe verified complete there: its
    title, its image and data files, and its markdown tables inlined (the results table).
    Returns {"made": [...], "skipped": [...], "rebuilt": {name: why its old outputs were
    not trusted}, "out": str, "index": str}.
    """
    names = recipe_names()
    for name in only or []:
        if name not in names:
            raise ValueError(f"unknown figure {name!r}; allowed: {', '.join(names)}")
    selected = [r for r in RECIPES if not only or r.NAME in only]
    out_dir = Path(out_dir)
    if quick:
        out_dir = out_dir / "quick"
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir)
    settings = {"quick": bool(quick)}
    made, skipped, rebuilt = [], [], {}
    bar = tqdm(selected, desc="figures", unit="figure", disable=not progress)
    for recipe in bar:
        bar.set_postfix_str(recipe.NAME)
        fingerprint = recipe_fingerprint(recipe, settings)
        reason = manifest.stale_reason(recipe, fingerprint)
        if reason is None and not force:
            skipped.append(recipe.NAME)
            continue
        if reason is not None and any((out_dir / f).exists() for f in recipe.OUTPUTS):
            rebuilt[recipe.NAME] = reason
        manifest.forget(recipe.NAME)
        recipe.make(out_dir, quick=quick)
        manifest.record(recipe, fingerprint)
        made.append(recipe.NAME)
    index = write_atomic(out_dir / INDEX, lambda tmp: tmp.write_text(results_index(out_dir, settings)))
    return {"made": made, "skipped": skipped, "rebuilt": rebuilt, "out": str(out_dir),
            "index": str(index)}


def results_index(out_dir: Path, settings: dict) -> str:
    """Markdown index of the recipes verified complete in `out_dir`, in recipe order."""
    manifest = Manifest(out_dir)
    lines = ["# dlsim figures", ""]
    for recipe in RECIPES:
        if manifest.stale_reason(recipe, recipe_fingerprint(recipe, settings)) is not None:
            continue
        lines += [f"## {getattr(recipe, 'TITLE', recipe.NAME)}", ""]
        for name in recipe.OUTPUTS:
            if name.endswith(".png"):
                lines += [f"![{recipe.NAME}]({name})", ""]
        data = [f"[{n}]({n})" for n in recipe.OUTPUTS if not n.endswith((".png", ".md"))]
        if data:
            lines += ["data: " + ", ".join(data), ""]
        for name in recipe.OUTPUTS:
            if name.endswith(".md"):
                lines += [(out_dir / name).read_text().strip(), ""]
    return "\n".join(lines)
