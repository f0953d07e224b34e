r"""DPM-Solver++(2S) ancestral (k-diffusion `sample_dpmpp_2s_ancestral`), in the noise
level sigma~ = sigma/alpha on x~ = x/alpha (see `_kdiffusion`).

With (sigma_down, sigma_up) k-diffusion's ancestral split of sigma~_k -> sigma~_{k+1} at its
eta = dlsim's eta(t_k), lambda = -log sigma~, h = lambda(sigma_down) - lambda_k and the
midpoint s = lambda_k + h/2 (sigma_s = e^{-s} = sqrt(sigma~_k sigma_down)):
  u = (sigma_s/sigma~_k) x~_k - expm1(-h/2) D(x~_k, sigma~_k),
  x~_{k+1} = (sigma_down/sigma~_k) x~_k - expm1(-h) D(u, sigma_s) + sigma_up z,
z ~ N(0, I) i.i.d. (Lu et al. 2022, DPM-Solver++(2S) with r = 1/2, to sigma_down). Where
the split leaves sigma_down = 0 the reference takes an Euler step, x~ -> D_k, and still
adds sigma_up z; so does this one. eta = 0 is DPM-Solver++(2S). 2 score evaluations per
step; second order at eta = 0.
"""

import jax.numpy as jnp

from ._kdiffusion import (
    AbstractKDiffusionSolver,
    ancestral_split,
    denoised_at_level,
    denoised_at_time,
    unit_normal,
)


class DPMSolverPP2SAncestral(AbstractKDiffusionSolver):
    """DPM-Solver++(2S) ancestral; 2 score evaluations per step, any eta >= 0."""

    score_evaluations = 2
    ode_only = False
    display_name = "dpmpp-2s-ancestral"

    def order(self, terms):
        return 2

    def ve_step(self, reverse, f, x, state, noise):
        denoised = denoised_at_time(reverse, x, f.t0)
        sigma_down, sigma_up = ancestral_split(f.sigma0, f.sigma1, f.eta)
        to_zero = sigma_down <= 0.0
        # A positive stand-in keeps the unused branch finite.
        target = jnp.where(to_zero, f.sigma1, sigma_down)
        lam, lam_next = -jnp.log(f.sigma0), -jnp.log(target)
        h = lam_next - lam
        s = lam + 0.5 * h
        sigma_s = jnp.exp(-s)
        u = (sigma_s / f.sigma0) * x - jnp.expm1(-0.5 * h) * denoised
        denoised_mid = denoised_at_level(reverse, u, sigma_s)
        dpm = (jnp.exp(-lam_next) / f.sigma0) * x - jnp.expm1(-h) * denoised_mid
        euler = x + (x - denoised) / f.sigma0 * (0.0 - f.sigma0)
        x1 = jnp.where(to_zero, euler, dpm) + sigma_up * unit_normal(noise, f, x)
        return x1, state
