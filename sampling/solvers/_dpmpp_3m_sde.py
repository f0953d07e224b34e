r"""DPM-Solver++(3M) SDE (k-diffusion `sample_dpmpp_3m_sde`), as shipped and corrected, in
the noise level sigma~ = sigma/alpha on x~ = x/alpha (see `_kdiffusion`).

The first-order part is that of the 2M SDE sampler (`_dpmpp_2m_sde`; h~ = (1 + eta) h,
noise sigma~_{k+1} sqrt(-expm1(-2 eta h)) z, z i.i.d.), plus, with phi_2 = 1 + expm1(-h~)/h~
and phi_3 = phi_2/h~ - 1/2:
  second step:     + phi_2 (D_k - D_{k-1})/r0,
  from the third:  + phi_2 d1 - c phi_3 d2, where r0 = h_{k-1}/h_k, r1 = h_{k-2}/h_k,
    delta0 = (D_k - D_{k-1})/r0, delta1 = (D_{k-1} - D_{k-2})/r1,
    d1 = delta0 + (delta0 - delta1) r0/(r0 + r1),   d2 = (delta0 - delta1)/(r0 + r1).
As shipped (k-diffusion, ComfyUI, diffusers and the dpm-solver reference alike) c = 1.
Then d1 ~ h D' and d2 ~ h^2 D''/2 (derivatives in lambda), and the exponential integral of
the quadratic term has coefficient 1 - 2/h~ + 2(1 - e^{-h~})/h~^2 = -2 phi_3 (derived here;
SAMPLERS.md section 2.5): the shipped coefficient is half of it, so the local error keeps
an O(h^3) term and the sampler converges at order 2, not 3. `dpmpp-3m-sde-corrected`
uses c = 2 and converges at order 3 (both measured in tests/sampling/
test_practitioner_samplers.py). Warm-up as the reference: orders 1, 2, then 3.
1 score evaluation per step; needs at least 3 steps.

Solver state: (D_{k-1}, D_{k-2}, h_{k-1}, h_{k-2}), with h = 0 marking an absent entry.
"""

from typing import ClassVar

import jax.numpy as jnp

from ._dpmpp_2m_sde import exponential_base
from ._kdiffusion import AbstractKDiffusionSolver, denoised_at_time


class _DPMSolverPP3MSDEBase(AbstractKDiffusionSolver):
    score_evaluations = 1
    ode_only = False
    min_steps = 3
    # Factor on the shipped second-difference coefficient -phi_3.
    d2_factor: ClassVar[float]

    def init(self, terms, t0, t1, y0, args):
        return jnp.zeros_like(y0), jnp.zeros_like(y0), jnp.zeros(()), jnp.zeros(())

    def ve_step(self, reverse, f, x, state, noise):
        denoised_1, denoised_2, h_1, h_2 = state
        denoised = denoised_at_time(reverse, x, f.t0)
        x1, h, h_eta = exponential_base(f, x, denoised, noise)
        has_1, has_2 = h_1 > 0.0, h_2 > 0.0
        phi_2 = jnp.expm1(-h_eta) / h_eta + 1.0
        phi_3 = phi_2 / h_eta - 0.5
        # r0 = h_1/h, r1 = h_2/h; a stand-in 1 where the entry is absent keeps the unused
        # branches finite.
        r0 = jnp.where(has_1, h_1 / h, 1.0)
        r1 = jnp.where(has_2, h_2 / h, 1.0)
        d1_0 = (denoised - denoised_1) / r0
        d1_1 = (denoised_1 - denoised_2) / r1
        d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        both = has_1 & has_2
        third = phi_2 * d1 - self.d2_factor * phi_3 * d2
        second = phi_2 * d1_0
        x1 = x1 + jnp.where(both, third, jnp.where(has_1, second, 0.0))
        return x1, (denoised, denoised_1, h, h_1)


class DPMSolverPP3MSDE(_DPMSolverPP3MSDEBase):
    """DPM-Solver++(3M) SDE as shipped (order 2); 1 score evaluation per step, any eta >= 0."""

    display_name = "dpmpp-3m-sde"
    d2_factor = 1.0

    def order(self, terms):
        return 2


class DPMSolverPP3MSDECorrected(_DPMSolverPP3MSDEBase):
    """DPM-Solver++(3M) SDE with the consistent second-difference coefficient -2 phi_3
    (order 3); 1 score evaluation per step, any eta >= 0."""

    display_name = "dpmpp-3m-sde-corrected"
    d2_factor = 2.0

    def order(self, terms):
        return 3
