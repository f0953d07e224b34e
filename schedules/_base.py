"""The shared type of continuous noise schedules."""

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ._errors import check_finite_scalar, check_time_range


def _elementwise_derivative(fn):
    """d fn / dt for a scalar function, vectorised over any array of times."""
    return jnp.vectorize(jax.grad(fn))


class AbstractSchedule(eqx.Module):
    r"""A forward noising process $x_t = \alpha(t) x_0 + \sigma(t) \varepsilon$.

    Equivalent linear SDE $dx = f(t) x\,dt + g(t)\,dW$ with
    $f = \alpha'/\alpha$ and $g^2 = (\sigma^2)' - 2 f \sigma^2$ (MATH.md section 1).
    Every method is vectorised over an array of times. Subclasses give `alpha`,
    `sigma` and the inverse of the noise level; `f` and `g2` default to JAX autodiff
    and are overridden by closed forms, which the tests check against autodiff.

    `t_min` and `t_max` are the interval a sampler runs on: grids go from `t_max`
    down to `t_min`. They must lie inside the schedule's domain (`domain`).
    """

    t_min: eqx.AbstractVar[float]
    t_max: eqx.AbstractVar[float]

    # (lower, upper, lower included, upper included): where alpha > 0 and sigma > 0.
    domain: ClassVar[tuple[float, float, bool, bool]] = (0.0, float("inf"), False, False)

    def __check_init__(self):
        name = type(self).__name__
        t_min = check_finite_scalar(f"{name}.t_min", self.t_min)
        t_max = check_finite_scalar(f"{name}.t_max", self.t_max)
        lo, hi, closed_lo, closed_hi = self.domain
        check_time_range(t_min, t_max, lo, hi, closed_lo, closed_hi, name)

    @abc.abstractmethod
    def alpha(self, t: ArrayLike) -> Array:
        """Signal scale alpha(t)."""

    @abc.abstractmethod
    def sigma(self, t: ArrayLike) -> Array:
        """Noise scale sigma(t)."""

    @abc.abstractmethod
    def t_from_noise_level(self, noise_level: ArrayLike) -> Array:
        """Inverse of `noise_level`: the time at which sigma/alpha equals the given value."""

    def f(self, t: ArrayLike) -> Array:
        r"""Drift coefficient $f = \alpha'/\alpha$ (autodiff of log alpha)."""
        return _elementwise_derivative(lambda s: jnp.log(self.alpha(s)))(jnp.asarray(t, float))

    def g2(self, t: ArrayLike) -> Array:
        r"""Squared diffusion coefficient $g^2 = (\sigma^2)' - 2 f \sigma^2$ (autodiff)."""
        t = jnp.asarray(t, float)
        dsigma2 = _elementwise_derivative(lambda s: self.sigma(s) ** 2)(t)
        return dsigma2 - 2.0 * self.f(t) * self.sigma(t) ** 2

    def prior_variance(self) -> Array:
        """Variance of the isotropic Gaussian prior a sampler may start from at t_max:
        alpha^2 + sigma^2 (1 for VP schedules); VE and EDM override it with sigma^2."""
        return self.alpha(self.t_max) ** 2 + self.sigma(self.t_max) ** 2

    def noise_level(self, t: ArrayLike) -> Array:
        """sigma(t) / alpha(t): the noise level of the rescaled variable x_t / alpha(t)."""
        return self.sigma(t) / self.alpha(t)

    def log_snr(self, t: ArrayLike) -> Array:
        """Half log signal-to-noise ratio lambda(t) = log(alpha / sigma)."""
        return -jnp.log(self.noise_level(t))

    def t_from_log_snr(self, log_snr: ArrayLike) -> Array:
        """Inverse of `log_snr`."""
        return self.t_from_noise_level(jnp.exp(-jnp.asarray(log_snr, float)))

    def in_range(self, t: ArrayLike, rtol: float = 1e-12) -> bool:
        """Whether every time lies in [t_min, t_max] (up to a relative rounding slack)."""
        # NumPy, not jnp: an op-by-op JAX comparison compiles anew for every array length.
        t = np.asarray(t, float)
        slack = rtol * max(abs(self.t_min), abs(self.t_max))
        return bool(np.all((t >= self.t_min - slack) & (t <= self.t_max + slack)))
