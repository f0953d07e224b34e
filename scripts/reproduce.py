"""Run the figure recipes into an output folder, with a progress bar and resume."""

from pathlib import Path

from tqdm import tqdm

from .figures import RECIPES


def recipe_names() -> list[str]:
    return [r.NAME for r in RECIPES]


def reproduce(out_dir: Path, only: list[str] | None = None, quick: bool = False,
              force: bool = False, progress: bool = True) -> dict:
    """Make each selected recipe's outputs in `out_dir`; skip those already complete.

    Returns {"made": [...], "skipped": [...], "out": str}.
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
    return {"made": made, "skipped": skipped, "out": str(out_dir)}
