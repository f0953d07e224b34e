r"""DPM2 (k-diffusion `sample_dpm_2`, "a sampler inspired by DPM-Solver-2 and Karras et
al. 2022 Algorithm 2"; s_churn = 0, its default), in the noise level sigma~ = sigma/alpha
on x~ = x/alpha (see `_kdiffusion`).

The midpoint method for the probability-flow ODE dx~/dsigma~ = (x~ - D(x~, sigma~))/sigma~,
with the midpoint at the geometric mean sigma_mid = sqrt(sigma~_k sigma~_{k+1}) (the log
midpoint of k-diffusion's current code; its first versions used a rho = 3 midpoint):
  d_k = (x~_k - D(x~_k, sigma~_k))/sigma~_k,   x~' = x~_k + (sigma_mid - sigma~_k) d_k,
  x~_{k+1} = x~_k + (sigma~_{k+1} - sigma~_k) (x~' - D(x~', sigma_mid))/sigma_mid.
Probability-flow ODE only (eta = 0); 2 score evaluations per step; second order.
"""

import jax.numpy as jnp

from ._kdiffusion import AbstractKDiffusionSolver, denoised_at_level, denoised_at_time


def midpoint_step(reverse, x, denoised, sigma0, sigma_to):
    """The DPM2 update of x~ from sigma0 (where D(x~, sigma0) = denoised) to sigma_to > 0."""
    d = (x - denoised) / sigma0
    sigma_mid = jnp.exp(0.5 * (jnp.log(sigma0) + jnp.log(sigma_to)))
    x_mid = x + d * (sigma_mid - sigma0)
    d_mid = (x_mid - denoised_at_level(reverse, x_mid, sigma_mid)) / sigma_mid
    return x + d_mid * (sigma_to - sigma0)


class DPM2(AbstractKDiffusionSolver):
    """DPM2 on the probability-flow ODE (eta = 0 only); 2 score evaluations per step."""

    score_evaluations = 2
    ode_only = True
    display_name = "dpm2"

    def order(self, terms):
        return 2

    def ve_step(self, reverse, f, x, state, noise):
        denoised = denoised_at_time(reverse, x, f.t0)
        return midpoint_step(reverse, x, denoised, f.sigma0, f.sigma1), state
