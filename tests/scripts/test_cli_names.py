"""scripts/_names.py (the names `--help` offers without importing jax) equals the registries.

When this fails, the message names exactly what to add to or remove from scripts/_names.py."""

import pytest

import analysis
import sampling
import schedules
from scripts import _names
from scripts.figures import RECIPES


def _diff(light, registry) -> str:
    light, registry = list(light), list(registry)
    missing = [n for n in registry if n not in light]
    extra = [n for n in light if n not in registry]
    return (f"scripts/_names.py is out of date: missing {missing}, extra {extra}"
            + ("" if missing or extra else f"; order differs: registry order is {registry}"))


@pytest.mark.parametrize("light, registry", [
    (_names.SCHEDULES, schedules.SCHEDULES),
    (_names.GRIDS, schedules.GRIDS),
    (_names.SOLVERS, sampling.SOLVERS),
    (_names.REFERENCES, analysis.REFERENCES),
    (_names.STARTS, analysis.STARTS),
    (_names.STARTS_LANGEVIN, analysis.STARTS_LANGEVIN),
    (_names.FIGURES, [r.NAME for r in RECIPES]),
], ids=["schedules", "grids", "solvers", "references", "starts", "langevin-starts", "figures"])
def test_names_equal_registries(light, registry):
    assert list(light) == list(registry), _diff(light, registry)


def test_solver_costs_and_kinds_equal_the_registry():
    actual = {n: (sampling.score_evaluations_per_step(sampling.make_solver(n)),
                  sampling.solver_kind(sampling.make_solver(n))) for n in sampling.SOLVERS}
    wrong = {n: {"_names": _names.SOLVERS.get(n), "registry": v} for n, v in actual.items()
             if _names.SOLVERS.get(n) != v}
    assert not wrong, f"scripts/_names.py SOLVERS: fix (evaluations per step, kind) of {wrong}"


def test_spectrum_forms_equal():
    assert _names.SPECTRUM_FORMS == analysis.SPECTRUM_FORMS


def test_solver_help_lists_evaluations_per_step():
    text = _names.solvers_help()
    assert "euler (1 NFE/step)" in text and "heun (2 NFE/step)" in text
    assert "dpm2m (1 NFE/step, eta = 0 only)" in text and "shark (2 NFE/step, eta > 0 only)" in text
