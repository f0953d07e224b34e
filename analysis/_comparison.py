"""Solvers compared at equal cost: the exact W2^2, KL and weak error of every solver x grid
at equal numbers of score evaluations (NFE).

A solver with k score evaluations per step gets N = budget // k steps (Heun: 5 steps for
10 NFE; DPM-Solver++(2M) and DDIM: 10). The error is the discretization error: the
output law, started from the exact marginal at t_max, against the exact marginal at
t_min, both exact (`error_sweep`: one compiled program per solver for every grid and
budget), so the table has no Monte Carlo noise.
The winner at a budget is ranked by one metric (`METRICS`); the others are kept beside it,
because the metrics can disagree wildly (digits, NFE 20: Heun on the quadratic grid has the
smallest W2^2 and a KL 650x the runner-up's, its smallest-eigenvalue directions being off by
a large factor that W2^2 weighs by the eigenvalue and KL does not).
"""

import dataclasses
import math
import warnings
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

from ._sweep import error_sweep

BUDGETS = (10, 20, 50, 100)
# Ranking metrics: name -> what is minimised (weak: the absolute weak error of |x|^2).
METRICS = {"w2sq": "W2^2", "kl": "KL(output || reference)", "weak": "|weak_trace|"}


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Exact errors at equal NFE. `w2sq[solver][grid][i]` is W2^2 at `budgets[i]`: a float,
    `math.inf` if the sampler diverges there, None if the budget buys fewer steps than the
    solver needs or the grid does not apply at that N (see `_applicable`); `kl`
    (KL(output || reference)) and `weak_trace` (E|X_out|^2 - E|X_ref|^2) likewise.
    `steps[solver][i]` is the number of steps bought. `eta` is the number, or a
    label for a function eta(t)."""

    budgets: list[int]
    solvers: list[str]
    grids: list[str]
    steps: dict[str, list[int]]
    w2sq: dict[str, dict[str, list[float | None]]]
    eta: float | str
    schedule: str
    kl: dict[str, dict[str, list[float | None]]] = dataclasses.field(default_factory=dict)
    weak_trace: dict[str, dict[str, list[float | None]]] = dataclasses.field(default_factory=dict)

    def value(self, metric: str, solver: str, grid: str, i: int) -> float | None:
        """The ranked quantity of one cell: W2^2, KL, or |weak_trace| (`METRICS`)."""
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
        table = {"w2sq": self.w2sq, "kl": self.kl, "weak": self.weak_trace}[metric]
        v = table[solver][grid][i]
        return None if v is None else abs(v) if metric == "weak" else v

    def best(self, budget: int, metric: str = "w2sq") -> tuple[str, str, float]:
        """(solver, grid, value) of the smallest finite `metric` at `budget` (ties: the first
        in solver, then grid order)."""
        if budget not in self.budgets:
            raise ValueError(f"budget {budget} was not computed; computed: {self.budgets}")
        i = self.budgets.index(budget)
        cells = [(v, k, s, g) for k, (s, g) in enumerate((s, g) for s in self.solvers
                                                          for g in self.grids)
                 if (v := self.value(metric, s, g, i)) is not None and math.isfinite(v)]
        if not cells:
            raise ValueError(f"no solver and grid gave a finite error at budget {budget}")
        err, _, s, g = min(cells)
        return s, g, err

    def _best_or_none(self, budget: int, metric: str = "w2sq") -> tuple[str, str] | None:
        try:
            return self.best(budget, metric)[:2]
        except ValueError:
            return None

    def rows(self, metric: str = "w2sq") -> list[dict]:
        """One dict per (solver, grid, budget), nested solver > grid > budget: solver, grid,
        nfe, steps, w2sq, kl, weak_trace (None: budget too small or grid not applicable;
        inf: diverges), and
        `best`: whether the cell wins its budget under `metric`."""
        winners = {b: self._best_or_none(b, metric) for b in self.budgets}
        return [{"solver": s, "grid": g, "nfe": b, "steps": self.steps[s][i],
                 "w2sq": self.w2sq[s][g][i], "kl": self.kl[s][g][i],
                 "weak_trace": self.weak_trace[s][g][i], "best": winners[b] == (s, g)}
                for s in self.solvers for g in self.grids for i, b in enumerate(self.budgets)]

    def to_dict(self, metric: str = "w2sq") -> dict:
        """JSON-ready (inf written as the string "inf"); `best[budget]` under `metric`, with
        every metric of the winning cell beside it."""
        out = dataclasses.asdict(self)
        inf = lambda v: "inf" if v is not None and math.isinf(v) else v
        for key in ("w2sq", "kl", "weak_trace"):
            out[key] = {s: {g: [inf(v) for v in vals] for g, vals in grids.items()}
                        for s, grids in getattr(self, key).items()}
        out["metric"] = metric
        out["best"] = {}
        for b in self.budgets:
            win = self._best_or_none(b, metric)
            i = self.budgets.index(b)
            out["best"][str(b)] = None if win is None else {
                "solver": win[0], "grid": win[1], "steps": self.steps[win[0]][i],
                **{k: inf(getattr(self, k)[win[0]][win[1]][i]) for k in ("w2sq", "kl", "weak_trace")}}
        return out

    def to_markdown(self, budgets: Sequence[int] | None = None, metric: str = "w2sq") -> str:
        """One row per solver x grid, one column per budget, cells of W2^2; the best cell of
        each budget under `metric` in bold; a last line naming the winner at each budget."""
        budgets = list(self.budgets if budgets is None else budgets)
        idx = [self.budgets.index(b) for b in budgets]
        best = {b: self._best_or_none(b, metric) for b in budgets}
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
        return "\n".join(lines) + f"\n\nBest at each budget ({METRICS[metric]}): {wins}.\n"


def default_solvers(eta: float) -> list[str]:
    """Every registered solver that runs at this eta. At eta = 0 the samplers named for
    their noise (`*-sde*`, `*ancestral*`) are left out: without noise they are, or nearly
    are, their deterministic siblings (ddim-sde and euler-ancestral are DDIM, dpm2-ancestral
    is DPM2, dpmpp-2m-sde is DPM++ 2M), which would fill a comparison with ties."""
    names = []
    deterministic = not callable(eta) and eta == 0
    for name in SOLVERS:
        kind = solver_kind(make_solver(name))
        if deterministic and (kind == "sde" or "-sde" in name or "ancestral" in name):
            continue
        if not deterministic and kind == "ode":
            continue
        names.append(name)
    return names


def _applicable(grid: str, schedule, n: int, rho: float) -> bool:
    """Whether the named grid exists at N steps on this schedule and spans [t_min, t_max]
    (a builder may refuse an N, e.g. discrete-timestep grids whose steps would repeat; a grid
    that stops short measures a shorter path and is not comparable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # clipped to the range: still usable
            times = np.asarray(make_grid(grid, schedule, n, rho=rho))
    except ValueError:
        return False
    return bool(np.allclose(times[[0, -1]], [schedule.t_max, schedule.t_min], rtol=1e-9,
                            atol=1e-12))


def _cells_by_sweep(target, schedule, steps, grids, eta, solver: str, rho: float) -> dict:
    """{grid: {N: {"w2sq", "kl", "weak_trace"} or None}} for one solver: per grid, one
    `error_sweep` over the step counts where the grid applies (the compiled program is shared
    by every call); None where it does not apply. If a run diverges the sweep refuses its
    whole set; then each N is run alone, a diverging run recorded as inf (never NaN)."""
    keys = ("w2sq", "kl", "weak_trace")
    out: dict = {}
    for g in grids:
        ok = [n for n in steps if _applicable(g, schedule, n, rho)]
        out[g] = dict.fromkeys(steps)
        run = lambda ns, g=g: error_sweep(target, schedule, ns, grids=[g], etas=[eta],
                                          solvers=[solver], rho=rho).rows
        try:
            rows = run(ok) if ok else []
            out[g].update({n: {k: getattr(r, k) for k in keys} for n, r in zip(ok, rows, strict=True)})
            continue
        except FloatingPointError:
            pass
        for n in ok:
            try:
                row = run([n])[0]
                cell = {k: getattr(row, k) for k in keys}
            except FloatingPointError:
                cell = dict.fromkeys(keys, math.inf)
            if not all(math.isfinite(v) for v in cell.values()):
                cell = dict.fromkeys(keys, math.inf)
            out[g][n] = cell
    return out


def compare_at_equal_nfe(target: GaussianTarget, schedule: AbstractSchedule, *,
                         budgets: Sequence[int] = BUDGETS, solvers: Sequence[str] | None = None,
                         grids: Sequence[str] | None = None, eta=0.0,
                         rho: float = 7.0) -> Comparison:
    """Exact W2^2, KL and weak error (discretization error) of every solver x grid at each
    NFE budget. `eta` is a number >= 0 or a function eta(t)."""
    budgets = [int(b) for b in budgets]
    if not budgets or any(b < 1 for b in budgets):
        raise ValueError(f"budgets must be integers >= 1, got {budgets}")
    solvers = default_solvers(eta) if solvers is None else list(solvers)
    grids = list(GRIDS) if grids is None else list(grids)
    for g in grids:
        if g not in GRIDS:
            raise ValueError(f"unknown grid {g!r}; allowed: {', '.join(GRIDS)}")
    steps: dict = {}
    errors: dict = {"w2sq": {}, "kl": {}, "weak_trace": {}}
    for name in solvers:
        solver = make_solver(name)
        nfe = score_evaluations_per_step(solver)
        steps[name] = [b // nfe for b in budgets]
        runnable = sorted({n for n in steps[name] if n >= max(1, min_steps(solver))})
        cells = _cells_by_sweep(target, schedule, runnable, grids, eta, name, rho)
        for key in errors:
            errors[key][name] = {g: [cells[g][n][key] if n in runnable and cells[g][n] else None
                                     for n in steps[name]] for g in grids}
    return Comparison(budgets=budgets, solvers=solvers, grids=grids, steps=steps,
                      eta=f"eta(t) {getattr(eta, '__name__', 'function')}" if callable(eta)
                      else float(eta), schedule=type(schedule).__name__, **errors)
