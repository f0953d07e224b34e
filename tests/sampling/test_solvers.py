"""Every solver once (one row each): exact law vs Monte Carlo, declared order vs the slope
of the exact W2, jit/vmap, no recompilation, Diffrax route = scan route, NFE; the updates
against independent NumPy implementations; bad input."""

import dataclasses
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import exact_law, exact_law_per_direction, w2sq_gaussian
from sampling import (
    SOLVERS,
    AbstractScoreModel,
    GaussianScore,
    GaussianTarget,
    NonFiniteError,
    ReverseDiffusion,
    StandardNormalIncrements,
    check_solver_use,
    levy_area_of,
    make_solver,
    reversed_times,
    sample,
    sample_statistics,
    score_evaluations_per_step,
    solver_init,
    solver_step,
)
from schedules import EDM, VE, LinearInterpolant, VPCosine, VPLinear, make_grid


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    eta: float
    w2_order: float  # expected slope of the exact W2 against N
    nfe: int  # score evaluations per step


# One row per solver (and per equation it solves): adding a solver = adding a row.
ROWS = [
    Row("euler", 0.0, 1, 1),
    Row("heun", 0.0, 2, 2),
    Row("ddim", 0.0, 1, 1),
    Row("dpm2m", 0.0, 2, 1),
    Row("euler", 1.0, 1, 1),
    Row("heun", 1.0, 2, 2),
    Row("ddim-sde", 1.0, 1, 1),
    Row("shark", 1.0, 2, 2),
    Row("sra1", 1.0, 2, 2),
    Row("unipc", 0.0, 3, 1),
    Row("unipc-3", 0.0, 4, 1),
    Row("deis", 0.0, 3, 1),
    Row("ipndm", 0.0, 2, 1),
]
IDS = [f"{r.name}-eta{r.eta:g}" for r in ROWS]
# Rows whose per-row tests run only with the slow marker, to keep the default suite fast:
# Euler–Maruyama is covered by tests/analysis, SRA1 is ShARK's sibling.
# unipc-3, deis, ipndm: unipc covers the family here; all four are checked in
# tests/sampling/test_multistep_samplers.py.
_SLOW_ROWS = {"euler-eta1", "sra1-eta1", "unipc-3-eta0", "deis-eta0", "ipndm-eta0"}
# unipc-3 follows its source's lower_order_final (wl-zhao/UniPC): the last steps drop to
# orders 2 and 1, the last without its corrector, so its exact W2 slope falls from 3.79
# (N 32 -> 64) through 3.05 (64 -> 256) to 2.06 (512 -> 1024): order 2 asymptotically, not
# the 4 that `order()` declares. Known and open; the test stays, marked.
_SLOPE_KNOWN = {"unipc-3-eta0": pytest.mark.xfail(
    strict=True, reason="lower_order_final makes the asymptotic W2 order 2, not 4")}
TABLE = [pytest.param(r, id=i, marks=[pytest.mark.slow] if i in _SLOW_ROWS else [])
         for r, i in zip(ROWS, IDS, strict=True)]
SLOPE_TABLE = [pytest.param(r, id=i, marks=([pytest.mark.slow] if i in _SLOW_ROWS else [])
                            + ([_SLOPE_KNOWN[i]] if i in _SLOPE_KNOWN else []))
               for r, i in zip(ROWS, IDS, strict=True)]


def test_table_lists_every_solver():
    # The k-diffusion samplers have their own table (tests/sampling/test_practitioner_samplers.py).
    from tests.sampling.test_practitioner_samplers import NAMES as PRACTITIONER

    assert {r.name for r in ROWS} | set(PRACTITIONER) == set(SOLVERS)
    assert not {r.name for r in ROWS} & set(PRACTITIONER)


# ----------------------------------------------------------------------------------------
# Exact law against Monte Carlo (full matrices, rotated target with a mean), jit/vmap and
# recompilation, on one jitted driver: vmap over particles of a lax.scan of solver_step.

SCHEDULE = VPLinear()
U, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(2, 2)))
TARGET = GaussianTarget([1.5, 0.05], U, [0.7, -0.4])
N_MC, N_STEPS = 4000, 6

_TRACES = []


class TracingScore(AbstractScoreModel):
    """The exact score; records each time it is traced (a Python side effect runs only
    while JAX traces, never when compiled code runs)."""

    inner: GaussianScore

    def __call__(self, x, t):
        _TRACES.append(1)
        return self.inner(x, t)


@eqx.filter_jit
def _particles(reverse, solver, grid, y0, normals):
    """y0: (n, d); normals: (n_steps, n, k, d) standard normals (k = 2 covers Lévy areas)."""
    r = reversed_times(grid)

    def one(y, w):
        def body(carry, k):
            y, state = carry
            path = StandardNormalIncrements(w[k, 0], w[k, 1], levy_area_of(solver))
            return solver_step(reverse, solver, r[k], r[k + 1], y, state, path, n), None

        n = r.shape[0] - 1  # the run's N (UniPC lowers its order on the last steps)
        path0 = StandardNormalIncrements(w[0, 0], w[0, 1], levy_area_of(solver))
        state0 = solver_init(reverse, solver, r[0], r[1], y, path0, n)
        (y, _), _ = jax.lax.scan(body, (y, state0), jnp.arange(r.shape[0] - 1))
        return y

    return jax.vmap(one, in_axes=(0, 1))(y0, normals)


def _draw(key, start, n):
    k1, k2 = jax.random.split(key)
    w, v = np.linalg.eigh(np.asarray(start.cov))
    y0 = start.mean + (jax.random.normal(k1, (n, 2)) * np.sqrt(w)) @ v.T
    return y0, jax.random.normal(k2, (N_STEPS, n, 2, 2))


def _reverse_for(row):
    return ReverseDiffusion(SCHEDULE, TracingScore(GaussianScore(TARGET, SCHEDULE)), row.eta)


@pytest.mark.parametrize("row", TABLE)
def test_exact_law_matches_monte_carlo(row):
    solver = make_solver(row.name)
    grid = make_grid("edm", SCHEDULE, N_STEPS)
    reverse = _reverse_for(row)
    start = TARGET.marginal(SCHEDULE, grid[0])
    law = exact_law(reverse, grid, solver, start)
    x = _particles(reverse, solver, grid, *_draw(jax.random.key(1), start, N_MC))
    mean, cov, se_var = sample_statistics(x)
    se_mean = np.sqrt(np.diag(cov) / N_MC)
    assert np.all(np.abs(mean - law.mean) < 4 * se_mean), (mean, law.mean, se_mean)
    assert np.all(np.abs(np.diag(cov) - np.diag(law.cov)) < 4 * se_var), (cov, law.cov)


@pytest.mark.parametrize("row", TABLE)
def test_jit_vmap_and_no_recompilation(row):
    solver = make_solver(row.name)
    reverse = _reverse_for(row)
    start = TARGET.marginal(SCHEDULE, SCHEDULE.t_max)
    y0, normals = _draw(jax.random.key(2), start, N_MC)
    _TRACES.clear()
    out1 = _particles(reverse, solver, make_grid("edm", SCHEDULE, N_STEPS), y0, normals)
    traced = len(_TRACES)
    out2 = _particles(reverse, solver, make_grid("logsnr", SCHEDULE, N_STEPS), y0, normals)
    assert len(_TRACES) == traced  # a grid of the same length: no new trace
    assert not np.allclose(out1, out2)
    # vmap over particles = each particle alone (unjitted, unbatched).
    r = reversed_times(make_grid("edm", SCHEDULE, N_STEPS))
    y, w = y0[7], normals[:, 7]
    state = solver_init(reverse, solver, r[0], r[1], y,
                        StandardNormalIncrements(w[0, 0], w[0, 1], levy_area_of(solver)), N_STEPS)
    for k in range(N_STEPS):
        path = StandardNormalIncrements(w[k, 0], w[k, 1], levy_area_of(solver))
        y, state = solver_step(reverse, solver, r[k], r[k + 1], y, state, path, N_STEPS)
    np.testing.assert_allclose(y, out1[7], rtol=1e-12, atol=1e-13)
    assert len(_TRACES) > 0


def test_sample_does_not_recompile_for_a_new_grid_of_the_same_length():
    reverse = _reverse_for(ROWS[3])
    solver = make_solver("dpm2m")
    start = TARGET.marginal(SCHEDULE, SCHEDULE.t_max)
    _TRACES.clear()
    sample(jax.random.key(0), reverse, make_grid("edm", SCHEDULE, 5), solver, start, 2,
           brownian="unsafe")
    traced = len(_TRACES)
    assert traced > 0
    sample(jax.random.key(0), reverse, make_grid("logsnr", SCHEDULE, 5), solver, start, 2,
           brownian="unsafe")
    assert len(_TRACES) == traced


# ----------------------------------------------------------------------------------------
# Declared order against the slope of the exact W2.

ORDER_TARGET = GaussianTarget([3.0, 0.3, 0.02])


def _exact_w2(row, n):
    grid = make_grid("edm", SCHEDULE, n)
    law = exact_law_per_direction(ORDER_TARGET, SCHEDULE, row.eta, grid, make_solver(row.name),
                                  ORDER_TARGET.marginal_in_eigenbasis(SCHEDULE, grid[0]))
    return float(np.sqrt(w2sq_gaussian(law, ORDER_TARGET.marginal_in_eigenbasis(SCHEDULE,
                                                                              grid[-1]))))


@pytest.mark.parametrize("row", SLOPE_TABLE)
def test_w2_slope_matches_order(row):
    solver = make_solver(row.name)
    terms = ReverseDiffusion(SCHEDULE, GaussianScore(ORDER_TARGET, SCHEDULE), row.eta).terms(
        StandardNormalIncrements(jnp.zeros(3)))
    if row.eta == 0:
        assert solver.order(terms) == row.w2_order  # the ODE order Diffrax reads
    n1, n2 = 64, 256
    slope = np.log(_exact_w2(row, n1) / _exact_w2(row, n2)) / np.log(n2 / n1)
    assert abs(slope - row.w2_order) < 0.2, slope


# ----------------------------------------------------------------------------------------
# Score evaluations per step, counted at run time; the Diffrax route against the scan.

_CALLS = []


class CountingScore(AbstractScoreModel):
    inner: GaussianScore

    def __call__(self, x, t):
        jax.debug.callback(lambda: _CALLS.append(1))
        return self.inner(x, t)


@pytest.mark.parametrize("row", TABLE)
def test_declared_score_evaluations(row):
    solver = make_solver(row.name)
    assert score_evaluations_per_step(solver) == row.nfe
    reverse = ReverseDiffusion(SCHEDULE, CountingScore(GaussianScore(TARGET, SCHEDULE)), row.eta)
    grid = make_grid("edm", SCHEDULE, N_STEPS)
    y0, normals = _draw(jax.random.key(0), TARGET.marginal(SCHEDULE, grid[0]), 1)
    _CALLS.clear()
    jax.block_until_ready(_particles(reverse, solver, grid, y0, normals))
    jax.effects_barrier()
    assert len(_CALLS) == N_STEPS * row.nfe


# The SDE rows other than ShARK (the one with Lévy areas) compare routes under slow only.
ROUTE_TABLE = [pytest.param(r, id=i, marks=[pytest.mark.slow]
                            if i in _SLOW_ROWS | {"heun-eta1", "ddim-sde-eta1"} else [])
               for r, i in zip(ROWS, IDS, strict=True)]


@pytest.mark.parametrize("row", ROUTE_TABLE)
def test_diffrax_route_equals_scan_route(row):
    solver = make_solver(row.name)
    reverse = ReverseDiffusion(SCHEDULE, GaussianScore(TARGET, SCHEDULE), row.eta)
    grid = make_grid("logsnr", SCHEDULE, 7)
    start = TARGET.marginal(SCHEDULE, grid[0])
    a = sample(jax.random.key(3), reverse, grid, solver, start, 3, route="diffrax",
               brownian="unsafe")
    b = sample(jax.random.key(3), reverse, grid, solver, start, 3, route="scan",
               brownian="unsafe")
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-12, atol=1e-12)
    assert a.nfe == b.nfe == 7 * row.nfe and a.n_steps == 7


def test_same_key_same_samples_whatever_the_batch_size():
    reverse = ReverseDiffusion(SCHEDULE, GaussianScore(TARGET, SCHEDULE), 1.0)
    grid = make_grid("edm", SCHEDULE, 5)
    start = TARGET.marginal(SCHEDULE, grid[0])
    solver = make_solver("heun")
    a = sample(jax.random.key(5), reverse, grid, solver, start, 4, route="scan",
               brownian="unsafe").samples
    b = sample(jax.random.key(5), reverse, grid, solver, start, 2, route="scan",
               brownian="unsafe").samples
    np.testing.assert_array_equal(a[:2], b)


# ----------------------------------------------------------------------------------------
# The updates against independent NumPy implementations (exact laws to 1e-10 relative).


def _np_schedule(schedule, t):
    a, s = float(schedule.alpha(t)), float(schedule.sigma(t))
    return a, s, np.log(a / s)


def _oracle_law(name, schedule, grid, lam, mu, mean0, var0):
    """Per-direction law of `name` from a NumPy step on the augmented state, read off as an
    affine map by evaluating it on basis vectors."""
    grid = np.asarray(grid, float)

    def drift(x, t):
        a, s, _ = _np_schedule(schedule, t)
        m = a * a * lam + s * s
        score = -(x - a * mu) / m
        return float(schedule.f(t)) * x - 0.5 * float(schedule.g2(t)) * score

    def denoise(x, t):
        a, s, _ = _np_schedule(schedule, t)
        score = -(x - a * mu) / (a * a * lam + s * s)
        return (x + s * s * score) / a, -s * score

    def step(k, z):  # z = (x, x0_prev)
        t0, t1 = grid[k], grid[k + 1]
        x, x0_prev = z
        if name == "euler":
            return np.array([x + (t1 - t0) * drift(x, t0), 0.0])
        if name == "heun":
            h = t1 - t0
            d0 = drift(x, t0)
            xp = x + h * d0
            return np.array([x + h / 2 * (d0 + drift(xp, t1)), 0.0])
        a1, s1, l1 = _np_schedule(schedule, t1)
        _, s0, l0 = _np_schedule(schedule, t0)
        x0_hat, eps_hat = denoise(x, t0)
        if name == "ddim":
            return np.array([a1 * x0_hat + s1 * eps_hat, 0.0])
        assert name == "dpm2m"
        h = l1 - l0
        if k == 0:
            d = x0_hat
        else:
            r = (l0 - _np_schedule(schedule, grid[k - 1])[2]) / h
            d = (1 + 1 / (2 * r)) * x0_hat - 1 / (2 * r) * x0_prev
        return np.array([s1 / s0 * x - a1 * (np.exp(-h) - 1) * d, x0_hat])

    mean = np.array([mean0, 0.0])
    cov = np.array([[var0, 0.0], [0.0, 0.0]])
    for k in range(len(grid) - 1):
        b = step(k, np.zeros(2))
        a = np.stack([step(k, e) - b for e in np.eye(2)], axis=1)
        mean, cov = a @ mean + b, a @ cov @ a.T
    return mean[0], cov[0, 0]


# VP-cosine is covered through the CLI below, EDM through DDIM = Euler.
ORACLE_CASES = [
    (VPLinear(), "edm"),
    (VE(), "geometric"),
    (LinearInterpolant(), "quadratic"),
]


@pytest.mark.parametrize("name", ["heun", "ddim", "dpm2m"])
@pytest.mark.parametrize("schedule, grid_name", ORACLE_CASES,
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_exact_law_matches_numpy_update(name, schedule, grid_name):
    lam = np.array([2.0, 0.3, 0.004])
    mu = np.array([1.0, -0.5, 0.3])
    target = GaussianTarget(lam, mean=mu)
    grid = make_grid(grid_name, schedule, 9)
    start = target.marginal_in_eigenbasis(schedule, grid[0])
    law = exact_law_per_direction(target, schedule, 0.0, grid, make_solver(name), start)
    for i in range(3):
        m, v = _oracle_law(name, schedule, grid, lam[i], mu[i], float(start.mean[i]),
                           float(start.cov[i]))
        np.testing.assert_allclose(float(law.cov[i]), v, rtol=1e-10)
        np.testing.assert_allclose(float(law.mean[i]), m, rtol=1e-10, atol=1e-12)


def test_stochastic_ddim_is_ddim_at_eta_0_and_ancestral_at_eta_1():
    """eta = 0: DDIM. eta = 1, VP: mean coefficient on eps_hat is sigma_{k+1} e^{-h} and the
    noise variance sigma_{k+1}^2 (1 - e^{-2h}) (DDIM's eta_DDIM = 1, derived here)."""
    target = GaussianTarget([0.4])
    grid = make_grid("edm", SCHEDULE, 1)
    start = target.marginal_in_eigenbasis(SCHEDULE, grid[0])
    zero = exact_law_per_direction(target, SCHEDULE, 0.0, grid, make_solver("ddim-sde"), start)
    ddim = exact_law_per_direction(target, SCHEDULE, 0.0, grid, make_solver("ddim"), start)
    np.testing.assert_allclose(zero.cov, ddim.cov, rtol=1e-14)
    one = exact_law_per_direction(target, SCHEDULE, 1.0, grid, make_solver("ddim-sde"), start)
    a0, s0, l0 = _np_schedule(SCHEDULE, grid[0])
    a1, s1, l1 = _np_schedule(SCHEDULE, grid[1])
    h = l1 - l0
    m0 = a0**2 * 0.4 + s0**2
    # x1 = a1 x0_hat + s1 e^{-h} eps_hat + noise, x0_hat = x (1 - s0^2/m0)/a0, eps_hat = s0 x/m0
    coef = a1 * (1 - s0**2 / m0) / a0 + s1 * np.exp(-h) * s0 / m0
    np.testing.assert_allclose(float(one.cov[0]), coef**2 * m0 + s1**2 * (1 - np.exp(-2 * h)),
                               rtol=1e-12)


# ----------------------------------------------------------------------------------------
# Bad input.


def _reverse(eta=0.0, score=None):
    return ReverseDiffusion(SCHEDULE, score or GaussianScore(TARGET, SCHEDULE), eta)


def test_multistep_solver_on_too_short_grid():
    grid = make_grid("edm", SCHEDULE, 1)
    start = TARGET.marginal(SCHEDULE, grid[0])
    with pytest.raises(ValueError, match=r"dpm2m .* at least 2 steps .* got 1 step"):
        sample(jax.random.key(0), _reverse(), grid, make_solver("dpm2m"), start, 2)
    with pytest.raises(ValueError, match=r"dpm2m .* at least 2 steps"):
        exact_law(_reverse(), grid, make_solver("dpm2m"), start)
    with pytest.raises(ValueError, match=r"dpm2m .* at least 2 steps"):
        exact_law_per_direction(TARGET, SCHEDULE, 0.0, grid, make_solver("dpm2m"),
                                TARGET.marginal_in_eigenbasis(SCHEDULE, grid[0]))


@pytest.mark.parametrize("name", ["ddim", "dpm2m"])
@pytest.mark.parametrize("eta", [0.5, lambda t: 0.0 * t])
def test_ode_only_solver_refuses_eta(name, eta):
    grid = make_grid("edm", SCHEDULE, 4)
    start = TARGET.marginal(SCHEDULE, grid[0])
    msg = rf"{name} solves the probability-flow ODE only and needs eta = 0, got eta = "
    with pytest.raises(ValueError, match=msg):
        sample(jax.random.key(0), _reverse(eta), grid, make_solver(name), start, 2)
    with pytest.raises(ValueError, match=msg):
        exact_law(_reverse(eta), grid, make_solver(name), start)
    with pytest.raises(ValueError, match=msg):
        exact_law_per_direction(TARGET, SCHEDULE, eta, grid, make_solver(name),
                                TARGET.marginal_in_eigenbasis(SCHEDULE, grid[0]))


def test_sde_only_solver_refuses_eta_0():
    with pytest.raises(ValueError, match=r"shark is an SDE solver and needs eta > 0, got eta = 0"):
        check_solver_use(make_solver("shark"), _reverse(0.0), make_grid("edm", SCHEDULE, 3))


class WrongShapeScore(AbstractScoreModel):
    def __call__(self, x, t):
        return jnp.concatenate([x, x])


@pytest.mark.parametrize("name", ["euler", "heun", "ddim", "dpm2m"])
def test_score_shape_mismatch_names_both_shapes(name):
    grid = make_grid("edm", SCHEDULE, 3)
    with pytest.raises(ValueError, match=r"WrongShapeScore returned shape \(4,\) for a state "
                                         r"of shape \(2,\)"):
        sample(jax.random.key(0), _reverse(score=WrongShapeScore()), grid, make_solver(name),
               TARGET.marginal(SCHEDULE, grid[0]), 2)


class ExplodingScore(AbstractScoreModel):
    """Finite, but so steep that every solver overflows within a few steps."""

    def __call__(self, x, t):
        return -1e120 * x


@pytest.mark.parametrize("name, route", [("heun", "diffrax"), ("ddim", "scan"), ("dpm2m", "scan")])
def test_non_finite_samples_raise_with_the_step(name, route):
    grid = make_grid("edm", SCHEDULE, 8)
    with pytest.raises(NonFiniteError, match=r"non-finite samples first appeared at step \d"):
        sample(jax.random.key(0), _reverse(score=ExplodingScore()), grid, make_solver(name),
               TARGET.marginal(SCHEDULE, grid[0]), 3, route=route, brownian="unsafe")


def test_unknown_solver_name():
    with pytest.raises(ValueError, match=r"unknown solver 'rk4'; allowed: euler, heun"):
        make_solver("rk4")


def test_ddim_is_euler_in_the_edm_parameterisation():
    """alpha = 1, sigma = t: the DDIM step x + (sigma_{k+1} - sigma_k) eps_hat is Euler's step
    on the probability-flow ODE dx/dt = -t s(x, t) (Karras et al. 2022)."""
    schedule = EDM()
    target = GaussianTarget([4.0, 0.3, 0.01], mean=[1.0, 0.0, -2.0])
    grid = make_grid("edm", schedule, 7)
    start = target.marginal_in_eigenbasis(schedule, grid[0])
    ddim = exact_law_per_direction(target, schedule, 0.0, grid, make_solver("ddim"), start)
    euler = exact_law_per_direction(target, schedule, 0.0, grid, make_solver("euler"), start)
    np.testing.assert_allclose(ddim.cov, euler.cov, rtol=1e-11)
    np.testing.assert_allclose(ddim.mean, euler.mean, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", ["heun", "ddim", "dpm2m"])
def test_cli_error_curve_matches_numpy_update(name, capsys):
    from scripts.cli import main

    lam = np.array([2.0, 0.3])
    code = main(["error-curve", "--solver", name, "--eta", "0", "--schedule", "vp-cosine",
                 "--grid", "edm", "--spectrum", "list:2,0.3", "--steps", "6", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    schedule = VPCosine()
    grid = make_grid("edm", schedule, 6)
    m0 = np.asarray(GaussianTarget(lam).marginal_variances(schedule, grid[0]))
    m1 = np.asarray(GaussianTarget(lam).marginal_variances(schedule, grid[-1]))
    v = np.array([_oracle_law(name, schedule, grid, li, 0.0, 0.0, mi)[1]
                  for li, mi in zip(lam, m0, strict=True)])
    np.testing.assert_allclose(out["w2sq"][0], np.sum((np.sqrt(v) - np.sqrt(m1)) ** 2),
                               rtol=1e-8)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_heun_step_is_diffrax_heun(eta):
    """The EDM-form Heun step equals Diffrax's Heun tableau on the ODE and on the SDE."""
    import diffrax

    target = GaussianTarget([1.5, 0.05], mean=[0.3, 1.0])
    terms = ReverseDiffusion(SCHEDULE, GaussianScore(target, SCHEDULE), eta).terms(
        StandardNormalIncrements(jnp.array([0.3, -1.2])))
    y = jnp.array([0.5, -0.2])
    ours = make_solver("heun").step(terms, -0.8, -0.6, y, None, None, False)[0]
    theirs = diffrax.Heun().step(terms, -0.8, -0.6, y, None, None, False)[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-13)


def test_srk_with_a_checkpointed_scan_is_refused():
    import diffrax

    with pytest.raises(ValueError, match=r"ShARK\(scan_kind=None\) cannot be linearised .* "
                                         r"make_solver\('shark'\)"):
        check_solver_use(diffrax.ShARK(), _reverse(1.0), make_grid("edm", SCHEDULE, 3))


def test_stochastic_ddim_with_eta_function_matches_numpy_update():
    """eta(t) read at the left end of each step; x_{k+1} = alpha_{k+1} x0_hat
    + sigma_{k+1} e^{-eta h} eps_hat + sigma_{k+1} sqrt(1 - e^{-2 eta h}) z."""
    schedule = VPCosine()

    def eta(t):
        return 0.2 + 2.0 * t

    lam, mu = 0.3, 0.5
    target = GaussianTarget([lam], mean=[mu])
    grid = make_grid("logsnr", schedule, 7)
    start = target.marginal_in_eigenbasis(schedule, grid[0])
    law = exact_law_per_direction(target, schedule, eta, grid, make_solver("ddim-sde"), start)
    mean, var = float(start.mean[0]), float(start.cov[0])
    g = np.asarray(grid)
    for k in range(len(g) - 1):
        a0, s0, l0 = _np_schedule(schedule, g[k])
        a1, s1, l1 = _np_schedule(schedule, g[k + 1])
        m0 = a0**2 * lam + s0**2
        e, h = eta(g[k]), l1 - l0
        # x0_hat = (x + s0^2 s)/a0, eps_hat = -s0 s, s = -(x - a0 mu)/m0: affine in x.
        slope = a1 * (1 - s0**2 / m0) / a0 + s1 * np.exp(-e * h) * s0 / m0
        shift = a1 * (s0**2 * a0 * mu / m0) / a0 - s1 * np.exp(-e * h) * s0 * a0 * mu / m0
        mean, var = slope * mean + shift, slope**2 * var + s1**2 * (1 - np.exp(-2 * e * h))
    np.testing.assert_allclose(float(law.cov[0]), var, rtol=1e-10)
    np.testing.assert_allclose(float(law.mean[0]), mean, rtol=1e-10)
