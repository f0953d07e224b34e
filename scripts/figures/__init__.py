"""Figure recipes. Each module defines NAME, TITLE, OUTPUTS (file names it writes) and
make(out_dir, quick) -> None; `scripts.reproduce` runs them in order and skips a recipe
whose outputs all exist (resume after an interruption)."""

from . import (
    dsm_errors,
    error_curves,
    langevin_gaussian,
    langevin_mirror,
    learned_vs_theory,
    p1_expansion,
    p2_kernel,
    p3_eta,
    p4_rho,
    p5_optimized,
    solver_comparison,
)

RECIPES = [
    error_curves,
    solver_comparison,
    p1_expansion,
    p2_kernel,
    p3_eta,
    p4_rho,
    p5_optimized,
    langevin_gaussian,
    langevin_mirror,
    dsm_errors,
    learned_vs_theory,
]
