"""Figure recipes. Each module defines NAME, TITLE, OUTPUTS (file names it writes) and
make(out_dir, quick) -> None; `scripts.reproduce` runs them in order and skips a recipe
whose outputs all exist (resume after an interruption)."""

from . import error_curves
from . import langevin_gaussian, langevin_mirror
from . import p1_expansion, p2_kernel, p3_eta, p4_rho, p5_optimized

RECIPES = [error_curves]
RECIPES += [langevin_gaussian, langevin_mirror]
RECIPES += [p1_expansion, p2_kernel, p3_eta, p4_rho, p5_optimized]
from . import solver_comparison  # noqa: E402

RECIPES += [solver_comparison]
