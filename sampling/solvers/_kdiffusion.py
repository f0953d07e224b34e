r"""What the k-diffusion samplers share: the noise-level view of any schedule, the
ancestral split, and the standard normals a step reads.

k-diffusion (Crowson, `k_diffusion/sampling.py`) writes every sampler for the VE
variable x~ = x/alpha at the noise level sigma~ = sigma/alpha, with a denoiser
D(x~, sigma~) = E[x_0 | x~]; a VP model runs in exactly this form (its wrapper divides by
alpha). dlsim does the same on every schedule: a step from t_k to t_{k+1} reads
x~_k = x_k/alpha_k, runs the reference update at the noise levels sigma~_k = sigma~(t_k),
sigma~_{k+1}, and returns x_{k+1} = alpha_{k+1} x~_{k+1}. The denoiser at a noise level
between grid points is the model at the time with that noise level
(`schedule.t_from_noise_level`): D(x~, sigma~) = x0_hat(alpha(t) x~, t). On EDM and VE
(alpha = 1) nothing is rescaled. lambda = -log sigma~ is dlsim's log-SNR.

Noise: every standard normal a step injects comes from the Brownian increment W of the
step (and, for DPM++ SDE, its space-time Levy area H, independent of W), as z = W/sqrt(dr)
(and xi = H/sqrt(dr/12)); the exact-law route differentiates the step with respect to
them, Monte Carlo draws them from a Brownian path. The noise amount: k-diffusion's
`eta` (default 1 in every sampler that has one) is dlsim's eta, read at the left end of
the step, eta(t_k); the probability-flow ODE (eta = 0) runs the same samplers with no
noise, i.e. k-diffusion's eta = 0. s_noise (k-diffusion's noise multiplier) is 1.

History kept by multistep samplers (denoised values, log-SNR steps, noise levels) is part
of the solver state, so the exact-law route linearises the step on the augmented state.
Every branch the step does not take (warm-up orders, the sigma_down = 0 branch of the
ancestral samplers) is kept finite, with finite derivatives, by stand-in values: the
exact-law route and gradients with respect to the grid times (`dlsim optimize`) go
through `jnp.where`, which would turn an unused inf or NaN into NaN. For the same reason
square roots that may vanish (a capped ancestral split, a noise level at eta = 0) use
`sqrt0`, whose derivative at 0 is 0 instead of inf.
"""

from typing import ClassVar, NamedTuple

import jax.numpy as jnp
from diffrax import RESULTS, AbstractItoSolver
from jaxtyping import Array

from ..diffusion._reverse import ReverseDiffusion, reverse_parts
from ._base import AbstractReverseSolver


class Frame(NamedTuple):
    """One step t_k -> t_{k+1} in k-diffusion's variables."""

    r0: Array  # reversed times (Diffrax's), r = -t
    r1: Array
    t0: Array
    t1: Array
    alpha0: Array
    alpha1: Array
    sigma0: Array  # noise levels sigma~ = sigma/alpha
    sigma1: Array
    eta: Array  # k-diffusion's eta = dlsim's eta(t_k); 0 on the probability-flow ODE


def frame(reverse: ReverseDiffusion, noise, r0, r1) -> Frame:
    sch = reverse.schedule
    t0, t1 = -r0, -r1
    eta = jnp.zeros(()) if noise is None else reverse.eta_at(t0)
    return Frame(r0, r1, t0, t1, sch.alpha(t0), sch.alpha(t1), sch.noise_level(t0),
                 sch.noise_level(t1), eta)


def denoised_at_time(reverse: ReverseDiffusion, x_ve: Array, t) -> Array:
    """D(x~, sigma~(t)) at a time t of the schedule."""
    return reverse.denoised(reverse.schedule.alpha(t) * x_ve, t)


def denoised_at_level(reverse: ReverseDiffusion, x_ve: Array, sigma_ve) -> Array:
    """D(x~, sigma~) at a noise level between grid points."""
    return denoised_at_time(reverse, x_ve, reverse.schedule.t_from_noise_level(sigma_ve))


def sqrt0(x):
    """sqrt(x) for x >= 0, with derivative 0 (not inf) where x = 0."""
    positive = x > 0.0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def ancestral_split(sigma_from, sigma_to, eta) -> tuple[Array, Array]:
    r"""k-diffusion's `get_ancestral_step`: sigma_up = min(sigma_to, eta sqrt(sigma_to^2
    (sigma_from^2 - sigma_to^2)/sigma_from^2)), sigma_down = sqrt(sigma_to^2 - sigma_up^2).
    eta = 1 gives sigma_down = sigma_to^2/sigma_from (the reverse SDE's split); eta = 0
    gives (sigma_to, 0); sigma_up is capped at sigma_to (then sigma_down = 0) for large eta."""
    up = jnp.minimum(sigma_to, eta * sqrt0(sigma_to**2 * (sigma_from**2 - sigma_to**2)
                                           / sigma_from**2))
    return sqrt0(sigma_to**2 - up**2), up


def unit_normal(noise, f: Frame, like: Array) -> Array:
    """The step's standard normal z = W/sqrt(dr) (zeros on the probability-flow ODE)."""
    if noise is None:
        return jnp.zeros_like(like)
    return noise.contr(f.r0, f.r1) / jnp.sqrt(f.r1 - f.r0)


def unit_normal_pair(noise, f: Frame, like: Array) -> tuple[Array, Array]:
    """Two independent standard normals of one step: z = W/sqrt(dr) and xi =
    H/sqrt(dr/12) from the increment and its space-time Levy area (zeros on the ODE)."""
    if noise is None:
        return jnp.zeros_like(like), jnp.zeros_like(like)
    dr = f.r1 - f.r0
    increment = noise.contr(f.r0, f.r1, use_levy=True)
    return increment.W / jnp.sqrt(dr), increment.H / jnp.sqrt(dr / 12.0)


class AbstractKDiffusionSolver(AbstractReverseSolver, AbstractItoSolver):
    """A k-diffusion sampler as a Diffrax solver: `ve_step` is the reference update on
    x~ = x/alpha; `step` rescales around it. Noise is additive (it does not depend on x),
    so the Ito and Stratonovich solutions coincide."""

    # The sampler's name in messages.
    display_name: ClassVar[str] = "this k-diffusion sampler"

    def strong_order(self, terms):
        return 0.5

    def init(self, terms, t0, t1, y0, args):
        return None

    def ve_step(self, reverse: ReverseDiffusion, f: Frame, x: Array, state, noise):
        """(x~_{k+1}, new state) from x~_k and the state."""
        raise NotImplementedError

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del args, made_jump
        reverse, noise = reverse_parts(terms)
        if self.ode_only and noise is not None:
            raise ValueError(f"{self.display_name} solves the probability-flow ODE only (eta = 0)")
        f = frame(reverse, noise, t0, t1)
        x1, state1 = self.ve_step(reverse, f, y0 / f.alpha0, solver_state, noise)
        y1 = f.alpha1 * x1
        return y1, None, dict(y0=y0, y1=y1), state1, RESULTS.successful
