"""Data sets for training score models: scikit-learn's 8x8 digits, 2-D toys, Gaussian mixtures.

Each one is a `Dataset`: fixed train and held-out arrays (float64, rows are points), so every
training run and every held-out comparison of the project sees the same data, and, where the
data law is a Gaussian mixture (eight Gaussians, `mixture:FILE.npz`), its exact score under any
schedule (`GaussianMixtureScore`). `load_dataset(spec)` names them:

- `digits`: scikit-learn's bundled 8x8 digits (1797 images, 64-d, offline), pixels 0..16
  scaled to [-1, 1] by x/8 - 1, shuffled with a fixed seed, then split 80/20. The file lists
  the digits in a non-random order (two index halves differ about four times more than random
  halves, issue 10), hence the shuffle before the split.
- `moons`: `sklearn.datasets.make_moons` (noise 0.05, fixed seed), centred at 0 by
  subtracting (0.5, 0.25), the midpoint of the two arcs.
- `eight-gaussians`: equal-weight mixture of N(c_k, 0.1^2 I), c_k = 2 (cos 2 pi k/8, sin 2 pi k/8).
- `checkerboard`: uniform on the 8 dark squares of a 4x4 board on [-2, 2]^2 (the squares with
  floor(x) + floor(y) even).
- `mixture:FILE.npz`: the mixture sum_k w_k N(mu_k, Sigma_k) given by arrays `weights` (K,),
  `means` (K, d), `covariances` (K, d, d) or (K, d) (diagonal), validated as
  `GaussianMixtureScore` validates them.

Toys and mixtures give 8000 training and 2000 held-out points by default. scikit-learn is
imported only when a data set needs it (it is slow to import).
"""

import hashlib
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

TOY_TRAIN, TOY_HELDOUT = 8000, 2000
DIGITS_HELDOUT_FRACTION = 0.2
EIGHT_GAUSSIANS_RADIUS, EIGHT_GAUSSIANS_STD = 2.0, 0.1
MOONS_NOISE = 0.05
MOONS_CENTRE = (0.5, 0.25)
MIXTURE_PREFIX = "mixture:"
DATASETS = ("digits", "moons", "eight-gaussians", "checkerboard", f"{MIXTURE_PREFIX}FILE.npz")
"""The data set names `load_dataset` accepts (the last one is a pattern)."""


def array_sha256(x) -> str:
    """sha256 of a float64 array's shape and C-order little-endian bytes: the data's identity."""
    a = np.ascontiguousarray(np.asarray(x, dtype="<f8"))
    h = hashlib.sha256(repr(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()


class Dataset(eqx.Module):
    """A named data set: `train` (n_train, d) and `heldout` (n_heldout, d), float64.

    `mixture` is (weights, means, covariances) when the data law is a Gaussian mixture (then
    `exact_score` gives its score under a schedule), else None.
    """

    name: str = eqx.field(static=True)
    train: Array
    heldout: Array
    mixture: tuple[Array, Array, Array] | None = None

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])

    @property
    def has_exact_score(self) -> bool:
        return self.mixture is not None

    def train_sha256(self) -> str:
        """sha256 of the training array (what a checkpoint records as its data)."""
        return array_sha256(self.train)

    def exact_score(self, schedule):
        """The exact score of the data law's forward marginals under `schedule`
        (`GaussianMixtureScore`); ValueError when the data law has none in closed form."""
        if self.mixture is None:
            raise ValueError(f"data set {self.name!r} has no exact score; those with one: "
                             f"eight-gaussians, {MIXTURE_PREFIX}FILE.npz")
        from ..scores._score import GaussianMixtureScore  # scores import targets: import late

        return GaussianMixtureScore(*self.mixture, schedule)


def _split(name: str, points: np.ndarray, n_heldout: int, mixture=None) -> Dataset:
    x = np.asarray(points, dtype=np.float64)
    return Dataset(name, jnp.asarray(x[:-n_heldout]), jnp.asarray(x[-n_heldout:]), mixture)


def digits(seed: int = 0) -> Dataset:
    from sklearn.datasets import load_digits

    images = load_digits().data.astype(np.float64) / 8.0 - 1.0  # 0..16 -> [-1, 1]
    order = np.random.default_rng(seed).permutation(images.shape[0])
    n_heldout = int(round(DIGITS_HELDOUT_FRACTION * images.shape[0]))
    return _split("digits", images[order], n_heldout)


def moons(seed: int = 0, n_train: int = TOY_TRAIN, n_heldout: int = TOY_HELDOUT) -> Dataset:
    from sklearn.datasets import make_moons

    x, _ = make_moons(n_samples=n_train + n_heldout, noise=MOONS_NOISE, shuffle=True,
                      random_state=seed)
    return _split("moons", x - np.asarray(MOONS_CENTRE), n_heldout)


def _sample_mixture(rng: np.random.Generator, weights, means, covariances, n: int) -> np.ndarray:
    w, mu, cov = (np.asarray(a, np.float64) for a in (weights, means, covariances))
    comp = rng.choice(w.shape[0], size=n, p=w / w.sum())
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((n, mu.shape[1]))
    return mu[comp] + np.einsum("nij,nj->ni", chol[comp], z)


def _mixture_dataset(name: str, weights, means, covariances, seed: int, n_train: int,
                     n_heldout: int) -> Dataset:
    from schedules import EDM

    from ..scores._score import GaussianMixtureScore  # its checks: shapes, finite, SPD, w > 0

    try:
        valid = GaussianMixtureScore(weights, means, covariances, EDM())
    except ValueError as err:
        raise ValueError(f"bad Gaussian mixture in {name!r}: {err}") from None
    mixture = (valid.weights, valid.means, valid.covariances)
    x = _sample_mixture(np.random.default_rng(seed), *mixture, n_train + n_heldout)
    return _split(name, x, n_heldout, mixture)


def eight_gaussians(seed: int = 0, n_train: int = TOY_TRAIN,
                    n_heldout: int = TOY_HELDOUT) -> Dataset:
    angles = 2.0 * np.pi * np.arange(8) / 8
    means = EIGHT_GAUSSIANS_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    variances = np.full((8, 2), EIGHT_GAUSSIANS_STD**2)
    return _mixture_dataset("eight-gaussians", np.ones(8), means, variances, seed, n_train,
                            n_heldout)


def checkerboard(seed: int = 0, n_train: int = TOY_TRAIN, n_heldout: int = TOY_HELDOUT) -> Dataset:
    rng = np.random.default_rng(seed)
    n = n_train + n_heldout
    x = rng.uniform(-2.0, 2.0, n)
    # The rows whose square in column floor(x) is dark: floor(x) + row even.
    parity = np.floor(x).astype(int) % 2
    row = 2 * rng.integers(0, 2, n) - 2 + parity  # {-2, 0} or {-1, 1}
    y = row + rng.uniform(0.0, 1.0, n)
    return _split("checkerboard", np.stack([x, y], axis=1), n_heldout)


_MIXTURE_HELP = ("needs arrays weights (K,), means (K, d) and covariances (K, d, d) or (K, d)")


def mixture_from_file(path: str | Path, seed: int = 0, n_train: int = TOY_TRAIN,
                      n_heldout: int = TOY_HELDOUT) -> Dataset:
    """The Gaussian mixture of an .npz file (weights, means, covariances); pickles refused."""
    path = Path(path)
    name = f"{MIXTURE_PREFIX}{path}"
    if not path.is_file():
        raise ValueError(f"mixture file {str(path)!r} not found; {_MIXTURE_HELP}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in f.files}
    except Exception as err:  # noqa: BLE001  (any unreadable file: one clear line)
        raise ValueError(f"cannot read mixture file {str(path)!r} as .npz ({type(err).__name__}: "
                         f"{' '.join(str(err).split())}); {_MIXTURE_HELP}") from None
    missing = [k for k in ("weights", "means", "covariances") if k not in arrays]
    if missing:
        raise ValueError(f"mixture file {str(path)!r} lacks {', '.join(missing)} (has "
                         f"{', '.join(sorted(arrays)) or 'nothing'}); {_MIXTURE_HELP}")
    return _mixture_dataset(name, arrays["weights"], arrays["means"], arrays["covariances"],
                            seed, n_train, n_heldout)


_BUILDERS = {"digits": digits, "moons": moons, "eight-gaussians": eight_gaussians,
             "checkerboard": checkerboard}


def load_dataset(spec: str, *, seed: int = 0) -> Dataset:
    """The data set named `spec` (one of `DATASETS`; `mixture:FILE.npz` reads FILE).

    `seed` fixes the draw of a toy set and the shuffle of the digits; the default 0 is the
    project's fixed data (training seeds do not change the data). Unknown name: ValueError.
    """
    spec = str(spec)
    if spec.startswith(MIXTURE_PREFIX) and len(spec) > len(MIXTURE_PREFIX):
        return mixture_from_file(spec[len(MIXTURE_PREFIX):], seed)
    if spec not in _BUILDERS:
        raise ValueError(f"unknown data set {spec!r}; allowed: {', '.join(DATASETS)}")
    return _BUILDERS[spec](seed)
