"""Distances between Gaussian laws (MATH.md section 2).

All functions take `GaussianLaw`s whose covariances are either (d,) variances
(diagonal, both laws in the same coordinates) or (d, d) matrices. They are invariant
under a rotation applied to both laws, so laws in a target's eigen-coordinates can be
compared directly.
"""

import jax.numpy as jnp
from jaxtyping import Array

from sampling import GaussianLaw


def _psd_sqrt(cov: Array) -> Array:
    w, v = jnp.linalg.eigh(cov)
    return (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T


def w2sq_gaussian(p: GaussianLaw, q: GaussianLaw) -> Array:
    r"""Squared 2-Wasserstein distance (the "Fréchet error", FID without the network).

    $W_2^2 = |m_1 - m_2|^2 + \mathrm{tr}\,S_1 + \mathrm{tr}\,S_2
    - 2\,\mathrm{tr}(S_2^{1/2} S_1 S_2^{1/2})^{1/2}$
    (Bures; eigh-based square roots). When both covariances are diagonal the commuting
    form $\sum_i (\sqrt{s_{1,i}} - \sqrt{s_{2,i}})^2$ is used, written as
    $(s_1 - s_2)^2/(\sqrt{s_1} + \sqrt{s_2})^2$ to avoid cancellation.
    """
    mean_part = jnp.sum((p.mean - q.mean) ** 2, axis=-1)
    if p.is_diagonal and q.is_diagonal:
        diff = p.cov - q.cov
        return mean_part + jnp.sum(diff**2 / (jnp.sqrt(p.cov) + jnp.sqrt(q.cov)) ** 2, axis=-1)
    s1, s2 = p.covariance_matrix(), q.covariance_matrix()
    root2 = _psd_sqrt(s2)
    cross = jnp.linalg.eigvalsh(root2 @ s1 @ root2)
    bures = jnp.trace(s1) + jnp.trace(s2) - 2.0 * jnp.sum(jnp.sqrt(jnp.clip(cross, 0.0)))
    return mean_part + jnp.clip(bures, 0.0)


def w2_gaussian(p: GaussianLaw, q: GaussianLaw) -> Array:
    """2-Wasserstein distance between Gaussian laws (square root of `w2sq_gaussian`)."""
    return jnp.sqrt(w2sq_gaussian(p, q))


def kl_gaussian(p: GaussianLaw, q: GaussianLaw) -> Array:
    r"""KL(p || q) = 1/2 [tr(S_q^{-1} S_p) - d - log det(S_q^{-1} S_p) + (m_p - m_q)^T S_q^{-1} (m_p - m_q)].

    The diagonal form uses e - log1p(e) with e = (s_p - s_q)/s_q to keep accuracy when
    the laws are close.
    """
    dm = p.mean - q.mean
    if p.is_diagonal and q.is_diagonal:
        e = (p.cov - q.cov) / q.cov
        return 0.5 * jnp.sum(e - jnp.log1p(e) + dm**2 / q.cov, axis=-1)
    sp, sq = p.covariance_matrix(), q.covariance_matrix()
    chol = jnp.linalg.cholesky(sq)
    solve = lambda b: jnp.linalg.solve(chol.T, jnp.linalg.solve(chol, b))
    ratio = solve(sp)
    _, logdet_p = jnp.linalg.slogdet(sp)
    logdet_q = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
    d = sp.shape[-1]
    return 0.5 * (jnp.trace(ratio) - d - (logdet_p - logdet_q) + dm @ solve(dm))


def weak_error_quadratic(p: GaussianLaw, q: GaussianLaw, test_matrix: Array | None = None) -> Array:
    r"""E_p[x^T Q x] - E_q[x^T Q x] = tr(Q(S_p - S_q)) + m_p^T Q m_p - m_q^T Q m_q (Q = I by default)."""
    if test_matrix is None:
        # Only the diagonals matter: never build a d x d matrix for diagonal laws.
        var_p = p.cov if p.is_diagonal else jnp.diagonal(p.cov, axis1=-2, axis2=-1)
        var_q = q.cov if q.is_diagonal else jnp.diagonal(q.cov, axis1=-2, axis2=-1)
        return jnp.sum(var_p - var_q + p.mean**2 - q.mean**2, axis=-1)
    q_mat = jnp.asarray(test_matrix, float)
    cov_part = jnp.trace(q_mat @ (p.covariance_matrix() - q.covariance_matrix()))
    return cov_part + p.mean @ q_mat @ p.mean - q.mean @ q_mat @ q.mean
