r"""The Langevin family as init/step kernels, and the scan drivers that run them
(`run_langevin`; `run_mirror_langevin` also counts the chains that escape or freeze).

Each kernel is a final Equinox module with `init(position) -> LangevinState` and
`step(key, state) -> (LangevinState, LangevinInfo)`: state and info are separate pytrees
(the blackjax pattern), and every step is jit/vmap-safe. Unadjusted kernels write their
move as x+ = x + increment(x, z, k) for standard normals z, so the exact-law code in
`analysis` reads the affine map of a linear-score step off this very function
(DESIGN.md section 2) and the increment keeps full relative precision when h is small.

Kernels ([MLMC] and MATH.md section 5; Roberts & Tweedie 1996 for MALA; Song & Ermon 2019
for annealed Langevin; Hsieh et al. 2018 for the dual scheme):
- ULA:                 x+ = x - h grad f(x) + sqrt(2h) z
- PreconditionedULA:   x+ = x - h M^-1 grad f(x) + sqrt(2h) M^-1/2 z
- NewtonLangevin:      the same with M = hess f(x) at the current point
- MALA:                ULA proposal plus a Metropolis–Hastings accept/reject
- MirrorLangevin:      y+ = grad phi(x) - h grad f(x) + sqrt(2h) S(x) z, x+ = grad phi*(y+)
- MirrorMALA:          the mirror proposal plus a Metropolis–Hastings accept/reject
- DualLangevin:        ULA on the dual target exp(-W), W(y) = f(x) + log det hess phi(x)
- AnnealedLangevin:    ULA on a score model s(x, t) along a decreasing noise-level ladder
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from schedules import AbstractSchedule, is_concrete

from .._sharding import Devices, map_particles, mesh_invariant_jit, particle_keys, particle_mesh
from ..diffusion._sample import NonFiniteError
from ..scores._score import AbstractScoreModel
from ..targets._potential import AbstractPotential, check_positive_definite
from ._mirror import AbstractMirrorMap


class LangevinState(eqx.Module):
    """Where a chain is: its primal position x, its dual point y (= x for Euclidean
    kernels) and the number of steps taken (annealed Langevin reads its level from it)."""

    position: Array
    dual: Array
    step_index: Array


class LangevinInfo(eqx.Module):
    """What one step did. Unadjusted kernels accept every move (probability 1), except a
    mirror move whose dual point leaves the dual domain: that move is rejected (the chain
    stays put) and `left_domain` says so, so nothing is silently clipped."""

    acceptance_probability: Array
    is_accepted: Array
    left_domain: Array


def _as_float(value) -> Array:
    # An array field, not a static float: a new step size does not recompile the chain.
    return jnp.asarray(value, float)


def _check_step_size(h) -> None:
    if is_concrete(h):
        v = float(h)
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"step size must be finite and > 0, got {v!r}")


def _accepted_info(accepted=True, left=False):
    return LangevinInfo(jnp.asarray(1.0), jnp.asarray(accepted), jnp.asarray(left))


class AbstractLangevinKernel(eqx.Module):
    """A Markov kernel: `init(position)` and `step(key, state)`."""

    def init(self, position: ArrayLike) -> LangevinState:
        x = jnp.asarray(position, float)
        return LangevinState(x, x, jnp.asarray(0))

    @abc.abstractmethod
    def step(self, key: PRNGKeyArray, state: LangevinState) -> tuple[LangevinState, LangevinInfo]:
        """One step of the chain."""


class AbstractUnadjustedKernel(AbstractLangevinKernel):
    """x+ = x + increment(x, z, k), z ~ N(0, I): the form the exact-law code linearises."""

    is_homogeneous: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def increment(self, x: Array, z: Array, step_index: ArrayLike) -> Array:
        """x+ - x for standard normals z at step `step_index`."""

    def step(self, key, state):
        z = jr.normal(key, state.position.shape)
        x = state.position + self.increment(state.position, z, state.step_index)
        return LangevinState(x, x, state.step_index + 1), _accepted_info()


class ULA(AbstractUnadjustedKernel):
    r"""Unadjusted Langevin algorithm $x_+ = x - h\nabla f(x) + \sqrt{2h}\,z$.

    Biased: for N(mu, A^-1) its stationary law is N(mu, (A - (h/2) A^2)^-1) ([MLMC], MATH.md
    section 5); stable iff h < 2 / lambda_max(A).
    """

    target: AbstractPotential
    step_size: Array = eqx.field(converter=_as_float)
    is_homogeneous = True

    def __check_init__(self):
        _check_step_size(self.step_size)

    def increment(self, x, z, step_index=0):
        h = self.step_size
        return -h * self.target.grad_potential(x) + jnp.sqrt(2.0 * h) * z


class PreconditionedULA(AbstractUnadjustedKernel):
    r"""$x_+ = x - h M^{-1}\nabla f(x) + \sqrt{2h} M^{-1/2} z$: mirror Langevin with the
    quadratic map x^T M x / 2. For N(mu, A^-1) it is stable iff h < 2 / lambda_max(M^-1 A)
    and its stationary covariance is (A - (h/2) A M^-1 A)^-1 ([MLMC], MATH.md section 5).

    `preconditioner` M is (d, d) symmetric positive definite or a (d,) positive diagonal;
    M^{-1/2} z is realised as L^{-T} z with M = L L^T (covariance M^-1).
    """

    target: AbstractPotential
    step_size: Array = eqx.field(converter=_as_float)
    preconditioner: Array
    is_homogeneous = True

    def __init__(self, target: AbstractPotential, step_size, preconditioner: ArrayLike):
        _check_step_size(step_size)
        if is_concrete(preconditioner):
            check_positive_definite("preconditioner M", preconditioner)
        self.target = target
        self.step_size = _as_float(step_size)
        self.preconditioner = jnp.asarray(preconditioner, float)

    def increment(self, x, z, step_index=0):
        h, m = self.step_size, self.preconditioner
        g = self.target.grad_potential(x)
        if m.ndim == 1:
            return -h * g / m + jnp.sqrt(2.0 * h / m) * z
        chol = jnp.linalg.cholesky(m)
        drift = jax.scipy.linalg.cho_solve((chol, True), g)
        noise = jax.scipy.linalg.solve_triangular(chol.T, z, lower=False)
        return -h * drift + jnp.sqrt(2.0 * h) * noise


class NewtonLangevin(AbstractUnadjustedKernel):
    r"""Newton–Langevin: preconditioned ULA with M = hess f(x) taken at the current point,
    $x_+ = x - h H^{-1}\nabla f + \sqrt{2h} H^{-1/2} z$ (Chewi et al. 2020). For N(mu, A^-1)
    it is affine-invariant with stationary covariance A^-1 / (1 - h/2), stable iff h < 2."""

    target: AbstractPotential
    step_size: Array = eqx.field(converter=_as_float)
    is_homogeneous = True

    def __check_init__(self):
        _check_step_size(self.step_size)

    def increment(self, x, z, step_index=0):
        h = self.step_size
        chol = jnp.linalg.cholesky(self.target.hessian_potential(x))
        drift = jax.scipy.linalg.cho_solve((chol, True), self.target.grad_potential(x))
        noise = jax.scipy.linalg.solve_triangular(chol.T, z, lower=False)
        return -h * drift + jnp.sqrt(2.0 * h) * noise


def _safe_potential(target: AbstractPotential, x: Array, fallback: Array):
    """(f(x), grad f(x), inside): outside the domain f = +inf, evaluated at a safe point so
    that no NaN reaches the gradient."""
    inside = target.in_domain(x)
    xs = jnp.where(inside, x, fallback)
    f, g = jax.value_and_grad(target.potential)(xs)
    return jnp.where(inside, f, jnp.inf), g, inside


def _metropolis(key, log_ratio):
    prob = jnp.exp(jnp.minimum(0.0, jnp.nan_to_num(log_ratio, nan=-jnp.inf)))
    return prob, jr.uniform(key) < prob


class MALA(AbstractLangevinKernel):
    r"""Metropolis-adjusted Langevin: ULA proposal $x' = x - h\nabla f(x) + \sqrt{2h} z$,
    accepted with probability $\min(1, e^{f(x) - f(x')} q(x|x') / q(x'|x))$,
    $q(x'|x) \propto \exp(-|x' - x + h\nabla f(x)|^2 / 4h)$ (Roberts & Tweedie 1996).
    Leaves pi invariant for every h; a proposal outside the target's domain is rejected."""

    target: AbstractPotential
    step_size: Array = eqx.field(converter=_as_float)

    def __check_init__(self):
        _check_step_size(self.step_size)

    def step(self, key, state):
        h = self.step_size
        k_noise, k_accept = jr.split(key)
        x = state.position
        f_x, g_x = jax.value_and_grad(self.target.potential)(x)
        z = jr.normal(k_noise, x.shape)
        prop = x - h * g_x + jnp.sqrt(2.0 * h) * z
        f_p, g_p, inside = _safe_potential(self.target, prop, x)
        back = x - prop + h * g_p
        log_ratio = f_x - f_p - (back @ back) / (4.0 * h) + (z @ z) / 2.0
        prob, accept = _metropolis(k_accept, jnp.where(inside, log_ratio, -jnp.inf))
        new = jnp.where(accept, prop, x)
        return (LangevinState(new, new, state.step_index + 1),
                LangevinInfo(prob, accept, ~inside))


class MirrorLangevin(AbstractLangevinKernel):
    r"""Mirror Langevin Monte Carlo ([MLMC]'s scheme; "MLA" in Li et al.):
    $y_+ = \nabla\phi(x) - h\nabla f(x) + \sqrt{2h} S(x) z$, $x_+ = \nabla\phi^*(y_+)$,
    $S S^T = \nabla^2\phi(x)$: the Euler–Maruyama step of the mirror-Langevin diffusion in
    the dual. Not Ahn & Chewi's splitting scheme.

    Bias and escape. [MLMC] bound the W2 error under three conditions: f relatively
    m-strongly convex and L-smooth w.r.t. phi (m hess phi <= hess f <= L hess phi) and phi
    "modified self-concordant" (S(x) Lipschitz in y = grad phi(x)); their bound contracts to a
    ball whose radius need not vanish as h -> 0, but that is a bound, not the bias: where the
    conditions hold (Beta(a, b), a, b > 1, with the box log-barrier) the stationary bias
    measured on a grid (`analysis.langevin_1d`) falls like h. Where they fail (Beta with the
    Fermi–Dirac or entropic-box map, Dirichlet with the entropic simplex map: hess f / hess phi
    is unbounded at the boundary) the chain is transient even in exact arithmetic: its dual
    point escapes to infinity at a rate that shrinks with h, and in float64 the escaping chain
    freezes once its primal image rounds onto the boundary. Only the surviving chains have a
    (quasi-)stationary law; `run_mirror_langevin` counts the escaped and frozen chains.

    A dual point outside the dual domain (Burg entropy), or one whose primal image rounds onto
    the boundary, is refused (the chain stays put) and reported in the info as `left_domain`.
    """

    target: AbstractPotential
    mirror: AbstractMirrorMap
    step_size: Array = eqx.field(converter=_as_float)

    def __check_init__(self):
        _check_step_size(self.step_size)

    def init(self, position):
        x = self.mirror.check_point(position)
        return LangevinState(x, self.mirror.grad(x), jnp.asarray(0))

    def mirror_increment(self, x: Array, z: Array) -> Array:
        """y+ - grad phi(x) = -h grad f(x) + sqrt(2h) S(x) z for standard normals z: the dual
        move `step` makes (affine in z; the 1-D grid law reads its mean and scale off it)."""
        return _dual_increment(self.mirror, self.step_size, x, self.target.grad_potential(x), z)

    def step(self, key, state):
        x = state.position
        x_new, y_new, ok = _mirror_proposal(self.mirror, self.step_size, x, state.dual,
                                            self.target.grad_potential(x), jr.normal(key, x.shape))
        info = LangevinInfo(ok.astype(float), ok, ~ok)
        return LangevinState(x_new, y_new, state.step_index + 1), info


def _dual_increment(mirror, h, x, grad_potential, z):
    """-h grad f(x) + sqrt(2h) S(x) z: the [MLMC] dual move, written once for both kernels."""
    return -h * grad_potential + jnp.sqrt(2.0 * h) * mirror.hessian_sqrt_product(x, z)


def _mirror_proposal(mirror, h, x, y, grad_potential, z):
    """The [MLMC] move y+ = y - h grad f(x) + sqrt(2h) S(x) z, x+ = grad phi*(y+), with y = grad phi(x).

    Returns (x+, y+, ok); where the move is refused (y+ outside the dual domain, or x+ rounded
    onto the domain's boundary) x+ and y+ are the current point and ok is False."""
    y_new = y + _dual_increment(mirror, h, x, grad_potential, z)
    ok = mirror.in_dual_domain(y_new)
    x_new = mirror.grad_conjugate(jnp.where(ok, y_new, y))
    ok = ok & mirror.in_domain(x_new)
    return jnp.where(ok, x_new, x), jnp.where(ok, y_new, y), ok


class MirrorMALA(AbstractLangevinKernel):
    r"""Metropolis-adjusted mirror Langevin: the `MirrorLangevin` proposal, accepted with
    probability min(1, pi(x') q(x|x') / (pi(x) q(x'|x))) where (derived here, change of
    variables y' = grad phi(x'))
    $\log q(x'|x) = -|S(x)^{-1}(y' - \nabla\phi(x) + h\nabla f(x))|^2/4h
    - \tfrac12\log\det\nabla^2\phi(x) + \log\det\nabla^2\phi(x') + c$.
    Leaves pi invariant for every h."""

    target: AbstractPotential
    mirror: AbstractMirrorMap
    step_size: Array = eqx.field(converter=_as_float)

    def __check_init__(self):
        _check_step_size(self.step_size)

    def init(self, position):
        x = self.mirror.check_point(position)
        return LangevinState(x, self.mirror.grad(x), jnp.asarray(0))

    def step(self, key, state):
        h = self.step_size
        k_noise, k_accept = jr.split(key)
        x, y = state.position, state.dual
        f_x, g_x = jax.value_and_grad(self.target.potential)(x)
        z = jr.normal(k_noise, x.shape)
        x_p, y_p, ok = _mirror_proposal(self.mirror, h, x, y, g_x, z)
        f_p, g_p, inside = _safe_potential(self.target, x_p, x)
        inside = inside & ok
        back = self.mirror.hessian_sqrt_solve(x_p, y - y_p + h * g_p)
        logdet_x, logdet_p = self.mirror.log_det_hessian(x), self.mirror.log_det_hessian(x_p)
        log_ratio = (f_x - f_p - (back @ back) / (4.0 * h) + (z @ z) / 2.0
                     + 1.5 * (logdet_x - logdet_p))
        prob, accept = _metropolis(k_accept, jnp.where(inside, log_ratio, -jnp.inf))
        new_x, new_y = jnp.where(accept, x_p, x), jnp.where(accept, y_p, y)
        return (LangevinState(new_x, new_y, state.step_index + 1),
                LangevinInfo(prob, accept, ~ok))


class DualLangevin(AbstractLangevinKernel):
    r"""Hsieh et al. (2018)'s mirrored Langevin: ULA in the dual on the push-forward target
    $e^{-W}$, $W(y) = f(x) + \log\det\nabla^2\phi(x)$, $x = \nabla\phi^*(y)$:
    $y_+ = y - h\nabla W(y) + \sqrt{2h} z$. Its stationary dual law is exactly Gaussian for
    logistic-normal (entropic simplex), logit-normal (Fermi–Dirac) and log-normal (orthant
    entropy) targets. A dual point leaving the dual domain is rejected and reported.
    """

    target: AbstractPotential
    mirror: AbstractMirrorMap
    step_size: Array = eqx.field(converter=_as_float)

    def __check_init__(self):
        _check_step_size(self.step_size)

    def init(self, position):
        x = self.mirror.check_point(position)
        return LangevinState(x, self.mirror.grad(x), jnp.asarray(0))

    def init_dual(self, dual: ArrayLike) -> LangevinState:
        y = self.mirror.check_dual_point(dual)
        return LangevinState(self.mirror.grad_conjugate(y), y, jnp.asarray(0))

    def dual_potential(self, y: Array) -> Array:
        """W(y) = f(grad phi*(y)) + log det hess phi(grad phi*(y))."""
        x = self.mirror.grad_conjugate(y)
        return self.target.potential(x) + self.mirror.log_det_hessian(x)

    def dual_increment(self, y: Array, z: Array, step_index=0) -> Array:
        """y+ - y for standard normals z (affine in y when W is quadratic)."""
        h = self.step_size
        return -h * jax.grad(self.dual_potential)(y) + jnp.sqrt(2.0 * h) * z

    def step(self, key, state):
        y_new = state.dual + self.dual_increment(state.dual, jr.normal(key, state.dual.shape))
        ok = self.mirror.in_dual_domain(y_new)
        x_new = self.mirror.grad_conjugate(jnp.where(ok, y_new, state.dual))
        ok = ok & self.mirror.in_domain(x_new)
        y_new = jnp.where(ok, y_new, state.dual)
        x_new = jnp.where(ok, x_new, state.position)
        return (LangevinState(x_new, y_new, state.step_index + 1),
                LangevinInfo(ok.astype(float), ok, ~ok))


class AnnealedLangevin(AbstractUnadjustedKernel):
    r"""Annealed Langevin dynamics (Song & Ermon 2019) on a score model s(x, t).

    `noise_levels` sigma_1 > ... > sigma_L (noise level = sigma(t)/alpha(t) of `schedule`);
    level i runs `steps_per_level` ULA steps $x_+ = x + a_i s(x, t_i) + \sqrt{2 a_i} z$ with
    t_i = schedule.t_from_noise_level(sigma_i) and $a_i = \epsilon\,\sigma(t_i)^2/\sigma(t_L)^2$,
    epsilon = `step_scale`. The level is read from the state's step counter, so a chain
    runs L * steps_per_level steps (`n_steps`).
    """

    score: AbstractScoreModel
    schedule: AbstractSchedule
    noise_levels: Array
    steps_per_level: int = eqx.field(static=True)
    step_scale: Array
    is_homogeneous = False

    def __init__(self, score: AbstractScoreModel, schedule: AbstractSchedule,
                 noise_levels: ArrayLike, steps_per_level: int, step_scale):
        levels = np.asarray(noise_levels, float)
        if levels.ndim != 1 or levels.size == 0:
            raise ValueError(f"noise_levels must be a non-empty 1-D array, got shape {levels.shape}")
        if not np.all(np.isfinite(levels)) or np.any(levels <= 0):
            raise ValueError(f"noise levels must be finite and > 0, got {levels.tolist()}")
        if np.any(np.diff(levels) >= 0):
            raise ValueError(f"noise levels must be strictly decreasing, got {levels.tolist()}")
        if int(steps_per_level) != steps_per_level or steps_per_level < 1:
            raise ValueError(f"steps_per_level must be an integer >= 1, got {steps_per_level!r}")
        _check_step_size(step_scale)
        self.score, self.schedule = score, schedule
        self.noise_levels = jnp.asarray(levels)
        self.steps_per_level = int(steps_per_level)
        self.step_scale = _as_float(step_scale)

    @property
    def n_steps(self) -> int:
        return self.noise_levels.shape[0] * self.steps_per_level

    def level_time_and_step(self, step_index) -> tuple[Array, Array]:
        """(t_i, a_i) of the level that step `step_index` belongs to."""
        i = jnp.minimum(step_index // self.steps_per_level, self.noise_levels.shape[0] - 1)
        t = self.schedule.t_from_noise_level(self.noise_levels[i])
        t_last = self.schedule.t_from_noise_level(self.noise_levels[-1])
        a = self.step_scale * (self.schedule.sigma(t) / self.schedule.sigma(t_last)) ** 2
        return t, a

    def increment(self, x, z, step_index=0):
        t, a = self.level_time_and_step(step_index)
        return a * self.score(x, t) + jnp.sqrt(2.0 * a) * z


class LangevinRun(eqx.Module):
    """Output of `run_langevin`: final states of all chains, what `record` saw at every step
    (leading axes: step, chain), and per-chain acceptance rate and domain exits."""

    state: LangevinState
    trace: object
    acceptance_rate: Array
    domain_exits: Array


@mesh_invariant_jit
def _run_traced(key, kernel, positions, n_steps, record, mesh):
    """With a trace: one lax.scan of static length n_steps; chains split over `mesh`."""
    def chain(chain_key, x0):
        def body(state, k):
            new, info = kernel.step(jr.fold_in(chain_key, k), state)
            return new, (record(new), info.acceptance_probability, info.left_domain)

        final, (trace, probs, left) = jax.lax.scan(body, kernel.init(x0), jnp.arange(n_steps))
        return final, trace, jnp.mean(probs), jnp.sum(left)

    final, trace, acc, exits = map_particles(
        lambda idx, x0: jax.vmap(chain)(particle_keys(key, idx), x0), mesh, positions.shape[0],
        positions)
    trace = jax.tree_util.tree_map(lambda a: jnp.swapaxes(a, 0, 1), trace)
    return final, trace, acc, exits


@mesh_invariant_jit
def _run_untraced(key, kernel, positions, n_steps, mesh):
    """Without a trace: a fori_loop whose length is traced, so a new n_steps (or a new step
    size) does not recompile. Same keys as `_run_traced`, so the same numbers."""
    def chain(chain_key, x0):
        def body(k, carry):
            state, acc, left = carry
            new, info = kernel.step(jr.fold_in(chain_key, k), state)
            return new, acc + info.acceptance_probability, left + info.left_domain

        zero = jnp.zeros(())
        final, acc, left = jax.lax.fori_loop(0, n_steps, body, (kernel.init(x0), zero,
                                                                 jnp.zeros((), int)))
        return final, acc / n_steps, left

    return map_particles(lambda idx, x0: jax.vmap(chain)(particle_keys(key, idx), x0), mesh,
                         positions.shape[0], positions)


def run_langevin(key: PRNGKeyArray, kernel: AbstractLangevinKernel, positions: ArrayLike,
                 n_steps: int, *, record=None, devices: Devices = None) -> LangevinRun:
    """Run independent chains of `kernel` for `n_steps` steps in one jax.lax.scan.

    `positions`: (n_chains, d) starting points. Chain i uses key fold_in(key, i) and step k
    of it fold_in(that, k), so a chain's numbers do not depend on how many chains run, nor
    on the `devices` they are split over (default: all; a count takes the first ones): the
    final states are the same bit for bit, and come back split over the devices.
    `record(state) -> pytree` is called after every step (None: record nothing).
    Raises NonFiniteError when a chain ends at a non-finite point (an unstable step size).
    """
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    positions = jnp.asarray(positions, float)
    if positions.ndim != 2:
        raise ValueError(f"positions must have shape (n_chains, d), got {positions.shape}")
    mirror = getattr(kernel, "mirror", None)
    if mirror is not None:
        inside = np.asarray(jax.vmap(mirror.in_domain)(positions))
        if not np.all(inside):
            mirror.check_point(positions[int(np.argmin(inside))])
    mesh = particle_mesh(devices)
    if record is None:
        final, acc, exits = _run_untraced(key, kernel, positions, jnp.asarray(int(n_steps)), mesh)
        trace = None
    else:
        final, trace, acc, exits = _run_traced(key, kernel, positions, int(n_steps), record, mesh)
    # Counted where the chains are (a reduction over the devices), not gathered.
    n_bad = int(jnp.sum(~jnp.all(jnp.isfinite(final.position), axis=-1)))
    if n_bad:
        raise NonFiniteError(
            f"{type(kernel).__name__}: {n_bad} of {positions.shape[0]} chains reached a "
            f"non-finite point within {n_steps} steps (step size too large for this target?)"
        )
    return LangevinRun(final, trace, acc, exits)


class MirrorRun(eqx.Module):
    """Output of `run_mirror_langevin`: the final states and, per chain, what became of it.

    `refusals`: moves refused (the dual point left the dual domain, or its primal image
    rounded onto the domain's boundary). `escape_step`: the first step (1-based) after which
    the dual point lay outside the escape box, 0 if never. A chain is `escaped` if it left the
    box, `frozen` if it did not but had a move refused, and `survived` otherwise; statistics
    of the target are taken over survivors, with the lost fractions reported beside them
    (never averaged in). For a Metropolis-adjusted kernel a refusal is one more rejection and
    harmless; for the unadjusted [MLMC] scheme it marks a chain stuck at the boundary.
    """

    state: LangevinState
    refusals: Array
    escape_step: Array
    acceptance_rate: Array

    @property
    def escaped(self) -> Array:
        return self.escape_step > 0

    @property
    def frozen(self) -> Array:
        return (self.refusals > 0) & ~self.escaped

    @property
    def survived(self) -> Array:
        return ~(self.escaped | self.frozen)


@mesh_invariant_jit
def _run_tracked(key, kernel, states, refused, first, n_steps, lower, upper, mesh):
    """`_run_untraced` plus per-chain refusal counts and first exit from the escape box. Step
    k of chain i uses fold_in(fold_in(key, i), k) with k the chain's own step index, as in
    `run_langevin`: the same chains, and a resumed run continues them exactly. n_steps is
    traced: compiled once."""
    def chain(chain_key, state, refused, first):
        def body(_, carry):
            state, acc, refused, first = carry
            new, info = kernel.step(jr.fold_in(chain_key, state.step_index), state)
            y = new.dual
            out = ~jnp.all((y >= lower) & (y <= upper))  # NaN counts as out
            first = jnp.where((first == 0) & out, new.step_index, first)
            return new, acc + info.acceptance_probability, refused + info.left_domain, first

        final, acc, refused, first = jax.lax.fori_loop(
            0, n_steps, body, (state, jnp.zeros(()), refused, first))
        return final, refused, first, acc / n_steps

    return map_particles(lambda idx, *rest: jax.vmap(chain)(particle_keys(key, idx), *rest), mesh,
                         refused.shape[0], states, refused, first)


def run_mirror_langevin(key: PRNGKeyArray, kernel: AbstractLangevinKernel, positions,
                        n_steps: int, escape_box=(-np.inf, np.inf), *,
                        devices: Devices = None) -> MirrorRun:
    """Run independent chains of a mirror kernel (`MirrorLangevin`, `MirrorMALA`,
    `DualLangevin`) like `run_langevin` (same keys, same chains), counting per chain the
    refused moves and the first step at which the dual point leaves `escape_box` =
    (lower, upper) (scalars or (d,) arrays; a chain escapes when any coordinate leaves).

    `positions`: (n_chains, d) starting points, or a `MirrorRun` to continue for n_steps
    more steps (pass the same key): the result is then the run of the summed length, so a
    statistic can be read at T and again at 2T at the cost of one 2T run.
    Never raises on a lost chain: escape and freezing are what it reports. The chains are
    split over `devices` as in `run_langevin`: the same numbers, bit for bit, on any number.
    """
    if getattr(kernel, "mirror", None) is None:
        raise ValueError(f"run_mirror_langevin needs a mirror kernel (MirrorLangevin, MirrorMALA, "
                         f"DualLangevin), got {type(kernel).__name__}")
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    lower, upper = (jnp.asarray(v, float) for v in escape_box)
    if is_concrete(lower) and is_concrete(upper) and np.any(np.asarray(lower) >= np.asarray(upper)):
        raise ValueError(f"escape box needs lower < upper, got {escape_box!r}")
    if isinstance(positions, MirrorRun):
        prev = positions
        states, refused, first = prev.state, prev.refusals, prev.escape_step
    else:
        prev = None
        positions = jnp.asarray(positions, float)
        if positions.ndim != 2:
            raise ValueError(f"positions must have shape (n_chains, d), got {positions.shape}")
        inside = np.asarray(jax.vmap(kernel.mirror.in_domain)(positions))
        if not np.all(inside):
            kernel.mirror.check_point(positions[int(np.argmin(inside))])
        states = jax.vmap(kernel.init)(positions)
        refused = jnp.zeros(positions.shape[0], int)
        first = jnp.zeros(positions.shape[0], int)
    final, refused, first, acc = _run_tracked(key, kernel, states, refused, first,
                                              jnp.asarray(int(n_steps)), lower, upper,
                                              particle_mesh(devices))
    if prev is not None:
        done = np.asarray(prev.state.step_index, float)
        acc = (prev.acceptance_rate * done + acc * n_steps) / (done + n_steps)
    return MirrorRun(final, refused, first, acc)
