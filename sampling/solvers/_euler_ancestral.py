r"""Euler ancestral ("Euler a"; k-diffusion `sample_euler_ancestral`), in the noise level
sigma~ = sigma/alpha on x~ = x/alpha (see `_kdiffusion`).

With D_k = D(x~_k, sigma~_k), d_k = (x~_k - D_k)/sigma~_k and the ancestral split
(sigma_down, sigma_up) of sigma~_k -> sigma~_{k+1} with k-diffusion's eta = dlsim's eta(t_k):
  x~_{k+1} = x~_k + (sigma_down - sigma~_k) d_k + sigma_up z,   z ~ N(0, I) i.i.d.
eta = 1 (k-diffusion's default) is the reverse SDE's split sigma_down = sigma~_{k+1}^2/sigma~_k:
the step is then DDIM with eta_DDIM = 1 (`ddim-sde` at eta = 1); eta = 0 is Euler in sigma~
(DDIM); 0 < eta < 1 interpolates sigma_up linearly in eta (k-diffusion's meaning, not the
reverse family's eta: `ddim-sde` at the same eta differs). One score evaluation per step;
first order.
"""

from ._kdiffusion import AbstractKDiffusionSolver, ancestral_split, denoised_at_time, unit_normal


class EulerAncestral(AbstractKDiffusionSolver):
    """Euler ancestral; 1 score evaluation per step, any eta >= 0."""

    score_evaluations = 1
    ode_only = False
    display_name = "euler-ancestral"

    def order(self, terms):
        return 1

    def ve_step(self, reverse, f, x, state, noise):
        denoised = denoised_at_time(reverse, x, f.t0)
        sigma_down, sigma_up = ancestral_split(f.sigma0, f.sigma1, f.eta)
        d = (x - denoised) / f.sigma0
        x1 = x + d * (sigma_down - f.sigma0) + sigma_up * unit_normal(noise, f, x)
        return x1, state
