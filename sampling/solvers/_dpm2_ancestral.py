r"""DPM2 ancestral (k-diffusion `sample_dpm_2_ancestral`), in the noise level sigma~ =
sigma/alpha on x~ = x/alpha (see `_kdiffusion`).

The DPM2 midpoint step (`_dpm2`) from sigma~_k down to sigma_down, then fresh noise:
  x~_{k+1} = DPM2(x~_k; sigma~_k -> sigma_down) + sigma_up z,   z ~ N(0, I) i.i.d.,
with (sigma_down, sigma_up) k-diffusion's ancestral split of sigma~_k -> sigma~_{k+1} at
its eta = dlsim's eta(t_k). Where the split leaves sigma_down = 0 (eta large enough that
sigma_up reaches sigma~_{k+1}) the reference takes an Euler step instead, x~ -> D_k, and so
does this one, and, as the reference, adds no noise in that case (its noise line sits in
the DPM2 branch): x~_{k+1} = D_k. eta = 0 is DPM2. 2 score evaluations per step; second order at eta = 0.
"""

import jax.numpy as jnp

from ._dpm2 import midpoint_step
from ._kdiffusion import AbstractKDiffusionSolver, ancestral_split, denoised_at_time, unit_normal


class DPM2Ancestral(AbstractKDiffusionSolver):
    """DPM2 ancestral; 2 score evaluations per step, any eta >= 0."""

    score_evaluations = 2
    ode_only = False
    display_name = "dpm2-ancestral"

    def order(self, terms):
        return 2

    def ve_step(self, reverse, f, x, state, noise):
        sigma_down, sigma_up = ancestral_split(f.sigma0, f.sigma1, f.eta)
        denoised = denoised_at_time(reverse, x, f.t0)
        to_zero = sigma_down <= 0.0
        # A positive stand-in target keeps the unused branch finite.
        dpm2 = (midpoint_step(reverse, x, denoised, f.sigma0, jnp.where(to_zero, f.sigma1, sigma_down))
                + sigma_up * unit_normal(noise, f, x))
        euler = x - f.sigma0 * ((x - denoised) / f.sigma0)  # x~ + (0 - sigma~_k) d_k
        return jnp.where(to_zero, euler, dpm2), state
