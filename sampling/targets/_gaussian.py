"""Gaussian laws and Gaussian data: the analytic references of dlsim."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from schedules import AbstractSchedule, is_concrete


class GaussianLaw(eqx.Module):
    """N(mean, cov). `cov` is either a (d, d) matrix or a (d,) vector of variances
    (a diagonal covariance in the same coordinates as `mean`)."""

    mean: Array
    cov: Array

    @property
    def dim(self) -> int:
        return self.mean.shape[-1]

    @property
    def is_diagonal(self) -> bool:
        return self.cov.ndim == self.mean.ndim

    def covariance_matrix(self) -> Array:
        return jnp.diag(self.cov) if self.is_diagonal else self.cov

    def rotate(self, basis: Array) -> "GaussianLaw":
        """The law of U x when x has this law (U = `basis`, e.g. eigenvectors as columns)."""
        return GaussianLaw(basis @ self.mean, basis @ self.covariance_matrix() @ basis.T)


def _check_eigenvalues(eigenvalues) -> None:
    lam = np.asarray(eigenvalues)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"eigenvalues must be a non-empty 1-D array, got shape {lam.shape}")
    bad = ~np.isfinite(lam) | (lam <= 0)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"eigenvalues must be finite and > 0, got eigenvalue[{i}] = {float(lam[i])!r}"
        )


class GaussianTarget(eqx.Module):
    r"""Gaussian data N(mu, Sigma), Sigma = U diag(lambda) U^T.

    `eigenvectors` (columns, orthonormal) and `mean` are optional: None means the
    identity basis and a centred law. Under a schedule the forward marginal is
    N(alpha mu, alpha^2 Sigma + sigma^2 I) and the exact score is
    $s(x,t) = -\Sigma_t^{-1}(x - \alpha(t)\mu)$ (MATH.md section 2).
    """

    eigenvalues: Array
    eigenvectors: Array | None = None
    mean: Array | None = None

    def __init__(self, eigenvalues: ArrayLike, eigenvectors: ArrayLike | None = None,
                 mean: ArrayLike | None = None):
        if is_concrete(eigenvalues):
            _check_eigenvalues(eigenvalues)
        self.eigenvalues = jnp.asarray(eigenvalues, float)
        d = self.eigenvalues.shape[-1]
        if eigenvectors is not None:
            u = jnp.asarray(eigenvectors, float)
            if u.shape != (d, d):
                raise ValueError(
                    f"eigenvectors must have shape ({d}, {d}) to match {d} eigenvalues, "
                    f"got {u.shape}"
                )
            if is_concrete(u) and not np.allclose(np.asarray(u.T @ u), np.eye(d), atol=1e-8):
                raise ValueError("eigenvectors must be orthonormal columns (U^T U = I)")
            self.eigenvectors = u
        else:
            self.eigenvectors = None
        if mean is not None:
            m = jnp.asarray(mean, float)
            if m.shape != (d,):
                raise ValueError(f"mean must have shape ({d},) to match {d} eigenvalues, got {m.shape}")
            if is_concrete(m) and not np.all(np.isfinite(np.asarray(m))):
                raise ValueError("mean must be finite")
            self.mean = m
        else:
            self.mean = None

    @property
    def dim(self) -> int:
        return self.eigenvalues.shape[-1]

    def basis(self) -> Array:
        """U, eigenvectors as columns. Dense: a (d, d) identity when `eigenvectors` is None."""
        return jnp.eye(self.dim) if self.eigenvectors is None else self.eigenvectors

    def mean_vector(self) -> Array:
        return jnp.zeros(self.dim) if self.mean is None else self.mean

    def _to_eigen(self, v: Array) -> Array:
        """U^T v, without forming U when it is the identity."""
        return v if self.eigenvectors is None else self.eigenvectors.T @ v

    def _from_eigen_diagonal(self, variances: Array) -> Array:
        """U diag(variances) U^T (dense)."""
        if self.eigenvectors is None:
            return jnp.diag(variances)  # avoids a (d, d) x (d, d) product with the identity
        u = self.eigenvectors
        return (u * variances) @ u.T

    def covariance(self) -> Array:
        """Sigma = U diag(lambda) U^T as a dense (d, d) matrix, even for a diagonal target
        (use `law_in_eigenbasis` for the O(d) form)."""
        return self._from_eigen_diagonal(self.eigenvalues)

    def in_eigenbasis(self) -> "GaussianTarget":
        """The same law in its eigen-coordinates: diagonal covariance, mean U^T mu. O(d) when
        `eigenvectors` is None (the eigen-coordinates are then the standard ones)."""
        return GaussianTarget(self.eigenvalues, None, self._to_eigen(self.mean_vector()))

    def marginal_variances(self, schedule: AbstractSchedule, t: ArrayLike) -> Array:
        """m(t) = alpha(t)^2 lambda + sigma(t)^2, per eigen-direction."""
        return schedule.alpha(t) ** 2 * self.eigenvalues + schedule.sigma(t) ** 2

    def marginal(self, schedule: AbstractSchedule, t: ArrayLike) -> GaussianLaw:
        """Exact law of x_t (full covariance, standard coordinates): a dense (d, d) covariance,
        even for a diagonal target (use `marginal_in_eigenbasis` for the O(d) form)."""
        m = self.marginal_variances(schedule, t)
        return GaussianLaw(schedule.alpha(t) * self.mean_vector(), self._from_eigen_diagonal(m))

    def marginal_in_eigenbasis(self, schedule: AbstractSchedule, t: ArrayLike) -> GaussianLaw:
        """Exact law of U^T x_t: mean alpha U^T mu, diagonal variances m(t). O(d) when
        `eigenvectors` is None."""
        return GaussianLaw(schedule.alpha(t) * self._to_eigen(self.mean_vector()),
                           self.marginal_variances(schedule, t))

    def law(self) -> GaussianLaw:
        """N(mu, Sigma) with a dense (d, d) covariance (see `law_in_eigenbasis`)."""
        return GaussianLaw(self.mean_vector(), self.covariance())

    def law_in_eigenbasis(self) -> GaussianLaw:
        """The law of U^T x: N(U^T mu, diag(lambda)). O(d) when `eigenvectors` is None."""
        return GaussianLaw(self._to_eigen(self.mean_vector()), self.eigenvalues)

    def score(self, x: Array, t: ArrayLike, schedule: AbstractSchedule) -> Array:
        """Exact score -Sigma_t^{-1}(x - alpha mu) of the forward marginal at time t."""
        centred = x - schedule.alpha(t) * self.mean_vector()
        # One reciprocal, then products: the exact-law route differentiates the score
        # several times per step, and all the derivatives then share this one division.
        precision = 1.0 / self.marginal_variances(schedule, t)
        if self.eigenvectors is None:
            return -centred * precision
        u = self.eigenvectors
        return -u @ ((u.T @ centred) * precision)
