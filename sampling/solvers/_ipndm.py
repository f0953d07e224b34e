r"""iPNDM (Zhang & Chen 2023, DEIS paper's "improved PNDM"; as ComfyUI's `sample_ipndm`, port
of zju-pi/diff-sampler `diff-solvers-main/solvers.py`; SAMPLERS.md section 2.9).

Adams–Bashforth in the noise level with the fixed (uniform-step) coefficients, on the Karras
slope d_i = (x_i - D_i)/sigma_i (VE form):
  x_{i+1} = x_i + (sigma_{i+1} - sigma_i) sum_j a^{(p)}_j d_{i-j},   p = min(4, i + 1),
  a^(1) = [1], a^(2) = [3, -1]/2, a^(3) = [23, -16, 5]/12, a^(4) = [55, -59, 37, -9]/24;
and x_{i+1} = D_i when sigma_{i+1} = 0. The coefficients ignore the step ratios, so the
method is of order 4 only on grids uniform in sigma; on smooth non-uniform grids the
ratio errors make it second order (the registry's measured order).

On a dlsim schedule it runs as k-diffusion runs a VP model: sigma = noise level sigma/alpha
and x = y/alpha (y the schedule's state); the history holds d in those coordinates.
"""

from typing import ClassVar

import jax
import jax.numpy as jnp

from ._kdiffusion import AbstractKDiffusionSolver, denoised_at_time

# a^{(p)}_j, j = 0 (current slope) .. p - 1 (oldest).
_AB = ((1.0,), (1.5, -0.5), (23 / 12, -16 / 12, 5 / 12), (55 / 24, -59 / 24, 37 / 24, -9 / 24))


class IPNDM(AbstractKDiffusionSolver):
    """iPNDM, largest order 4, on the probability-flow ODE (eta = 0 only); 1 score evaluation
    per step; warm-up with orders 1, 2, 3. The source runs on any grid; dlsim asks for at
    least 4 steps, so that the method reaches its own order (as for dpm2m and lms)."""

    score_evaluations = 1
    ode_only = True
    min_steps = 4
    display_name: ClassVar[str] = "iPNDM"

    def order(self, terms):
        return 2  # on non-uniform grids (4 on grids uniform in the noise level)

    def init(self, terms, t0, t1, y0, args):
        # (steps done, d_{i-1}, d_{i-2}, d_{i-3})
        return jnp.zeros((), float), (jnp.zeros_like(y0),) * 3

    def ve_step(self, reverse, f, x, state, noise):
        count, history = state
        count = jax.lax.stop_gradient(count)
        denoised = denoised_at_time(reverse, x, f.t0)
        d = (x - denoised) / f.sigma0
        slopes = (d,) + history
        p = jnp.minimum(count + 1.0, 4.0)
        combo = jnp.zeros_like(d)
        for order, coefficients in enumerate(_AB, start=1):
            value = sum(a * slope for a, slope in zip(coefficients, slopes, strict=False))
            combo = jnp.where(p == order, value, combo)
        x_next = jnp.where(f.sigma1 <= 0.0, denoised, x + (f.sigma1 - f.sigma0) * combo)
        return x_next, (count + 1.0, slopes[:3])
