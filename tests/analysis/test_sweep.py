"""The sweep engine: every row equals the per-N exact law, packing and padding change no
number, a sweep compiles a bounded number of programs, d = 10^5 runs without d x d memory."""

import jax.numpy as jnp
import numpy as np
import pytest

from analysis import (
    compiled_sweep_blocks,
    error_curve,
    error_sweep,
    exact_law,
    exact_law_per_direction,
    kl_gaussian,
    power_law_spectrum,
    prior_law,
    w2sq_gaussian,
    weak_error_quadratic,
)
from sampling import GaussianLaw, GaussianScore, GaussianTarget, ReverseDiffusion, make_solver
from schedules import EDM, VE, VPLinear, make_grid

# Every solver with an eta it accepts; N crosses the powers of two around 64.
SOLVER_CASES = [("euler", 0.0), ("euler", 1.0), ("heun", 0.0), ("heun", 0.6), ("ddim", 0.0),
                ("ddim-sde", 0.8), ("dpm2m", 0.0), ("shark", 1.0), ("sra1", 0.5)]
STEPS = [1, 2, 3, 63, 64, 65]


@pytest.fixture(scope="module")
def target():
    return GaussianTarget(power_law_spectrum(1.0, 5), mean=np.linspace(-0.5, 1.0, 5))


def _per_n_row(target, schedule, grid_name, n, eta, solver, start="marginal", reference="tmin"):
    """The errors at one N through the per-grid route (`exact_law_per_direction`, one
    compiled scan of exactly N steps): independent of the sweep's packing."""
    grid = make_grid(grid_name, schedule, n)
    solver = make_solver(solver)
    from_marginal = exact_law_per_direction(target, schedule, eta, grid, solver,
                                            target.marginal_in_eigenbasis(schedule, grid[0]))
    from_prior = exact_law_per_direction(target, schedule, eta, grid, solver, prior_law(target, schedule))
    marginal = target.marginal_in_eigenbasis(schedule, grid[-1])
    output = from_marginal if start == "marginal" else from_prior
    ref = marginal if reference == "tmin" else target.law_in_eigenbasis()
    return {"w2sq": w2sq_gaussian(output, ref), "kl": kl_gaussian(output, ref),
            "weak_trace": weak_error_quadratic(output, ref),
            "discretization": w2sq_gaussian(from_marginal, marginal),
            "initialization": w2sq_gaussian(from_prior, from_marginal),
            "truncation": w2sq_gaussian(marginal, target.law_in_eigenbasis())}


@pytest.mark.parametrize("solver, eta", SOLVER_CASES)
def test_rows_equal_the_per_n_exact_law(target, solver, eta):
    schedule = VPLinear()
    steps = [n for n in STEPS if n >= (2 if solver == "dpm2m" else 1)]
    sweep = error_sweep(target, schedule, steps, grids=["edm", "uniform"], etas=[eta],
                        solvers=[solver], start="prior", reference="data")
    assert [(r.grid, r.steps) for r in sweep.rows] == [(g, n) for g in ("edm", "uniform") for n in steps]
    for row in sweep.rows:
        expected = _per_n_row(target, schedule, row.grid, row.steps, eta, solver, "prior", "data")
        for name, value in expected.items():
            # `initialization` is W2^2 between two nearly equal laws of variance ~1: rounding
            # of the variances (~1e-16) moves it by ~1e-16 W2, far more than 1e-11 of W2^2.
            atol = 1e-14 * np.sqrt(float(value)) if name == "initialization" else 0.0
            np.testing.assert_allclose(getattr(row, name), float(value), rtol=1e-11, atol=atol,
                                       err_msg=f"{solver} eta={eta} {row.grid} N={row.steps} {name}")


def test_euler_rows_equal_the_hand_recursion():
    """MATH.md section 2, Euler–Maruyama per direction: v+ = (1 - h c)^2 v + eta g^2 h,
    c = f + (1 + eta) g^2 / (2 m(t)), in NumPy: an oracle that shares no code with the sweep."""
    schedule = EDM()  # sigma(t) = t, alpha = 1: f = 0, g^2 = 2 t, m(t) = lam + t^2
    lam = np.array([2.0, 0.7, 0.05])
    steps = [1, 7, 40]
    etas = [0.0, 0.5, 1.0]
    sweep = error_sweep(GaussianTarget(lam), schedule, steps, grids=["edm"], etas=etas,
                        solvers=["euler"])
    sigma_min, sigma_max, rho = schedule.t_min, schedule.t_max, 7.0
    for row in sweep.rows:
        n, eta = row.steps, row.eta
        u = np.arange(n + 1) / n
        t = (sigma_max ** (1 / rho) + u * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
        v = lam + t[0] ** 2
        for k in range(n):
            h = t[k] - t[k + 1]
            c = (1 + eta) * 2 * t[k] / (2 * (lam + t[k] ** 2))
            v = (1 - h * c) ** 2 * v + eta * 2 * t[k] * h
        m_end = lam + t[-1] ** 2
        expected = np.sum((v - m_end) ** 2 / (np.sqrt(v) + np.sqrt(m_end)) ** 2)
        assert row.discretization == pytest.approx(expected, rel=1e-10)
        assert row.w2sq == row.discretization


def test_packing_and_padding_change_no_number(target):
    """A run's row is the same alone, in a long sweep (other runs before it, other blocks,
    padding after it), and from error_curve."""
    schedule = EDM()
    alone = error_sweep(target, schedule, [65], grids=["logsnr"], etas=[0.3], solvers=["heun"]).rows[0]
    packed = error_sweep(target, schedule, [1, 2, 3, 64, 65, 100], grids=["edm", "logsnr"],
                         etas=[0.0, 0.3], solvers=["euler", "heun"])
    (row,) = [r for r in packed.rows if (r.grid, r.eta, r.solver, r.steps) == ("logsnr", 0.3, "heun", 65)]
    assert row == alone
    curve = error_curve(target, schedule, [65], grid="logsnr", eta=0.3, solver="heun")
    assert curve.w2sq == [alone.w2sq]


def test_multistep_history_does_not_leak_between_runs(target):
    """DPM-Solver++(2M) keeps the previous denoised value: each run must start afresh."""
    schedule = VPLinear()
    sweep = error_sweep(target, schedule, [2, 3, 2], grids=["logsnr"], solvers=["dpm2m"])
    rows = sweep.rows
    assert [r.steps for r in rows] == [2, 3, 2]
    assert rows[0] == rows[2]
    expected = _per_n_row(target, schedule, "logsnr", 3, 0.0, "dpm2m")
    assert rows[1].w2sq == pytest.approx(float(expected["w2sq"]), rel=1e-11)


def test_a_new_n_grid_eta_or_spectrum_of_a_seen_size_does_not_recompile():
    schedule = VPLinear()
    first = error_sweep(GaussianTarget(power_law_spectrum(1.0, 7)), schedule, [3, 9],
                        grids=["edm"], etas=[0.4], solvers=["euler"])
    assert first.programs == 1
    before = compiled_sweep_blocks()
    again = error_sweep(GaussianTarget(power_law_spectrum(2.0, 6)), schedule, [4, 10],
                        grids=["uniform", "quadratic"], etas=[0.9, 0.2], solvers=["euler"])
    assert again.compiled == 0 and compiled_sweep_blocks() == before
    assert len(again.rows) == 8


def test_a_long_sweep_compiles_one_program_per_solver_and_kind_of_eta():
    # d = 40 (chunk width 64) is used by no other test: every program this sweep needs is new.
    sweep = error_sweep(GaussianTarget(power_law_spectrum(1.0, 40)), VPLinear(), range(1, 97),
                        grids=["edm", "uniform"], etas=[0.0, 1.0], solvers=["euler"])
    assert len(sweep.rows) == 2 * 2 * 96
    assert sweep.programs == 2 and sweep.compiled == 2


def test_a_diagonal_target_of_dimension_1e5_runs_in_chunks():
    d = 100_000
    lam = power_law_spectrum(1.0, d)
    sweep = error_sweep(GaussianTarget(lam), EDM(), [2, 5], grids=["edm"], etas=[0.0],
                        solvers=["euler"], memory_budget=8 * 2**20)
    assert sweep.chunk < d  # the memory budget forced several chunks
    # The same numbers from a few directions at a time: the error is a sum over directions.
    parts = [error_sweep(GaussianTarget(lam[i:i + 25_000]), EDM(), [2, 5], grids=["edm"])
             for i in range(0, d, 25_000)]
    for k in range(2):
        total = sum(p.rows[k].w2sq for p in parts)
        assert sweep.rows[k].w2sq == pytest.approx(total, rel=1e-12)


def test_the_dense_route_refuses_a_problem_that_does_not_fit():
    d = 100_000
    target = GaussianTarget(jnp.ones(d))
    schedule = VPLinear()
    reverse = ReverseDiffusion(schedule, GaussianScore(target, schedule), 0.0)
    start = GaussianLaw(jnp.zeros(d), jnp.ones(d))
    with pytest.raises(MemoryError, match=r"dense exact law at d = 100000 needs about .* GB .* "
                                          r"per-direction route \(exact_law_per_direction"):
        exact_law(reverse, make_grid("edm", schedule, 3), make_solver("euler"), start)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(steps=[0]), ValueError, r"step counts must be integers >= 1, got 0"),
        (dict(steps=[2], grids=[]), ValueError, r"at least one value in grids"),
        (dict(steps=[2], etas=[-0.5]), ValueError, r"eta must be a finite number >= 0"),
        (dict(steps=[1], solvers=["dpm2m"]), ValueError, r"dpm2m is a 2-step method"),
        (dict(steps=[2], solvers=["ddim"], etas=[0.0, 1.0]), ValueError, r"ddim solves the probability-flow ODE only"),
        (dict(steps=[2], memory_budget=0), ValueError, r"memory_budget must be a positive"),
    ],
)
def test_bad_settings_are_refused_before_any_work(target, kwargs, error, match):
    steps = kwargs.pop("steps")
    with pytest.raises(error, match=match):
        error_sweep(target, VPLinear(), steps, **kwargs)


def test_a_diverging_row_is_named():
    with pytest.raises(FloatingPointError, match=r"euler on the uniform grid with eta = 1.0 at N = 1"):
        error_sweep(GaussianTarget([1.0, 0.5]), VE(sigma_max=1e200), [1, 2], grids=["uniform"],
                    etas=[1.0])


def test_eta_given_as_a_function_of_t(target):
    """eta(t) runs as its own compiled group; a constant function gives the constant's rows."""
    schedule = VPLinear()

    def half(t):
        return 0.5 + 0.0 * t

    by_function = error_sweep(target, schedule, [3, 7], grids=["edm"], etas=[half], solvers=["heun"])
    by_number = error_sweep(target, schedule, [3, 7], grids=["edm"], etas=[0.5], solvers=["heun"])
    assert [r.eta for r in by_function.rows] == ["half", "half"]
    for a, b in zip(by_function.rows, by_number.rows, strict=True):
        assert a.w2sq == pytest.approx(b.w2sq, rel=1e-13)
        assert a.kl == pytest.approx(b.kl, rel=1e-13)
