"""Benchmarks: every timing is printed as a ratio to a baseline measured in the same run.

Each result: `name`, `seconds` (dlsim), `baseline` (what it is compared with),
`baseline_seconds`, `ratio` = seconds / baseline_seconds (below 1: dlsim is faster), and
where it applies `compile_seconds` (first call minus a second, identical call) and
`peak_rss_mb` (of a separate process). Sizes are those of issue-style targets; `quick`
shrinks them so that the suite can check that every benchmark runs.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from analysis import error_sweep, exact_law_per_direction, optimize_grid, power_law_spectrum
from sampling import GaussianScore, GaussianTarget, ReverseDiffusion, make_solver, sample
from schedules import EDM, VPLinear, make_grid, make_grids

SWEEP_GRIDS = ("edm", "uniform", "logsnr", "quadratic")
SWEEP_ETAS = (0.0, 1.0)


def _best_time(fn, repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up call (compilation excluded)."""
    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - t0, out


def _euler_coefficients(schedule, grid: np.ndarray, eta: float):
    """Per-step scalars of the Euler–Maruyama variance recursion on one grid (outside timings)."""
    t = jnp.asarray(grid[:-1])
    return (grid[:-1] - grid[1:], np.asarray(schedule.alpha(t)) ** 2, np.asarray(schedule.sigma(t)) ** 2,
            np.asarray(schedule.f(t)), np.asarray(schedule.g2(t)))


def _numpy_em_variance(coefficients, eta: float, lam: np.ndarray, var0: np.ndarray) -> np.ndarray:
    """Baseline: the hand-written Euler–Maruyama variance recursion of MATH.md section 2,
    v+ = (1 - h c)^2 v + eta g^2 h with c = f + (1 + eta) g^2 / (2 m(t)), in NumPy; `var0`
    may stack several starts (rows), which then share each step's coefficients."""
    h, a2, s2, f, g2 = coefficients
    var = np.array(var0, float)
    for k in range(h.shape[0]):
        a = (1 - h[k] * (f[k] + (1 + eta) * g2[k] / (2 * (a2[k] * lam + s2[k])))) ** 2
        var = a * var + eta * g2[k] * h[k]
    return var


def _w2sq_centred(v: np.ndarray, m: np.ndarray) -> float:
    return float(np.sum((v - m) ** 2 / (np.sqrt(v) + np.sqrt(m)) ** 2))


def _numpy_sweep(schedule, lam, grids: dict, etas) -> list[tuple[float, float]]:
    """The rows (discretization, initialization) of the Euler sweep by the NumPy loop: both
    starts (exact marginal, prior) propagated together."""
    prior = float(schedule.prior_variance())
    rows = []
    for grid_list in grids.values():
        for eta in etas:
            for grid, coefficients in grid_list[eta]:
                m0 = float(schedule.alpha(grid[0])) ** 2 * lam + float(schedule.sigma(grid[0])) ** 2
                m1 = float(schedule.alpha(grid[-1])) ** 2 * lam + float(schedule.sigma(grid[-1])) ** 2
                from_marginal, from_prior = _numpy_em_variance(
                    coefficients, eta, lam, np.stack([m0, np.full_like(lam, prior)]))
                rows.append((_w2sq_centred(from_marginal, m1), _w2sq_centred(from_prior, from_marginal)))
    return rows


@jax.jit
def _hand_fused_curve(lam, v0, prior, h, a2, s2, f, g2, first, last, eta, m_end):
    """The same recursion as one hand-written lax.scan over a curve's packed steps (a run
    restarts where `first` is set): the practical limit of a compiled sweep."""

    def body(carry, x):
        vm, vp = carry
        h, a2, s2, f, g2, first, last = x
        vm = jnp.where(first, v0, vm)
        vp = jnp.where(first, prior, vp)
        c = f + (1 + eta) * g2 / (2 * (a2 * lam + s2))
        a = (1 - h * c) ** 2
        vm, vp = a * vm + eta * g2 * h, a * vp + eta * g2 * h
        out = jax.lax.cond(last, lambda: jnp.stack([
            jnp.sum((vm - m_end) ** 2 / (jnp.sqrt(vm) + jnp.sqrt(m_end)) ** 2),
            jnp.sum((vp - vm) ** 2 / (jnp.sqrt(vp) + jnp.sqrt(vm)) ** 2)]), lambda: jnp.zeros(2))
        return (vm, vp), out

    return jax.lax.scan(body, (v0, jnp.full_like(v0, prior)), (h, a2, s2, f, g2, first, last))[1]


def _packed(grid_list):
    cols = [np.concatenate([c[i] for _, c in grid_list]) for i in range(5)]
    lengths = [g.shape[0] - 1 for g, _ in grid_list]
    ends = np.cumsum(lengths) - 1
    first = np.zeros(ends[-1] + 1, bool)
    last = np.zeros_like(first)
    first[ends - np.array(lengths) + 1] = True
    last[ends] = True
    return cols, first, last, ends


def bench_sweep(quick: bool) -> list[dict]:
    """4 grids x eta in {0, 1} x N = 1..256 (Euler, VP, d = 16384): the sweep engine against
    the NumPy loop and the hand-fused scan, in process (compile apart) and whole process."""
    schedule = VPLinear()
    dim, n_max = (256, 16) if quick else (16384, 256)
    lam = np.asarray(power_law_spectrum(1.0, dim))
    target = GaussianTarget(lam)
    steps = list(range(1, n_max + 1))
    grids = {}
    for name in SWEEP_GRIDS:
        built = make_grids(name, schedule, steps)
        grids[name] = {eta: [(g, _euler_coefficients(schedule, g, eta)) for g in built] for eta in SWEEP_ETAS}
    run = lambda: error_sweep(target, schedule, steps, grids=SWEEP_GRIDS, etas=SWEEP_ETAS, solvers=["euler"])
    first, sweep = _timed(run)
    # Steady state: the best of two timed runs, for dlsim and for both baselines alike (a
    # run on a shared machine is only ever slowed down by others, never sped up).
    steady = min(_timed(run)[0] for _ in range(2))
    numpy_seconds, numpy_rows = min((_timed(lambda: _numpy_sweep(schedule, lam, grids, SWEEP_ETAS))
                                     for _ in range(2)), key=lambda timed: timed[0])
    ours = np.array([(r.discretization, r.initialization) for r in sweep.rows])
    agreement = float(np.max(np.abs(ours[:, 0] - np.array(numpy_rows)[:, 0]) / np.array(numpy_rows)[:, 0]))

    prior = float(schedule.prior_variance())
    m_end = float(schedule.alpha(schedule.t_min)) ** 2 * lam + float(schedule.sigma(schedule.t_min)) ** 2
    v0 = float(schedule.alpha(schedule.t_max)) ** 2 * lam + float(schedule.sigma(schedule.t_max)) ** 2
    packed = {(g, eta): _packed(grids[g][eta]) for g in SWEEP_GRIDS for eta in SWEEP_ETAS}

    def hand():
        return [_hand_fused_curve(lam, v0, prior, *cols, first, last, eta, m_end)
                for (_, eta), (cols, first, last, _) in packed.items()]

    hand_seconds = _best_time(hand, 2)
    label = f"{len(SWEEP_GRIDS)} grids x eta {{0,1}} x N=1..{n_max}, d={dim}, Euler, VP"
    results = [
        {"name": f"sweep in process, steady state: {label}", "baseline": "NumPy loop (same rows)",
         "seconds": steady, "baseline_seconds": numpy_seconds, "ratio": steady / numpy_seconds,
         "compile_seconds": first - steady, "programs_compiled": sweep.compiled,
         "max_rel_diff_vs_baseline": agreement},
        {"name": f"sweep in process, steady state: {label}", "baseline": "hand-fused lax.scan",
         "seconds": steady, "baseline_seconds": hand_seconds, "ratio": steady / hand_seconds},
    ]
    cmd = ["sweep", "--schedule", "vp", "--grid", *SWEEP_GRIDS,
           "--eta", "0", "1", "--solver", "euler", "--spectrum", f"power:1:{dim}",
           "--steps", f"1:{n_max}", "--json"]
    with tempfile.TemporaryDirectory() as cache:
        # Cold: an empty compilation cache; warm: the same command again, programs cached.
        for state in ("cold", "warm"):
            whole, rss = _run_process(cmd, {"DLSIM_CACHE_DIR": cache})
            results.append({"name": f"dlsim sweep, whole process, {state} compilation cache: {label}",
                            "baseline": "NumPy loop (same rows)", "seconds": whole,
                            "baseline_seconds": numpy_seconds, "ratio": whole / numpy_seconds,
                            "peak_rss_mb": rss})
    return results


# Run a dlsim command in a fresh interpreter and report its own peak resident memory
# (VmHWM belongs to the process image, so the parent's memory at fork time is not counted).
_CHILD = ("import re, sys; from scripts.cli import main; rc = main(sys.argv[1:]); "
          "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()); "
          "print('peak_kib', hwm.group(1) if hwm else -1, file=sys.stderr); sys.exit(rc)")


def _run_process(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall time and peak resident memory (MB; -1 where /proc is missing) of `dlsim ARGV`
    run in a child process (compilation cache off unless `env` sets DLSIM_CACHE_DIR)."""
    cmd = [sys.executable, "-c", _CHILD, *argv]
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
           "DLSIM_CACHE_DIR": "off", **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark command failed: dlsim {' '.join(argv)}: {proc.stderr.strip()}")
    peak = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("peak_kib")]
    return seconds, int(peak[-1]) / 1024 if peak else -1.0


def bench_large_dimension(quick: bool) -> list[dict]:
    """d = 10^6 on the EDM schedule (whole process: peak memory), N = 100 and 1000."""
    dim = 20_000 if quick else 1_000_000
    results = []
    for n in ((10,) if quick else (100, 1000)):
        cmd = ["error-curve", "--schedule", "edm", "--spectrum", f"power:1:{dim}", "--steps", str(n),
               "--json"]
        seconds, rss = _run_process(cmd)
        # The smallest run of the same command: the cost of starting dlsim.
        base_seconds, base_rss = _run_process(["error-curve", "--schedule", "edm", "--spectrum",
                                               "power:1:2", "--steps", "1", "--json"])
        results.append({"name": f"dlsim error-curve, whole process, EDM, d={dim}, N={n}",
                        "baseline": "the same command at d=2, N=1", "seconds": seconds,
                        "baseline_seconds": base_seconds, "ratio": seconds / base_seconds,
                        "peak_rss_mb": rss, "baseline_peak_rss_mb": base_rss})
    return results


def bench_optimize(quick: bool) -> list[dict]:
    """A 20-step free grid optimised (EDM, power:1:1000), end to end in process."""
    schedule = EDM()
    dim, n_steps, iterations = (100, 8, 20) if quick else (1000, 20, 300)
    lam = np.asarray(power_law_spectrum(1.0, dim))
    seconds, result = _timed(lambda: optimize_grid(schedule, lam, n_steps, iterations=iterations))
    target = GaussianTarget(lam)
    grid = make_grid("edm", schedule, n_steps)
    start = target.marginal_in_eigenbasis(schedule, grid[0])
    one = _best_time(lambda: exact_law_per_direction(target, schedule, 0.0, grid, make_solver("euler"),
                                                     start).cov, 3)
    return [{"name": f"dlsim optimize, free grid, N={n_steps}, EDM, power:1:{dim}, {iterations} iterations",
             "baseline": "one exact W2^2 of the EDM grid (compiled)", "seconds": seconds,
             "baseline_seconds": one, "ratio": seconds / one, "w2sq": result.w2sq}]


def bench_exact_law(quick: bool) -> list[dict]:
    schedule = VPLinear()
    dim, n_steps = (100, 256) if quick else (1000, 1024)
    lam = np.asarray(power_law_spectrum(1.0, dim))
    target = GaussianTarget(lam)
    grid = make_grid("edm", schedule, n_steps)
    start = target.marginal_in_eigenbasis(schedule, grid[0])
    solver = make_solver("euler")
    coefficients = _euler_coefficients(schedule, np.asarray(grid), 1.0)
    ours = _best_time(lambda: exact_law_per_direction(target, schedule, 1.0, grid, solver, start).cov, 3)
    base = _best_time(lambda: _numpy_em_variance(coefficients, 1.0, lam, np.asarray(start.cov)), 3)
    return [{"name": f"exact law of one grid, Euler-Maruyama, d={dim}, N={n_steps}",
             "baseline": "NumPy hand recursion", "seconds": ours, "baseline_seconds": base,
             "ratio": ours / base}]


def bench_sampling_routes(quick: bool) -> list[dict]:
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
    return [{"name": f"Monte Carlo, {n_particles} particles, N={n_steps}, diffeqsolve",
             "baseline": "lean lax.scan over the same solver step", "seconds": ours,
             "baseline_seconds": base, "ratio": ours / base}]


# Scaling over host devices: one child process with 8 forced CPU devices times the same work on
# the first K of them (K = 1 is the baseline, measured in the same process). Prints JSON rows.
_SCALING_CHILD = """
import json, sys, time
import jax, numpy as np
from analysis import error_sweep, power_law_spectrum
from sampling import GaussianScore, GaussianTarget, ReverseDiffusion, make_solver, sample
from schedules import VPLinear, make_grid

quick = sys.argv[1] == "quick"
counts = (1, 8) if quick else (1, 2, 4, 8)
schedule = VPLinear()
target = GaussianTarget(power_law_spectrum(1.0, 8))
reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), 1.0)
n_particles, n_steps = (512, 20) if quick else (16384, 200)
grid = make_grid("edm", schedule, n_steps)
start = target.marginal(schedule, grid[0])
solver = make_solver("euler")
dim, n_max = (256, 8) if quick else (16384, 64)
sweep_target = GaussianTarget(power_law_spectrum(1.0, dim))
steps = list(range(1, n_max + 1))

def best(fn, repeats):
    jax.block_until_ready(fn())
    out = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        out = min(out, time.perf_counter() - t0)
    return out

work = {
    f"Monte Carlo, {n_particles} particles, N={n_steps}, Euler-Maruyama, d=8": lambda k: sample(
        jax.random.key(0), reverse, grid, solver, start, n_particles, route="scan",
        brownian="unsafe", devices=k).samples,
    f"sweep, 4 grids x eta {{0,1}} x N=1..{n_max}, d={dim}, Euler": lambda k: [r.w2sq for r in error_sweep(
        sweep_target, schedule, steps, grids=("edm", "uniform", "logsnr", "quadratic"),
        etas=(0.0, 1.0), devices=k).rows],
}
rows = []
for name, fn in work.items():
    seconds = {k: best(lambda: fn(k), 1 if quick else 3) for k in counts}
    rows += [{"name": f"scaling: {name}, on {k} host device(s)", "devices": k,
              "baseline": "the same on 1 host device (same process)", "seconds": seconds[k],
              "baseline_seconds": seconds[1], "ratio": seconds[k] / seconds[1],
              "speedup": seconds[1] / seconds[k], "cores": len(__import__("os").sched_getaffinity(0))}
             for k in counts if k > 1]
print(json.dumps(rows))
"""


def bench_scaling(quick: bool) -> list[dict]:
    """Monte Carlo and sweep throughput on 1, 2, 4, 8 host devices (a child process with
    JAX_NUM_CPU_DEVICES=8), as ratios to 1 device in the same process. Host devices share
    the machine's cores: the speed-up is bounded by the cores (about 2x on 2 cores)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "8", "DLSIM_CACHE_DIR": "off"}
    proc = subprocess.run([sys.executable, "-c", _SCALING_CHILD, "quick" if quick else "full"],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"scaling benchmark failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


BENCHMARKS = [bench_sweep, bench_large_dimension, bench_optimize, bench_exact_law, bench_sampling_routes,
              bench_scaling]


def run_benchmarks(quick: bool = False) -> dict:
    return {"results": [r for b in BENCHMARKS for r in b(quick)]}
