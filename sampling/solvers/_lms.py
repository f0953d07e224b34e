r"""Linear multistep (k-diffusion `sample_lms`, order 4), in the noise level sigma~ =
sigma/alpha on x~ = x/alpha (see `_kdiffusion`).

Adams–Bashforth in sigma~ on the probability-flow ODE dx~/dsigma~ = d(x~, sigma~) =
(x~ - D(x~, sigma~))/sigma~, with the variable steps of the grid:
  x~_{k+1} = x~_k + sum_{j<p} c_{kj} d_{k-j},
  c_{kj} = int_{sigma~_k}^{sigma~_{k+1}} l_j(tau) dtau,
  l_j(tau) = prod_{m<p, m!=j} (tau - sigma~_{k-m})/(sigma~_{k-j} - sigma~_{k-m}),
p = min(k + 1, 4) (the reference's warm-up: orders 1, 2, 3, then 4). The reference integrates
the Lagrange polynomial with scipy's `quad`; it has degree p - 1 <= 3, so the two-point
Gauss–Legendre rule used here is exact. Probability-flow ODE only (eta = 0); 1 score
evaluation per step; order 4; needs at least 4 steps.

Solver state: (d_{k-1}, d_{k-2}, d_{k-3}, sigma~_{k-1}, sigma~_{k-2}, sigma~_{k-3}), with
sigma~ = 0 marking an absent entry (every noise level on a grid is > 0).
"""

import math

import jax.numpy as jnp

from ._kdiffusion import AbstractKDiffusionSolver, denoised_at_time

LMS_ORDER = 4


def adams_bashforth_weights(nodes, a, b):
    """int_a^b of the Lagrange basis polynomials on `nodes` (2-point Gauss–Legendre: exact
    for up to 4 nodes)."""
    mid, half = 0.5 * (a + b), 0.5 * (b - a)
    taus = (mid - half / math.sqrt(3.0), mid + half / math.sqrt(3.0))
    weights = []
    for j, node_j in enumerate(nodes):
        total = 0.0
        for tau in taus:
            basis = 1.0
            for m, node_m in enumerate(nodes):
                if m != j:
                    basis = basis * (tau - node_m) / (node_j - node_m)
            total = total + basis
        weights.append(half * total)
    return weights


class LMS(AbstractKDiffusionSolver):
    """Linear multistep of order 4 on the probability-flow ODE (eta = 0 only); 1 score
    evaluation per step; needs at least 4 steps."""

    score_evaluations = 1
    ode_only = True
    min_steps = LMS_ORDER
    display_name = "lms"

    def order(self, terms):
        return LMS_ORDER

    def init(self, terms, t0, t1, y0, args):
        zeros = jnp.zeros_like(y0)
        return (zeros,) * (LMS_ORDER - 1) + (jnp.zeros(()),) * (LMS_ORDER - 1)

    def ve_step(self, reverse, f, x, state, noise):
        past_d = state[:LMS_ORDER - 1]
        past_sigma = state[LMS_ORDER - 1:]
        d = (x - denoised_at_time(reverse, x, f.t0)) / f.sigma0
        ds = (d,) + past_d
        present = [s > 0.0 for s in past_sigma]
        # Absent nodes get distinct stand-ins so that the unused orders stay finite.
        nodes = (f.sigma0,) + tuple(jnp.where(p, s, f.sigma0 * (2.0 + j))
                                    for j, (p, s) in enumerate(zip(present, past_sigma, strict=True)))
        increment = jnp.zeros_like(x)
        for p in range(1, LMS_ORDER + 1):
            weights = adams_bashforth_weights(nodes[:p], f.sigma0, f.sigma1)
            step = sum(w * dj for w, dj in zip(weights, ds[:p], strict=True))
            # Order p where exactly p - 1 past entries exist.
            has = present[p - 2] if p > 1 else True
            lacks_next = ~present[p - 1] if p < LMS_ORDER else True
            increment = jnp.where(jnp.logical_and(has, lacks_next), step, increment)
        x1 = x + increment
        return x1, (d,) + past_d[:-1] + (f.sigma0,) + past_sigma[:-1]
