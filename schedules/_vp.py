"""Variance-preserving schedules: alpha^2 + sigma^2 = 1."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._base import AbstractSchedule
from ._errors import check_finite_scalar


class VPLinear(AbstractSchedule):
    r"""VP-SDE with linear $\beta(t) = \beta_{min} + t(\beta_{max} - \beta_{min})$ (Song et al. 2021).

    $\alpha(t) = e^{-B(t)/2}$, $B(t) = \int_0^t \beta$, $\sigma^2 = 1 - \alpha^2$,
    $f = -\beta/2$, $g^2 = \beta$.
    """

    t_min: float = eqx.field(default=1e-3, converter=float)
    t_max: float = eqx.field(default=1.0, converter=float)
    beta_min: float = eqx.field(default=0.1, converter=float)
    beta_max: float = eqx.field(default=20.0, converter=float)

    def __check_init__(self):
        check_finite_scalar("VPLinear.beta_min", self.beta_min, positive=True)
        check_finite_scalar("VPLinear.beta_max", self.beta_max, positive=True)

    def beta(self, t: ArrayLike) -> Array:
        return self.beta_min + jnp.asarray(t, float) * (self.beta_max - self.beta_min)

    def _integrated_beta(self, t):
        t = jnp.asarray(t, float)
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def alpha(self, t):
        return jnp.exp(-0.5 * self._integrated_beta(t))

    def sigma(self, t):
        return jnp.sqrt(-jnp.expm1(-self._integrated_beta(t)))

    def f(self, t):
        return -0.5 * self.beta(t)

    def g2(self, t):
        return self.beta(t)

    def noise_level(self, t):
        return jnp.sqrt(jnp.expm1(self._integrated_beta(t)))

    def t_from_noise_level(self, noise_level):
        # B(t) = log(1 + s^2); solve the quadratic in t in the cancellation-free form.
        b = jnp.log1p(jnp.asarray(noise_level, float) ** 2)
        db = self.beta_max - self.beta_min
        return 2.0 * b / (self.beta_min + jnp.sqrt(self.beta_min**2 + 2.0 * db * b))


class VPCosine(AbstractSchedule):
    r"""Cosine schedule (Nichol & Dhariwal 2021), continuous time.

    $\alpha(t) = \cos\phi(t) / \cos\phi(0)$ with $\phi(t) = \frac{t+s}{1+s}\frac{\pi}{2}$,
    $\sigma^2 = 1 - \alpha^2$, so $f = -\frac{\pi}{2(1+s)}\tan\phi$ and $g^2 = -2f$.
    alpha vanishes at t = 1, so t_max must stay below 1 (default 0.99).
    """

    t_min: float = eqx.field(default=1e-3, converter=float)
    t_max: float = eqx.field(default=0.99, converter=float)
    s: float = eqx.field(default=0.008, converter=float)

    domain: ClassVar = (0.0, 1.0, False, False)

    def __check_init__(self):
        check_finite_scalar("VPCosine.s", self.s, positive=True)

    def _phi(self, t):
        return (jnp.asarray(t, float) + self.s) / (1.0 + self.s) * (jnp.pi / 2)

    def alpha(self, t):
        return jnp.cos(self._phi(t)) / jnp.cos(self._phi(0.0))

    def sigma(self, t):
        # 1 - alpha^2 = (cos^2 phi0 - cos^2 phi) / cos^2 phi0 = sin(phi - phi0) sin(phi + phi0) / cos^2 phi0,
        # which keeps full relative accuracy at small t.
        phi, phi0 = self._phi(t), self._phi(0.0)
        return jnp.sqrt(jnp.sin(phi - phi0) * jnp.sin(phi + phi0)) / jnp.cos(phi0)

    def f(self, t):
        return -jnp.pi / (2.0 * (1.0 + self.s)) * jnp.tan(self._phi(t))

    def g2(self, t):
        return -2.0 * self.f(t)

    def t_from_noise_level(self, noise_level):
        s2 = jnp.asarray(noise_level, float) ** 2
        phi = jnp.arccos(jnp.cos(self._phi(0.0)) / jnp.sqrt(1.0 + s2))
        return phi * 2.0 * (1.0 + self.s) / jnp.pi - self.s
