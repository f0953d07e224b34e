"""Helpers for validating user input with one clear message."""

import math

import jax
import numpy as np


def is_concrete(x) -> bool:
    """True when `x` holds actual numbers (not a tracer under jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def check_finite_scalar(name: str, value, *, positive: bool = False) -> float:
    """Return `value` as a float, or raise ValueError naming it and what is allowed."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v!r}")
    return v


def check_time_range(t_min: float, t_max: float, lo: float, hi: float, closed_lo: bool,
                     closed_hi: bool, owner: str) -> None:
    """Check lo <(=) t_min < t_max <(=) hi for a schedule's time interval."""
    if not t_min < t_max:
        raise ValueError(f"{owner}: t_min must be < t_max, got t_min={t_min!r}, t_max={t_max!r}")
    lo_ok = t_min >= lo if closed_lo else t_min > lo
    hi_ok = t_max <= hi if closed_hi else t_max < hi
    if not (lo_ok and hi_ok):
        left = "[" if closed_lo else "("
        right = "]" if closed_hi else ")"
        raise ValueError(
            f"{owner}: time interval [{t_min!r}, {t_max!r}] leaves the schedule's domain "
            f"{left}{lo!r}, {hi!r}{right}"
        )


def as_float_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """Convert to a float64 NumPy array, checking dimension and finiteness."""
    arr = np.asarray(value, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name} must be finite, found {float(bad)!r}")
    return arr
