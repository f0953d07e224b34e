"""Data covariance spectra: builders and the SPEC mini-language of the CLI.

SPEC is one of:

- ``power:ALPHA:D``: lambda_i = i^-ALPHA, i = 1..D;
- ``list:l1,l2,...``: the eigenvalues themselves;
- ``flat:D`` or ``flat:VALUE:D``: D equal eigenvalues (1 by default);
- ``two-block:L1:D1:L2:D2``: D1 eigenvalues L1 then D2 eigenvalues L2 (e.g. a few strong
  directions over a noise floor);
- ``digits`` or ``digits:floor:EPS``: the PCA spectrum of the 8x8 digits data set bundled
  with scikit-learn (1797 images, pixels scaled to [0, 1], covariance with 1/(n-1)). Three
  pixels are constant in the whole data set, so the covariance has three exact zero
  eigenvalues (numerically |lambda| < 1e-15). ``digits`` drops them, keeping the 61
  eigenvalues > 1e-12 lambda_max (the law lives on that subspace, where the three directions
  contribute nothing to any error); ``digits:floor:EPS`` keeps all 64 and raises every
  eigenvalue below EPS to EPS (a regularised full-rank law);
- a path to a ``.npy`` file holding a 1-D array.

Eigenvalues are returned in decreasing order for ``digits``, as given otherwise.
"""

import functools
from pathlib import Path

import numpy as np

from schedules._errors import as_float_array

SPECTRUM_FORMS = ("power:ALPHA:D, list:l1,l2,..., flat:D, flat:VALUE:D, two-block:L1:D1:L2:D2, "
           "digits, digits:floor:EPS, or a .npy file")

# Relative threshold below which a digits eigenvalue is an exact zero (constant pixels).
_DIGITS_ZERO = 1e-12


def power_law_spectrum(alpha: float, dim: int) -> np.ndarray:
    """lambda_i = i^-alpha for i = 1..dim."""
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"power-law exponent must be a finite number >= 0, got {alpha!r}")
    if int(dim) != dim or dim < 1:
        raise ValueError(f"power-law dimension must be an integer >= 1, got {dim!r}")
    return np.arange(1, int(dim) + 1, dtype=float) ** (-float(alpha))


def _check_dim(name: str, dim) -> int:
    if int(dim) != dim or dim < 1:
        raise ValueError(f"{name} dimension must be an integer >= 1, got {dim!r}")
    return int(dim)


def _check_level(name: str, value) -> float:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} eigenvalue must be a finite number > 0, got {value!r}")
    return float(value)


def flat_spectrum(dim: int, value: float = 1.0) -> np.ndarray:
    """dim equal eigenvalues `value` (isotropic data)."""
    return np.full(_check_dim("flat-spectrum", dim), _check_level("flat-spectrum", value))


def two_block_spectrum(high: float, n_high: int, low: float, n_low: int) -> np.ndarray:
    """n_high eigenvalues `high` followed by n_low eigenvalues `low`."""
    return np.concatenate([
        np.full(_check_dim("two-block (first block)", n_high), _check_level("two-block", high)),
        np.full(_check_dim("two-block (second block)", n_low), _check_level("two-block", low))])


@functools.lru_cache(maxsize=1)
def _digits_covariance_eigenvalues() -> np.ndarray:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    pixels = load_digits().data / 16.0
    return np.sort(np.linalg.eigvalsh(np.cov(pixels, rowvar=False)))[::-1]


def digits_spectrum(floor: float | None = None) -> np.ndarray:
    """PCA spectrum of scikit-learn's 8x8 digits (pixels in [0, 1]), decreasing.

    The three exact zeros (constant pixels) are dropped (61 eigenvalues) unless `floor` is
    given, in which case all 64 are kept and clipped from below at `floor`."""
    lam = _digits_covariance_eigenvalues().copy()
    if floor is None:
        return lam[lam > _DIGITS_ZERO * lam[0]]
    return np.maximum(lam, _check_level("digits floor", floor))


def check_spectrum(eigenvalues, where: str = "spectrum") -> np.ndarray:
    """A 1-D float64 array of finite eigenvalues > 0, or a ValueError naming the bad one."""
    lam = as_float_array(where, eigenvalues, ndim=1)
    if lam.size == 0:
        raise ValueError(f"{where} is empty")
    if np.any(lam <= 0):
        i = int(np.argmax(lam <= 0))
        raise ValueError(f"{where}: eigenvalues must be > 0, got eigenvalue[{i}] = {float(lam[i])!r}")
    return lam


def _fields(rest: str, count: int | tuple[int, ...]) -> list[str]:
    parts = rest.split(":")
    if len(parts) not in ((count,) if isinstance(count, int) else count):
        raise ValueError("wrong number of fields")
    return parts


def parse_spectrum(spec: str) -> np.ndarray:
    """Eigenvalues described by a SPEC string (see the module docstring)."""
    allowed = SPECTRUM_FORMS
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"empty spectrum; allowed: {allowed}")
    kind, _, rest = spec.partition(":")
    try:
        if kind == "power":
            alpha_text, _, dim_text = rest.partition(":")
            return power_law_spectrum(float(alpha_text), int(dim_text))
        if kind == "list":
            return check_spectrum([float(x) for x in rest.split(",")], f"spectrum {spec!r}")
        if kind == "flat":
            parts = _fields(rest, (1, 2))
            if len(parts) == 1:
                return flat_spectrum(int(parts[0]))
            return flat_spectrum(int(parts[1]), float(parts[0]))
        if kind == "two-block":
            h, nh, lo, nl = _fields(rest, 4)
            return two_block_spectrum(float(h), int(nh), float(lo), int(nl))
        if kind == "digits":
            if not rest:
                return digits_spectrum()
            word, value = _fields(rest, 2)
            if word != "floor":
                raise ValueError("unknown digits option")
            return digits_spectrum(float(value))
    except ValueError as err:
        text = str(err)
        if "spectrum" in text or "power-law" in text or "eigenvalue must be" in text \
                or "dimension must be" in text:
            raise
        raise ValueError(f"malformed spectrum {spec!r}; allowed: {allowed}") from None
    if spec.endswith(".npy"):
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"spectrum file {spec!r} does not exist")
        return check_spectrum(np.load(path, allow_pickle=False), f"spectrum file {spec!r}")
    raise ValueError(f"malformed spectrum {spec!r}; allowed: {allowed}")
