"""Solvers compared at equal cost: the exact W2^2, KL and weak error of every solver x grid
at equal numbers of score evaluations (NFE).

A solver with k score evaluations per step gets N = budget // k steps (Heun: 5 steps for
10 NFE; DPM-Solver++(2M) and DDIM: 10). The error is the discretization error: the
output law, started from the exact marginal at the grid's first time, against the exact
marginal at its last time, both exact (`error_sweep`: one compiled program per solver for
every grid and budget), so the table has no Monte Carlo noise. With
`final_step="denoise"` every run ends with the practitioners' jump to sigma = 0 (one more
score evaluation, paid from the budget: N = (budget - 1) // k) and is compared with the
data law.

Grids that do not span [t_min, t_max] (practitioners' schedules defined by a table or
another model's noise range: `ays` starts at sigma 14.6 on VP, `simple`, `trailing`,
`linear-quadratic` stop above t_min, `leading` starts below t_max) are computed and shown
with the span they cover, but are ranked only when their error measures the same thing
as the others': the grid starts at t_max, and ends at t_min or is followed by the final
denoise (which charges the error of stopping early). A grid that starts below t_max skips
part of the path (started from the exact marginal there), so it is never ranked.
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
    final_step_evaluations,
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
    label for a function eta(t). `span[solver][grid][i]` is the grid's [first, last] time
    (None where not computed); `t_range` = [t_max, t_min] of the schedule; `final_step` as
    in `error_sweep` (the reference is the exact marginal at the grid's last time for
    "none", the data law for "denoise"). Cells whose grid does not cover what is compared
    are shown but not ranked (`ranked`)."""

    budgets: list[int]
    solvers: list[str]
    grids: list[str]
    steps: dict[str, list[int]]
    w2sq: dict[str, dict[str, list[float | None]]]
    eta: float | str
    schedule: str
    kl: dict[str, dict[str, list[float | None]]] = dataclasses.field(default_factory=dict)
    weak_trace: dict[str, dict[str, list[float | None]]] = dataclasses.field(default_factory=dict)
    final_step: str = "none"
    span: dict[str, dict[str, list[list[float] | None]]] = dataclasses.field(default_factory=dict)
    t_range: list[float] = dataclasses.field(default_factory=list)

    def unranked_reason(self, solver: str, grid: str, i: int) -> str | None:
        """Why a computed cell is left out of the ranking (None: it is ranked): its grid
        starts below t_max, or ends above t_min without the final denoise."""
        span = self.span.get(solver, {}).get(grid, [None] * len(self.budgets))[i]
        if span is None or not self.t_range:
            return None
        t_max, t_min = self.t_range
        if not math.isclose(span[0], t_max, rel_tol=1e-9, abs_tol=1e-12):
            return f"starts at t = {span[0]:.4g} < t_max = {t_max:.4g}"
        if self.final_step == "none" and not math.isclose(span[1], t_min, rel_tol=1e-9,
                                                          abs_tol=1e-12):
            return f"ends at t = {span[1]:.4g} > t_min = {t_min:.4g} (no final denoise)"
        return None

    def ranked(self, solver: str, grid: str, i: int) -> bool:
        return self.unranked_reason(solver, grid, i) is None

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
                 if (v := self.value(metric, s, g, i)) is not None and math.isfinite(v)
                 and self.ranked(s, g, i)]
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
        inf: diverges), `span` ([first, last] time of the grid), `ranked` (and if not,
        `unranked` says why), and `best`: whether the cell wins its budget under `metric`."""
        winners = {b: self._best_or_none(b, metric) for b in self.budgets}
        span = lambda s, g, i: self.span.get(s, {}).get(g, [None] * len(self.budgets))[i]
        return [{"solver": s, "grid": g, "nfe": b, "steps": self.steps[s][i],
                 "w2sq": self.w2sq[s][g][i], "kl": self.kl[s][g][i],
                 "weak_trace": self.weak_trace[s][g][i], "span": span(s, g, i),
                 "ranked": self.ranked(s, g, i), "unranked": self.unranked_reason(s, g, i),
                 "best": winners[b] == (s, g)}
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
        each budget under `metric` in bold; cells left out of the ranking marked with a
        dagger (their grid does not cover what is compared); a last line naming the winner
        at each budget."""
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
                    if v is not None and not self.ranked(s, g, i):
                        text += " †"
                    cells.append(f"**{text}**" if best[b] == (s, g) else text)
                lines.append(f"| {s} | {g} | " + " | ".join(cells) + " |")
        wins = "; ".join(f"NFE {b}: " + (f"{best[b][0]} on {best[b][1]}" if best[b] else "none")
                         for b in budgets)
        note = ("\n† not ranked: the grid starts below t_max"
                + (" or ends above t_min" if self.final_step == "none" else "")
                + " (the value is the error of the law at the grid's own last time"
                + (", denoised," if self.final_step == "denoise" else "")
                + " started from the exact marginal at its own first time).\n"
                if any(not self.ranked(s, g, i) and self.w2sq[s][g][i] is not None
                       for s in self.solvers for g in self.grids for i in idx) else "")
        return ("\n".join(lines) + f"\n\nBest at each budget ({METRICS[metric]}): {wins}.\n"
                + note)


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


def _grid_times(grid: str, schedule, n: int, rho: float) -> np.ndarray | None:
    """The named grid at N steps on this schedule, or None where its builder refuses that N
    (e.g. discrete-timestep grids whose steps would repeat). Levels clipped to the schedule's
    range (a warning) still make a usable grid."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(make_grid(grid, schedule, n, rho=rho))
    except ValueError:
        return None


def _cells_by_sweep(target, schedule, steps, grids, eta, solver: str, rho: float,
                    devices=None, final_step: str = "none") -> dict:
    """{grid: {N: {"w2sq", "kl", "weak_trace", "span"} or None}} for one solver: per N, one
    `error_sweep` over every grid that exists at that N (the compiled program is shared by
    every call); None where the grid does not exist. If a run diverges the sweep refuses
    its whole set; then each grid is run alone, a diverging run recorded as inf (never
    NaN)."""
    keys = ("w2sq", "kl", "weak_trace")
    out: dict = {g: dict.fromkeys(steps) for g in grids}
    for n in steps:
        times = {g: t for g in grids if (t := _grid_times(g, schedule, n, rho)) is not None}
        run = lambda gs, n=n, times=times: error_sweep(target, schedule, [n],
                                                       grids=[times[g] for g in gs],
                                          etas=[eta], solvers=[solver], rho=rho, devices=devices,
                                          final_step=final_step).rows
        try:
            rows = dict(zip(times, run(list(times)), strict=True)) if times else {}
        except FloatingPointError:
            rows = {}
            for g in times:
                try:
                    rows[g] = run([g])[0]
                except FloatingPointError:
                    rows[g] = None
        for g, t in times.items():
            row = rows[g]
            cell = dict.fromkeys(keys, math.inf) if row is None else {k: getattr(row, k) for k in keys}
            if not all(math.isfinite(v) for v in cell.values()):
                cell = dict.fromkeys(keys, math.inf)
            out[g][n] = {**cell, "span": [float(t[0]), float(t[-1])]}
    return out


def compare_at_equal_nfe(target: GaussianTarget, schedule: AbstractSchedule, *,
                         budgets: Sequence[int] = BUDGETS, solvers: Sequence[str] | None = None,
                         grids: Sequence[str] | None = None, eta=0.0,
                         rho: float = 7.0, devices=None, final_step: str = "none") -> Comparison:
    """Exact W2^2, KL and weak error (discretization error) of every solver x grid at each
    NFE budget. `eta` is a number >= 0 or a function eta(t). `devices`: those the sweeps
    are split over (`error_sweep`; default all). `final_step="denoise"` ends every run with
    the jump to sigma = 0 (`sampling.apply_final_step`, one score evaluation taken from the
    budget) and compares with the data law."""
    extra = final_step_evaluations(final_step)
    budgets = [int(b) for b in budgets]
    if not budgets or any(b < 1 for b in budgets):
        raise ValueError(f"budgets must be integers >= 1, got {budgets}")
    solvers = default_solvers(eta) if solvers is None else list(solvers)
    grids = list(GRIDS) if grids is None else list(grids)
    for g in grids:
        if g not in GRIDS:
            raise ValueError(f"unknown grid {g!r}; allowed: {', '.join(GRIDS)}")
    steps: dict = {}
    errors: dict = {"w2sq": {}, "kl": {}, "weak_trace": {}, "span": {}}
    for name in solvers:
        solver = make_solver(name)
        nfe = score_evaluations_per_step(solver)
        steps[name] = [max(b - extra, 0) // nfe for b in budgets]
        runnable = sorted({n for n in steps[name] if n >= max(1, min_steps(solver))})
        cells = _cells_by_sweep(target, schedule, runnable, grids, eta, name, rho, devices,
                                final_step)
        for key in errors:
            errors[key][name] = {g: [cells[g][n][key] if n in runnable and cells[g][n] else None
                                     for n in steps[name]] for g in grids}
    return Comparison(budgets=budgets, solvers=solvers, grids=grids, steps=steps,
                      eta=f"eta(t) {getattr(eta, '__name__', 'function')}" if callable(eta)
                      else float(eta), schedule=type(schedule).__name__, final_step=final_step,
                      t_range=[float(schedule.t_max), float(schedule.t_min)], **errors)
