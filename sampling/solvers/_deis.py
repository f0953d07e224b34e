r"""DEIS, time-based Adams–Bashforth ("tAB", Zhang & Chen 2023, "Fast Sampling of Diffusion
Models with Exponential Integrator"), as ComfyUI's `sample_deis` with `deis_mode='tab'`,
largest order 3 (`comfy/k_diffusion/deis.py`, port of zju-pi/diff-sampler; SAMPLERS.md
section 2.8).

On the Karras slope d = (x - D)/sigma (VE form), with p = min(3, i + 1):
  x_{i+1} = x_i + sum_{j<p} C_{ij} d_{i-j},   C_{ij} = int_{sigma_i}^{sigma_{i+1}} l_j(tau(sigma)) dsigma,
l_j the Lagrange basis on the nodes tau_i, tau_{i-1}, ... in the VP time
  tau(sigma) = (sqrt(beta_min^2 + 2 beta_d log(1 + sigma^2)) - beta_min)/beta_d,
with beta_d, beta_min fixed by sigma(tau = 1) = 80 and sigma(tau = 1e-3) = 0.002 whatever the
model. Order 1 is Euler; x_{i+1} = D_i when sigma_{i+1} = 0 (the source forces order 1 there).

The source evaluates C_{ij} as the integral in tau of l_j(tau) dsigma/dtau by a sum over
M = 10000 equally spaced points tau_k (both ends included) times dtau = (tau_{i+1} - tau_i)/M,
which is not the integral (relative difference about 1e-4). dlsim reproduces that sum, not
the integral, without its 10^4 evaluations (derived here): by Euler–Maclaurin, with
h' = (tau_{i+1} - tau_i)/(M - 1) and f = l_j dsigma/dtau,
  sum = ((M - 1)/M) [int f + h' (f(a) + f(b))/2 + h'^2 (f'(b) - f'(a))/12
                      - h'^4 (f'''(b) - f'''(a))/720] + O(h'^6 f^(5)),
the integral by 64-point Gauss–Legendre in v = sqrt(tau - tau(0)), where the integrand's
square-root singularity at sigma = 0 (outside every step of a dlsim grid) is removed. It
agrees with the literal sum to about 1e-14 relative on EDM grids down to sigma = 0.002.

On a dlsim schedule it runs as k-diffusion runs a VP model: sigma = noise level sigma/alpha,
x = y/alpha; the history holds (d, sigma) in those coordinates.
"""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ._kdiffusion import AbstractKDiffusionSolver, denoised_at_time

# The source's fixed VP map (edm2t): beta_d and beta_min from sigma_min = 0.002 at
# tau = eps_s = 1e-3 and sigma_max = 80 at tau = 1.
_EPS_S, _SIGMA_MIN, _SIGMA_MAX = 1e-3, 0.002, 80.0
_BETA_D = 2 * (np.log(_SIGMA_MIN**2 + 1) / _EPS_S - np.log(_SIGMA_MAX**2 + 1)) / (_EPS_S - 1)
_BETA_MIN = np.log(_SIGMA_MAX**2 + 1) - 0.5 * _BETA_D
_RIEMANN_POINTS = 10_000
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)
# sigma = 0: the positive root of beta_d tau^2/2 + beta_min tau (beta_min < 0 here).
_TAU_ZERO = max(-2 * _BETA_MIN / _BETA_D, 0.0)


def vp_time(sigma):
    """The source's tau(sigma)."""
    return (jnp.sqrt(_BETA_MIN**2 + 2 * _BETA_D * jnp.log1p(sigma**2)) - _BETA_MIN) / _BETA_D


def _dsigma_dtau(tau):
    """-1/2 dlog(abar)/dtau / sqrt(abar (1 - abar)) with abar = exp(-beta_d tau^2/2 - beta_min tau):
    the source's integrand (`cal_intergrand`), which is dsigma/dtau."""
    abar = jnp.exp(-0.5 * tau**2 * _BETA_D - tau * _BETA_MIN)
    return 0.5 * (tau * _BETA_D + _BETA_MIN) / jnp.sqrt(abar * (1 - abar))


def _lagrange(nodes, j, tau):
    out = 1.0
    for k, node in enumerate(nodes):
        if k != j:
            out = out * (tau - node) / (nodes[j] - node)
    return out


def _derivatives(f, x, order: int):
    """f(x), f'(x), ..., f^(order)(x) by nested forward-mode derivatives."""
    fns = [f]
    for _ in range(order):
        fns.append(lambda y, g=fns[-1]: jax.jvp(g, (y,), (jnp.ones_like(y),))[1])
    return [fn(x) for fn in fns]


def deis_coefficients(tau_cur, tau_next, nodes):
    """The source's C_{ij} (its M-point sum) for the Lagrange nodes `nodes` (tau_i first)."""
    a, b = tau_cur, tau_next
    # The integral in v = sqrt(tau - tau_0), tau_0 the integrand's singular point (sigma = 0),
    # where 2 v f(tau_0 + v^2) is smooth: Gauss–Legendre converges fast even on a step that
    # ends close to sigma = 0.
    va, vb = jnp.sqrt(a - _TAU_ZERO), jnp.sqrt(b - _TAU_ZERO)
    v = 0.5 * (va + vb) + 0.5 * (vb - va) * jnp.asarray(_GL_NODES)
    taus = _TAU_ZERO + v**2
    h = (b - a) / (_RIEMANN_POINTS - 1)
    out = []
    for j in range(len(nodes)):
        def f(tau, j=j):
            return _lagrange(nodes, j, tau) * _dsigma_dtau(tau)

        integral = 0.5 * (vb - va) * jnp.sum(jnp.asarray(_GL_WEIGHTS) * 2 * v * f(taus))
        fa, dfa, _, d3fa = _derivatives(f, a, 3)
        fb, dfb, _, d3fb = _derivatives(f, b, 3)
        total = (integral + h * (fa + fb) / 2 + h**2 * (dfb - dfa) / 12
                 - h**4 * (d3fb - d3fa) / 720)
        out.append(total * (_RIEMANN_POINTS - 1) / _RIEMANN_POINTS)
    return out


class DEIS(AbstractKDiffusionSolver):
    """DEIS-tAB of largest order 3 (ComfyUI's default), on the probability-flow ODE (eta = 0
    only); 1 score evaluation per step; warm-up with orders 1, 2. The source runs on any grid;
    dlsim asks for at least 3 steps, so that the method reaches its own order (as for dpm2m
    and lms)."""

    score_evaluations = 1
    ode_only = True
    min_steps = 3
    display_name: ClassVar[str] = "DEIS"

    def order(self, terms):
        return 3

    def init(self, terms, t0, t1, y0, args):
        zero = jnp.zeros((), float)
        # (steps done, (d_{i-1}, d_{i-2}), (sigma_{i-1}, sigma_{i-2}))
        return zero, (jnp.zeros_like(y0),) * 2, (zero, zero)

    def ve_step(self, reverse, f, x, state, noise):
        count, history, sigmas = state
        # The counter and past noise levels are the same numbers for every law carried.
        count, sigmas = jax.lax.stop_gradient((count, sigmas))
        s_i, s_next = f.sigma0, f.sigma1
        d = (x - denoised_at_time(reverse, x, f.t0)) / s_i
        p = jnp.minimum(count + 1.0, 3.0)
        # Placeholder past noise levels (above the current one) keep unused nodes distinct.
        s1 = jnp.where(count >= 1, sigmas[0], 2.0 * s_i + 1.0)
        s2 = jnp.where(count >= 2, sigmas[1], 4.0 * s_i + 3.0)
        tau_i, tau_next = vp_time(s_i), vp_time(s_next)
        tau_1, tau_2 = vp_time(s1), vp_time(s2)
        c2 = deis_coefficients(tau_i, tau_next, (tau_i, tau_1))
        c3 = deis_coefficients(tau_i, tau_next, (tau_i, tau_1, tau_2))
        euler = (s_next - s_i) * d
        second = c2[0] * d + c2[1] * history[0]
        third = c3[0] * d + c3[1] * history[0] + c3[2] * history[1]
        increment = jnp.where(p > 2.5, third, jnp.where(p > 1.5, second, euler))
        # The source forces order 1 when sigma_{i+1} <= 0 (its Euler step lands on D).
        x_next = jnp.where(s_next <= 0.0, x + euler, x + increment)
        state = (count + 1.0, (d, history[0]), (jnp.asarray(s_i, float), sigmas[0]))
        return x_next, state
