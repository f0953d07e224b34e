"""Strong order on the reverse SDE: every step count reads the same VirtualBrownianTree
(same key, same endpoints, same tolerance), compared with a fine-grid reference on that
same path. Uniform grids with 2^k steps land on the tree's dyadic points."""

import jax
import numpy as np
import pytest

from sampling import GaussianScore, GaussianTarget, ReverseDiffusion, make_solver, sample
from schedules import VPLinear, uniform_grid

SCHEDULE = VPLinear()
TARGET = GaussianTarget([1.0, 0.2])
STEPS = [8, 16, 32, 64]


def _strong_errors(name, reference_name, n_particles=100, n_reference=512):
    reverse = ReverseDiffusion(SCHEDULE, GaussianScore(TARGET, SCHEDULE), 1.0)
    start = TARGET.marginal(SCHEDULE, SCHEDULE.t_max)
    key = jax.random.key(0)

    def run(solver, n):
        return sample(key, reverse, uniform_grid(SCHEDULE, n), make_solver(solver), start,
                      n_particles, tol=2.0**-12, route="scan").samples

    ref = run(reference_name, n_reference)
    return np.array([np.mean(np.linalg.norm(run(name, n) - ref, axis=1)) for n in STEPS])


@pytest.mark.slow
@pytest.mark.parametrize("name, reference, order", [
    # Euler–Maruyama: strong order 1 for additive noise (0.5 in general), against Heun.
    ("euler", "heun", 1.0),
    # ShARK: strong order 1.5 for additive noise; its path carries space-time Lévy areas,
    # so its reference is ShARK itself on the fine grid (same tree).
    ("shark", "shark", 1.5),
])
def test_strong_order_on_reverse_sde(name, reference, order):
    errors = _strong_errors(name, reference)
    slope = -np.polyfit(np.log(STEPS), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.25, (slope, errors)
