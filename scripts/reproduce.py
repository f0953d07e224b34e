"""Run the figure recipes into an output folder, with a progress bar and resume."""

from pathlib import Path

from tqdm import tqdm

from ._files import write_atomic
from .figures import RECIPES

INDEX = "index.md"


def recipe_names() -> list[str]:
    return [r.NAME for r in RECIPES]


def reproduce(out_dir: Path, only: list[str] | None = None, quick: bool = False,
              force: bool = False, progress: bool = True) -> dict:
    """Make each selected recipe's outputs in `out_dir`; skip those already complete.

    Afterwards `index.md` in `out_dir` lists every recipe that is complete there: its title,
    its image and data files, and its markdown tables inlined (the results table).
    Returns {"made": [...], "skipped": [...], "out": str, "index": str}.
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
    made, skipped = [], []
    bar = tqdm(selected, desc="figures", unit="figure", disable=not progress)
    for recipe in bar:
        bar.set_postfix_str(recipe.NAME)
        if not force and all((out_dir / f).exists() for f in recipe.OUTPUTS):
            skipped.append(recipe.NAME)
            continue
        recipe.make(out_dir, quick=quick)
        made.append(recipe.NAME)
    index = write_atomic(out_dir / INDEX, lambda tmp: tmp.write_text(results_index(out_dir)))
    return {"made": made, "skipped": skipped, "out": str(out_dir), "index": str(index)}


def results_index(out_dir: Path) -> str:
    """Markdown index of the complete recipes in `out_dir`, in recipe order."""
    lines = ["# dlsim figures", ""]
    for recipe in RECIPES:
        if not all((out_dir / f).exists() for f in recipe.OUTPUTS):
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
