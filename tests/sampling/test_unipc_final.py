"""UniPC's lower_order_final (order min(p, N - i) on the last steps, as wl-zhao/UniPC `sample`
does by default): every route that runs the solver (diffeqsolve, the scan, the exact-law
sweep with runs of several N packed in one lane) against a NumPy transcription of the
source's loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import analysis._sweep as sweep_module
from analysis import error_sweep
from sampling import (
    GaussianLaw,
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    make_solver,
    reversed_times,
    sample,
    solver_init,
    solver_step,
)
from schedules import EDM, make_grid

LAM = np.array([0.05, 0.7, 4.0])


def _source_unipc(x, sig, order, lower_order_final=True):
    """wl-zhao/UniPC `sample(method="multistep", variant="bh2")` on data N(0, diag(LAM)) in
    VE variables (D(x, s) = LAM x / (LAM + s^2)): its warm-up loop, then step_order =
    min(order, steps + 1 - step) (lower_order_final), corrector on every step but the last,
    the model value stored at the uncorrected point."""
    den = lambda y, s: LAM * y / (LAM + s**2)
    lam = -np.log(sig)
    steps = sig.size - 1
    models, lams = [den(x, sig[0])], [lam[0]]
    for step in range(1, steps + 1):
        if step < order:
            p = step
        else:
            p = min(order, steps + 1 - step) if lower_order_final else order
        h = lam[step] - lams[-1]
        rks = [(lams[-(k + 1)] - lams[-1]) / h for k in range(1, p)] + [1.0]
        d1s = [(models[-(k + 1)] - models[-1]) / rks[k - 1] for k in range(1, p)]
        hh = -h
        bh = np.expm1(hh)
        g, fact, rows, b = np.expm1(hh) / hh - 1, 1, [], []
        for k in range(1, p + 1):
            rows.append(np.array(rks) ** (k - 1))
            b.append(g * fact / bh)
            fact *= k + 1
            g = g / hh - 1 / fact
        rows, b = np.array(rows), np.array(b)
        base = np.exp(-h) * x - np.expm1(-h) * models[-1]
        pred = 0.0
        if p > 1:
            rho_p = [0.5] if p == 2 else np.linalg.solve(rows[:-1, :-1], b[:-1])
            pred = sum(r * d for r, d in zip(rho_p, d1s, strict=True))
        x_pred = base - bh * pred
        if step < steps:
            model = den(x_pred, sig[step])
            rho_c = [0.5] if p == 1 else np.linalg.solve(rows, b)
            corr = sum(r * d for r, d in zip(rho_c[:-1], d1s, strict=True))
            x = base - bh * (corr + rho_c[-1] * (model - models[-1]))
            models.append(model)
            lams.append(lam[step])
        else:
            x = x_pred
    return x


def _grid(n):
    return np.asarray(make_grid("edm", EDM(), n, rho=5.0))


def test_diffeqsolve_and_scan_routes_match_the_source_with_lower_order_final():
    # unipc-3 at N = 5: orders 1, 2, 3, 2, 1 (warm-up, then the last two steps lowered).
    name, order, schedule, n = "unipc-3", 3, EDM(), 5
    grid = _grid(n)
    sig = np.asarray(schedule.noise_level(grid))
    y0 = np.array([1.3, -0.7, 2.1])
    expected = _source_unipc(y0, sig, order)
    # lower_order_final changes the result (so this test can tell the two apart).
    assert np.max(np.abs(expected - _source_unipc(y0, sig, order, False))) > 1e-4
    reverse = ReverseDiffusion(schedule, GaussianScore(GaussianTarget(LAM), schedule), 0.0)
    start = GaussianLaw(jnp.asarray(y0), jnp.zeros(3))  # a point mass: the run from y0
    for route in ("diffrax", "scan"):
        got = sample(jax.random.key(0), reverse, grid, make_solver(name), start, 1, route=route)
        np.testing.assert_allclose(np.asarray(got.samples[0]), expected, rtol=1e-12, atol=1e-14)


def test_sweep_gives_each_packed_run_its_own_last_steps(monkeypatch):
    # One lane and one sequence: the runs of N = 3, 4, 5, 7 follow each other in one lane of
    # one compiled block, each with its own last steps (records carry their run's N).
    monkeypatch.setattr(sweep_module, "_MAX_LANES", 1)
    monkeypatch.setattr(sweep_module, "_PARALLEL_SLOTS", 1)
    schedule, steps = EDM(), [3, 4, 5, 7]
    sweep = error_sweep(GaussianTarget(LAM), schedule, steps, grids=[lambda s, n: _grid(n)],
                        solvers=["unipc", "unipc-3"])
    for (name, order, n), row in zip([(s, o, n) for s, o in (("unipc", 2), ("unipc-3", 3))
                                      for n in steps], sweep.rows, strict=True):
        grid = _grid(n)
        sig = np.asarray(schedule.noise_level(grid))
        gain = _source_unipc(np.ones(3), sig, order)  # linear in x: the output is gain * x_0
        start_var, end_var = LAM + grid[0] ** 2, LAM + grid[-1] ** 2
        w2sq = np.sum((np.abs(gain) * np.sqrt(start_var) - np.sqrt(end_var)) ** 2)
        assert (row.solver, row.steps) == (name, n)
        np.testing.assert_allclose(row.discretization, w2sq, rtol=1e-9)


def test_a_step_without_the_run_length_is_a_clear_error():
    schedule = EDM()
    reverse = ReverseDiffusion(schedule, GaussianScore(GaussianTarget(LAM), schedule), 0.0)
    r = reversed_times(_grid(3))
    solver, y = make_solver("unipc"), jnp.ones(3)
    state = solver_init(reverse, solver, r[0], r[1], y, None)
    with pytest.raises(ValueError, match=r"needs the run's number of steps N as Diffrax's args"):
        solver_step(reverse, solver, r[0], r[1], y, state, None)
