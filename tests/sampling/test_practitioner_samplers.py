"""The k-diffusion samplers (euler-ancestral, dpm2, dpm2-ancestral, dpmpp-2s-ancestral,
dpmpp-sde, dpmpp-2m-sde[-heun], dpmpp-3m-sde[-corrected], lms): each step against an
independent NumPy transcription of k_diffusion/sampling.py (1e-12), the exact law against
the transcription's law and against Monte Carlo (4 SE), the error sweep against the dense
and per-direction routes, the measured orders (both 3M variants), the multistep warm-up,
and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import polynomial as P

from analysis import error_sweep, exact_law, exact_law_per_direction, w2sq_gaussian
from sampling import (
    SOLVERS,
    GaussianLaw,
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    StandardNormalIncrements,
    check_solver_use,
    levy_area_of,
    make_solver,
    min_steps,
    reversed_times,
    sample,
    sample_statistics,
    score_evaluations_per_step,
    solver_init,
    solver_kind,
    solver_step,
)
from schedules import EDM, VPLinear, make_grid

# name: (score evaluations per step, kind, fewest steps, declared order)
DECLARED = {
    "euler-ancestral": (1, "any", 1, 1),
    "dpm2": (2, "ode", 1, 2),
    "dpm2-ancestral": (2, "any", 1, 2),
    "dpmpp-2s-ancestral": (2, "any", 1, 2),
    "dpmpp-sde": (2, "any", 1, 2),
    "dpmpp-2m-sde": (1, "any", 2, 2),
    "dpmpp-2m-sde-heun": (1, "any", 2, 2),
    "dpmpp-3m-sde": (1, "any", 3, 2),
    "dpmpp-3m-sde-corrected": (1, "any", 3, 3),
    "lms": (1, "ode", 4, 4),
}
NAMES = list(DECLARED)


def test_registry_knows_the_samplers():
    for name, (nfe, kind, fewest, order) in DECLARED.items():
        solver = make_solver(name)
        assert name in SOLVERS
        assert (score_evaluations_per_step(solver), solver_kind(solver), min_steps(solver)) == \
            (nfe, kind, fewest), name
        assert solver.order(None) == order, name


# ----------------------------------------------------------------------------------------
# An independent NumPy transcription of k_diffusion/sampling.py (crowsonkb/k-diffusion
# @4601bf0), in its own variables: x~ = x/alpha at noise levels sigma~ = sigma/alpha,
# denoiser D(x~, sigma~) of Gaussian data N(mu, lam) (per coordinate), s_noise = 1.
# `noise(i)` returns the unit normals of step i: z for the single-noise samplers, the pair
# (z_first_stage, z_second_stage) for dpmpp-sde.


def _denoiser(lam, mu):
    return lambda x, s: mu + lam / (lam + s * s) * (x - mu)


def _ancestral(s_from, s_to, eta):
    if not eta:
        return s_to, 0.0
    up = min(s_to, eta * (s_to**2 * (s_from**2 - s_to**2) / s_from**2) ** 0.5)
    return (s_to**2 - up**2) ** 0.5, up


def _lms_coefficient(order, t, i, j):
    """int_{t_i}^{t_{i+1}} of the Lagrange basis polynomial j (exact polynomial integral)."""
    poly = np.array([1.0])
    for k in range(order):
        if k != j:
            poly = P.polymul(poly, np.array([-t[i - k], 1.0]) / (t[i - j] - t[i - k]))
    antiderivative = P.polyint(poly)
    return P.polyval(t[i + 1], antiderivative) - P.polyval(t[i], antiderivative)


def reference_run(name, sigmas, model, x, noise, eta):
    sigmas = [float(s) for s in sigmas]
    t_fn, sigma_fn = (lambda s: -np.log(s)), (lambda t: np.exp(-t))
    old, older, h_1, h_2, ds = None, None, None, None, []
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        if name == "euler-ancestral":
            down, up = _ancestral(s, s_next, eta)
            x = x + (x - denoised) / s * (down - s) + noise(i) * up
        elif name in ("dpm2", "dpm2-ancestral"):
            down, up = (s_next, 0.0) if name == "dpm2" else _ancestral(s, s_next, eta)
            d = (x - denoised) / s
            if down == 0:
                x = x + d * (down - s)
            else:
                mid = np.exp(np.log(s) + 0.5 * (np.log(down) - np.log(s)))
                x_2 = x + d * (mid - s)
                x = x + (x_2 - model(x_2, mid)) / mid * (down - s)
                x = x + noise(i) * up
        elif name == "dpmpp-2s-ancestral":
            down, up = _ancestral(s, s_next, eta)
            if down == 0:
                x = x + (x - denoised) / s * (down - s)
            else:
                t, t_next = t_fn(s), t_fn(down)
                h = t_next - t
                mid = t + 0.5 * h
                x_2 = (sigma_fn(mid) / sigma_fn(t)) * x - np.expm1(-0.5 * h) * denoised
                x = (sigma_fn(t_next) / sigma_fn(t)) * x - np.expm1(-h) * model(x_2, sigma_fn(mid))
            x = x + noise(i) * up
        elif name == "dpmpp-sde":
            t, t_next = t_fn(s), t_fn(s_next)
            h = t_next - t
            mid = t + 0.5 * h
            z_1, z_2 = noise(i)
            down, up = _ancestral(sigma_fn(t), sigma_fn(mid), eta)
            s_ = t_fn(down)
            x_2 = (sigma_fn(s_) / sigma_fn(t)) * x - np.expm1(t - s_) * denoised + z_1 * up
            denoised_2 = model(x_2, sigma_fn(mid))
            down, up = _ancestral(sigma_fn(t), sigma_fn(t_next), eta)
            t_next_ = t_fn(down)
            x = (sigma_fn(t_next_) / sigma_fn(t)) * x - np.expm1(t - t_next_) * denoised_2 + z_2 * up
        elif name.startswith("dpmpp-2m-sde"):
            h = t_fn(s_next) - t_fn(s)
            eta_h = eta * h
            x = s_next / s * np.exp(-eta_h) * x - np.expm1(-h - eta_h) * denoised
            if old is not None:
                r = h_1 / h
                if name.endswith("heun"):
                    x = x + (-np.expm1(-h - eta_h) / (-h - eta_h) + 1) * (1 / r) * (denoised - old)
                else:
                    x = x + 0.5 * -np.expm1(-h - eta_h) * (1 / r) * (denoised - old)
            if eta:
                x = x + noise(i) * s_next * np.sqrt(-np.expm1(-2 * eta_h))
            old, h_1 = denoised, h
        elif name.startswith("dpmpp-3m-sde"):
            h = t_fn(s_next) - t_fn(s)
            h_eta = h * (eta + 1)
            x = np.exp(-h_eta) * x - np.expm1(-h_eta) * denoised
            if h_2 is not None:
                r0, r1 = h_1 / h, h_2 / h
                d1_0 = (denoised - old) / r0
                d1_1 = (old - older) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_2 = np.expm1(-h_eta) / h_eta + 1
                phi_3 = phi_2 / h_eta - 0.5
                # The corrected variant: twice the shipped second-difference coefficient.
                c = 2.0 if name.endswith("corrected") else 1.0
                x = x + phi_2 * d1 - c * phi_3 * d2
            elif h_1 is not None:
                phi_2 = np.expm1(-h_eta) / h_eta + 1
                x = x + phi_2 * (denoised - old) / (h_1 / h)
            if eta:
                x = x + noise(i) * s_next * np.sqrt(-np.expm1(-2 * h * eta))
            old, older, h_1, h_2 = denoised, old, h, h_1
        else:
            assert name == "lms"
            ds = (ds + [(x - denoised) / s])[-4:]
            order = min(i + 1, 4)
            coeffs = [_lms_coefficient(order, sigmas, i, j) for j in range(order)]
            x = x + sum(c * d for c, d in zip(coeffs, reversed(ds), strict=False))
    return x


def _tree_correlation(s, s_next):
    """corr of k-diffusion's Brownian-tree increments over [sigma_s, s] and [s_next, s]
    (dpmpp-sde's two stages, sigma_s = sqrt(s s_next)): cov/sd products of W in sigma-time."""
    s_mid = np.sqrt(s * s_next)
    return (s - s_mid) / np.sqrt((s - s_mid) * (s - s_next))


# ----------------------------------------------------------------------------------------
# The step, run through dlsim's route (Diffrax solver steps in the schedule's time, noise
# from a StandardNormalIncrements path), against the transcription on the same normals.

SCHEDULE = VPLinear()
LAM, MU = np.array([2.0, 0.04]), np.array([0.5, -1.0])
TARGET = GaussianTarget(LAM, mean=MU)
N_STEPS = 6
# (name, eta): every sampler at k-diffusion's default eta (1; 0 for the ODE samplers),
# the ancestral ones also below 1 and above the cap (sigma_up = sigma_next, sigma_down = 0).
STEP_CASES = ([(n, 0.0 if DECLARED[n][1] == "ode" else 1.0) for n in NAMES]
              + [(n, 0.5) for n in ("euler-ancestral", "dpmpp-sde", "dpmpp-3m-sde")]
              + [(n, 4.0) for n in ("dpm2-ancestral", "dpmpp-2s-ancestral", "dpmpp-sde")])


def _dlsim_run(name, eta, grid, y0, w, hh):
    solver = make_solver(name)
    reverse = ReverseDiffusion(SCHEDULE, GaussianScore(TARGET, SCHEDULE), eta)
    r = reversed_times(grid)
    levy = levy_area_of(solver)
    y = jnp.asarray(y0)
    state = solver_init(reverse, solver, r[0], r[1], y, StandardNormalIncrements(w[0], hh[0], levy))
    for k in range(len(grid) - 1):
        path = StandardNormalIncrements(w[k], hh[k], levy)
        y, state = solver_step(reverse, solver, r[k], r[k + 1], y, state, path)
    return np.asarray(y)


@pytest.mark.parametrize("name, eta", STEP_CASES)
def test_step_matches_the_reference_transcription(name, eta):
    grid = np.asarray(make_grid("edm", SCHEDULE, N_STEPS))
    alpha = np.array([float(SCHEDULE.alpha(t)) for t in grid])
    sigmas = np.array([float(SCHEDULE.noise_level(t)) for t in grid])
    rng = np.random.default_rng(7)
    y0 = rng.normal(size=2) * 3.0
    w, hh = rng.normal(size=(N_STEPS, 2)), rng.normal(size=(N_STEPS, 2))
    ours = _dlsim_run(name, eta, grid, y0, w, hh) / alpha[-1]

    def noise(i):
        if name != "dpmpp-sde":
            return w[i]
        rho = _tree_correlation(sigmas[i], sigmas[i + 1])
        return rho * w[i] + np.sqrt(1 - rho**2) * hh[i], w[i]

    with np.errstate(divide="ignore"):  # the reference's log(sigma_down = 0) at large eta
        theirs = reference_run(name, sigmas, _denoiser(LAM, MU), y0 / alpha[0], noise, eta)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    # Large eta really took the sigma_down = 0 branch (else the case tests nothing new).
    if eta > 1:
        assert _ancestral(sigmas[0], sigmas[1], eta)[0] == 0.0


def _reference_law(name, eta, sigmas, lam, mu, m0, v0, correlated=True):
    """Law of the transcription's output per coordinate, read off on basis inputs and unit
    normals: x_N = c + a x_0 + sum_i b_i . z_i, Var = a^2 v0 + sum_i b_i^T C_i b_i, with
    C_i the 2 x 2 Brownian-tree covariance for dpmpp-sde, 1 otherwise."""
    n, k = len(sigmas) - 1, (2 if name == "dpmpp-sde" else 1)
    model = _denoiser(lam, mu)

    def run(x0, flat):
        z = flat.reshape(n, k)
        return reference_run(name, sigmas, model, x0, (lambda i: z[i] if k == 2 else z[i, 0]), eta)

    zero = np.zeros(n * k)
    c = run(0.0, zero)
    a = run(1.0, zero) - c
    b = np.array([run(0.0, e) - c for e in np.eye(n * k)]).reshape(n, k)
    var = a * a * v0
    for i in range(n):
        cov = np.eye(k)
        if k == 2 and correlated:
            cov[0, 1] = cov[1, 0] = _tree_correlation(sigmas[i], sigmas[i + 1])
        var += b[i] @ cov @ b[i]
    return c + a * m0, var


# The exact law (per direction) against the transcription's law, on VP (alpha != 1) and
# EDM (alpha = 1), and against Monte Carlo through `sample` (a real Brownian path:
# increments and, for dpmpp-sde, space-time Levy areas). Default suite: dpmpp-sde, the
# correlated pair; under slow, the other noise structures and every sampler.
N_MC = 4000
LAW_CASES = [("dpmpp-sde", 1.0, "vp"),
             pytest.param("dpmpp-3m-sde", 0.7, "vp", marks=pytest.mark.slow),
             pytest.param("euler-ancestral", 1.0, "edm", marks=pytest.mark.slow),
             pytest.param("lms", 0.0, "edm", marks=pytest.mark.slow)]


@pytest.mark.parametrize("name, eta, schedule_name", LAW_CASES)
def test_exact_law_matches_the_reference_law_and_monte_carlo(name, eta, schedule_name,
                                                            monte_carlo=True):
    schedule = VPLinear() if schedule_name == "vp" else EDM()
    grid = np.asarray(make_grid("edm", schedule, 5))
    alpha = np.array([float(schedule.alpha(t)) for t in grid])
    sigmas = np.array([float(schedule.noise_level(t)) for t in grid])
    start = TARGET.marginal_in_eigenbasis(schedule, grid[0])
    solver = make_solver(name)
    law = exact_law_per_direction(TARGET, schedule, eta, grid, solver, start)
    for i in range(2):
        m, v = _reference_law(name, eta, sigmas, LAM[i], MU[i], float(start.mean[i]) / alpha[0],
                              float(start.cov[i]) / alpha[0] ** 2)
        np.testing.assert_allclose(float(law.mean[i]), alpha[-1] * m, rtol=1e-12)
        np.testing.assert_allclose(float(law.cov[i]), alpha[-1] ** 2 * v, rtol=1e-12)
        if name == "dpmpp-sde":  # the Brownian-tree correlation matters: independent pairs differ
            _, v_independent = _reference_law(name, eta, sigmas, LAM[i], MU[i], 0.0,
                                              float(start.cov[i]) / alpha[0] ** 2, correlated=False)
            assert abs(v_independent / v - 1) > 1e-2, (v, v_independent)
    if not monte_carlo or eta == 0:
        return
    reverse = ReverseDiffusion(schedule, GaussianScore(TARGET, schedule), eta)
    x = sample(jax.random.key(4), reverse, grid, solver, start, N_MC, route="scan",
               brownian="unsafe").samples
    mean, cov, se_var = sample_statistics(x)
    se_mean = np.sqrt(np.diag(cov) / N_MC)
    assert np.all(np.abs(mean - law.mean) < 4 * se_mean), (mean, law.mean, se_mean)
    assert np.all(np.abs(np.diag(cov) - law.cov) < 4 * se_var), (cov, law.cov, se_var)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_exact_law_matches_the_reference_law_every_sampler(name):
    eta = 0.0 if DECLARED[name][1] == "ode" else 1.0
    test_exact_law_matches_the_reference_law_and_monte_carlo(name, eta, "vp", monte_carlo=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["euler-ancestral", "dpm2-ancestral", "dpmpp-2s-ancestral",
                                  "dpmpp-2m-sde", "dpmpp-2m-sde-heun", "dpmpp-3m-sde"])
def test_exact_law_matches_monte_carlo_full_matrices(name):
    """The dense route on a rotated target with a mean, against Monte Carlo."""
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(2, 2)))
    target = GaussianTarget([1.5, 0.05], rotation, [0.7, -0.4])
    solver = make_solver(name)
    grid = make_grid("edm", SCHEDULE, 5)
    reverse = ReverseDiffusion(SCHEDULE, GaussianScore(target, SCHEDULE), 1.0)
    start = target.marginal(SCHEDULE, grid[0])
    law = exact_law(reverse, grid, solver, start)
    x = sample(jax.random.key(4), reverse, grid, solver, start, N_MC, route="scan",
               brownian="unsafe").samples
    mean, cov, se_var = sample_statistics(x)
    se_mean = np.sqrt(np.diag(cov) / N_MC)
    assert np.all(np.abs(mean - law.mean) < 4 * se_mean), (mean, law.mean, se_mean)
    assert np.all(np.abs(np.diag(cov) - np.diag(law.cov)) < 4 * se_var), (cov, law.cov, se_var)


# ----------------------------------------------------------------------------------------
# The sweep engine agrees with the dense and per-direction routes (centred and not), and
# the measured orders.


def _sweep_against_routes(target, sweep, name, eta, n, dense=True):
    """The sweep's W2^2 at N = n against the per-direction (and the dense) exact laws."""
    row = [r for r in sweep.select("edm", eta, name) if r.steps == n][0]
    grid = make_grid("edm", SCHEDULE, n)
    reference = target.marginal_in_eigenbasis(SCHEDULE, grid[-1])
    per_direction = exact_law_per_direction(target, SCHEDULE, eta, grid, make_solver(name),
                                            target.marginal_in_eigenbasis(SCHEDULE, grid[0]))
    np.testing.assert_allclose(row.w2sq, float(w2sq_gaussian(per_direction, reference)), rtol=1e-10)
    if dense:
        reverse = ReverseDiffusion(SCHEDULE, GaussianScore(target, SCHEDULE), eta)
        law = exact_law(reverse, grid, make_solver(name), target.marginal(SCHEDULE, grid[0]))
        dense_w2sq = w2sq_gaussian(law, GaussianLaw(reference.mean, jnp.diag(reference.cov)))
        np.testing.assert_allclose(row.w2sq, float(dense_w2sq), rtol=1e-10)


def _slopes(sweep, names, eta, grid="edm"):
    """Slope of -log W2 against log N between the sweep's two largest step counts (W2^2
    falls like N^{-2 order}, W2 like N^{-order})."""
    out = {}
    for name in names:
        rows = sweep.select(grid, eta, name)[-2:]
        out[name] = (np.log(rows[0].w2sq / rows[1].w2sq)
                     / (2 * np.log(rows[1].steps / rows[0].steps)))
    return out


def test_3m_as_shipped_is_second_order_and_corrected_third():
    """DPM++(3M) as shipped converges at order 2, corrected at order 3 (exact W2 from the
    sweep, EDM grid, N = 128 -> 256, probability-flow ODE)."""
    names = ["dpmpp-3m-sde", "dpmpp-3m-sde-corrected"]
    sweep = error_sweep(GaussianTarget([3.0, 0.3, 0.02]), SCHEDULE, [128, 256], grids=["edm"],
                        etas=[0.0], solvers=names)
    slopes = _slopes(sweep, names, 0.0)
    assert abs(slopes["dpmpp-3m-sde"] - 2) < 0.2, slopes
    assert abs(slopes["dpmpp-3m-sde-corrected"] - 3) < 0.2, slopes


# Default: the 3M block compiled by the order test above (same solver, eta = 0, d = 3:
# a compiled block is reused), on centred data, where the sweep carries no mean but the
# solver's history. Under slow: noise, a mean (and the dense route), other samplers.
MEAN = [0.4, -0.2, 0.1]


@pytest.mark.parametrize("name, eta, mean", [
    ("dpmpp-3m-sde", 0.0, None),
    pytest.param("dpmpp-3m-sde", 0.8, MEAN, marks=pytest.mark.slow),
    pytest.param("dpmpp-sde", 0.8, None, marks=pytest.mark.slow),
    pytest.param("dpmpp-sde", 0.8, MEAN, marks=pytest.mark.slow),
    pytest.param("lms", 0.0, MEAN, marks=pytest.mark.slow),
])
def test_sweep_agrees_with_the_exact_law_routes(name, eta, mean):
    target = GaussianTarget([3.0, 0.3, 0.02], mean=mean)
    sweep = error_sweep(target, SCHEDULE, [5], grids=["edm"], etas=[eta], solvers=[name])
    _sweep_against_routes(target, sweep, name, eta, 5, dense=mean is not None)


@pytest.mark.slow
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_measured_order_matches_the_declared_one(eta):
    """eta = 0: the declared (ODE) order. eta = 1: the same, except the corrected 3M,
    whose noise limits it to 2 (measured on the log-SNR grid, where it settles)."""
    names = [n for n in NAMES if not (eta and DECLARED[n][1] == "ode")]
    grid = "edm" if eta == 0 else "logsnr"
    sweep = error_sweep(GaussianTarget([3.0, 0.3, 0.02]), SCHEDULE, [128, 256], grids=[grid],
                        etas=[eta], solvers=names)
    slopes = _slopes(sweep, names, eta, grid)
    for name in names:
        expected = 2 if (eta and name == "dpmpp-3m-sde-corrected") else DECLARED[name][3]
        assert abs(slopes[name] - expected) < 0.2, (name, slopes[name])


# ----------------------------------------------------------------------------------------
# Warm-up and bad input.


def test_multistep_warm_up_is_the_lower_order_sampler():
    """The first steps of the multistep samplers are the lower-order ones, exactly: 3M's
    first two steps are 2M-heun's, whose first step is ddim-sde's (the exponential
    integrator at dlsim's eta); LMS's first step is Euler in sigma~ (= ddim on the ODE)."""
    grid = make_grid("edm", SCHEDULE, 2)
    # Two steps of 3M (an order-1 then an order-2 step) = two steps of 2M-heun; only the
    # min_steps check forbids running them on so short a grid, so call the step directly.
    y0, w = np.array([0.3, -1.2]), np.array([[0.5, -0.1], [1.3, 0.4]])
    three = _dlsim_run("dpmpp-3m-sde", 0.6, grid, y0, w, w)
    two = _dlsim_run("dpmpp-2m-sde-heun", 0.6, grid, y0, w, w)
    np.testing.assert_allclose(three, two, rtol=1e-13)
    one = _dlsim_run("dpmpp-2m-sde", 0.6, grid[:2], y0, w, w)
    np.testing.assert_allclose(one, _dlsim_run("ddim-sde", 0.6, grid[:2], y0, w, w), rtol=1e-12)
    lms = _dlsim_run("lms", 0.0, grid[:2], y0, w, w)
    np.testing.assert_allclose(lms, _dlsim_run("ddim", 0.0, grid[:2], y0, w, w), rtol=1e-12)


def test_documented_identities():
    """euler-ancestral at eta = 1 is ddim-sde at eta = 1 (the reverse SDE's ancestral split
    sigma_down = sigma'^2/sigma); dpmpp-2m-sde at eta = 0 is DPM-Solver++(2M) (`dpm2m`);
    dpm2-ancestral and dpmpp-2s-ancestral at eta = 0 are dpm2 and dpmpp-sde at eta = 0."""
    grid = make_grid("edm", SCHEDULE, 4)
    y0, w = np.array([0.3, -1.2]), np.random.default_rng(3).normal(size=(4, 2))
    pairs = [("euler-ancestral", "ddim-sde", 1.0), ("dpmpp-2m-sde", "dpm2m", 0.0),
             ("dpm2-ancestral", "dpm2", 0.0), ("dpmpp-2s-ancestral", "dpmpp-sde", 0.0)]
    for ours, theirs, eta in pairs:
        np.testing.assert_allclose(_dlsim_run(ours, eta, grid, y0, w, w),
                                   _dlsim_run(theirs, eta, grid, y0, w, w), rtol=1e-12,
                                   err_msg=f"{ours} vs {theirs}")


@pytest.mark.parametrize("name, fewest", [("dpmpp-2m-sde", 2), ("dpmpp-3m-sde", 3),
                                          ("dpmpp-3m-sde-corrected", 3), ("lms", 4)])
def test_multistep_sampler_on_too_short_grid(name, fewest):
    grid = make_grid("edm", SCHEDULE, fewest - 1)
    reverse = ReverseDiffusion(SCHEDULE, GaussianScore(TARGET, SCHEDULE), 0.0)
    n = fewest - 1
    with pytest.raises(ValueError, match=rf"solver {name} is a {fewest}-step method and needs a "
                                         rf"grid of at least {fewest} steps \({fewest + 1} points\), "
                                         rf"got {n} step{'s' if n != 1 else ''}"):
        check_solver_use(make_solver(name), reverse, grid)


def test_unknown_sampler_name_lists_the_new_ones():
    with pytest.raises(ValueError, match=r"unknown solver 'dpmpp-2m-karras'; allowed: .*"
                                         r"euler-ancestral, dpm2, dpm2-ancestral, "
                                         r"dpmpp-2s-ancestral, dpmpp-sde, dpmpp-2m-sde, "
                                         r"dpmpp-2m-sde-heun, dpmpp-3m-sde, "
                                         r"dpmpp-3m-sde-corrected, lms"):
        make_solver("dpmpp-2m-karras")


@pytest.mark.parametrize("name", ["dpm2", "lms"])
def test_ode_samplers_refuse_eta(name):
    reverse = ReverseDiffusion(SCHEDULE, GaussianScore(TARGET, SCHEDULE), 1.0)
    with pytest.raises(ValueError, match=rf"{name} solves the probability-flow ODE only and "
                                         rf"needs eta = 0, got eta = 1.0"):
        check_solver_use(make_solver(name), reverse, make_grid("edm", SCHEDULE, 5))
