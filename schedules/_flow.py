"""The linear interpolant (rectified flow) schedule."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ._base import AbstractSchedule


class LinearInterpolant(AbstractSchedule):
    r"""Linear interpolant / rectified flow: $\alpha = 1 - t$, $\sigma = t$.

    $f = -1/(1-t)$, $g^2 = 2t/(1-t)$. alpha vanishes at t = 1, so t_max < 1
    (default 0.99).
    """

    t_min: float = eqx.field(default=1e-3, converter=float)
    t_max: float = eqx.field(default=0.99, converter=float)

    domain: ClassVar = (0.0, 1.0, False, False)

    def alpha(self, t):
        return 1.0 - jnp.asarray(t, float)

    def sigma(self, t):
        return jnp.asarray(t, float)

    def f(self, t):
        return -1.0 / (1.0 - jnp.asarray(t, float))

    def g2(self, t):
        t = jnp.asarray(t, float)
        return 2.0 * t / (1.0 - t)

    def t_from_noise_level(self, noise_level):
        s = jnp.asarray(noise_level, float)
        return s / (1.0 + s)
