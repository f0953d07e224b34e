"""Data covariance spectra: builders and the SPEC mini-language of the CLI.

SPEC is one of: ``power:ALPHA:D`` (lambda_i = i^-ALPHA, i = 1..D),
``list:l1,l2,...``, or a path to a ``.npy`` file holding a 1-D array.
"""

from pathlib import Path

import numpy as np

from schedules._errors import as_float_array


def power_law_spectrum(alpha: float, dim: int) -> np.ndarray:
    """lambda_i = i^-alpha for i = 1..dim."""
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"power-law exponent must be a finite number >= 0, got {alpha!r}")
    if int(dim) != dim or dim < 1:
        raise ValueError(f"power-law dimension must be an integer >= 1, got {dim!r}")
    return np.arange(1, int(dim) + 1, dtype=float) ** (-float(alpha))


def check_spectrum(eigenvalues, where: str = "spectrum") -> np.ndarray:
    """A 1-D float64 array of finite eigenvalues > 0, or a ValueError naming the bad one."""
    lam = as_float_array(where, eigenvalues, ndim=1)
    if lam.size == 0:
        raise ValueError(f"{where} is empty")
    if np.any(lam <= 0):
        i = int(np.argmax(lam <= 0))
        raise ValueError(f"{where}: eigenvalues must be > 0, got eigenvalue[{i}] = {float(lam[i])!r}")
    return lam


def parse_spectrum(spec: str) -> np.ndarray:
    """Eigenvalues described by a SPEC string (see the module docstring)."""
    allowed = "power:ALPHA:D, list:l1,l2,..., or a .npy file"
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"empty spectrum; allowed: {allowed}")
    kind, _, rest = spec.partition(":")
    try:
        if kind == "power":
            alpha_text, _, dim_text = rest.partition(":")
            return power_law_spectrum(float(alpha_text), int(dim_text))
        if kind == "list":
            return check_spectrum([float(x) for x in rest.split(",")], f"spectrum {spec!r}")
    except ValueError as err:
        if "spectrum" in str(err) or "power-law" in str(err):
            raise
        raise ValueError(f"malformed spectrum {spec!r}; allowed: {allowed}") from None
    if spec.endswith(".npy"):
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"spectrum file {spec!r} does not exist")
        return check_spectrum(np.load(path, allow_pickle=False), f"spectrum file {spec!r}")
    raise ValueError(f"malformed spectrum {spec!r}; allowed: {allowed}")
