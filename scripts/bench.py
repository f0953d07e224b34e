"""Benchmarks: every timing is printed as a ratio to a baseline measured in the same run."""

import time

import jax
import numpy as np

from analysis import exact_law_per_direction, power_law_spectrum
from sampling import GaussianScore, GaussianTarget, ReverseDiffusion, make_solver, sample
from schedules import VPLinear, make_grid


def _best_time(fn, repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up call (compilation excluded)."""
    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def _numpy_em_variances(schedule, grid, eta, lam, var0):
    """Baseline: the hand-written Euler–Maruyama variance recursion (MATH.md section 2), NumPy."""
    g = np.asarray(grid)
    t, h = g[:-1], g[:-1] - g[1:]
    a2 = np.asarray(schedule.alpha(t)) ** 2
    s2 = np.asarray(schedule.sigma(t)) ** 2
    f, g2 = np.asarray(schedule.f(t)), np.asarray(schedule.g2(t))
    var = np.array(var0, float)
    for k in range(len(h)):
        c = f[k] + (1 + eta) * g2[k] / (2 * (a2[k] * lam + s2[k]))
        var = (1 - h[k] * c) ** 2 * var + eta * g2[k] * h[k]
    return var


def bench_exact_law(quick: bool) -> dict:
    schedule = VPLinear()
    dim, n_steps = (100, 256) if quick else (1000, 1024)
    lam = power_law_spectrum(1.0, dim)
    target = GaussianTarget(lam)
    grid = make_grid("edm", schedule, n_steps)
    start = target.marginal_in_eigenbasis(schedule, grid[0])
    solver = make_solver("euler")
    ours = _best_time(lambda: exact_law_per_direction(target, schedule, 1.0, grid, solver, start).cov, 3)
    base = _best_time(lambda: _numpy_em_variances(schedule, grid, 1.0, lam, np.asarray(start.cov)), 3)
    return {"name": f"exact law, Euler-Maruyama, d={dim}, N={n_steps}",
            "baseline": "NumPy hand recursion", "seconds": ours, "baseline_seconds": base,
            "ratio": ours / base}


def bench_sampling_routes(quick: bool) -> dict:
    schedule = VPLinear()
    target = GaussianTarget(power_law_spectrum(1.0, 8))
    reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), 1.0)
    n_particles, n_steps = (256, 50) if quick else (2048, 200)
    grid = make_grid("edm", schedule, n_steps)
    start = target.marginal(schedule, grid[0])
    solver = make_solver("euler")
    key = jax.random.key(0)
    run = lambda route: sample(key, reverse, grid, solver, start, n_particles, route=route,
                               brownian="unsafe").samples
    ours = _best_time(lambda: run("diffrax"), 3)
    base = _best_time(lambda: run("scan"), 3)
    return {"name": f"Monte Carlo, {n_particles} particles, N={n_steps}, diffeqsolve",
            "baseline": "lean lax.scan over the same solver step", "seconds": ours,
            "baseline_seconds": base, "ratio": ours / base}


BENCHMARKS = [bench_exact_law, bench_sampling_routes]


def run_benchmarks(quick: bool = False) -> dict:
    return {"results": [b(quick) for b in BENCHMARKS]}
