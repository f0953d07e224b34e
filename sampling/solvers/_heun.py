r"""Heun's method in EDM form (Karras et al. 2022, Algorithm 1), in the schedule's time.

With d(x, t) the drift of the reverse family and h_k = t_{k+1} - t_k < 0:
  predictor  x' = x_k + h_k d(x_k, t_k),
  corrector  x_{k+1} = x_k + h_k/2 [d(x_k, t_k) + d(x', t_{k+1})].
Every step is a Heun step: dlsim's grids end at t_min > 0, where d is finite. For
eta > 0 the same tableau runs on the reverse SDE, the noise increment entering both
stages (Diffrax's stochastic Heun); the noise is additive (it does not depend on x),
so the Itô and Stratonovich solutions coincide.
"""

import jax.tree_util as jtu
from diffrax import RESULTS, AbstractStratonovichSolver

from ._base import AbstractReverseSolver


class Heun(AbstractReverseSolver, AbstractStratonovichSolver):
    """Second-order Heun (explicit trapezoidal) step; 2 score evaluations per step."""

    score_evaluations = 2
    ode_only = False

    def order(self, terms):
        return 2

    def strong_order(self, terms):
        # Additive noise: strong order 1 (0.5 for general noise, not met here).
        return 1.0

    def init(self, terms, t0, t1, y0, args):
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        control = terms.contr(t0, t1)  # (dr, dW) on the SDE, dr on the ODE
        k0 = terms.vf_prod(t0, y0, args, control)
        y_pred = jtu.tree_map(lambda y, k: y + k, y0, k0)
        k1 = terms.vf_prod(t1, y_pred, args, control)
        y1 = jtu.tree_map(lambda y, a, b: y + 0.5 * (a + b), y0, k0, k1)
        return y1, None, dict(y0=y0, y1=y1), None, RESULTS.successful
