"""Solvers compared at equal cost: the exact W2^2 of every solver x grid at equal numbers
of score evaluations (NFE).

A solver with k score evaluations per step gets N = budget // k steps (Heun: 5 steps for
10 NFE; DPM-Solver++(2M) and DDIM: 10). The error is the discretization error: the
output law, started from the exact marginal at t_max, against the exact marginal at
t_min, both exact (`exact_law_per_direction`), so the table has no Monte Carlo noise.
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from sampling import (
    SOLVERS,
    GaussianTarget,
    make_solver,
    min_steps,
    score_evaluations_per_step,
    solver_kind,
)
from schedules import GRIDS, AbstractSchedule, make_grid

from ._distances import w2sq_gaussian
from ._exact_law import exact_law_per_direction

BUDGETS = (10, 20, 50, 100)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Exact W2^2 at equal NFE. `w2sq[solver][grid][i]` is the error at `budgets[i]`:
    a float, `math.inf` if the sampler diverges there, None if the budget buys fewer steps
    than the solver needs. `steps[solver][i]` is the number of steps bought."""

    budgets: list[int]
    solvers: list[str]
    grids: list[str]
    steps: dict[str, list[int]]
    w2sq: dict[str, dict[str, list[float | None]]]
    eta: float
    schedule: str

    def best(self, budget: int) -> tuple[str, str, float]:
        """(solver, grid, W2^2) of the smallest finite error at `budget`."""
        if budget not in self.budgets:
            raise ValueError(f"budget {budget} was not computed; computed: {self.budgets}")
        i = self.budgets.index(budget)
        cells = [(self.w2sq[s][g][i], s, g) for s in self.solvers for g in self.grids
                 if self.w2sq[s][g][i] is not None and math.isfinite(self.w2sq[s][g][i])]
        if not cells:
            raise ValueError(f"no solver and grid gave a finite error at budget {budget}")
        err, s, g = min(cells)
        return s, g, err

    def _best_or_none(self, budget: int) -> tuple[str, str] | None:
        try:
            return self.best(budget)[:2]
        except ValueError:
            return None

    def to_dict(self) -> dict:
        """JSON-ready (inf written as the string "inf")."""
        out = dataclasses.asdict(self)
        out["w2sq"] = {s: {g: [("inf" if v is not None and math.isinf(v) else v) for v in vals]
                           for g, vals in grids.items()} for s, grids in self.w2sq.items()}
        out["best"] = {str(b): (dict(zip(("solver", "grid", "w2sq"), self.best(b), strict=True))
                                if self._best_or_none(b) else None) for b in self.budgets}
        return out

    def to_markdown(self, budgets: Sequence[int] | None = None) -> str:
        """One row per solver x grid, one column per budget; the best cell of each budget in
        bold; a last line naming the winner at each budget."""
        budgets = list(self.budgets if budgets is None else budgets)
        idx = [self.budgets.index(b) for b in budgets]
        best = {b: self._best_or_none(b) for b in budgets}
        head = "| solver | grid | " + " | ".join(f"NFE {b}" for b in budgets) + " |"
        lines = [head, "|" + "---|" * (2 + len(budgets))]
        for s in self.solvers:
            for g in self.grids:
                cells = []
                for b, i in zip(budgets, idx, strict=True):
                    v = self.w2sq[s][g][i]
                    text = "—" if v is None else ("diverges" if math.isinf(v) else f"{v:.3e}")
                    cells.append(f"**{text}**" if best[b] == (s, g) else text)
                lines.append(f"| {s} | {g} | " + " | ".join(cells) + " |")
        wins = "; ".join(f"NFE {b}: " + (f"{best[b][0]} on {best[b][1]}" if best[b] else "none")
                         for b in budgets)
        return "\n".join(lines) + f"\n\nBest at each budget: {wins}.\n"


def default_solvers(eta: float) -> list[str]:
    """Every registered solver that runs at this eta; at eta = 0 the stochastic DDIM is
    DDIM itself, so it is left out."""
    names = []
    for name in SOLVERS:
        kind = solver_kind(make_solver(name))
        if eta == 0 and (kind == "sde" or name == "ddim-sde"):
            continue
        if eta != 0 and kind == "ode":
            continue
        names.append(name)
    return names


def compare_at_equal_nfe(target: GaussianTarget, schedule: AbstractSchedule, *,
                         budgets: Sequence[int] = BUDGETS, solvers: Sequence[str] | None = None,
                         grids: Sequence[str] | None = None, eta: float = 0.0,
                         rho: float = 7.0) -> Comparison:
    """Exact W2^2 (discretization error) of every solver x grid at each NFE budget."""
    budgets = [int(b) for b in budgets]
    if not budgets or any(b < 1 for b in budgets):
        raise ValueError(f"budgets must be integers >= 1, got {budgets}")
    solvers = default_solvers(eta) if solvers is None else list(solvers)
    grids = list(GRIDS) if grids is None else list(grids)
    for g in grids:
        if g not in GRIDS:
            raise ValueError(f"unknown grid {g!r}; allowed: {', '.join(GRIDS)}")
    steps, w2sq = {}, {}
    for name in solvers:
        solver = make_solver(name)
        nfe = score_evaluations_per_step(solver)
        steps[name] = [b // nfe for b in budgets]
        w2sq[name] = {}
        for g in grids:
            row = []
            for n in steps[name]:
                if n < max(1, min_steps(solver)):
                    row.append(None)
                    continue
                grid = make_grid(g, schedule, n, rho=rho)
                law = exact_law_per_direction(target, schedule, eta, grid, solver,
                                              target.marginal_in_eigenbasis(schedule, grid[0]))
                if not (np.all(np.isfinite(law.mean)) and np.all(np.isfinite(law.cov))):
                    row.append(math.inf)  # the sampler diverges: reported, never NaN
                    continue
                err = float(w2sq_gaussian(law, target.marginal_in_eigenbasis(schedule, grid[-1])))
                row.append(err)
            w2sq[name][g] = row
    return Comparison(budgets=budgets, solvers=solvers, grids=grids, steps=steps, w2sq=w2sq,
                      eta=float(eta), schedule=type(schedule).__name__)
