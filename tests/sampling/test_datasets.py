"""Data sets of issue 10: shapes, ranges, fixed splits, mixtures from .npz files."""

import equinox as eqx
import numpy as np
import pytest

from sampling.targets import DATASETS, load_dataset
from schedules import EDM


def test_digits_shape_range_and_shuffled_split():
    from sklearn.datasets import load_digits

    d = load_dataset("digits")
    assert d.train.shape == (1438, 64) and d.heldout.shape == (359, 64) and d.dim == 64
    x = np.concatenate([np.asarray(d.train), np.asarray(d.heldout)])
    assert x.min() == -1.0 and x.max() == 1.0
    raw = load_digits()
    # train + held-out is a permutation of all 1797 images, scaled by x/8 - 1
    key = lambda a: np.lexsort(a.T[::-1])
    np.testing.assert_array_equal(np.sort(x[key(x)], axis=0), np.sort((raw.data / 8 - 1)[key(raw.data / 8 - 1)], axis=0))
    # the file's order is not random: the held-out set is not its tail, and every digit is
    # present in it in about its share (359/10 = 36 each; a tail block is not balanced)
    assert not np.array_equal(np.asarray(d.heldout), raw.data[-359:] / 8 - 1)
    rows = {r.tobytes(): t for r, t in zip(raw.data / 8 - 1, raw.target, strict=True)}
    counts = np.bincount([rows[r.tobytes()] for r in np.asarray(d.heldout)], minlength=10)
    assert counts.min() >= 20 and counts.max() <= 55, counts
    again = load_dataset("digits")
    np.testing.assert_array_equal(again.heldout, d.heldout)
    assert again.train_sha256() == d.train_sha256()
    assert load_dataset("digits", seed=1).train_sha256() != d.train_sha256()


def test_toys_shapes_ranges_and_determinism():
    for name in ("moons", "eight-gaussians", "checkerboard"):
        d = load_dataset(name)
        assert d.train.shape == (8000, 2) and d.heldout.shape == (2000, 2)
        assert load_dataset(name).train_sha256() == d.train_sha256()
    cb = np.asarray(load_dataset("checkerboard").train)
    assert np.all(np.abs(cb) <= 2.0)
    assert np.all((np.floor(cb[:, 0]) + np.floor(cb[:, 1])) % 2 == 0)  # dark squares only
    moons = np.asarray(load_dataset("moons").train)
    assert np.all(np.abs(moons.mean(axis=0)) < 0.03)  # centred
    assert not load_dataset("moons").has_exact_score


def test_eight_gaussians_moments_and_exact_score():
    d = load_dataset("eight-gaussians")
    x = np.asarray(d.train)
    # mixture of N(c_k, 0.01 I), c_k on the circle of radius 2: mean 0, covariance 2.01 I
    se_mean = np.sqrt(2.01 / x.shape[0])
    assert np.all(np.abs(x.mean(axis=0)) < 4 * se_mean)
    cov = np.cov(x.T)
    assert abs(cov[0, 0] - 2.01) < 0.08 and abs(cov[1, 1] - 2.01) < 0.08 and abs(cov[0, 1]) < 0.08
    score = d.exact_score(EDM())
    # far from the origin, at small noise, the score points at the nearest centre
    s = np.asarray(eqx.filter_jit(score)(np.array([2.05, 0.0]), 0.002))
    np.testing.assert_allclose(s, [-0.05 / (0.01 + 0.002**2), 0.0], rtol=1e-6, atol=1e-6)


def test_mixture_file(tmp_path):
    path = tmp_path / "mix.npz"
    np.savez(path, weights=np.array([1.0, 3.0]), means=np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0]]),
             covariances=np.array([[1.0, 1.0, 1.0], [0.25, 0.25, 0.25]]))
    d = load_dataset(f"mixture:{path}")
    assert d.train.shape == (8000, 3) and d.has_exact_score
    x = np.asarray(d.train)
    assert abs(x[:, 0].mean() - 3.0) < 4 * np.sqrt(np.var(x[:, 0]) / x.shape[0])
    np.testing.assert_allclose(d.exact_score(EDM()).weights, [0.25, 0.75])


@pytest.mark.parametrize("arrays, message", [
    ({"weights": np.ones(2), "means": np.zeros((2, 2))}, "lacks covariances"),
    ({"weights": np.ones(2), "means": np.zeros((2, 2)), "covariances": -np.ones((2, 2))},
     "positive definite"),
    ({"weights": np.array([1.0, -1.0]), "means": np.zeros((2, 2)), "covariances": np.ones((2, 2))},
     "weights must be > 0"),
])
def test_bad_mixture_files(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message) as err:
        load_dataset(f"mixture:{path}")
    assert "\n" not in str(err.value)


def test_bad_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data set 'mnist'; allowed: digits, moons, "
                                         r"eight-gaussians, checkerboard, mixture:FILE.npz"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="not found"):
        load_dataset(f"mixture:{tmp_path / 'none.npz'}")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="cannot read mixture file"):
        load_dataset(f"mixture:{tmp_path / 'junk.npz'}")
    with pytest.raises(ValueError, match="has no exact score"):
        load_dataset("checkerboard").exact_score(EDM())
    assert DATASETS[-1] == "mixture:FILE.npz"
