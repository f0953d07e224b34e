"""The practitioners' schedules: their noise levels against SAMPLERS.md section 3.5 (SD1.5
table, n = 10) and the AYS tables, and the dlsim grids built from them."""

import warnings

import numpy as np
import pytest

from analysis import error_sweep
from sampling import GaussianTarget
from schedules import (
    EDM,
    GRIDS,
    MAPPED_GRIDS,
    VPLinear,
    ays_sigmas,
    beta_sigmas,
    ddim_uniform_sigmas,
    diffusers_sigmas,
    exponential_sigmas,
    karras_sigmas,
    linear_quadratic_sigmas,
    make_grid,
    make_grids,
    named_grid_map,
    polyexponential_sigmas,
    scaled_linear_table,
    sgm_uniform_sigmas,
    simple_sigmas,
)

SD = scaled_linear_table()
SMIN, SMAX = SD[0], SD[-1]
# SAMPLERS.md section 3.5 (the trailing 0 of each schedule left out).
REFERENCE = {
    "karras": [14.6146, 9.1029, 5.4784, 3.1686, 1.7494, 0.9141, 0.4469, 0.2014, 0.0819, 0.0292],
    "exponential": [14.6146, 7.3249, 3.6712, 1.8400, 0.9222, 0.4622, 0.2317, 0.1161, 0.0582, 0.0292],
    "simple": [14.6146, 8.3028, 5.0878, 3.3211, 2.2765, 1.6129, 1.1606, 0.8299, 0.5693, 0.3417],
    "sgm_uniform": [14.6146, 8.3072, 5.0924, 3.3251, 2.2797, 1.6156, 1.1629, 0.8319, 0.5712, 0.3437],
    "ddim_uniform": [8.3907, 5.1344, 3.3478, 2.2929, 1.6237, 1.1682, 0.8357, 0.5741, 0.3462, 0.0413],
    "beta": [14.6146, 11.5428, 7.3718, 4.3728, 2.6152, 1.6183, 1.0273, 0.6549, 0.3955, 0.1991],
    "lin_quad": [14.6146, 14.5416, 14.4685, 14.3954, 14.3223, 14.2493, 13.6208, 11.8817, 9.0318,
                 5.0713],
}
COMPUTED = {
    "karras": lambda: karras_sigmas(10, SMIN, SMAX),
    "exponential": lambda: exponential_sigmas(10, SMIN, SMAX),
    "simple": lambda: simple_sigmas(10, SD),
    "sgm_uniform": lambda: sgm_uniform_sigmas(10, SD),
    "ddim_uniform": lambda: ddim_uniform_sigmas(10, SD),
    "beta": lambda: beta_sigmas(10, SD),
    "lin_quad": lambda: linear_quadratic_sigmas(10, SMAX),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_noise_levels_match_the_reference_values(name):
    # The reference is printed to 4 decimals.
    np.testing.assert_allclose(COMPUTED[name](), REFERENCE[name], rtol=0, atol=5.1e-5)


def test_sd_table_ends_and_equivalences():
    assert SMIN == pytest.approx(0.0291672, abs=1e-7) and SMAX == pytest.approx(14.6146, abs=1e-4)
    np.testing.assert_allclose(polyexponential_sigmas(10, SMIN, SMAX, rho=1.0),
                               exponential_sigmas(10, SMIN, SMAX), rtol=1e-15)
    # diffusers' trailing = ComfyUI's simple; leading (steps_offset 1) = ddim_uniform at n = 10.
    np.testing.assert_allclose(diffusers_sigmas(10, SD, "trailing"), simple_sigmas(10, SD), rtol=1e-15)
    np.testing.assert_allclose(diffusers_sigmas(10, SD, "leading"), ddim_uniform_sigmas(10, SD),
                               rtol=1e-15)
    np.testing.assert_allclose(diffusers_sigmas(10, SD, "linspace")[[0, -1]], [SMAX, SMIN], rtol=1e-15)
    assert ddim_uniform_sigmas(7, SD).size == 8  # the source's stride gives n + 1 levels here


def test_ays_tables_and_interpolation():
    np.testing.assert_allclose(ays_sigmas(11, "sd15")[[0, 5, 10]],
                               [14.6146412293, 1.3943805092, 0.0291671582], rtol=1e-15)
    # ComfyUI's 5-step SD1 example: [14.6146, 3.8637, 1.8842, 0.9643, 0.3977, 0] (it then sets
    # the last of the 6 interpolated levels to 0).
    np.testing.assert_allclose(ays_sigmas(6, "sd15")[:5], [14.6146, 3.8637, 1.8842, 0.9643, 0.3977],
                               atol=5.1e-5)
    assert ays_sigmas(11, "svd")[0] == pytest.approx(700.0, rel=1e-15)
    assert ays_sigmas(11, "sdxl")[3] == pytest.approx(2.1811480769, rel=1e-15)
    with pytest.raises(ValueError, match=r"unknown Align-Your-Steps model 'sd3'; allowed: sd15, "
                                         r"sdxl, svd"):
        ays_sigmas(11, "sd3")


def test_dlsim_grids_are_the_schedules_with_n_plus_one_levels():
    vp, edm = VPLinear(), EDM()
    np.testing.assert_array_equal(np.asarray(make_grid("karras", edm, 9, rho=5.0)),
                                  np.asarray(make_grid("edm", edm, 9, rho=5.0)))
    np.testing.assert_array_equal(np.asarray(make_grid("exponential", vp, 9)),
                                  np.asarray(make_grid("logsnr", vp, 9)))
    # On VP-linear the discrete model's timesteps are t = (j + 1)/1000 exactly.
    simple = np.asarray(make_grid("simple", vp, 9))
    np.testing.assert_allclose(simple, (1000 - np.floor(np.arange(10) * 100.0)) / 1000, rtol=1e-12)
    assert simple[0] == vp.t_max
    np.testing.assert_allclose(np.asarray(make_grid("leading", vp, 9))[[0, -1]], [0.902, 0.002],
                               rtol=1e-12)
    ays = np.asarray(make_grid("ays", edm, 10))  # EDM: the noise level is t
    np.testing.assert_allclose(ays, ays_sigmas(11, "sd15"), rtol=1e-14)


@pytest.mark.parametrize("name", [n for n in GRIDS if n not in MAPPED_GRIDS])
@pytest.mark.filterwarnings("ignore:ays \\(svd\\)")
def test_table_grids_are_valid_and_batch_like_single(name):
    vp = VPLinear()
    # ays-svd's levels above 152 (VP's sigma_max) are clipped: at N = 19 two collapse (an error).
    steps = [3, 9] if name == "ays-svd" else [3, 9, 19]
    grids = make_grids(name, vp, steps)
    for n, g in zip(steps, grids, strict=True):
        assert g.shape == (n + 1,) and g.dtype == np.float64 and np.all(np.diff(g) < 0)
        assert vp.t_min <= g[-1] and g[0] <= vp.t_max
        np.testing.assert_array_equal(np.asarray(make_grid(name, vp, n)), g)
    with pytest.raises(ValueError, match=rf"grid {name!r} is built from a table"):
        named_grid_map(name, vp)


def test_clipping_is_reported_and_collapse_is_an_error():
    with pytest.warns(UserWarning, match=r"ays \(svd\): noise levels \[700 \.\.\. 0\.002\] leave the "
                                         r"schedule's noise range \[0\.002, 80\]; 1 of 11 clipped"):
        g = np.asarray(make_grid("ays-svd", EDM(), 10))
    assert g[0] == 80.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"beta grid of 9 steps is not strictly decreasing"):
            make_grid("beta", EDM(), 9)


def test_unknown_grid_and_too_many_steps_for_the_table():
    with pytest.raises(ValueError, match=r"unknown grid 'ays-sd3'; allowed: .*ays, ays-sdxl, ays-svd"):
        make_grid("ays-sd3", EDM(), 10)
    with pytest.raises(ValueError, match=r"the ddim-uniform schedule gives 7 steps, not 6"):
        make_grid("ddim-uniform", VPLinear(), 6)


def test_sweep_accepts_the_new_grid_names():
    sweep = error_sweep(GaussianTarget([0.3, 2.0]), VPLinear(), [4, 8],
                        grids=["karras", "ays", "simple"], solvers=["euler"])
    assert [r.grid for r in sweep.rows] == ["karras"] * 2 + ["ays"] * 2 + ["simple"] * 2
    assert all(np.isfinite(r.w2sq) and r.w2sq > 0 for r in sweep.rows)
