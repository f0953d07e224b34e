r"""Denoising score matching over all noise levels, for any score model (MATH.md section 1).

Forward marginals $x_t = \alpha x_0 + \sigma\varepsilon$. In the rescaled variable
$\tilde x = x_t/\alpha = x_0 + n\varepsilon$ of noise level $n = \sigma/\alpha$, a score model
$s(x, t)$ gives a denoiser by Tweedie's formula, $\hat x_0 = (x_t + \sigma^2 s(x_t, t))/\alpha$
(`score_from_denoiser` inverted), whatever the model's parameterisation. The loss is the
EDM one (Karras et al. 2022, eq. 2 and Table 1), written in these terms:

    L = E_{x_0, n, eps} [ lambda(n) |x0_hat - x_0|^2 / d ],   lambda(n) = (n^2 + sd^2) / (n sd)^2,

sd = `sigma_data` (the data's root mean square per coordinate). With EDM preconditioning
(`MLPScore(parameterisation="edm")`, $\hat x_0 = c_{skip}\tilde x + c_{out}F$) this is the plain
mean squared error of the network output F against a target of unit variance, so every noise
level contributes O(1) and the untrained network (F near 0) scores about 1. The minimiser is the
exact score of the data's forward marginal at every n (Vincent 2011). Noise levels are drawn
log-uniformly on [n_min, n_max] (default [1e-3, 160], which covers the default range of every
registered schedule), in place of EDM's log-normal: the samplers of MATH.md spread their grids
over the whole range in log n, and each level needs the same accuracy (our choice, derived
here, not the papers'). Time is t = schedule.t_from_noise_level(n), so a model trained under
one schedule is the score of the same noise levels under any other (the network sees only
x/alpha and n).

Optimizer (optax): global-norm clipping, then Adam with a linear warm-up to a constant learning
rate (no decay, so a run can be extended by resuming). The EMA of the weights uses the decay
min(ema_decay, (1 + k)/(10 + k)) at iteration k (a warm-up so the average forgets the
initialisation early). Iteration k draws its minibatch (with replacement), noise levels and
noise from fold_in(key, k): every iteration's randomness depends on k only, and chunks of
`chunk_size` iterations run in one compiled `lax.scan` whose tail past the last iteration is
skipped by `lax.cond`. Hence a run stopped at any iteration and resumed from its checkpoint
gives the same parameters, bit for bit, as an uninterrupted run.
"""

import dataclasses
import functools
import math
import sys
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from schedules import AbstractSchedule

from ..scores._score import AbstractScoreModel

NOISE_RANGE = (1e-3, 160.0)
"""Default training noise levels n = sigma/alpha: every registered schedule's default range
(vp 0.0105..152, vp-cosine 0.0064..64, ve 0.01..50, edm 0.002..80, flow 0.001..99) lies inside."""

EVAL_KEY_SEED = 20260601
"""Fixed key of `dsm_loss_estimate`'s default draws: every model is scored on the same noise
(common random numbers), so differences between models have a small standard error."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of a denoising score matching run (everything but the iteration count, which a
    resumed run may extend). `sigma_data` None: the training data's root mean square."""

    batch_size: int = 256
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    chunk_size: int = 100
    noise_min: float = NOISE_RANGE[0]
    noise_max: float = NOISE_RANGE[1]
    sigma_data: float | None = None

    def __post_init__(self):
        for name in ("batch_size", "chunk_size"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("warmup_steps", self.warmup_steps, minimum=0)
        for name in ("learning_rate", "grad_clip", "noise_min", "noise_max"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not self.noise_min < self.noise_max:
            raise ValueError(f"noise_min must be < noise_max, got {self.noise_min!r} >= "
                             f"{self.noise_max!r}")
        if not (isinstance(self.ema_decay, int | float) and 0 <= self.ema_decay < 1):
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        if self.sigma_data is not None and not (math.isfinite(self.sigma_data)
                                                and self.sigma_data > 0):
            raise ValueError(f"sigma_data must be finite and > 0, got {self.sigma_data!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_int(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def data_rms(data: ArrayLike) -> float:
    """Root mean square per coordinate, sqrt(mean x^2): EDM's sigma_data for these data."""
    return float(np.sqrt(np.mean(np.asarray(data, float) ** 2)))


class TrainState(eqx.Module):
    """A run's state after `iteration` iterations: the model, the EMA of its weights (a model
    of the same structure: sample with this one) and the optimizer state."""

    model: AbstractScoreModel
    ema_model: AbstractScoreModel
    opt_state: optax.OptState
    iteration: int = eqx.field(static=True)

    def leaves(self) -> tuple:
        """What a checkpoint stores (the iteration goes to the sidecar)."""
        return self.model, self.ema_model, self.opt_state


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Clip by global norm, then Adam with a linear warm-up to a constant learning rate."""
    lr = optax.linear_schedule(0.0, config.learning_rate, config.warmup_steps) \
        if config.warmup_steps > 0 else config.learning_rate
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(lr))


def init_train_state(model: AbstractScoreModel, config: TrainConfig) -> TrainState:
    """Iteration 0: the EMA starts at the model; a fresh optimizer state."""
    params = eqx.filter(model, eqx.is_inexact_array)
    return TrainState(model, model, make_optimizer(config).init(params), 0)


def _schedule_of(model, schedule: AbstractSchedule | None) -> AbstractSchedule:
    if schedule is not None:
        return schedule
    if isinstance(getattr(model, "schedule", None), AbstractSchedule):
        return model.schedule
    raise ValueError(f"give the schedule: {type(model).__name__} has no `schedule` field")


def check_model_dimension(model: AbstractScoreModel, dim: int, t: float) -> None:
    """Raise ValueError unless the model maps a (dim,) state to a (dim,) score (abstractly:
    nothing is computed)."""
    x = jax.ShapeDtypeStruct((dim,), jnp.float64)
    try:
        out = eqx.filter_eval_shape(model, x, jnp.asarray(t, float))
    except (TypeError, ValueError) as err:
        raise ValueError(f"the score model {type(model).__name__} does not accept data of "
                         f"dimension d = {dim} ({' '.join(str(err).split())[:160]})") from None
    if out.shape != (dim,):
        raise ValueError(f"the score model {type(model).__name__} returned shape "
                         f"{tuple(out.shape)} for data of dimension d = {dim}; it must match")


def weighted_denoising_errors(model: AbstractScoreModel, schedule: AbstractSchedule, x0: Array,
                              u: Array, eps: Array, noise_min, noise_max, sigma_data) -> Array:
    r"""Per-point EDM-weighted DSM errors $\lambda(n)|\hat x_0 - x_0|^2/d$ (module docstring).

    x0 (B, d) data, u (B,) uniforms giving the noise levels
    $n = n_{min}(n_{max}/n_{min})^u$, eps (B, d) standard normal noise."""
    n = noise_min * (noise_max / noise_min) ** u
    t = schedule.t_from_noise_level(n)
    a, s = schedule.alpha(t), schedule.sigma(t)
    xt = a[:, None] * x0 + s[:, None] * eps
    score = jax.vmap(model)(xt, t)
    denoised = (xt + s[:, None] ** 2 * score) / a[:, None]
    level = s / a
    weight = (level**2 + sigma_data**2) / (level * sigma_data) ** 2
    return weight * jnp.mean((denoised - x0) ** 2, axis=1)


def _draws(key, x0_shape):
    k_u, k_eps = jr.split(key)
    return jr.uniform(k_u, x0_shape[:1], dtype=float), jr.normal(k_eps, x0_shape, dtype=float)


@eqx.filter_jit
def _loss_per_point(model, schedule, data, keys, noise_min, noise_max, sigma_data):
    """(n_draws, N) errors: draw j uses keys[j] for every point (one u and eps per point)."""
    def one_draw(k):
        u, eps = _draws(k, data.shape)
        return weighted_denoising_errors(model, schedule, data, u, eps, noise_min, noise_max,
                                         sigma_data)
    return jax.lax.map(one_draw, keys)


def dsm_loss_estimate(model: AbstractScoreModel, data: ArrayLike, *, config: TrainConfig,
                      schedule: AbstractSchedule | None = None, key: PRNGKeyArray | None = None,
                      n_draws: int = 8) -> tuple[float, float]:
    """Monte Carlo estimate of the training loss L (module docstring) of `model` on `data`
    (N, d), N >= 2: mean over the points of each point's average over `n_draws` draws of
    (n, eps), and its standard error over the points (the points are the independent units).
    `key` defaults to a fixed key, so models are compared on the same draws."""
    x = jnp.asarray(data, float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"data must have shape (N, d) with N >= 2, got {x.shape}")
    schedule = _schedule_of(model, schedule)
    check_model_dimension(model, x.shape[1], schedule.t_min)
    n_draws = _check_int("n_draws", n_draws, minimum=1)
    key = jr.key(EVAL_KEY_SEED) if key is None else key
    sd = config.sigma_data if config.sigma_data is not None else data_rms(x)
    keys = jr.split(key, n_draws)
    per_point = np.asarray(_loss_per_point(model, schedule, x, keys, config.noise_min,
                                           config.noise_max, sd)).mean(axis=0)
    if not np.all(np.isfinite(per_point)):
        raise FloatingPointError("the DSM loss is not finite: the model returns NaN or inf")
    return float(per_point.mean()), float(per_point.std(ddof=1) / np.sqrt(per_point.size))


@functools.cache
def _optimizer(config: TrainConfig) -> optax.GradientTransformation:
    # One object per config, so the compiled chunk below is reused across calls.
    return make_optimizer(config)


@eqx.filter_jit
def _run_chunk(carry, start, stop, key, x, static, schedule, config: TrainConfig, sd: float):
    """Iterations start .. start + chunk_size - 1 as one lax.scan; those >= stop are skipped.
    Arrays are traced and the rest static, so every chunk of every run with the same model
    structure, data shape and config runs one compiled program."""
    optimizer = _optimizer(config)

    def batch_loss(p, x0, u, eps):
        m = eqx.combine(p, static)
        return jnp.mean(weighted_denoising_errors(m, schedule, x0, u, eps, config.noise_min,
                                                  config.noise_max, sd))

    def step(c, it):
        p, e, opt_state = c
        k_batch, k_noise = jr.split(jr.fold_in(key, it))
        x0 = x[jr.randint(k_batch, (config.batch_size,), 0, x.shape[0])]
        u, eps = _draws(k_noise, x0.shape)
        loss, grads = jax.value_and_grad(batch_loss)(p, x0, u, eps)
        updates, opt_state = optimizer.update(grads, opt_state, p)
        p = optax.apply_updates(p, updates)
        decay = jnp.minimum(config.ema_decay, (1.0 + it) / (10.0 + it))
        e = jax.tree.map(lambda ei, pi: ei + (1.0 - decay) * (pi - ei), e, p)
        return (p, e, opt_state), loss

    def body(c, i):
        it = start + i
        return jax.lax.cond(it < stop, step, lambda c_, _: (c_, jnp.full((), jnp.nan)), c, it)

    return jax.lax.scan(body, carry, jnp.arange(config.chunk_size))


class TrainResult(eqx.Module):
    """`state` after the run; `losses` the minibatch loss of each iteration run in this call
    (before its update), `first_iteration` the iteration of losses[0]."""

    state: TrainState
    losses: Array
    first_iteration: int = eqx.field(static=True)


def _divergence(iteration: int, config: TrainConfig) -> ValueError:
    return ValueError(f"training diverged: non-finite DSM loss at iteration {iteration} "
                      f"(learning_rate={config.learning_rate!r}); lower the learning rate")


def train_score_model(model: AbstractScoreModel | None, data: ArrayLike, *, key: PRNGKeyArray,
                      iterations: int, config: TrainConfig = TrainConfig(),
                      schedule: AbstractSchedule | None = None, state: TrainState | None = None,
                      progress: bool = False,
                      on_chunk: Callable[[TrainState, np.ndarray], None] | None = None,
                      ) -> TrainResult:
    """Train `model` (any `AbstractScoreModel`) by denoising score matching on the rows of
    `data` (N, d) until iteration `iterations` (module docstring for the loss, optimizer, EMA
    and key schedule). Start from `state` (a resumed run: `model` may then be None) or from
    `init_train_state(model, config)`. `schedule` defaults to `model.schedule`.

    `progress`: a tqdm bar on stderr (shown only on a terminal). `on_chunk(state, losses)` is
    called after each compiled chunk (e.g. to write a checkpoint). The key must be the same to
    resume a run exactly. Raises ValueError on bad input or when the loss becomes non-finite.
    """
    x = jnp.asarray(data, float)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"data must have shape (N, d) with N, d >= 1, got {x.shape}")
    if not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError("data must be finite")
    iterations = _check_int("iterations", iterations, minimum=0)
    if state is None:
        if model is None:
            raise ValueError("give a model or a state to train")
        state = init_train_state(model, config)
    if state.iteration > iterations:
        raise ValueError(f"the run is already at iteration {state.iteration}, beyond the "
                         f"requested {iterations} iterations")
    schedule = _schedule_of(state.model, schedule)
    check_model_dimension(state.model, x.shape[1], schedule.t_min)
    sd = config.sigma_data if config.sigma_data is not None else data_rms(x)
    params, static = eqx.partition(state.model, eqx.is_inexact_array)
    ema = eqx.filter(state.ema_model, eqx.is_inexact_array)
    chunk = config.chunk_size
    first = state.iteration
    history = []
    carry = (params, ema, state.opt_state)
    from tqdm import tqdm  # only a training run needs it

    with tqdm(total=iterations, initial=first, file=sys.stderr, desc="dsm training", unit="it",
              disable=None if progress else True, dynamic_ncols=True) as bar:
        it = first
        while it < iterations:
            stop = min(it + chunk, iterations)
            carry, losses = _run_chunk(carry, jnp.asarray(it), jnp.asarray(stop), key, x,
                                       static, schedule, config, sd)
            losses = np.asarray(losses)[: stop - it]
            bad = ~np.isfinite(losses)
            if np.any(bad):
                raise _divergence(it + int(np.argmax(bad)), config)
            history.append(losses)
            state = TrainState(eqx.combine(carry[0], static), eqx.combine(carry[1], static),
                               carry[2], stop)
            bar.update(stop - it)
            bar.set_postfix(loss=f"{losses.mean():.4g}")
            if on_chunk is not None:
                on_chunk(state, losses)
            it = stop
    all_losses = np.concatenate(history) if history else np.zeros(0)
    return TrainResult(state, jnp.asarray(all_losses), first)
