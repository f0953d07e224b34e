r"""UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling
of Diffusion Models"), variant B(h) = e^{-h} - 1 ("bh2"), data prediction, multistep, as in
the authors' `uni_pc.py` (wl-zhao/UniPC, `multistep_uni_pc_bh_update` and `sample`), which
ComfyUI and diffusers port. Two registry names: `unipc` (order 2) and `unipc-3` (order 3):
one class, since they differ only in the largest order (SAMPLERS.md section 2.7).

In the log-SNR lambda = log(alpha/sigma) with h = lambda_{i+1} - lambda_i, D = x0_hat the
data prediction, and the history D_{i-k} at lambda_{i-k}:
  r_k = (lambda_{i-k} - lambda_i)/h (k < p),  r_p = 1,  Delta_k = (D_{i-k} - D_i)/r_k,
  B = e^{-h} - 1,  g_1 = (e^{-h} - 1)/(-h) - 1,  g_{k+1} = g_k/(-h) - 1/(k+1)!,
  b_k = k! g_k / B,  R_{kj} = r_j^{k-1};
  base      = (sigma_{i+1}/sigma_i) x_i - alpha_{i+1} (e^{-h} - 1) D_i        (DDIM)
  predictor x~_{i+1} = base - alpha_{i+1} B sum_{k<p} rho^p_k Delta_k,
            rho^p = [1/2] for p = 2, else R[:p-1, :p-1]^{-1} b[:p-1];
  corrector x_{i+1} = base - alpha_{i+1} B [sum_{k<p} rho^c_k Delta_k
                                            + rho^c_p (D(x~_{i+1}, t_{i+1}) - D_i)],
            rho^c = [1/2] for p = 1, else R^{-1} b.
Orders as the source (`sample`, multistep, lower_order_final=True, its default):
p = min(order, i + 1, N - i) at step i (0-based) of N, warm-up first and order 1 on the last
step (order <= 2 on the one before). A Diffrax step sees only its own interval, so dlsim
gives every solver the run's N as Diffrax's `args` (`solver_step`): the step counts its own
steps in the state and takes N - i from there. The sweep engine gives each record its own
run's N, so runs of several N packed in one compiled block each get their own last steps.

The evaluation D(x~_{i+1}, t_{i+1}) at the *uncorrected* point is the step's only score
evaluation: it serves the corrector of step i and is D_{i+1}, the history entry of every
later step (the source never evaluates the model at the corrected x). The source runs no
corrector on its last step. dlsim writes the step "corrector last": step i first evaluates
D_i at its input x~_i, completes the previous step's corrector, x_i = P_i + c_i D_i (P_i and
c_i are what the corrector needs besides D_i, carried in the solver state), then predicts
x~_{i+1}. The sampler's output after the last step is therefore the last predictor, as in
the source, without the step knowing which step is last; intermediate states are the
uncorrected x~_i. Each step costs exactly one score evaluation.

Not reproduced: `denoise_to_zero` (a final step, not a solver: `final_step="denoise"`
in `sample` and `error_sweep`). On schedules other than EDM the formulas above are already written in
(x, alpha, sigma); they equal k-diffusion's VE form in sigma/alpha on x/alpha.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from diffrax import RESULTS

from ..diffusion._reverse import reverse_parts
from ._base import AbstractReverseSolver


def _solve2(a11, a12, a21, a22, v1, v2):
    det = a11 * a22 - a12 * a21
    return (v1 * a22 - a12 * v2) / det, (a11 * v2 - a21 * v1) / det


def _solve3(m, v):
    """m^{-1} v for a 3x3 matrix given as nested tuples (Cramer's rule: scalars, traced)."""
    def det3(a):
        return (a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
                - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]))

    det = det3(m)
    out = []
    for j in range(3):
        mj = tuple(tuple(v[i] if k == j else m[i][k] for k in range(3)) for i in range(3))
        out.append(det3(mj) / det)
    return out


class AbstractUniPC(AbstractReverseSolver):
    """UniPC-bh2 of largest order `max_order` with its corrector, on the probability-flow ODE
    (eta = 0 only); 1 score evaluation per step; needs at least `max_order` steps (as the
    source asserts)."""

    max_order: eqx.AbstractClassVar[int]
    score_evaluations = 1
    ode_only = True

    def order(self, terms):
        # Order p with corrector: p + 1 (the measured slope of the exact W2, see the registry).
        return self.max_order + 1

    def init(self, terms, t0, t1, y0, args):
        zero = jnp.zeros((), float)
        history = (jnp.zeros_like(y0),) * (self.max_order - 1)
        lambdas = (zero,) * (self.max_order - 1)
        # (steps done, corrector base P, corrector weight c, D_{i-1}, [D_{i-2}], lambda_{i-1},
        # [lambda_{i-2}]).
        return zero, jnp.zeros_like(y0), zero, history, lambdas

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        reverse, noise = reverse_parts(terms)
        if noise is not None:
            raise ValueError("UniPC solves the probability-flow ODE only (eta = 0)")
        if args is None:
            raise ValueError("UniPC lowers its order on the last steps (lower_order_final) and "
                             "needs the run's number of steps N as Diffrax's args (pass "
                             "n_steps to solver_step/solver_init, args=N to diffeqsolve)")
        count, base_prev, coef_prev, history, lambdas = solver_state
        # Step counter, run length, corrector weight and past log-SNRs are the same numbers
        # for every law the exact-law route carries: nothing to differentiate.
        count, n_steps, coef_prev, lambdas = jax.lax.stop_gradient(
            (count, jnp.asarray(args, float), coef_prev, lambdas))
        sch = reverse.schedule
        t_i, t_next = -t0, -t1
        lam_i, lam_next = sch.log_snr(t_i), sch.log_snr(t_next)
        d_i = reverse.denoised(y0, t_i)  # the one evaluation, at the uncorrected point
        first = count < 0.5
        x_i = jnp.where(first, y0, base_prev + coef_prev * d_i)

        # An empty step (h = 0, the sweep's padding) would divide by zero: keep it finite.
        h_raw = lam_next - lam_i
        empty = h_raw <= 0.0
        h = jnp.where(empty, 1.0, h_raw)
        hh = -h
        b_h = jnp.expm1(hh)
        g = [jnp.expm1(hh) / hh - 1.0]
        for k in range(2, self.max_order + 1):
            g.append(g[-1] / hh - 1.0 / math.factorial(k))
        b = [math.factorial(k + 1) * g[k] / b_h for k in range(self.max_order)]

        # Warm-up, then lower_order_final: order 1 on the last step, <= 2 on the one before.
        # (At least 1: steps past the run's end, the sweep's padding, are never read.)
        p = jnp.maximum(jnp.minimum(jnp.minimum(count + 1.0, float(self.max_order)),
                                    n_steps - count), 1.0)
        # r_k for the history that exists; placeholders (-1, -2) keep unused systems regular.
        r = []
        deltas = []
        for k in range(1, self.max_order):
            have = count >= k
            r_k = jnp.where(have, (lambdas[k - 1] - lam_i) / h, -float(k))
            r.append(r_k)
            deltas.append(jnp.where(have, (history[k - 1] - d_i), 0.0) / r_k)

        # Predictor and corrector weights for each possible p, selected by the traced p.
        if self.max_order == 2:
            pred = 0.5 * deltas[0]
            rc1_p2, rc2_p2 = _solve2(1.0, 1.0, r[0], 1.0, b[0], b[1])
            corr_hist = jnp.where(p > 1.5, rc1_p2 * deltas[0], 0.0)
            rho_last = jnp.where(p > 1.5, rc2_p2, 0.5)
        else:
            rp1, rp2 = _solve2(1.0, 1.0, r[0], r[1], b[0], b[1])
            pred = jnp.where(p > 2.5, rp1 * deltas[0] + rp2 * deltas[1], 0.5 * deltas[0])
            rc1_p2, rc2_p2 = _solve2(1.0, 1.0, r[0], 1.0, b[0], b[1])
            rc = _solve3(((1.0, 1.0, 1.0), (r[0], r[1], 1.0), (r[0] ** 2, r[1] ** 2, 1.0)),
                         (b[0], b[1], b[2]))
            corr_hist = jnp.where(p > 2.5, rc[0] * deltas[0] + rc[1] * deltas[1],
                                  jnp.where(p > 1.5, rc1_p2 * deltas[0], 0.0))
            rho_last = jnp.where(p > 2.5, rc[2], jnp.where(p > 1.5, rc2_p2, 0.5))
        pred = jnp.where(p > 1.5, pred, 0.0)

        alpha_next = sch.alpha(t_next)
        base = (sch.sigma(t_next) / sch.sigma(t_i)) * x_i - alpha_next * jnp.expm1(-h) * d_i
        y1 = base - alpha_next * b_h * pred
        # The corrector of this step, completed by the next step once it has D(y1, t_next):
        # x_{i+1} = base - alpha B [corr_hist + rho_last (D_{i+1} - D_i)] = P + c D_{i+1}.
        base_next = base - alpha_next * b_h * (corr_hist - rho_last * d_i)
        coef_next = -alpha_next * b_h * rho_last
        y1 = jnp.where(empty, y0, y1)
        new_history = (d_i,) + history[:-1]
        new_lambdas = (jnp.asarray(lam_i, float),) + lambdas[:-1]
        state = (count + 1.0, base_next, jnp.asarray(coef_next, float), new_history, new_lambdas)
        return y1, None, dict(y0=y0, y1=y1), state, RESULTS.successful


class UniPC(AbstractUniPC):
    """UniPC-bh2, order 2 with corrector (diffusers' default); registry name `unipc`."""

    max_order = 2
    min_steps = 2


class UniPC3(AbstractUniPC):
    """UniPC-bh2, order 3 with corrector; registry name `unipc-3`."""

    max_order = 3
    min_steps = 3
