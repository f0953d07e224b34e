r"""DPM-Solver++ SDE (k-diffusion `sample_dpmpp_sde`, r = 1/2), in the noise level
sigma~ = sigma/alpha on x~ = x/alpha (see `_kdiffusion`).

Two ancestral sub-steps per step, both from sigma~_k, with lambda = -log sigma~, h =
lambda_{k+1} - lambda_k, the stage level sigma_s = e^{-(lambda_k + h/2)} = sqrt(sigma~_k
sigma~_{k+1}) and the split anc(.) at k-diffusion's eta = dlsim's eta(t_k):
  (d1, u1) = anc(sigma~_k, sigma_s):  x~' = (d1/sigma~_k) x~_k + (1 - d1/sigma~_k) D_k + u1 z1,
  (d2, u2) = anc(sigma~_k, sigma~_{k+1}):
      x~_{k+1} = (d2/sigma~_k) x~_k + (1 - d2/sigma~_k) D(x~', sigma_s) + u2 z2
(the reference's (1 - fac) D_k + fac D(x~', sigma_s) with fac = 1/(2r) = 1).

The noise is k-diffusion's Brownian tree in sigma~: z1 and z2 are the normalised increments
of one Brownian motion over [sigma_s, sigma~_k] and [sigma~_{k+1}, sigma~_k], so
corr(z1, z2) = rho = sqrt((sigma~_k - sigma_s)/(sigma~_k - sigma~_{k+1})) per coordinate, and
the pairs of different steps (disjoint intervals) are independent. The step builds that
pair exactly from two independent standard normals of its own interval, the increment z
and the space-time Levy area xi (independent of z for Brownian motion):
  z2 = z,   z1 = rho z + sqrt(1 - rho^2) xi.
Same law as the reference's tree (what the exact law and Monte Carlo see), not the same
path. eta = 0 is the two-stage single-step DPM-Solver++ (r = 1/2). 2 score evaluations
per step; second order at eta = 0.
"""

from typing import ClassVar

import jax.numpy as jnp
from diffrax import AbstractSpaceTimeLevyArea

from ._kdiffusion import (
    AbstractKDiffusionSolver,
    ancestral_split,
    denoised_at_level,
    denoised_at_time,
    sqrt0,
    unit_normal_pair,
)


class DPMSolverPPSDE(AbstractKDiffusionSolver):
    """DPM-Solver++ SDE; 2 score evaluations per step, any eta >= 0; reads the step's
    Brownian increment and its space-time Levy area."""

    score_evaluations = 2
    ode_only = False
    display_name = "dpmpp-sde"
    minimal_levy_area: ClassVar = AbstractSpaceTimeLevyArea

    def order(self, terms):
        return 2

    def ve_step(self, reverse, f, x, state, noise):
        denoised = denoised_at_time(reverse, x, f.t0)
        lam, lam_next = -jnp.log(f.sigma0), -jnp.log(f.sigma1)
        sigma_s = jnp.exp(-(lam + 0.5 * (lam_next - lam)))
        z, xi = unit_normal_pair(noise, f, x)
        rho = jnp.sqrt((f.sigma0 - sigma_s) / (f.sigma0 - f.sigma1))
        z1 = rho * z + sqrt0(1.0 - rho**2) * xi
        # Stage 1, to sigma_s.
        down, up = ancestral_split(f.sigma0, sigma_s, f.eta)
        x_s = (down / f.sigma0) * x + (1.0 - down / f.sigma0) * denoised + up * z1
        denoised_s = denoised_at_level(reverse, x_s, sigma_s)
        # Stage 2, to sigma~_{k+1}.
        down, up = ancestral_split(f.sigma0, f.sigma1, f.eta)
        x1 = (down / f.sigma0) * x + (1.0 - down / f.sigma0) * denoised_s + up * z
        return x1, state
