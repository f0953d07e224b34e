"""Learned scores against the Gaussian theory (issue 10, item 6).

Score networks (`MLPScore`, EDM preconditioning, `train_score_model`) are trained on the 8x8
digits (three training seeds) and on two 2-D toys (eight Gaussians, two moons; one seed),
then sampled on the EDM schedule (t in [0.002, 80]) with every sampler of the design

    grids {uniform, edm (rho 7), logsnr, kl-optimal, optimized} x eta {0, eta*, 1}
          x solvers {euler, heun} x N {5, 10, 20, 50}

and measured by Monte Carlo, each number with its standard error (`analysis._mc_metrics`):

- `frechet`: Bures W2^2 between the Gaussian fits of the samples and of the held-out data,
  bootstrap bias-corrected; its floor is the same metric between as many training points and
  the held-out data (what a network that reproduced the training set exactly would score);
- `coupled`: E|X_N - X_ref|^2, the same start draw and the same Brownian path (a
  `VirtualBrownianTree`) through the N-step grid and through a fine reference (the EDM grid,
  rho 7, with M steps, one reference per solver and eta shared by every grid, so that every
  row of a (solver, eta) is measured against the same paths): the discretization error alone.

Beside each row stands the exact prediction of the Gaussian theory (`error_sweep`) for the
Gaussian fit of the training data (its mean and covariance): `pred_w2sq` (start from the
prior, against the data law: comparable with `frechet`) and `pred_discretization` (start from
the exact marginal, against the exact marginal at t_min: comparable with `coupled`; for eta = 0
and a Gaussian the two are equal, since the ODE is a linear map of the start and the coupled
error of a linear map is its W2^2 per direction). The theory's own picks come from the same
spectrum: `optimized` is `optimize_grid` (exact W2^2, eta = 0) for each solver and N, and
eta* is `optimize_robust(family="eta")`: the constant eta on the EDM grid minimising the
geometric mean of the exact W2^2 over the design's N, for each solver.

Rank agreement is Spearman's rho between predicted and measured values (`spearman`), over all
rows and within each N (averaged over N), with a pairs-bootstrap standard error
(`spearman_bootstrap`; resampling rows, stratified by N for the within-N value). The trained
checkpoints are outputs of the recipe: the manifest hashes them, and a rerun of the recipe
reuses one only when it loads intact (its sidecar's sha256) with the same config, data,
iteration count and trainer source (`_reusable`).

Sampling routes (sized for a 2-core CPU): rows with eta = 0 and every coupled run use
`run_particles` (the VirtualBrownianTree route of `mc_curve`; with eta = 0 the tree is never
read); the distribution metrics of rows with eta > 0 use `sample(..., brownian="unsafe")`,
independent increments drawn per step, ~20x cheaper than the tree in 64-d, where no coupling
is needed.
"""

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

from analysis import (  # noqa: E402
    coupled_error,
    error_sweep,
    frechet,
    optimize_grid,
    optimize_robust,
    run_particles,
    sliced_w2sq,
)
from sampling import (  # noqa: E402
    GaussianLaw,
    GaussianTarget,
    NonFiniteError,
    ReverseDiffusion,
    make_solver,
    sample,
    score_evaluations_per_step,
)
from sampling.targets import load_dataset  # noqa: E402
from sampling.training import (  # noqa: E402
    TrainConfig,
    build_mlp_score,
    data_rms,
    dsm_loss_estimate,
    init_train_state,
    load_checkpoint,
    mlp_config,
    save_checkpoint,
    skeleton_state,
    train_score_model,
)
from sampling.training._checkpoint import LEAVES_FILE, SIDECAR_FILE  # noqa: E402
from schedules import EDM, make_grid  # noqa: E402

from .._files import save_figure, write_atomic, write_csv  # noqa: E402

NAME = "learned_vs_theory"
TITLE = ("Learned score networks (digits, 2-D toys) against the exact Gaussian prediction: "
         "grids x eta x solver x N, measured Frechet and coupled errors")

STANDARD_GRIDS = ("uniform", "edm", "logsnr", "kl-optimal")
GRIDS = STANDARD_GRIDS + ("optimized",)
SOLVERS = ("euler", "heun")
ETA_LABELS = ("0", "eta*", "1")
RHO = 7.0
DIGITS = "digits"
DIGITS_SEEDS = (0, 1, 2)
TOYS = ("eight-gaussians", "moons")
TOY_SEED = 0
CHECKPOINTS = "learned_vs_theory_checkpoints"
# Eigenvalues of the training covariance below this are constant pixels (exact zeros of the
# digits): floored so that the Gaussian fit is a proper law; they contribute ~sigma_min^2 each.
EIGENVALUE_FLOOR = 1e-10
RANK_BOOTSTRAP = 2000
# Fixed seeds: every number of the recipe is reproducible.
SAMPLING_SEED = 20260610
RANK_SEED = 20260611


def checkpoint_dir(data: str, seed: int) -> str:
    return f"{CHECKPOINTS}/{data}-seed{seed}"


FIGURE, SAMPLES_FIGURE = "learned_vs_theory.png", "learned_vs_theory_samples.png"
CSV, TRAINING_CSV, TABLE = ("learned_vs_theory.csv", "learned_vs_theory_training.csv",
                            "learned_vs_theory_table.md")


def outputs(digits_seeds=DIGITS_SEEDS, toys=TOYS) -> list[str]:
    """The files the recipe writes: figures, CSVs, the table and every checkpoint (leaves and
    sidecar), so that the manifest hashes the trained networks too."""
    runs = [(DIGITS, s) for s in digits_seeds] + [(t, TOY_SEED) for t in toys]
    return [FIGURE, SAMPLES_FIGURE, CSV, TRAINING_CSV, TABLE] + [
        f"{checkpoint_dir(d, s)}/{f}" for d, s in runs for f in (LEAVES_FILE, SIDECAR_FILE)]


OUTPUTS = outputs()


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big a run is. `measured_seeds`: how many of the digits seeds are sampled and
    measured (all are trained, since their checkpoints are outputs)."""

    steps: tuple[int, ...]
    digits_iterations: int
    toy_iterations: int
    width: int
    depth: int
    toy_width: int
    particles: int
    coupled_particles: int
    reference_steps: int
    bootstrap: int
    projections: int
    optimize_iterations: int
    measured_seeds: int
    batch: int = 256
    learning_rate: float = 2e-3


FULL = Sizes(steps=(5, 10, 20, 50), digits_iterations=1500, toy_iterations=1500, width=128,
             depth=3, toy_width=64, particles=1000, coupled_particles=64, reference_steps=200,
             bootstrap=30, projections=128, optimize_iterations=60, measured_seeds=3)
QUICK = Sizes(steps=(5, 20), digits_iterations=150, toy_iterations=150, width=64, depth=2,
              toy_width=32, particles=128, coupled_particles=128, reference_steps=64,
              bootstrap=20, projections=64, optimize_iterations=8, measured_seeds=1)


# ----- rank agreement ---------------------------------------------------------------------------

def spearman(x, y) -> float:
    """Spearman's rank correlation: the Pearson correlation of the ranks (ties get their
    average rank, as in scipy.stats.spearmanr). ValueError when either side is constant or
    the lengths differ or fewer than 3 pairs are given."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise ValueError(f"spearman needs two 1-D arrays of the same length >= 3, got shapes "
                         f"{x.shape} and {y.shape}")
    rx, ry = rankdata(x), rankdata(y)
    sx, sy = rx - rx.mean(), ry - ry.mean()
    norm = math.sqrt(float(sx @ sx) * float(sy @ sy))
    if norm == 0:
        raise ValueError("spearman is undefined when one side is constant")
    return float(sx @ sy) / norm


def _spearman_replicates(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of x (R, n) against the same row of y; NaN where a row is
    constant on one side (callers drop those replicates)."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    sx, sy = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    norm = np.sqrt(np.sum(sx**2, 1) * np.sum(sy**2, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, np.sum(sx * sy, 1) / np.where(norm > 0, norm, 1.0), np.nan)


def spearman_bootstrap(x, y, *, groups=None, n_bootstrap: int = RANK_BOOTSTRAP,
                       seed: int = RANK_SEED) -> tuple[float, float]:
    """(rho, bootstrap standard error) of Spearman's rho between x and y.

    Without `groups`: rho over all pairs, SE from resampling the pairs with replacement.
    With `groups` (a label per pair, e.g. the step count N): rho is the mean over groups of
    the within-group rho, and each replicate resamples the pairs within every group (a
    stratified bootstrap). A replicate whose resample is constant on one side has no rho and
    is left out (rare for >= 10 distinct pairs); the SE is the standard deviation of the
    remaining replicates. Explicit NumPy seed: the same inputs give the same SE."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    labels = np.zeros(x.size, int) if groups is None else np.asarray(groups)
    members = [np.flatnonzero(labels == g) for g in dict.fromkeys(labels.tolist())]
    value = float(np.mean([spearman(x[m], y[m]) for m in members]))
    rng = np.random.default_rng(seed)
    per_group = []
    for m in members:
        picks = m[rng.integers(0, m.size, (int(n_bootstrap), m.size))]
        per_group.append(_spearman_replicates(x[picks], y[picks]))
    reps = np.mean(per_group, axis=0)
    reps = reps[np.isfinite(reps)]
    if reps.size < 2:
        raise ValueError("too few distinct pairs for a bootstrap standard error")
    return value, float(np.std(reps, ddof=1))


# ----- training (or reuse) -------------------------------------------------------------------------

def _trainer_source_sha256() -> str:
    """sha256 of the code a checkpoint depends on (trainer, checkpoints, score model, data)."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for rel in ("sampling/training/_train.py", "sampling/training/_checkpoint.py",
                "sampling/scores/_score.py", "sampling/targets/_datasets.py"):
        digest.update((root / rel).read_bytes())
    return digest.hexdigest()


def _run_config(data, sizes: Sizes, seed: int) -> tuple[dict, TrainConfig]:
    sd = data_rms(data.train)
    toy = data.name != DIGITS
    train = TrainConfig(batch_size=sizes.batch, learning_rate=sizes.learning_rate, sigma_data=sd)
    model = mlp_config(data.dim, width=sizes.toy_width if toy else sizes.width,
                       depth=sizes.depth, sigma_data=sd)
    return {"model": model, "train": train.to_dict(), "seed": int(seed)}, train


def _reusable(directory: Path, config: dict, data_sha: str, iterations: int, source: str):
    """The checkpoint's state when it loads intact with this config, data, iteration count
    and trainer source; else None (it is then trained again)."""
    try:
        state, sidecar = load_checkpoint(directory, skeleton_state(config), config=config,
                                         data_sha256=data_sha)
    except ValueError:
        return None
    if sidecar["iteration"] != iterations or sidecar.get("trainer_source_sha256") != source:
        return None
    return state, sidecar


def train_or_reuse(out_dir: Path, data, sizes: Sizes, seed: int) -> dict:
    """Train (or reuse) the network of (data, seed); returns its EMA model and its record:
    iterations, training seconds, final minibatch loss (mean of the last 100 iterations) and
    the DSM loss of the EMA weights on held-out data with its SE."""
    config, train = _run_config(data, sizes, seed)
    iterations = sizes.toy_iterations if data.name != DIGITS else sizes.digits_iterations
    directory = out_dir / checkpoint_dir(data.name, seed)
    data_sha, source = data.train_sha256(), _trainer_source_sha256()
    found = _reusable(directory, config, data_sha, iterations, source)
    if found is None:
        k_init, k_train = jax.random.split(jax.random.key(seed))
        state = init_train_state(build_mlp_score(config["model"], k_init), train)
        began = time.perf_counter()
        result = train_score_model(None, data.train, key=k_train, iterations=iterations,
                                   config=train, state=state)
        seconds = time.perf_counter() - began
        losses = np.asarray(result.losses)
        final = float(losses[-min(100, losses.size):].mean())
        state = result.state
        save_checkpoint(directory, state, config=config, data_sha256=data_sha,
                        extra={"data": data.name, "train_seconds": seconds, "final_loss": final,
                               "trainer_source_sha256": source})
        reused = False
    else:
        state, sidecar = found
        seconds, final, reused = sidecar["train_seconds"], sidecar["final_loss"], True
    held, held_se = dsm_loss_estimate(state.ema_model, data.heldout, config=train)
    return {"model": state.ema_model, "data": data.name, "seed": seed, "iterations": iterations,
            "train_seconds": seconds, "final_loss": final, "heldout_loss": held,
            "heldout_loss_se": held_se, "reused": reused}


# ----- the Gaussian theory ------------------------------------------------------------------------

def gaussian_fit(data) -> GaussianTarget:
    """The Gaussian fit of the training data: sample mean and covariance (eigenvalues floored
    at EIGENVALUE_FLOOR, the constant pixels of the digits)."""
    x = np.asarray(data.train)
    lam, vec = np.linalg.eigh(np.cov(x.T).reshape(x.shape[1], x.shape[1]))
    order = np.argsort(lam)[::-1]
    return GaussianTarget(np.maximum(lam[order], EIGENVALUE_FLOOR), vec[:, order], x.mean(0))


@dataclasses.dataclass
class Theory:
    """The theory's picks and predictions for one spectrum: eta*[solver], the optimised grid
    [(solver, N)], and the predictions [(grid, eta label, solver, N)] -> (w2sq, discretization)."""

    eta_star: dict
    optimized: dict
    predictions: dict


def theory(target: GaussianTarget, schedule, sizes: Sizes) -> Theory:
    lam = np.asarray(target.eigenvalues)
    steps = list(sizes.steps)
    eta_star = {s: float(optimize_robust(schedule, [lam], steps, family="eta", solver=s,
                                         grid="edm", rho=RHO).parameters["eta"])
                for s in SOLVERS}
    optimized = {(s, n): np.asarray(optimize_grid(schedule, lam, n, solver=s, eta=0.0, rho=RHO,
                                                  iterations=sizes.optimize_iterations).grid)
                 for s in SOLVERS for n in steps}
    predictions = {}
    for s in SOLVERS:
        def builder(schedule_, n, s=s):
            return optimized[(s, n)]

        builder.__name__ = "optimized"
        etas = [0.0, eta_star[s], 1.0]
        sweep = error_sweep(target, schedule, steps, grids=[*STANDARD_GRIDS, builder], etas=etas,
                            solvers=[s], rho=RHO, start="prior", reference="data")
        for grid in GRIDS:
            for label, eta in zip(ETA_LABELS, etas, strict=True):
                for row in sweep.select(grid, eta, s):
                    predictions[(grid, label, s, row.steps)] = (row.w2sq, row.discretization)
    return Theory(eta_star, optimized, predictions)


# ----- measurement ---------------------------------------------------------------------------------

def _grid(name: str, schedule, n: int, th: Theory, solver: str) -> np.ndarray:
    if name == "optimized":
        return th.optimized[(solver, n)]
    return np.asarray(make_grid(name, schedule, n, rho=RHO))


def _tree_tolerance(grids) -> float:
    """Half the smallest step of all grids, relative to [t_min, t_max] (diffrax's advice: no
    step inside one leaf of the tree), at most 1e-3: one tolerance, hence one Brownian path,
    for every run."""
    smallest = min(float(np.min(-np.diff(g)) / (g[0] - g[-1])) for g in grids)
    return min(1e-3, 0.5 * smallest)


def _pow2_at_least(n: int) -> int:
    return 1 << max(1, (int(n) - 1).bit_length())


def measure(score, data, schedule, th: Theory, sizes: Sizes, keep=()) -> tuple[list, dict]:
    """Every row of the design with this score network: frechet, sliced W2^2 (both vs the
    held-out data) and the coupled error, each with its SE; `diverged` rows (a non-finite
    particle) carry inf. Returns (rows, samples kept for the figure: `keep` lists
    (grid, eta label, solver, N))."""
    d = data.dim
    start = GaussianLaw(jnp.zeros(d), jnp.full(d, float(schedule.prior_variance())))
    k_run, k_frechet, k_sliced = jax.random.split(jax.random.key(SAMPLING_SEED), 3)
    reference_grid = np.asarray(make_grid("edm", schedule, sizes.reference_steps, rho=RHO))
    all_grids = [reference_grid] + [_grid(g, schedule, n, th, s) for g in GRIDS
                                    for s in SOLVERS for n in sizes.steps]
    tol = _tree_tolerance(all_grids)
    length = _pow2_at_least(sizes.reference_steps + 1)
    # As many coupled particles as particles: one tree run serves both (one compiled program
    # per solver and kind of eta: the quick run's choice, where compiling dominates).
    shared = sizes.coupled_particles == sizes.particles
    rows, kept = [], {}
    for s in SOLVERS:
        solver = make_solver(s)
        for label, eta in zip(ETA_LABELS, (0.0, th.eta_star[s], 1.0), strict=True):
            # eta = 0 as a Python number: the ODE, no noise term (no tree is read).
            reverse = ReverseDiffusion(schedule, score, 0.0 if eta == 0 else jnp.asarray(eta))
            x_ref = run_particles(k_run, reverse, reference_grid, solver, start,
                                  sizes.coupled_particles, length=length, tol=tol)
            for g in GRIDS:
                for n in sizes.steps:
                    grid = _grid(g, schedule, n, th, s)
                    row = {"grid": g, "eta": label, "eta_value": eta, "solver": s, "steps": n,
                           "nfe": n * score_evaluations_per_step(solver), "diverged": False}
                    try:
                        if eta == 0 or shared:
                            x = run_particles(k_run, reverse, grid, solver, start, sizes.particles,
                                              length=length, tol=tol)
                            x_c = x[: sizes.coupled_particles]
                        else:
                            x = sample(k_run, reverse, jnp.asarray(grid), solver, start,
                                       sizes.particles, brownian="unsafe", route="scan").samples
                            x_c = run_particles(k_run, reverse, grid, solver, start,
                                                sizes.coupled_particles, length=length, tol=tol)
                    except NonFiniteError:
                        row.update(diverged=True, **{k: math.inf for k in _MEASURED})
                        rows.append(row)
                        continue
                    fr = frechet(k_frechet, x, data.heldout, n_bootstrap=sizes.bootstrap)
                    sw = sliced_w2sq(k_sliced, x, data.heldout, n_projections=sizes.projections)
                    ce = coupled_error(x_c, x_ref)
                    row.update(frechet=fr.value, frechet_se=fr.se, sliced_w2=sw.value,
                               sliced_w2_se=sw.se, coupled=ce.value, coupled_se=ce.se)
                    rows.append(row)
                    if (g, label, s, n) in keep:
                        kept[(g, label, s, n)] = np.asarray(x)
    return rows, kept


_MEASURED = ("frechet", "frechet_se", "sliced_w2", "sliced_w2_se", "coupled", "coupled_se")


def floors(data, sizes: Sizes) -> dict:
    """The sampling floor of each metric: as many training points as particles against the
    held-out data (a network that reproduced the training data exactly)."""
    k_frechet, k_sliced = jax.random.split(jax.random.key(SAMPLING_SEED + 1))
    x = data.train[: min(sizes.particles, data.train.shape[0])]
    fr = frechet(k_frechet, x, data.heldout, n_bootstrap=sizes.bootstrap)
    sw = sliced_w2sq(k_sliced, x, data.heldout, n_projections=sizes.projections)
    return {"frechet": fr.value, "frechet_se": fr.se, "sliced_w2": sw.value,
            "sliced_w2_se": sw.se, "points": int(x.shape[0])}


# ----- aggregation and reporting -------------------------------------------------------------------

def aggregate(rows: list[dict]) -> list[dict]:
    """One row per (data, grid, eta, solver, N): measured values averaged over the seeds
    (`*_seed_sd`: their spread; `*_se`: the Monte Carlo SE of the mean), beside the
    predictions."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["data"], r["grid"], r["eta"], r["solver"], r["steps"]), []).append(r)
    out = []
    for members in groups.values():
        first = members[0]
        agg = {k: first[k] for k in ("data", "grid", "eta", "eta_value", "solver", "steps", "nfe",
                                     "pred_w2sq", "pred_discretization")}
        agg["seeds"] = len(members)
        agg["diverged"] = any(m["diverged"] for m in members)
        for metric in ("frechet", "sliced_w2", "coupled"):
            v = np.array([m[metric] for m in members])
            se = np.array([m[f"{metric}_se"] for m in members])
            agg[metric] = float(v.mean())
            agg[f"{metric}_se"] = float(np.sqrt(np.sum(se**2)) / v.size)
            agg[f"{metric}_seed_sd"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
        out.append(agg)
    return out


def _finite(rows, *cols):
    return [r for r in rows if all(np.isfinite(r[c]) for c in cols)]


PAIRS = (("coupled", "pred_discretization"), ("frechet", "pred_w2sq"))


def rank_summary(rows: list[dict]) -> dict:
    """Spearman's rho (bootstrap SE) of each measured metric against its prediction, over all
    rows and within N; diverged rows are left out (their count is reported)."""
    out = {}
    for measured, predicted in PAIRS:
        ok = _finite(rows, measured, predicted)
        x = [r[predicted] for r in ok]
        y = [r[measured] for r in ok]
        out[measured] = {"all": spearman_bootstrap(x, y),
                         "within_n": spearman_bootstrap(x, y, groups=[r["steps"] for r in ok]),
                         "rows": len(ok), "left_out": len(rows) - len(ok)}
    return out


def wins(rows: list[dict]) -> dict:
    """Does the theory's pick win? For grids: in each (solver, eta, N) cell, the grid the
    theory predicts best and the grid measured best, by the coupled error (against
    pred_discretization) and by the Frechet error (against pred_w2sq). For eta: in each
    (solver, grid, N) cell, the eta predicted best and measured best by the Frechet error
    (a law-level error, like the W2^2 eta* minimises). `clear` counts the cells whose
    measured winner beats the runner-up by more than 2 combined SEs."""
    index = {(r["grid"], r["eta"], r["solver"], r["steps"]): r for r in rows}
    steps = sorted({r["steps"] for r in rows})

    def cells(fixed_names, vary, metric, predicted, field, pick):
        result = []
        for fixed in fixed_names:
            cands = [index[k] for k in (vary(fixed, v) for v in vary.values) if k in index]
            cands = [c for c in cands if np.isfinite(c[metric]) or c["diverged"]]
            if len(cands) < 2:
                continue
            # A tie (eta* = 0 or 1 is the same sampler as a baseline) counts for the pick.
            pred_best = min(cands, key=lambda c: (c[predicted], c[field] != pick))
            ordered = sorted(cands, key=lambda c: (c[metric], c[field] != pick))
            best, second = ordered[0], ordered[1]
            clear = (second[metric] - best[metric]) > 2 * math.hypot(best[f"{metric}_se"],
                                                                     second[f"{metric}_se"])
            result.append({"cell": fixed, "predicted": pred_best, "measured": best,
                           "clear": bool(clear)})
        return result

    def grid_vary(fixed, v):
        s, e, n = fixed
        return (v, e, s, n)

    grid_vary.values = GRIDS

    def eta_vary(fixed, v):
        s, g, n = fixed
        return (g, v, s, n)

    eta_vary.values = ETA_LABELS
    grid_cells = [(s, e, n) for s in SOLVERS for e in ETA_LABELS for n in steps]
    eta_cells = [(s, g, n) for s in SOLVERS for g in GRIDS for n in steps]
    return {"grid_coupled": cells(grid_cells, grid_vary, "coupled", "pred_discretization",
                                  "grid", "optimized"),
            "grid_frechet": cells(grid_cells, grid_vary, "frechet", "pred_w2sq", "grid",
                                  "optimized"),
            "eta_frechet": cells(eta_cells, eta_vary, "frechet", "pred_w2sq", "eta", "eta*")}


def win_counts(w: dict) -> dict:
    """Counts of the `wins` cells: how often the theory's pick (optimized grid; eta*) is
    measured best, how often the predicted best equals the measured best, how many cells
    have a clear measured winner."""
    out = {}
    for name, field, pick in (("grid_coupled", "grid", "optimized"),
                              ("grid_frechet", "grid", "optimized"),
                              ("eta_frechet", "eta", "eta*")):
        cells = w[name]
        out[name] = {
            "cells": len(cells),
            "pick_predicted_best": sum(c["predicted"][field] == pick for c in cells),
            "pick_measured_best": sum(c["measured"][field] == pick for c in cells),
            "agree": sum(c["predicted"][field] == c["measured"][field] for c in cells),
            "clear": sum(c["clear"] for c in cells),
            "agree_clear": sum(c["clear"] and c["predicted"][field] == c["measured"][field]
                               for c in cells)}
    return out


def _fmt(v, se=None) -> str:
    if not np.isfinite(v):
        return "diverged"
    text = f"{v:.3g}"
    return text if se is None else f"{text} ± {se:.2g}"


def table_markdown(summary: dict) -> str:
    lines = [f"Score networks trained by DSM ({summary['digits_seeds']} digits seeds, one per toy; "
             f"{summary['mode']} run), sampled on the EDM schedule with grids "
             f"{', '.join(GRIDS)} x eta {{0, eta*, 1}} x Euler/Heun x N in "
             f"{{{', '.join(str(n) for n in summary['steps'])}}}; {summary['particles']} particles "
             f"per row (Fréchet vs held-out, bias-corrected), {summary['coupled_particles']} "
             f"coupled particles against an EDM-grid reference of {summary['reference_steps']} "
             f"steps. Predictions: exact Gaussian theory (`error_sweep`) on the Gaussian fit of "
             f"each training set. Spearman's rho ± pairs-bootstrap SE ({RANK_BOOTSTRAP} "
             f"replicates; within N: stratified by N, mean over N).", ""]
    lines += ["| data | measured vs predicted | rho, all rows | rho, within N | rows |",
              "|---|---|---|---|---|"]
    for data, rs in summary["ranks"].items():
        for metric, v in rs.items():
            what = ("coupled vs discretization" if metric == "coupled"
                    else "Fréchet vs W2^2 (prior start, data law)")
            a, w = v["all"], v["within_n"]
            lines.append(f"| {data} | {what} | {a[0]:.3f} ± {a[1]:.3f} | {w[0]:.3f} ± {w[1]:.3f} "
                         f"| {v['rows']}" + (f" ({v['left_out']} diverged left out)"
                                             if v["left_out"] else "") + " |")
    per_seed = summary.get("per_seed_ranks")
    if per_seed:
        lines += ["", "Digits, per training seed (within-N rho): " + "; ".join(
            f"seed {s}: coupled {r['coupled']['within_n'][0]:.3f}, Fréchet "
            f"{r['frechet']['within_n'][0]:.3f}" for s, r in per_seed.items())]
    lines += ["", "Does the theory's pick win? Cells: (solver, eta, N) for grids, (solver, grid, "
              "N) for eta; 'clear': the measured winner beats the runner-up by > 2 SE.", "",
              "| data | question | cells | theory's pick predicted best | measured best "
              "| predicted best = measured best (clear cells) |", "|---|---|---|---|---|---|"]
    names = {"grid_coupled": "optimized grid, by coupled error",
             "grid_frechet": "optimized grid, by Fréchet", "eta_frechet": "eta*, by Fréchet"}
    for data, counts in summary["wins"].items():
        for name, c in counts.items():
            lines.append(f"| {data} | {names[name]} | {c['cells']} | {c['pick_predicted_best']} | "
                         f"{c['pick_measured_best']} | {c['agree']} ({c['agree_clear']} of "
                         f"{c['clear']}) |")
    lines += ["", "Theory's picks: " + "; ".join(
        f"{data}: eta* = " + ", ".join(f"{s} {v:.3g}" for s, v in th.items())
        for data, th in summary["eta_star"].items())]
    floor = summary["floors"][DIGITS]
    lines += ["", f"Digits at N = {summary['table_steps']} (measured: mean over seeds ± Monte "
              f"Carlo SE; spread over seeds in brackets). Fréchet floor (training vs held-out "
              f"data): {_fmt(floor['frechet'], floor['frechet_se'])}.",
              "", "| solver | eta | grid | predicted W2^2 | measured Fréchet | predicted "
              "discretization | measured coupled |", "|---|---|---|---|---|---|---|"]
    for r in summary["digits_rows"]:
        lines.append(f"| {r['solver']} | {r['eta']} | {r['grid']} | {_fmt(r['pred_w2sq'])} | "
                     f"{_fmt(r['frechet'], r['frechet_se'])} [{r['frechet_seed_sd']:.2g}] | "
                     f"{_fmt(r['pred_discretization'])} | {_fmt(r['coupled'], r['coupled_se'])} "
                     f"[{r['coupled_seed_sd']:.2g}] |")
    lines += ["", "Training (DSM loss: 1 = the skip connection alone; held-out: EMA weights, "
              "fixed draws):", "", "| data | seed | iterations | seconds | final loss | held-out "
              "loss | reused |", "|---|---|---|---|---|---|---|"]
    for t in summary["training"]:
        lines.append(f"| {t['data']} | {t['seed']} | {t['iterations']} | {t['train_seconds']:.1f} | "
                     f"{t['final_loss']:.3f} | {t['heldout_loss']:.3f} ± {t['heldout_loss_se']:.3f} "
                     f"| {'yes' if t['reused'] else 'no'} |")
    return "\n".join(lines) + "\n"


# ----- figures -------------------------------------------------------------------------------------

_ETA_COLOURS = {"0": "tab:blue", "eta*": "tab:green", "1": "tab:red"}
_SOLVER_MARKERS = {"euler": "o", "heun": "^"}


def _scatter(ax, rows, measured, predicted, title, floor=None):
    ok = _finite(rows, measured, predicted)
    for r in ok:
        ax.errorbar(r[predicted], r[measured], yerr=2 * r[f"{measured}_se"],
                    fmt=_SOLVER_MARKERS[r["solver"]], color=_ETA_COLOURS[r["eta"]], ms=3,
                    alpha=0.7, lw=0.6)
    values = [v for r in ok for v in (r[predicted], r[measured]) if v > 0]
    if values:
        lo, hi = min(values), max(values)
        ax.plot([lo, hi], [lo, hi], "k:", lw=0.8, label="measured = predicted")
    if floor is not None:
        ax.axhline(floor, color="grey", lw=0.8, ls="--", label="floor (train vs held-out)")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_xlabel(f"predicted ({predicted})")
    ax.set_ylabel(f"measured ({measured}, 2 SE bars)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)


def _legend(ax):
    for e, c in _ETA_COLOURS.items():
        ax.plot([], [], "s", color=c, label=f"eta = {e}")
    for s, m in _SOLVER_MARKERS.items():
        ax.plot([], [], m, color="k", label=s)
    ax.legend(fontsize=7)


def _comparison_figure(path, agg, summary):
    data_names = [DIGITS, *TOYS]
    fig, axes = plt.subplots(2, len(data_names), figsize=(5.5 * len(data_names), 9.5),
                             layout="constrained", squeeze=False)
    for j, name in enumerate(data_names):
        rows = [r for r in agg if r["data"] == name]
        rk = summary["ranks"][name]
        _scatter(axes[0, j], rows, "coupled", "pred_discretization",
                 f"{name}: coupled error (rho within N = {rk['coupled']['within_n'][0]:.2f})")
        _scatter(axes[1, j], rows, "frechet", "pred_w2sq",
                 f"{name}: Fréchet vs held-out (rho within N = "
                 f"{rk['frechet']['within_n'][0]:.2f})", floor=summary["floors"][name]["frechet"])
    _legend(axes[0, 0])
    axes[1, 0].legend(fontsize=7)
    fig.suptitle(TITLE, fontsize=10)
    save_figure(path, fig)


def _digit_mosaic(x, rows=6, cols=6):
    x = np.clip(np.asarray(x)[: rows * cols], -1.0, 1.0).reshape(-1, 8, 8)
    x = np.concatenate([x, np.full((rows * cols - x.shape[0], 8, 8), -1.0)])
    pad = np.full((rows * cols, 10, 10), -1.0)
    pad[:, 1:9, 1:9] = x
    return pad.reshape(rows, cols, 10, 10).transpose(0, 2, 1, 3).reshape(rows * 10, cols * 10)


def _samples_figure(path, samples: dict, heldout: dict, keep):
    data_names = [DIGITS, *TOYS]
    fig, axes = plt.subplots(len(data_names), 1 + len(keep),
                             figsize=(3.2 * (1 + len(keep)), 3.2 * len(data_names)),
                             layout="constrained", squeeze=False)
    for i, name in enumerate(data_names):
        panels = [("held-out data", heldout[name])] + [
            (f"{g}, eta {e}, {s}, N = {n}", samples[name].get((g, e, s, n))) for g, e, s, n in keep]
        for ax, (title, x) in zip(axes[i], panels, strict=True):
            ax.set_title(title, fontsize=8)
            if x is None:
                ax.axis("off")
                continue
            if name == DIGITS:
                ax.imshow(_digit_mosaic(x), cmap="gray_r", vmin=-1, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                ax.scatter(x[:1000, 0], x[:1000, 1], s=1, alpha=0.5)
                ax.set_xlim(-3, 3)
                ax.set_ylim(-3, 3)
                ax.set_aspect("equal")
    fig.suptitle("samples of the trained networks (digits: seed 0)", fontsize=10)
    save_figure(path, fig)


# ----- the recipe ----------------------------------------------------------------------------------

def _keep(sizes: Sizes) -> list[tuple]:
    """The configurations whose samples are drawn: a bad, a good and the theory's pick."""
    lo, hi = min(sizes.steps), max(sizes.steps)
    return [("uniform", "0", "euler", lo), ("optimized", "eta*", "euler", lo),
            ("edm", "0", "heun", hi)]


def run_study(out_dir: Path, sizes: Sizes) -> dict:
    """Train or reuse every network, measure every row, predict every row. Returns the
    long rows (one per seed), the aggregated rows and the summary."""
    schedule = EDM()
    long_rows, training, samples, heldout, floor, eta_star, theories = [], [], {}, {}, {}, {}, {}
    keep = _keep(sizes)
    for name in [DIGITS, *TOYS]:
        data = load_dataset(name)
        th = theory(gaussian_fit(data), schedule, sizes)
        theories[name], eta_star[name] = th, th.eta_star
        floor[name] = floors(data, sizes)
        heldout[name] = np.asarray(data.heldout)
        seeds = DIGITS_SEEDS if name == DIGITS else (TOY_SEED,)
        for i, seed in enumerate(seeds):
            trained = train_or_reuse(out_dir, data, sizes, seed)
            training.append({k: v for k, v in trained.items() if k != "model"})
            if i >= (sizes.measured_seeds if name == DIGITS else 1):
                continue
            rows, kept = measure(trained["model"], data, schedule, th, sizes,
                                 keep=keep if i == 0 else ())
            if i == 0:
                samples[name] = kept
            for r in rows:
                w2, disc = th.predictions[(r["grid"], r["eta"], r["solver"], r["steps"])]
                r.update(data=name, seed=seed, pred_w2sq=w2, pred_discretization=disc)
            long_rows += rows
    agg = aggregate(long_rows)
    ranks = {name: rank_summary([r for r in agg if r["data"] == name]) for name in [DIGITS, *TOYS]}
    measured_seeds = sorted({r["seed"] for r in long_rows if r["data"] == DIGITS})
    per_seed = ({s: rank_summary(aggregate([r for r in long_rows
                                            if r["data"] == DIGITS and r["seed"] == s]))
                 for s in measured_seeds} if len(measured_seeds) > 1 else {})
    win_cells = {name: wins([r for r in agg if r["data"] == name]) for name in [DIGITS, *TOYS]}
    table_steps = 10 if 10 in sizes.steps else min(sizes.steps)
    summary = {"mode": "full" if sizes == FULL else "quick", "steps": list(sizes.steps),
               "particles": sizes.particles, "coupled_particles": sizes.coupled_particles,
               "reference_steps": sizes.reference_steps, "digits_seeds": len(measured_seeds),
               "ranks": ranks, "per_seed_ranks": per_seed,
               "wins": {n: win_counts(w) for n, w in win_cells.items()},
               "win_cells": win_cells, "eta_star": eta_star, "floors": floor,
               "training": training, "table_steps": table_steps,
               "digits_rows": [r for r in agg if r["data"] == DIGITS and r["steps"] == table_steps]}
    return {"long": long_rows, "aggregated": agg, "summary": summary, "samples": samples,
            "heldout": heldout, "keep": keep, "theories": theories}


CSV_COLUMNS = ("data", "seed", "grid", "eta", "eta_value", "solver", "steps", "nfe",
               "pred_w2sq", "pred_discretization", "frechet", "frechet_se", "sliced_w2",
               "sliced_w2_se", "coupled", "coupled_se", "diverged")
TRAINING_COLUMNS = ("data", "seed", "iterations", "train_seconds", "final_loss", "heldout_loss",
                    "heldout_loss_se", "reused")


def make(out_dir, quick: bool = False, sizes: Sizes | None = None) -> None:
    out_dir = Path(out_dir)
    sizes = sizes or (QUICK if quick else FULL)
    study = run_study(out_dir, sizes)
    summary = study["summary"]
    write_csv(out_dir / CSV, {c: [r[c] for r in study["long"]] for c in CSV_COLUMNS})
    write_csv(out_dir / TRAINING_CSV, {c: [t[c] for t in summary["training"]]
                                       for c in TRAINING_COLUMNS})
    write_atomic(out_dir / TABLE, lambda tmp: tmp.write_text(table_markdown(summary)))
    _comparison_figure(out_dir / FIGURE, study["aggregated"], summary)
    _samples_figure(out_dir / SAMPLES_FIGURE, study["samples"], study["heldout"], study["keep"])


def summary_json(summary: dict) -> str:
    """The summary without the per-cell detail, as JSON (for logs and the README numbers)."""
    slim = {k: v for k, v in summary.items() if k not in ("win_cells", "digits_rows")}
    return json.dumps(slim, indent=1, default=float)
