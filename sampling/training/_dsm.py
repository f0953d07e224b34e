r"""Denoising score matching at one fixed noise level, for Langevin sampling ([DSM]).

Training set x_1..x_N (rows of `samples`, shape (N, d)); noise level sigma; denoiser D.
The DSM loss is $E_w |x - D(x + \sigma w)|^2$, w ~ N(0, I), averaged over the training set,
and Tweedie's formula (alpha = 1) turns a denoiser into a score, $s(y) = (D(y) - y)/\sigma^2$.
For the affine denoiser D(y) = W y + b the minimiser is the closed form ([DSM], MATH.md
section 4)
    W* = Sigma_hat (Sigma_hat + sigma^2 I)^-1,   b* = (I - W*) xbar,
whose score is exactly that of N(xbar, Sigma_hat + sigma^2 I): no memorisation. ULA on that
score, x+ = x + tau s(x) + sqrt(2 tau) z, is the [DSM] sampler: `ULA(denoiser.score_target(),
tau)`. Plain online SGD on the same loss (`train_denoiser_sgd`) has, in one direction of
variance lam, E theta_inf = lam / a and Var theta_inf = gamma lam sigma^2 / (a (1 - 3 gamma a)),
a = lam + sigma^2 (stable iff gamma < 1 / (3 a)).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from schedules import is_concrete
from schedules._errors import check_finite_scalar

from ..targets._potential import ScoreTarget


def _check_finite_array(name: str, value: Array) -> None:
    if is_concrete(value):
        arr = np.asarray(value)
        if not np.all(np.isfinite(arr)):
            bad = arr[~np.isfinite(arr)].ravel()[0]
            raise ValueError(f"{name} must be finite, found {float(bad)!r}")


def _check_sigma(sigma) -> float:
    return check_finite_scalar("noise level sigma", sigma, positive=True)


def _check_samples(samples: ArrayLike, *, min_rows: int = 1, dim: int | None = None) -> Array:
    """`samples` as a float (N, d) array: 2-D, N >= min_rows, d >= 1 (= dim if given), finite."""
    x = jnp.asarray(samples, float)
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (N, d) (one training point per row), "
                         f"got shape {x.shape}")
    n, d = x.shape
    if d < 1:
        raise ValueError(f"samples must have d >= 1 columns, got shape {x.shape}")
    if n < min_rows:
        raise ValueError(f"need N >= {min_rows} samples, got N = {n} (shape {x.shape})")
    if dim is not None and d != dim:
        raise ValueError(f"samples have dimension d = {d} but the denoiser has d = {dim}")
    _check_finite_array("samples", x)
    return x


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


class AffineDenoiser(eqx.Module):
    r"""An affine denoiser $D(y) = W y + b$ at a fixed noise level sigma, and its score
    $s(y) = (D(y) - y)/\sigma^2 = -P(y - m)$ (Tweedie, alpha = 1; [DSM]).

    `weight` W (d, d), `bias` b (d,), `sigma` > 0 (a static float). Called on one point
    y of shape (d,); batch with jax.vmap. W need not be symmetric (SGD-trained), so the
    score need not be a gradient field.
    """

    weight: Array
    bias: Array
    sigma: float = eqx.field(static=True)

    def __init__(self, weight: ArrayLike, bias: ArrayLike, sigma: float):
        w = jnp.asarray(weight, float)
        b = jnp.asarray(bias, float)
        if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 1:
            raise ValueError(f"weight W must be a (d, d) matrix, got shape {w.shape}")
        d = w.shape[0]
        if b.shape != (d,):
            raise ValueError(f"bias b must have shape ({d},) for a ({d}, {d}) weight, "
                             f"got {b.shape}")
        _check_finite_array("weight W", w)
        _check_finite_array("bias b", b)
        self.weight, self.bias, self.sigma = w, b, _check_sigma(sigma)

    @property
    def dim(self) -> int:
        return self.weight.shape[0]

    def __call__(self, y: Array) -> Array:
        """D(y) = W y + b."""
        return self.weight @ y + self.bias

    def score(self, y: Array) -> Array:
        r"""$s(y) = (D(y) - y)/\sigma^2$."""
        return (self(y) - y) / self.sigma**2

    def score_target(self) -> ScoreTarget:
        r"""The Langevin target given by this score: `ULA(denoiser.score_target(), tau)` is
        the [DSM] sampler $x_+ = x + \tau s(x) + \sqrt{2\tau} z$. Unadjusted kernels only
        (there is no potential for a Metropolis step)."""
        return ScoreTarget(self.score)

    def precision_and_mean(self) -> tuple[Array, Array]:
        r"""(P, m) with $s(y) = -P(y - m)$: $P = (I - W)/\sigma^2$, $m = (I - W)^{-1} b$.

        For the closed-form fit, P = (Sigma_hat + sigma^2 I)^-1 and m = xbar. Raises
        ValueError when I - W is singular (the score then has no centre)."""
        i_minus_w = jnp.eye(self.dim) - self.weight
        if is_concrete(i_minus_w):
            cond = float(np.linalg.cond(np.asarray(i_minus_w)))
            if not cond < 1.0 / np.finfo(np.float64).eps:
                raise ValueError(f"I - W is singular (condition number {cond:.3g}): the score "
                                 f"-(I - W)(y - m)/sigma^2 has no centre m; allowed: W with no "
                                 f"eigenvalue 1")
        return i_minus_w / self.sigma**2, jnp.linalg.solve(i_minus_w, self.bias)


def empirical_moments(samples: ArrayLike, *, centred: bool = True,
                      ddof: int = 0) -> tuple[Array, Array]:
    """(xbar, Sigma_hat) of a training set `samples` (N, d), N >= 2, finite:
    Sigma_hat = sum_i (x_i - xbar)(x_i - xbar)^T / (N - ddof), with xbar = 0 when not `centred`
    (the linear model's known mean). ddof is 0 (1/N, the default) or 1."""
    x = _check_samples(samples, min_rows=2)
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise ValueError(f"ddof must be 0 (normaliser 1/N) or 1 (1/(N - 1)), got {ddof!r}")
    xbar = jnp.mean(x, axis=0) if centred else jnp.zeros(x.shape[1])
    r = x - xbar
    return xbar, (r.T @ r) / (x.shape[0] - ddof)


def fit_affine_denoiser(samples: ArrayLike, sigma: float, *, centred: bool = True,
                        ddof: int = 0) -> AffineDenoiser:
    r"""The closed-form minimiser of the expected DSM loss over affine denoisers ([DSM]):
    $W^* = \hat\Sigma(\hat\Sigma + \sigma^2 I)^{-1}$, $b^* = (I - W^*)\bar x$.

    `samples` (N, d), N >= 2, finite; `sigma` > 0. `centred=True` (the affine model):
    $\hat\Sigma = \sum_i (x_i - \bar x)(x_i - \bar x)^T/(N - \mathrm{ddof})$.
    `centred=False` (the linear model, known mean 0): b = 0 and
    $\hat\Sigma = \sum_i x_i x_i^T/(N - \mathrm{ddof})$ (unbiased already at ddof = 0).
    With ddof = 0 this minimises `expected_dsm_loss` exactly; with ddof = 1 it minimises the
    same loss under the Gaussian N(xbar, Sigma_hat) instead of the empirical law (derived
    here). Either way the score is exactly that of $N(\bar x, \hat\Sigma + \sigma^2 I)$.
    """
    s2 = _check_sigma(sigma) ** 2
    xbar, cov = empirical_moments(samples, centred=centred, ddof=ddof)
    # Eigenbasis of Sigma_hat: W = V diag(mu / (mu + s2)) V^T is symmetric by construction.
    mu, v = jnp.linalg.eigh(0.5 * (cov + cov.T))
    weight = (v * (mu / (mu + s2))) @ v.T
    bias = (v * (s2 / (mu + s2))) @ (v.T @ xbar)
    return AffineDenoiser(weight, bias, sigma)


def _residual_sq(denoiser: AffineDenoiser, x: Array, y: Array) -> Array:
    """|x - D(y)|^2 for rows of x, y (any leading axes)."""
    r = x - (y @ denoiser.weight.T + denoiser.bias)
    return jnp.sum(r**2, axis=-1)


def dsm_loss(denoiser: AffineDenoiser, key: PRNGKeyArray, samples: ArrayLike,
             n_noise: int = 1) -> Array:
    r"""Monte Carlo DSM loss $\frac{1}{N n}\sum_{i,j} |x_i - D(x_i + \sigma w_{ij})|^2$,
    $w_{ij}$ ~ N(0, I) drawn from `key`, n = `n_noise` draws per sample. Differentiable in
    the denoiser; unbiased for `expected_dsm_loss`."""
    x = _check_samples(samples, dim=denoiser.dim)
    n_noise = _check_positive_int("n_noise", n_noise)
    w = jr.normal(key, (n_noise,) + x.shape)
    return jnp.mean(_residual_sq(denoiser, x, x + denoiser.sigma * w))


def expected_dsm_loss(denoiser: AffineDenoiser, samples: ArrayLike) -> Array:
    r"""The DSM loss with the noise integrated out (exact for an affine D):
    $\frac1N\sum_i |x_i - W x_i - b|^2 + \sigma^2\|W\|_F^2$, since
    $E|r - \sigma W w|^2 = |r|^2 + \sigma^2 \mathrm{tr}(W^T W)$.
    Its minimiser over (W, b) is `fit_affine_denoiser(samples, sigma)`."""
    x = _check_samples(samples, dim=denoiser.dim)
    return (jnp.mean(_residual_sq(denoiser, x, x))
            + denoiser.sigma**2 * jnp.sum(denoiser.weight**2))


@eqx.filter_jit
def _sgd_scan(key, samples, sigma, learning_rate, weight0, bias0, n_steps, batch_size, centred,
              optimizer):
    """The whole SGD run as one lax.scan. n_steps, batch_size, centred and a custom optimizer
    are static; key, data, sigma, a scalar learning rate and the start are traced (a new value
    does not recompile)."""
    opt = optax.sgd(learning_rate) if optimizer is None else optimizer
    params = (weight0, bias0) if centred else (weight0,)
    n = samples.shape[0]

    def loss_fn(p, x, y):
        bias = p[1] if centred else bias0
        r = x - (y @ p[0].T + bias)
        return jnp.mean(jnp.sum(r**2, axis=-1))

    def body(carry, k):
        p, opt_state = carry
        k_index, k_noise = jr.split(jr.fold_in(key, k))
        x = samples[jr.randint(k_index, (batch_size,), 0, n)]
        y = x + sigma * jr.normal(k_noise, x.shape)
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, opt_state = opt.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(body, (params, opt.init(params)), jnp.arange(n_steps))
    return params[0], (params[1] if centred else bias0), losses


def _divergence_message(learning_rate, step, n_steps) -> str:
    where = f"from step {step} of {n_steps}" if step is not None else "at the end"
    return (f"SGD on the DSM loss diverged: non-finite loss or parameters {where} "
            f"(learning_rate={learning_rate!r}); lower the learning rate (in one direction of "
            f"variance lam, plain SGD is stable only for learning_rate < 1/(3 (lam + sigma^2)))")


def train_denoiser_sgd(key: PRNGKeyArray, samples: ArrayLike, sigma: float, *,
                       learning_rate: float | Callable | None, n_steps: int,
                       batch_size: int = 1, init: AffineDenoiser | None = None,
                       centred: bool = True,
                       optimizer: optax.GradientTransformation | None = None,
                       ) -> tuple[AffineDenoiser, Array]:
    r"""Online SGD on the DSM loss for an affine denoiser ([DSM], MATH.md section 4).

    Step k draws `batch_size` training points with replacement (rows of `samples`, by
    fold_in(key, k)) and fresh noise w, y = x + sigma w, and takes an optax step on the batch
    mean of $|x - W y - b|^2$; for d = 1, batch 1, centred=False that is
    $\theta_+ = \theta - \gamma\,\partial_\theta (x - \theta y)^2$. Default optimizer
    `optax.sgd(learning_rate)` (a float or an optax schedule); with a custom `optimizer`
    pass learning_rate=None. `init` (default W = 0, b = 0) must have this sigma.
    `centred=False` trains W only (b stays 0). The run is one jax.lax.scan, vmap-safe over
    `key` for independent chains.

    Returns (denoiser, losses): losses[k] is the batch loss before step k. Raises ValueError
    (or, under a jax transform, an Equinox runtime error) when the run diverges.
    """
    x = _check_samples(samples)
    sigma = _check_sigma(sigma)
    n_steps = _check_positive_int("n_steps", n_steps)
    batch_size = _check_positive_int("batch_size", batch_size)
    if optimizer is None:
        if learning_rate is None:
            raise ValueError("learning_rate is required unless a custom optimizer is given")
        if not callable(learning_rate):
            learning_rate = check_finite_scalar("learning_rate", learning_rate, positive=True)
    elif learning_rate is not None:
        raise ValueError(f"give learning_rate or optimizer, not both (learning_rate="
                         f"{learning_rate!r}); a custom optimizer carries its own step size")
    d = x.shape[1]
    if init is None:
        weight0, bias0 = jnp.zeros((d, d)), jnp.zeros(d)
    else:
        if init.dim != d:
            raise ValueError(f"init has dimension d = {init.dim} but samples have d = {d}")
        if init.sigma != sigma:
            raise ValueError(f"init has noise level sigma = {init.sigma!r}, the run uses "
                             f"sigma = {sigma!r}; they must agree")
        weight0, bias0 = init.weight, init.bias
        if not centred and is_concrete(bias0) and np.any(np.asarray(bias0) != 0):
            raise ValueError("centred=False keeps the bias at 0, but init has a nonzero bias")
    lr = learning_rate if callable(learning_rate) else jnp.asarray(
        0.0 if learning_rate is None else learning_rate, float)
    weight, bias, losses = _sgd_scan(key, x, jnp.asarray(sigma), lr, weight0, bias0, n_steps,
                                     batch_size, bool(centred), optimizer)
    if is_concrete(losses) and is_concrete(weight) and is_concrete(bias):
        bad = ~np.isfinite(np.asarray(losses))
        params_ok = np.all(np.isfinite(np.asarray(weight))) and np.all(
            np.isfinite(np.asarray(bias)))
        if np.any(bad) or not params_ok:
            step = int(np.argmax(bad)) if np.any(bad) else None
            raise ValueError(_divergence_message(learning_rate, step, n_steps))
    else:
        ok = (jnp.all(jnp.isfinite(losses)) & jnp.all(jnp.isfinite(weight))
              & jnp.all(jnp.isfinite(bias)))
        weight = eqx.error_if(weight, ~ok, _divergence_message(learning_rate, None, n_steps))
    return AffineDenoiser(weight, bias, sigma), losses
