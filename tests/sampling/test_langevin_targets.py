"""Constrained targets: potentials against SciPy densities, exact samplers against moments."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.stats

from sampling import (
    BetaProduct,
    Dirichlet,
    EntropySimplex,
    FermiDirac,
    LogisticNormal,
    LogitNormal,
    LogNormal,
    UniformBox,
)

N = 40000


def _potential_matches(target, points, logpdf):
    f = np.asarray(jax.vmap(target.potential)(jnp.asarray(points)))
    diff = -f - logpdf
    np.testing.assert_allclose(diff, diff[0], atol=1e-10)


def test_dirichlet_potential_moments_and_quantiles():
    alpha = np.array([2.0, 3.0, 0.7])
    target = Dirichlet(alpha)
    x = np.asarray(target.sample(jr.key(0), N))
    full = np.concatenate([x, 1 - x.sum(1, keepdims=True)], axis=1)
    _potential_matches(target, x[:20], scipy.stats.dirichlet(alpha).logpdf(full[:20].T))
    se = np.sqrt(target.variance() / N)
    assert np.all(np.abs(x.mean(0) - target.mean()) < 4 * se)
    marg = scipy.stats.beta(alpha[1], alpha.sum() - alpha[1])
    np.testing.assert_allclose(target.marginal_quantile([0.1, 0.5, 0.9], 1),
                               marg.ppf([0.1, 0.5, 0.9]), rtol=1e-10)
    assert bool(jax.vmap(target.in_domain)(jnp.asarray(x)).all())


def test_beta_box_potential_moments_quantiles():
    target = BetaProduct([2.0, 0.5], [5.0, 0.5], lower=[-1.0, 2.0], upper=[1.0, 3.0])
    x = np.asarray(target.sample(jr.key(1), N))
    logpdf = (scipy.stats.beta(2, 5, loc=-1, scale=2).logpdf(x[:20, 0])
              + scipy.stats.beta(0.5, 0.5, loc=2, scale=1).logpdf(x[:20, 1]))
    _potential_matches(target, x[:20], logpdf)
    assert np.all(np.abs(x.mean(0) - target.mean()) < 4 * np.sqrt(target.variance() / N))
    assert target.marginal_quantile(0.5, 1) == pytest.approx(2.5)


def test_uniform_box():
    target = UniformBox([0.0, -2.0], [1.0, 2.0])
    x = np.asarray(target.sample(jr.key(2), N))
    assert np.all(np.abs(x.mean(0) - target.mean()) < 4 * np.sqrt(target.variance() / N))
    assert not bool(target.in_domain(jnp.array([0.5, 2.0])))
    assert float(target.marginal_quantile(0.25, 1)) == pytest.approx(-1.0)


def test_gaussian_in_dual_targets():
    ln = LogisticNormal([0.3, -0.2], [[0.5, 0.1], [0.1, 0.3]])
    x = np.asarray(ln.sample(jr.key(3), N))
    y = np.asarray(jax.vmap(EntropySimplex().grad)(jnp.asarray(x)))
    assert np.all(np.abs(y.mean(0) - [0.3, -0.2]) < 4 * np.sqrt(np.array([0.5, 0.3]) / N))
    logit = LogitNormal([0.5], [0.8])
    pts = jnp.array([[0.1], [0.5], [0.93]])
    yy = np.asarray(jax.vmap(FermiDirac().grad)(pts))[:, 0]
    p = np.asarray(pts)[:, 0]
    logpdf = scipy.stats.norm(0.5, np.sqrt(0.8)).logpdf(yy) - np.log(p * (1 - p))
    _potential_matches(logit, pts, logpdf)
    lognormal = LogNormal([0.2], [0.5])
    assert float(lognormal.marginal_quantile(0.5, 0)) == pytest.approx(np.exp(0.2))


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"Dirichlet parameters alpha must be > 0.*-1.0"):
        Dirichlet([1.0, -1.0])
    with pytest.raises(ValueError, match="at least 2 entries"):
        Dirichlet([1.0])
    with pytest.raises(ValueError, match="Beta parameters b must be > 0"):
        BetaProduct(1.0, 0.0)
    with pytest.raises(ValueError, match="lower < upper"):
        UniformBox([1.0], [0.0])
    with pytest.raises(ValueError, match="positive definite"):
        LogitNormal([0.0], [-1.0])
