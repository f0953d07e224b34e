"""UniPC (bh2, orders 2 and 3), DEIS (tAB 3) and iPNDM (4): whole runs against independent
NumPy transcriptions of their sources' sampling loops (warm-up included), their exact laws
(dense and per-direction routes, and the transcription's own exact law read on basis
inputs), measured orders, and too-short grids."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import error_sweep, exact_law, exact_law_per_direction
from sampling import (
    GaussianLaw,
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    check_solver_use,
    make_solver,
    min_steps,
    reversed_times,
    score_evaluations_per_step,
    solver_init,
    solver_step,
)
from schedules import EDM, VPLinear, make_grid

NAMES = ("unipc", "unipc-3", "deis", "ipndm")
LAM = np.array([0.04, 0.6, 3.0])


# ----------------------------------------------------------------------------------------
# NumPy transcriptions, in k-diffusion's VE variables (x~ = x/alpha at sigma~ = sigma/alpha),
# with the Gaussian data's denoiser D(x~, s) = lam x~ / (lam + s^2).


def _denoiser(x, s):
    return LAM * x / (LAM + s**2)


def _unipc_np(x, sig, order):
    """wl-zhao/UniPC `sample` (multistep, bh2, lower_order_final on, its default): model
    values stored at the predictor point, corrector on every step but the last."""
    lam = -np.log(sig)
    n = sig.size - 1
    models, lams = [_denoiser(x, sig[0])], [lam[0]]

    def update(x, i, p, corrector):
        h = lam[i + 1] - lams[-1]
        m0 = models[-1]
        rks, d1s = [], []
        for k in range(1, p):
            rk = (lams[-(k + 1)] - lams[-1]) / h
            rks.append(rk)
            d1s.append((models[-(k + 1)] - m0) / rk)
        rks.append(1.0)
        hh = -h
        bh = np.expm1(hh)
        hphi = np.expm1(hh) / hh - 1
        fact, big_r, b = 1, [], []
        for k in range(1, p + 1):
            big_r.append(np.array(rks) ** (k - 1))
            b.append(hphi * fact / bh)
            fact *= k + 1
            hphi = hphi / hh - 1 / fact
        big_r, b = np.array(big_r), np.array(b)
        base = np.exp(-h) * x - np.expm1(-h) * m0
        if d1s:
            rho_p = np.array([0.5]) if p == 2 else np.linalg.solve(big_r[:-1, :-1], b[:-1])
            x_new = base - bh * sum(r * d for r, d in zip(rho_p, d1s, strict=True))
        else:
            x_new = base
        model = None
        if corrector:
            model = _denoiser(x_new, sig[i + 1])
            rho_c = np.array([0.5]) if p == 1 else np.linalg.solve(big_r, b)
            corr = sum(r * d for r, d in zip(rho_c[:-1], d1s, strict=True)) if d1s else 0.0
            x_new = base - bh * (corr + rho_c[-1] * (model - m0))
        return x_new, model

    for step in range(1, n + 1):
        # The source's warm-up loop (orders 1..order-1), then min(order, steps + 1 - step).
        p = step if step < order else min(order, n + 1 - step)
        x, model = update(x, step - 1, p, corrector=step < n)
        models.append(model)
        lams.append(lam[step])
    return x


def _ipndm_np(x, sig):
    """ComfyUI `sample_ipndm` (max_order 4)."""
    buffer = []
    for i in range(sig.size - 1):
        d = (x - _denoiser(x, sig[i])) / sig[i]
        order = min(4, i + 1)
        dt = sig[i + 1] - sig[i]
        if order == 1:
            x = x + dt * d
        elif order == 2:
            x = x + dt * (3 * d - buffer[-1]) / 2
        elif order == 3:
            x = x + dt * (23 * d - 16 * buffer[-1] + 5 * buffer[-2]) / 12
        else:
            x = x + dt * (55 * d - 59 * buffer[-1] + 37 * buffer[-2] - 9 * buffer[-3]) / 24
        buffer = (buffer + [d])[-3:]
    return x


def _deis_np(x, sig):
    """ComfyUI `sample_deis` (tab, max_order 3) with `get_deis_coeff_list`'s 10^4-point sum."""
    eps, smin, smax = 1e-3, 0.002, 80.0
    beta_d = 2 * (np.log(smin**2 + 1) / eps - np.log(smax**2 + 1)) / (eps - 1)
    beta_0 = np.log(smax**2 + 1) - 0.5 * beta_d
    beta_1 = beta_d + beta_0
    tau = ((beta_0**2 + 2 * beta_d * np.log(sig**2 + 1)) ** 0.5 - beta_0) / beta_d
    buffer = []
    for i in range(sig.size - 1):
        d = (x - _denoiser(x, sig[i])) / sig[i]
        order = min(3, i + 1)
        if order == 1:
            x = x + (sig[i + 1] - sig[i]) * d
        else:
            taus = np.linspace(tau[i], tau[i + 1], 10000)
            dtau = (tau[i + 1] - tau[i]) / 10000
            alpha = np.exp(-0.5 * taus**2 * (beta_1 - beta_0) - taus * beta_0)
            integrand = -0.5 * (-taus * (beta_1 - beta_0) - beta_0) / np.sqrt(alpha * (1 - alpha))
            nodes = tau[[i - k for k in range(order)]]
            ds = [d] + buffer[::-1]
            for j in range(order):
                poly = np.prod([(taus - nodes[k]) / (nodes[j] - nodes[k])
                                for k in range(order) if k != j], axis=0)
                x = x + np.sum(integrand * poly) * dtau * ds[j]
        buffer = (buffer + [d])[-2:]
    return x


def _reference(name, x, sig):
    if name == "ipndm":
        return _ipndm_np(x, sig)
    if name == "deis":
        return _deis_np(x, sig)
    return _unipc_np(x, sig, 3 if name == "unipc-3" else 2)


def _dlsim_run(name, schedule, grid, y0):
    reverse = ReverseDiffusion(schedule, GaussianScore(GaussianTarget(LAM), schedule), 0.0)
    solver, r = make_solver(name), reversed_times(grid)

    @jax.jit
    def run(y):
        def body(carry, k):
            return solver_step(reverse, solver, r[k], r[k + 1], *carry, None, n), None

        n = r.shape[0] - 1
        state = solver_init(reverse, solver, r[0], r[1], y, None, n)
        return jax.lax.scan(body, (y, state), jnp.arange(r.shape[0] - 1))[0][0]

    return np.asarray(run(jnp.asarray(y0)))


# DEIS compiles slowly (~10 s: its quadrature's derivatives); one of its cases runs by default.
_SLOW = pytest.mark.slow


@pytest.mark.parametrize("name, schedule, n", [
    *[(name, "edm", min_steps(make_solver(name))) for name in NAMES],  # warm-up only
    *[pytest.param(name, "vp", 7, marks=[_SLOW] if name == "deis" else []) for name in NAMES],
])
def test_run_matches_numpy_transcription(name, schedule, n):
    # On EDM the fewest steps (the warm-up orders); on VP (x/alpha in sigma/alpha) N = 7,
    # steps at full order after the warm-up.
    schedule = EDM() if schedule == "edm" else VPLinear()
    y0 = np.array([1.3, -0.7, 2.1])
    grid = np.asarray(make_grid("edm", schedule, n))
    alpha, sig = np.asarray(schedule.alpha(grid)), np.asarray(schedule.noise_level(grid))
    expected = alpha[-1] * _reference(name, y0 / alpha[0], sig)
    got = _dlsim_run(name, schedule, grid, y0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", [pytest.param(n, marks=[_SLOW] if n == "deis" else [])
                                  for n in NAMES])
def test_exact_law_routes_and_the_transcriptions_law_agree(name):
    schedule, n = EDM(), 7
    grid = np.asarray(make_grid("edm", schedule, n, rho=5.0))
    start_var = LAM + schedule.t_max**2
    sig = np.asarray(schedule.noise_level(grid))
    # The transcription is linear in x: its exact law from N(0, diag(start_var)), per direction.
    gain = _reference(name, np.ones(3), sig)
    solver = make_solver(name)
    per_dir = exact_law_per_direction(GaussianTarget(LAM), schedule, 0.0, grid, solver,
                                      GaussianLaw(np.zeros(3), start_var))
    np.testing.assert_allclose(per_dir.cov, gain**2 * start_var, rtol=1e-10)
    reverse = ReverseDiffusion(schedule, GaussianScore(GaussianTarget(LAM), schedule), 0.0)
    dense = exact_law(reverse, grid, solver, GaussianLaw(np.zeros(3), np.diag(start_var)))
    np.testing.assert_allclose(np.asarray(dense.cov), np.diag(gain**2 * start_var), rtol=1e-10,
                               atol=1e-14)


@pytest.mark.slow  # ~25 s; tests/sampling/test_solvers.py checks the same slopes (unipc by default)
def test_measured_orders_match_the_declared_ones():
    # Exact W2^2 on the log-SNR grid of EDM (smooth in the noise level): slope -2 x order.
    steps = [64, 256]
    sweep = error_sweep(GaussianTarget(LAM), EDM(), steps, grids=["logsnr"], solvers=list(NAMES))
    terms = ReverseDiffusion(EDM(), GaussianScore(GaussianTarget(LAM), EDM()), 0.0).terms(None)
    for name in NAMES:
        w2sq = [row.discretization for row in sweep.select("logsnr", 0.0, name)]
        slope = -np.log(w2sq[1] / w2sq[0]) / np.log(4) / 2
        assert abs(slope - make_solver(name).order(terms)) < 0.3, (name, slope)
        assert score_evaluations_per_step(make_solver(name)) == 1


def test_unipc_history_holds_the_denoiser_at_the_uncorrected_point():
    # After the first step the state holds D(x_0) and the pending corrector; the second step
    # evaluates the model once, at the (uncorrected) predictor output, which is its input.
    schedule = EDM()
    grid = np.asarray(make_grid("edm", schedule, 3))
    reverse = ReverseDiffusion(schedule, GaussianScore(GaussianTarget(LAM), schedule), 0.0)
    solver, r = make_solver("unipc"), reversed_times(grid)
    y0 = jnp.array([1.3, -0.7, 2.1])
    state = solver_init(reverse, solver, r[0], r[1], y0, None, 3)
    y1, state = solver_step(reverse, solver, r[0], r[1], y0, state, None, 3)
    sig = np.asarray(schedule.noise_level(grid))
    h = np.log(sig[0] / sig[1])
    predictor = np.exp(-h) * y0 - np.expm1(-h) * _denoiser(np.asarray(y0), sig[0])
    np.testing.assert_allclose(y1, predictor, rtol=1e-13)
    _, state = solver_step(reverse, solver, r[1], r[2], y1, state, None, 3)
    np.testing.assert_allclose(state[3][0], _denoiser(predictor, sig[1]), rtol=1e-12)


@pytest.mark.parametrize("name, fewest", [("unipc", 2), ("unipc-3", 3), ("deis", 3), ("ipndm", 4)])
def test_too_few_steps_is_a_clear_error(name, fewest):
    schedule = EDM()
    reverse = ReverseDiffusion(schedule, GaussianScore(GaussianTarget(LAM), schedule), 0.0)
    grid = make_grid("edm", schedule, fewest - 1)
    with pytest.raises(ValueError, match=rf"solver {name} is a {fewest}-step method and needs a "
                                          rf"grid of at least {fewest} steps"):
        check_solver_use(make_solver(name), reverse, grid)
    with pytest.raises(ValueError, match="needs eta = 0"):
        check_solver_use(make_solver(name), ReverseDiffusion(schedule, reverse.score, 1.0),
                         make_grid("edm", schedule, 8))


def test_unknown_solver_name_lists_the_new_ones():
    with pytest.raises(ValueError, match=r"unknown solver 'unipc-4'; allowed: .*unipc, unipc-3, "
                                         r"deis, ipndm"):
        make_solver("unipc-4")
