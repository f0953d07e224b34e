r"""DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): multistep, data prediction, in
log-SNR lambda = log(alpha/sigma).

With h_k = lambda_{k+1} - lambda_k and D the data prediction x0_hat(x, t) =
(x + sigma^2 s(x, t))/alpha:
  first step:  x_1 = (sigma_1/sigma_0) x_0 - alpha_1 (e^{-h_0} - 1) x0_hat(x_0, t_0);
  then         r_k = h_{k-1}/h_k,
               D_k = (1 + 1/(2 r_k)) x0_hat(x_k, t_k) - 1/(2 r_k) x0_hat(x_{k-1}, t_{k-1}),
               x_{k+1} = (sigma_{k+1}/sigma_k) x_k - alpha_{k+1} (e^{-h_k} - 1) D_k.
The solver state carries (x0_hat(x_{k-1}, t_{k-1}), lambda_{k-1}), float arrays only, so
the exact-law route linearises the step on the augmented state. It starts with
lambda_{-1} = lambda_0, i.e. h_{-1} = 0, which marks the first (first-order) step.
"""

import jax.numpy as jnp
from diffrax import RESULTS

from ..diffusion._reverse import reverse_parts
from ._base import AbstractReverseSolver


class DPMSolverPP2M(AbstractReverseSolver):
    """DPM-Solver++(2M) on the probability-flow ODE (eta = 0 only); 1 score evaluation per
    step; needs at least 2 steps (with 1 it would be DDIM)."""

    score_evaluations = 1
    ode_only = True
    min_steps = 2

    def order(self, terms):
        return 2

    def init(self, terms, t0, t1, y0, args):
        reverse, _ = reverse_parts(terms)
        return jnp.zeros_like(y0), jnp.asarray(reverse.schedule.log_snr(-t0), float)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del args, made_jump
        reverse, noise = reverse_parts(terms)
        if noise is not None:
            raise ValueError("DPM-Solver++(2M) solves the probability-flow ODE only (eta = 0)")
        x0_prev, lam_prev = solver_state
        sch = reverse.schedule
        t_k, t_k1 = -t0, -t1
        lam_k, lam_k1 = sch.log_snr(t_k), sch.log_snr(t_k1)
        h = lam_k1 - lam_k
        h_prev = lam_k - lam_prev
        x0_hat = reverse.denoised(y0, t_k)
        first = h_prev <= 0.0
        # 1/(2 r_k) = h_k / (2 h_{k-1}); a safe denominator keeps the unused branch finite.
        half_inv_r = jnp.where(first, 0.0, h / (2.0 * jnp.where(first, 1.0, h_prev)))
        d = (1.0 + half_inv_r) * x0_hat - half_inv_r * x0_prev
        y1 = (sch.sigma(t_k1) / sch.sigma(t_k)) * y0 - sch.alpha(t_k1) * jnp.expm1(-h) * d
        return y1, None, dict(y0=y0, y1=y1), (x0_hat, jnp.asarray(lam_k, float)), \
            RESULTS.successful
