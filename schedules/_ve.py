"""Variance-exploding schedules: alpha = 1."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ._base import AbstractSchedule
from ._errors import check_finite_scalar


class VE(AbstractSchedule):
    r"""VE-SDE (Song et al. 2021): $\alpha = 1$, $\sigma(t) = \sigma_{min}(\sigma_{max}/\sigma_{min})^t$.

    $f = 0$, $g^2 = 2\sigma^2\log(\sigma_{max}/\sigma_{min})$. Defaults are Song's
    CIFAR-10 values; t_min = 0 is allowed since sigma(0) = sigma_min > 0.
    """

    t_min: float = eqx.field(default=1e-5, converter=float)
    t_max: float = eqx.field(default=1.0, converter=float)
    sigma_min: float = eqx.field(default=0.01, converter=float)
    sigma_max: float = eqx.field(default=50.0, converter=float)

    domain: ClassVar = (0.0, float("inf"), True, False)

    def __check_init__(self):
        lo = check_finite_scalar("VE.sigma_min", self.sigma_min, positive=True)
        hi = check_finite_scalar("VE.sigma_max", self.sigma_max, positive=True)
        if not lo < hi:
            raise ValueError(f"VE: sigma_min must be < sigma_max, got {lo!r} and {hi!r}")

    def _log_ratio(self):
        return jnp.log(self.sigma_max / self.sigma_min)

    def alpha(self, t):
        return jnp.ones_like(jnp.asarray(t, float))

    def sigma(self, t):
        return self.sigma_min * jnp.exp(jnp.asarray(t, float) * self._log_ratio())

    def f(self, t):
        return jnp.zeros_like(jnp.asarray(t, float))

    def prior_variance(self):
        return self.sigma(self.t_max) ** 2

    def g2(self, t):
        return 2.0 * self.sigma(t) ** 2 * self._log_ratio()

    def t_from_noise_level(self, noise_level):
        return jnp.log(jnp.asarray(noise_level, float) / self.sigma_min) / self._log_ratio()


class EDM(AbstractSchedule):
    r"""EDM parameterisation (Karras et al. 2022): $\alpha = 1$, $\sigma(t) = t$.

    $f = 0$, $g^2 = 2t$; default interval [0.002, 80].
    """

    t_min: float = eqx.field(default=0.002, converter=float)
    t_max: float = eqx.field(default=80.0, converter=float)

    def alpha(self, t):
        return jnp.ones_like(jnp.asarray(t, float))

    def sigma(self, t):
        return jnp.asarray(t, float)

    def f(self, t):
        return jnp.zeros_like(jnp.asarray(t, float))

    def prior_variance(self):
        return self.sigma(self.t_max) ** 2

    def g2(self, t):
        return 2.0 * jnp.asarray(t, float)

    def t_from_noise_level(self, noise_level):
        return jnp.asarray(noise_level, float)
