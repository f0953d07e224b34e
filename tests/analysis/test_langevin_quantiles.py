"""1-D Wasserstein distances from quantile functions."""

import numpy as np
import pytest
import scipy.stats

from analysis import wasserstein_1d, wasserstein_1d_quantiles, wasserstein_1d_samples


@pytest.mark.parametrize("n", [10, 1000])
def test_grid_against_uniform_closed_form(n):
    x = (np.arange(n) + 0.5) / n
    identity = lambda u: u
    assert wasserstein_1d(x, identity, p=2) == pytest.approx(1 / (np.sqrt(12) * n), rel=1e-10)
    # p = 1: |x - Q(u)| has a kink inside each cell, so Gauss–Legendre is only close.
    assert wasserstein_1d(x, identity, p=1, nodes=32) == pytest.approx(1 / (4 * n), rel=1e-3)


def test_translation_and_scaling():
    q = scipy.stats.beta(2, 5).ppf
    assert wasserstein_1d_quantiles(q, lambda u: q(u) + 0.3, p=1) == pytest.approx(0.3, rel=1e-12)
    assert wasserstein_1d_quantiles(q, lambda u: q(u) + 0.3, p=2) == pytest.approx(0.3, rel=1e-12)
    # Gaussians: W2^2 = (m1 - m2)^2 + (s1 - s2)^2; the Gaussian tails cost ~1e-5 relative.
    w = wasserstein_1d_quantiles(scipy.stats.norm(0, 1).ppf, scipy.stats.norm(0.3, 2).ppf)
    assert w == pytest.approx(np.sqrt(0.09 + 1.0), rel=1e-4)


def test_samples_against_samples_and_exact_draws_converge():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(size=500) + 1.0
    assert wasserstein_1d_samples(a, a + 1.0) == pytest.approx(1.0)
    assert wasserstein_1d_samples(a, b, p=1) > 0.5
    law = scipy.stats.beta(2, 5)
    w = [wasserstein_1d(law.rvs(size=n, random_state=1), law.ppf, p=1) for n in (100, 10000)]
    assert w[1] < w[0] / 3


def test_bad_input():
    with pytest.raises(ValueError, match="order p must be >= 1"):
        wasserstein_1d([0.1, 0.2], lambda u: u, p=0.5)
    with pytest.raises(ValueError, match="equal size"):
        wasserstein_1d_samples([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="non-finite"):
        wasserstein_1d([0.5], lambda u: np.where(u < 0.5, np.nan, u))
