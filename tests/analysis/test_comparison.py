"""Equal-NFE comparison: budgets buy the right number of steps, cells equal the exact law,
the winner is the smallest cell, the table and JSON are well formed."""

import json
import math

import pytest

from analysis import compare_at_equal_nfe, default_solvers, exact_law_per_direction, w2sq_gaussian
from sampling import GaussianTarget, make_solver
from schedules import VPLinear, make_grid

SCHEDULE = VPLinear()
TARGET = GaussianTarget([1.0, 0.2, 0.01])


@pytest.fixture(scope="module")
def comparison():
    return compare_at_equal_nfe(TARGET, SCHEDULE, budgets=[3, 10], solvers=["heun", "dpm2m"],
                                grids=["edm", "logsnr"])


def test_budgets_buy_steps_by_score_evaluations(comparison):
    assert comparison.steps == {"heun": [1, 5], "dpm2m": [3, 10]}


def test_cells_are_the_exact_discretization_error(comparison):
    grid = make_grid("logsnr", SCHEDULE, 5)
    law = exact_law_per_direction(TARGET, SCHEDULE, 0.0, grid, make_solver("heun"),
                                  TARGET.marginal_in_eigenbasis(SCHEDULE, grid[0]))
    expected = float(w2sq_gaussian(law, TARGET.marginal_in_eigenbasis(SCHEDULE, grid[-1])))
    assert comparison.w2sq["heun"]["logsnr"][1] == pytest.approx(expected, rel=1e-12)
    assert expected > 0


def test_best_is_the_smallest_cell(comparison):
    solver, grid, err = comparison.best(10)
    cells = [comparison.w2sq[s][g][1] for s in ("heun", "dpm2m") for g in ("edm", "logsnr")]
    assert err == min(cells) and comparison.w2sq[solver][grid][1] == err


def test_markdown_and_json(comparison):
    md = comparison.to_markdown()
    assert md.splitlines()[0] == "| solver | grid | NFE 3 | NFE 10 |"
    assert len([line for line in md.splitlines() if line.startswith("| heun")]) == 2
    s, g, _ = comparison.best(10)
    assert f"NFE 10: {s} on {g}" in md and md.count("**") == 4
    out = json.loads(json.dumps(comparison.to_dict(), allow_nan=False))
    assert out["best"]["10"]["solver"] == s


def test_too_few_steps_is_none_not_nan():
    comp = compare_at_equal_nfe(TARGET, SCHEDULE, budgets=[1, 2], solvers=["dpm2m"],
                                grids=["edm"])
    assert comp.w2sq["dpm2m"]["edm"][0] is None
    assert math.isfinite(comp.w2sq["dpm2m"]["edm"][1])
    md = comp.to_markdown()
    assert "| dpm2m | edm | — | **" in md and "NFE 1: none" in md
    with pytest.raises(ValueError, match=r"no solver and grid gave a finite error at budget 1"):
        comp.best(1)


def test_default_solvers_follow_eta():
    assert default_solvers(0.0) == ["euler", "heun", "ddim", "dpm2m", "dpm2", "lms", "unipc",
                                    "unipc-3", "deis", "ipndm"]
    assert default_solvers(1.0)[:5] == ["euler", "heun", "ddim-sde", "shark", "sra1"]
    assert "dpmpp-2m-sde" in default_solvers(1.0) and "unipc" not in default_solvers(1.0)


def test_bad_input():
    with pytest.raises(ValueError, match=r"unknown grid 'cosine'; allowed: uniform"):
        compare_at_equal_nfe(TARGET, SCHEDULE, grids=["cosine"])
    with pytest.raises(ValueError, match=r"budgets must be integers >= 1, got \[0\]"):
        compare_at_equal_nfe(TARGET, SCHEDULE, budgets=[0])
    with pytest.raises(ValueError, match=r"unknown solver 'rk4'"):
        compare_at_equal_nfe(TARGET, SCHEDULE, solvers=["rk4"], budgets=[4])
    comp = compare_at_equal_nfe(TARGET, SCHEDULE, budgets=[4], solvers=["euler"], grids=["edm"])
    with pytest.raises(ValueError, match=r"budget 8 was not computed; computed: \[4\]"):
        comp.best(8)


@pytest.mark.slow
def test_recipe_quick(tmp_path):
    from scripts.figures import solver_comparison

    solver_comparison.make(tmp_path, quick=True)
    for name in solver_comparison.OUTPUTS:
        assert (tmp_path / name).stat().st_size > 0
    assert "Best at each budget: NFE 10:" in (tmp_path / "solver_comparison.md").read_text()
