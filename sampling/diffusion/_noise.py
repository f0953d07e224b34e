"""A Brownian path whose increments are given standard normals.

Solvers consume noise as Brownian increments W(s1) - W(s0) ~ N(0, s1 - s0) (and, for
stochastic Runge–Kutta solvers, space-time Lévy areas H ~ N(0, (s1 - s0)/12)).
Feeding a step these increments as sqrt(s1 - s0) * z with z given makes the step an
explicit function of z: the exact-law route differentiates it with respect to z, and
the same z can be replayed through any route.
"""


import jax.numpy as jnp
from diffrax import AbstractBrownianPath, BrownianIncrement, SpaceTimeLevyArea
from jaxtyping import Array


class StandardNormalIncrements(AbstractBrownianPath):
    """Brownian increments sqrt(dt) * w and space-time Lévy areas sqrt(dt/12) * hh over
    any one interval, for given standard normal arrays w (and hh)."""

    w: Array
    hh: Array | None = None
    levy_area: type = BrownianIncrement

    @property
    def t0(self):
        return -jnp.inf

    @property
    def t1(self):
        return jnp.inf

    def evaluate(self, t0, t1=None, left=True, use_levy=False):
        del left
        if t1 is None:
            raise ValueError("StandardNormalIncrements only gives increments over an interval")
        dt = t1 - t0
        increment = jnp.sqrt(dt) * self.w
        if not use_levy:
            return increment
        if self.levy_area is SpaceTimeLevyArea:
            return SpaceTimeLevyArea(dt=dt, W=increment, H=jnp.sqrt(dt / 12.0) * self.hh)
        return BrownianIncrement(dt=dt, W=increment)


def noise_names(levy_area: type) -> tuple[str, ...]:
    """The standard normal arrays a step consumes for a given kind of Brownian increment."""
    return ("w", "hh") if levy_area is SpaceTimeLevyArea else ("w",)


