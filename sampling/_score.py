"""Score models: Equinox modules with the one call signature score(x, t)."""

import abc

import equinox as eqx
from jaxtyping import Array, ArrayLike

from schedules import AbstractSchedule

from ._gaussian import GaussianTarget


class AbstractScoreModel(eqx.Module):
    """A model of the score grad log p_t(x) of the forward marginals.

    Called on one state x of shape (d,) and a scalar time t; batch with jax.vmap.
    """

    @abc.abstractmethod
    def __call__(self, x: Array, t: ArrayLike) -> Array:
        """The score at state x and time t."""


class GaussianScore(AbstractScoreModel):
    r"""The exact score of Gaussian data under a schedule,
    $s(x,t) = -(\alpha^2\Sigma + \sigma^2 I)^{-1}(x - \alpha\mu)$."""

    target: GaussianTarget
    schedule: AbstractSchedule

    def __call__(self, x, t):
        return self.target.score(x, t, self.schedule)
