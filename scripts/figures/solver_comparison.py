"""F-solvers: exact W2^2 of every solver x grid at equal NFE (VP, power:1:100), with the
equal-NFE table as markdown."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from analysis import compare_at_equal_nfe, parse_spectrum  # noqa: E402
from sampling import GaussianTarget  # noqa: E402
from schedules import VPLinear  # noqa: E402

from .._files import save_figure, write_atomic, write_csv  # noqa: E402

NAME = "solver_comparison"
TITLE = "Solvers at equal cost: exact W2^2 against NFE (VP, power:1:100)"
OUTPUTS = ["solver_comparison.png", "solver_comparison.csv", "solver_comparison.md"]
SPECTRUM = "power:1:100"


def make(out_dir, quick: bool = False) -> None:
    schedule = VPLinear()
    target = GaussianTarget(parse_spectrum(SPECTRUM))
    budgets = [10, 20, 50, 100] if quick else [10, 20, 50, 100, 200]
    etas = [0.0] if quick else [0.0, 1.0]
    comparisons = [compare_at_equal_nfe(target, schedule, budgets=budgets, eta=eta)
                   for eta in etas]
    n_cols = max(len(c.solvers) for c in comparisons)
    fig, axes = plt.subplots(len(etas), n_cols, figsize=(3.2 * n_cols, 3.2 * len(etas)),
                             sharex=True, sharey=True, squeeze=False)
    rows = {"eta": [], "solver": [], "grid": [], "nfe": [], "steps": [], "w2sq": []}
    for r, comp in enumerate(comparisons):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(comp.solvers):
                ax.axis("off")
                continue
            s = comp.solvers[c]
            for g in comp.grids:
                pts = [(b, v) for b, v in zip(comp.budgets, comp.w2sq[s][g], strict=True)
                       if v is not None and v != float("inf")]
                if pts:
                    ax.loglog(*zip(*pts, strict=True), "o-", ms=3, label=g)
                for b, n, v in zip(comp.budgets, comp.steps[s], comp.w2sq[s][g], strict=True):
                    rows["eta"].append(comp.eta)
                    rows["solver"].append(s)
                    rows["grid"].append(g)
                    rows["nfe"].append(b)
                    rows["steps"].append(n)
                    rows["w2sq"].append("" if v is None else v)
            ax.set_title(f"{s}, eta = {comp.eta:g}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            if r == len(etas) - 1:
                ax.set_xlabel("score evaluations (NFE)")
        axes[r, 0].set_ylabel("exact W2^2 to the marginal at t_min")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(TITLE)
    markdown = "\n".join(
        f"### eta = {comp.eta:g} ({comp.schedule}, spectrum {SPECTRUM})\n\n" + comp.to_markdown()
        for comp in comparisons)
    write_csv(out_dir / "solver_comparison.csv", rows)
    write_atomic(out_dir / "solver_comparison.md", lambda tmp: tmp.write_text(markdown))
    save_figure(out_dir / "solver_comparison.png", fig)
