"""make_grids / make_grid on the shared jitted route: values against a NumPy re-implementation
of every formula, and the number of compiled programs."""

import logging

import jax
import numpy as np
import pytest

from schedules import MAPPED_GRIDS, VPLinear, make_grid, make_grids, make_schedule, validate_grid

STEPS = [1, 2, 3, 63, 64, 65, 256]
SCHEDULE_NAMES = ["vp", "ve", "edm", "flow", "vp-cosine"]


# ---------------------------------------------------------------------------------------------
# NumPy reference, generic in the float type: float64 gives the straightforward re-implementation,
# np.longdouble an extended-precision value of the same formula (for the conditioning bound).


def _noise_level(s, t, f):
    t = f(t)
    name = type(s).__name__
    if name == "VPLinear":
        return np.sqrt(np.expm1(f(s.beta_min) * t + f(0.5) * (f(s.beta_max) - f(s.beta_min)) * t * t))
    if name == "VPCosine":
        phi0 = f(s.s) / (1 + f(s.s)) * f(np.pi) / 2
        phi = (t + f(s.s)) / (1 + f(s.s)) * f(np.pi) / 2
        return np.sqrt(np.sin(phi - phi0) * np.sin(phi + phi0)) / np.cos(phi0) / (np.cos(phi) / np.cos(phi0))
    if name == "VE":
        return f(s.sigma_min) * np.exp(t * np.log(f(s.sigma_max) / f(s.sigma_min)))
    if name == "EDM":
        return t
    if name == "LinearInterpolant":
        return t / (1 - t)
    raise AssertionError(name)


def _t_from_noise_level(s, level, f):
    level = f(level)
    name = type(s).__name__
    if name == "VPLinear":
        b = np.log1p(level**2)
        db = f(s.beta_max) - f(s.beta_min)
        return 2 * b / (f(s.beta_min) + np.sqrt(f(s.beta_min) ** 2 + 2 * db * b))
    if name == "VPCosine":
        phi0 = f(s.s) / (1 + f(s.s)) * f(np.pi) / 2
        phi = np.arccos(np.cos(phi0) / np.sqrt(1 + level**2))
        return phi * 2 * (1 + f(s.s)) / f(np.pi) - f(s.s)
    if name == "VE":
        return np.log(level / f(s.sigma_min)) / np.log(f(s.sigma_max) / f(s.sigma_min))
    if name == "EDM":
        return level
    if name == "LinearInterpolant":
        return level / (1 + level)
    raise AssertionError(name)


def reference_grid(name, s, n, rho=7.0, f=np.float64):
    u = np.arange(n + 1, dtype=f) / f(n)
    t_max, t_min = f(s.t_max), f(s.t_min)
    # k-diffusion's names for the same grids (polyexponential at its registry rho = 1).
    name = {"karras": "edm", "exponential": "logsnr", "polyexponential": "logsnr"}.get(name, name)
    if name == "uniform":
        t = t_max + u * (t_min - t_max)
    elif name == "quadratic":
        t = t_min + (t_max - t_min) * (1 - u) ** 2
    elif name == "edm":
        s_max, s_min = _noise_level(s, t_max, f), _noise_level(s, t_min, f)
        inv = 1 / f(rho)
        t = _t_from_noise_level(s, (s_max**inv + u * (s_min**inv - s_max**inv)) ** f(rho), f)
    elif name == "logsnr":
        lo, hi = -np.log(_noise_level(s, t_max, f)), -np.log(_noise_level(s, t_min, f))
        t = _t_from_noise_level(s, np.exp(-(lo + u * (hi - lo))), f)
    elif name == "geometric":
        t = np.exp(np.log(t_max) + u * (np.log(t_min) - np.log(t_max)))
    elif name == "kl-optimal":
        s_max, s_min = _noise_level(s, t_max, f), _noise_level(s, t_min, f)
        t = _t_from_noise_level(s, np.tan((1 - u) * np.arctan(s_max) + u * np.arctan(s_min)), f)
    else:
        raise AssertionError(name)
    t[0], t[-1] = t_max, t_min
    return t


_EXTENDED = np.finfo(np.longdouble).eps < 1e-18


def _float64_rounding(name, s, rho):
    """Worst absolute rounding error of the straightforward float64 formula on this schedule
    (against extended precision), over dense grids that reach close to t_min."""
    return max(float(np.max(np.abs(reference_grid(name, s, n, rho).astype(np.longdouble)
                                   - reference_grid(name, s, n, rho, f=np.longdouble))))
               for n in (64, 65, 256))


@pytest.mark.skipif(not _EXTENDED, reason="np.longdouble is not extended precision here")
@pytest.mark.parametrize("name", list(MAPPED_GRIDS))
@pytest.mark.parametrize("schedule_name", SCHEDULE_NAMES)
def test_make_grids_matches_numpy_reference(schedule_name, name):
    s = make_schedule(schedule_name)
    for rho in (7.0, 2.5) if name == "edm" else (7.0,):
        grids = make_grids(name, s, STEPS, rho=rho)
        # 1e-14 relative, plus a few times the float64 formula's own rounding where it cancels
        # (a + u(b - a) near b; the inverse noise level of vp-cosine near t_min): there any
        # evaluation order (XLA fuses a multiply-add into one FMA) moves the last bits.
        atol = 8 * _float64_rounding(name, s, rho)
        for n, g in zip(STEPS, grids, strict=True):
            assert isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == (n + 1,)
            assert g[0] == s.t_max and g[-1] == s.t_min
            np.testing.assert_allclose(g, reference_grid(name, s, n, rho), rtol=1e-14, atol=atol)
            single = make_grid(name, s, n, rho=rho)
            assert isinstance(single, jax.Array) and single.dtype == np.float64
            np.testing.assert_array_equal(np.asarray(single), g)


class _Compiles(logging.Handler):
    """Counts XLA compilations while `jax.log_compiles()` is on: all, and those of the grid
    program."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.grid = 0

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.total += 1
            self.grid += message.startswith("Compiling jit(_grid_batch)")


@pytest.fixture
def compiles():
    count = _Compiles()
    logger = logging.getLogger("jax")
    logger.addHandler(count)
    try:
        with jax.log_compiles():
            yield count
    finally:
        logger.removeHandler(count)


class _FreshVP(VPLinear):
    """A schedule type no other test builds grids for, so its programs start uncompiled."""


def test_one_program_per_bucket_and_none_for_new_steps(compiles):
    grids = make_grids("edm", _FreshVP(), range(1, 257))
    assert [g.size for g in grids] == list(range(2, 258))
    # Every N at the length of the largest (L = 256): one program, nothing else compiled.
    assert compiles.grid == 1 and compiles.total == 1
    # New N (and new parameter values and rho) whose largest is in that length: nothing
    # compiles; a single grid of another length compiles its own program, once.
    s = _FreshVP(t_min=0.01, beta_max=15.0)
    again = make_grids("edm", s, [255, 3, 100, 3, 77], rho=4.0)
    assert compiles.total == 1
    single = make_grid("edm", s, 100, rho=4.0)
    np.testing.assert_array_equal(np.asarray(single), again[2])
    np.testing.assert_array_equal(again[1], again[3])
    assert again[1] is not again[3]
    validate_grid(s, single)
    make_grid("edm", s, 120, rho=2.0)
    assert compiles.total == 2


def test_make_grid_under_jit_grad_and_vmap():
    s = VPLinear()
    eager = make_grid("edm", s, 9, rho=3.0)
    # Traced schedule parameters and traced rho.
    traced = jax.jit(lambda sch, r: make_grid("edm", sch, 9, rho=r))(s, 3.0)
    np.testing.assert_allclose(traced, eager, rtol=1e-14)
    batched = jax.vmap(lambda r: make_grid("edm", s, 9, rho=r))(np.array([3.0, 7.0]))
    np.testing.assert_allclose(batched[0], eager, rtol=1e-14)
    total = lambda r: make_grid("edm", s, 9, rho=r).sum()  # noqa: E731
    h = 1e-5
    fd = (float(total(3.0 + h)) - float(total(3.0 - h))) / (2 * h)
    assert float(jax.grad(total)(3.0)) == pytest.approx(fd, rel=1e-7)


def test_make_grids_validation():
    s = VPLinear()
    assert make_grids("uniform", s, []) == []
    with pytest.raises(ValueError, match="unknown grid 'cosine'"):
        make_grids("cosine", s, [4])
    with pytest.raises(ValueError, match="number of steps must be >= 1, got 0"):
        make_grids("uniform", s, [4, 0])
    with pytest.raises(ValueError, match="integer"):
        make_grids("uniform", s, [2.5])
    with pytest.raises(ValueError, match="rho must be a finite number > 0"):
        make_grids("edm", s, [4], rho=0.0)
    with pytest.raises(ValueError, match="geometric grid needs t_min > 0"):
        make_grids("geometric", make_schedule("ve", t_min=0.0), [4])
    with pytest.raises(ValueError, match="concrete"):
        jax.jit(lambda r: make_grids("edm", s, [4], rho=r))(2.0)


def test_make_grid_with_concrete_inputs_inside_jit():
    s = VPLinear()
    inside = jax.jit(lambda x: x * make_grid("logsnr", s, 13))(2.0)
    np.testing.assert_allclose(inside, 2.0 * np.asarray(make_grid("logsnr", s, 13)), rtol=1e-14)
