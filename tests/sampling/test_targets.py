import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sampling import GaussianScore, GaussianTarget, ReverseDiffusion
from schedules import EDM, VPLinear


def _rotation(d, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


def test_score_is_gradient_of_marginal_log_density():
    s = VPLinear()
    u = _rotation(3)
    target = GaussianTarget([2.0, 0.5, 0.01], u, [1.0, -2.0, 0.5])
    t = 0.3
    law = target.marginal(s, t)

    def log_density(x):
        diff = x - law.mean
        return -0.5 * diff @ jnp.linalg.solve(law.cov, diff)

    x = jnp.array([0.3, -0.1, 2.0])
    np.testing.assert_allclose(target.score(x, t, s), jax.grad(log_density)(x), rtol=1e-10)
    np.testing.assert_allclose(GaussianScore(target, s)(x, t), target.score(x, t, s), rtol=1e-14)


def test_marginal_covariance_and_eigenbasis():
    s = EDM()
    u = _rotation(2, 1)
    target = GaussianTarget([3.0, 0.2], u, [1.0, 1.0])
    law = target.marginal(s, 2.0)
    np.testing.assert_allclose(law.cov, u @ np.diag([7.0, 4.2]) @ u.T, rtol=1e-12)
    eig = target.marginal_in_eigenbasis(s, 2.0)
    np.testing.assert_allclose(eig.rotate(u).cov, law.cov, rtol=1e-12)
    np.testing.assert_allclose(eig.rotate(u).mean, law.mean, rtol=1e-12)


def test_eta_function_is_checked_on_the_grid():
    s = EDM()
    target = GaussianTarget([1.0])
    reverse = ReverseDiffusion(s, GaussianScore(target, s), eta=lambda t: 1.0 - t)
    with pytest.raises(ValueError, match=r"eta\(t\) must be finite and >= 0 on the grid, got eta\(80.0\) = -79.0"):
        reverse.check_eta_on_grid(jnp.array([80.0, 1.0, 0.002]))


@pytest.mark.parametrize(
    "args, match",
    [
        (([1.0, -0.5],), r"eigenvalues must be finite and > 0, got eigenvalue\[1\] = -0.5"),
        (([1.0, 0.0],), r"eigenvalue\[1\] = 0.0"),
        (([np.inf],), r"eigenvalue\[0\] = inf"),
        (([np.nan, 1.0],), r"eigenvalue\[0\] = nan"),
        (([],), r"non-empty 1-D array"),
        (([1.0, 2.0], np.eye(3)), r"eigenvectors must have shape \(2, 2\) to match 2 eigenvalues, got \(3, 3\)"),
        (([1.0, 2.0], 2 * np.eye(2)), r"orthonormal"),
        (([1.0, 2.0], None, [1.0, 2.0, 3.0]), r"mean must have shape \(2,\) to match 2 eigenvalues, got \(3,\)"),
    ],
)
def test_bad_targets(args, match):
    with pytest.raises(ValueError, match=match):
        GaussianTarget(*args)


def test_negative_eta_rejected():
    s = EDM()
    with pytest.raises(ValueError, match=r"eta must be a finite number >= 0 .* got -0.1"):
        ReverseDiffusion(s, GaussianScore(GaussianTarget([1.0]), s), eta=-0.1)


def test_diagonal_target_never_forms_a_d_by_d_array():
    """Without eigenvectors the eigen-coordinates are the standard ones: the eigenbasis views,
    the mean and the score stay O(d) (a (d, d) identity at d = 1e5 would take 80 GB)."""
    d = 10**5
    lam = np.arange(1.0, d + 1) ** -1.0
    s = VPLinear()

    def views(eigenvalues, mean, x):
        out = []
        for target in (GaussianTarget(eigenvalues), GaussianTarget(eigenvalues, None, mean)):
            eig = target.in_eigenbasis()
            out += [eig.eigenvalues, eig.mean, target.law_in_eigenbasis(),
                    target.marginal_in_eigenbasis(s, 0.5), target.mean_vector(),
                    target.score(x, 0.5, s)]
        return out

    mean, x = np.linspace(-1.0, 1.0, d), np.ones(d)
    # Every intermediate value of the traced computation (sub-programs included) is 1-D or 0-D.
    jaxpr = str(jax.make_jaxpr(views)(lam, mean, x))
    assert re.search(r"\[\d+(,\d+)+\]", jaxpr) is None
    target = GaussianTarget(lam, None, mean)
    eig = target.in_eigenbasis()
    assert eig.eigenvectors is None and eig.mean.shape == (d,)
    np.testing.assert_array_equal(eig.mean, mean)
    law = target.law_in_eigenbasis()
    assert law.is_diagonal
    np.testing.assert_array_equal(law.cov, lam)
    marginal = target.marginal_in_eigenbasis(s, 0.5)
    np.testing.assert_allclose(marginal.mean, s.alpha(0.5) * mean, rtol=1e-15)
    np.testing.assert_allclose(marginal.cov, target.marginal_variances(s, 0.5), rtol=1e-15)
    centred = GaussianTarget(lam).in_eigenbasis()
    np.testing.assert_array_equal(centred.mean, np.zeros(d))


def test_diagonal_target_dense_forms_unchanged():
    lam, mean = np.array([2.0, 0.5, 0.1]), np.array([1.0, -1.0, 0.5])
    target, s = GaussianTarget(lam, None, mean), VPLinear()
    rotated = GaussianTarget(lam, np.eye(3), mean)
    np.testing.assert_array_equal(target.covariance(), np.diag(lam))
    np.testing.assert_array_equal(target.marginal(s, 0.3).cov, rotated.marginal(s, 0.3).cov)
    np.testing.assert_array_equal(target.law().cov, rotated.law().cov)
    for a, b in [(target.law_in_eigenbasis(), rotated.law_in_eigenbasis()),
                 (target.marginal_in_eigenbasis(s, 0.3), rotated.marginal_in_eigenbasis(s, 0.3))]:
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-15)
        np.testing.assert_array_equal(a.cov, b.cov)
