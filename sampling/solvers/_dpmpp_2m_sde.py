r"""DPM-Solver++(2M) SDE (k-diffusion `sample_dpmpp_2m_sde`), midpoint (its default) and
heun variants, in the noise level sigma~ = sigma/alpha on x~ = x/alpha (see `_kdiffusion`).

With lambda = -log sigma~, h = lambda_{k+1} - lambda_k, k-diffusion's eta = dlsim's eta(t_k)
and h~ = (1 + eta) h:
  x~_{k+1} = (sigma~_{k+1}/sigma~_k) e^{-eta h} x~_k - expm1(-h~) D_k
             + C (D_k - D_{k-1})/r_k                      (from the second step on)
             + sigma~_{k+1} sqrt(-expm1(-2 eta h)) z,       z ~ N(0, I),
r_k = h_{k-1}/h_k, C = -expm1(-h~)/2 (midpoint) or C = 1 + expm1(-h~)/h~ (heun,
= h~ phi_2(h~)). The noise is the reference's Brownian-tree increment over [sigma~_{k+1},
sigma~_k]: disjoint intervals, so z is i.i.d. across steps. The deterministic part is the
exponential integrator of the reverse family at dlsim's eta (first step: exactly
`ddim-sde`); eta = 0 with the midpoint rule is DPM-Solver++(2M) (`dpm2m`). Warm-up as the
reference: the first step has no correction term. 1 score evaluation per step; second
order; needs at least 2 steps (with 1 it is `ddim-sde`).

Solver state: (D_{k-1}, h_{k-1}), with h_{k-1} = 0 marking the first step.
"""

import jax.numpy as jnp

from ._kdiffusion import AbstractKDiffusionSolver, denoised_at_time, sqrt0, unit_normal


def exponential_base(f, x, denoised, noise):
    """The first-order part shared by the 2M and 3M SDE samplers: (x~ without the
    history correction, h, h~)."""
    lam, lam_next = -jnp.log(f.sigma0), -jnp.log(f.sigma1)
    h = lam_next - lam
    eta_h = f.eta * h
    x1 = (f.sigma1 / f.sigma0) * jnp.exp(-eta_h) * x - jnp.expm1(-h - eta_h) * denoised
    if noise is not None:
        x1 = x1 + f.sigma1 * sqrt0(-jnp.expm1(-2.0 * eta_h)) * unit_normal(noise, f, x)
    return x1, h, h + eta_h


class _DPMSolverPP2MSDEBase(AbstractKDiffusionSolver):
    score_evaluations = 1
    ode_only = False
    min_steps = 2

    def order(self, terms):
        return 2

    def coefficient(self, h_tilde):
        raise NotImplementedError

    def init(self, terms, t0, t1, y0, args):
        return jnp.zeros_like(y0), jnp.zeros(())

    def ve_step(self, reverse, f, x, state, noise):
        denoised_prev, h_prev = state
        denoised = denoised_at_time(reverse, x, f.t0)
        x1, h, h_tilde = exponential_base(f, x, denoised, noise)
        first = h_prev <= 0.0
        r = jnp.where(first, 1.0, h_prev / h)  # r_k = h_{k-1}/h_k (a stand-in on the first step)
        correction = self.coefficient(h_tilde) * (1.0 / r) * (denoised - denoised_prev)
        x1 = x1 + jnp.where(first, 0.0, correction)
        return x1, (denoised, h)


class DPMSolverPP2MSDE(_DPMSolverPP2MSDEBase):
    """DPM-Solver++(2M) SDE, midpoint; 1 score evaluation per step, any eta >= 0."""

    display_name = "dpmpp-2m-sde"

    def coefficient(self, h_tilde):
        return -0.5 * jnp.expm1(-h_tilde)


class DPMSolverPP2MSDEHeun(_DPMSolverPP2MSDEBase):
    """DPM-Solver++(2M) SDE, heun; 1 score evaluation per step, any eta >= 0."""

    display_name = "dpmpp-2m-sde-heun"

    def coefficient(self, h_tilde):
        return -jnp.expm1(-h_tilde) / -h_tilde + 1.0
