r"""Monte Carlo distances between a sample set and a reference, each with its standard error.

The reference is either another sample set (held-out data: the total error, sampling noise
on both sides) or an exact `GaussianLaw` (an exact target's marginal at t_min or its data
law: no noise on that side, and closed forms replace the reference sample wherever they
exist). Every quantity is reported squared, so that it is additive, comparable with the
exact theory's W2^2 (`w2sq_gaussian`, `error_curve`) and has a well-defined standard error
near zero:

- `sliced_w2sq`: $SW_2^2(p, q) = E_\theta\, W_2^2(\theta_\# p, \theta_\# q)$, $\theta$ uniform on
  the unit sphere (Rabin, Peyré, Delon & Bernot 2011; Bonneel et al. 2015). Squared, unlike
  POT's `sliced_wasserstein_distance` (root, 50 projections); like ott-jax's (squared).
- `mmd2`: the squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012),
  an unbiased block estimator (Zaremba, Gretton & Blaschko 2013), so it can be negative.
- `frechet`: Bures $W_2^2$ between Gaussian fits (FID without the network; Heusel et al. 2017),
  bias-corrected by the bootstrap, with the plug-in value and its bias reported beside it.
- `coupled_error`: $E|X_N - X_{ref}|^2$ over particles that share their start and their
  Brownian path (see `analysis._mc_curve`), with `order_fit` for the slope in log N.

The metrics are written here rather than taken from ott-jax or POT: neither is a dependency,
neither gives standard errors, and the closed forms against an exact Gaussian law (sliced W2
and MMD with no reference sample at all) are not in either. Every function takes its PRNG
key explicitly; the same key gives the same number.
"""

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, PRNGKeyArray
from scipy.special import ndtri

from sampling import GaussianLaw
from sampling._sharding import holding_mesh, map_blocks, mesh_invariant_jit, to_host

from ._distances import w2sq_gaussian

DEFAULT_PROJECTIONS = 256
DEFAULT_BATCHES = 20
DEFAULT_BOOTSTRAP = 200
DEFAULT_GROUPS = 200
DEFAULT_MMD_BLOCK = 256


@dataclasses.dataclass(frozen=True)
class McEstimate:
    """A Monte Carlo estimate `value` and its standard error `se` (one standard deviation of
    the estimator). For `frechet`, `plugin` is the plug-in value and `bias` the bootstrap
    estimate of its bias (value = plugin - bias); None for the other metrics."""

    value: float
    se: float
    plugin: float | None = None
    bias: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _samples(name: str, x, dim: int | None = None, minimum: int = 2) -> Array:
    x = jnp.asarray(x, float)
    if x.ndim != 2:
        raise ValueError(f"{name} must be an (n, d) array of samples, got shape {x.shape}")
    if x.shape[0] < minimum:
        raise ValueError(f"{name} needs at least {minimum} samples, got {x.shape[0]}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} has dimension {x.shape[1]}, the samples have {dim}")
    if not bool(jnp.all(jnp.isfinite(x))):
        raise ValueError(f"{name} contains non-finite values")
    return x


def _check_reference(reference, dim: int):
    if isinstance(reference, GaussianLaw):
        if reference.dim != dim:
            raise ValueError(f"reference law has dimension {reference.dim}, the samples have {dim}")
        return reference
    return _samples("reference", reference, dim)


def _check_count(name: str, value, minimum: int) -> int:
    if int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --- sliced W2 -------------------------------------------------------------------------------

def _directions(key: PRNGKeyArray, n: int, d: int) -> Array:
    """n directions uniform on the unit sphere S^{d-1} (normalised Gaussian vectors)."""
    z = jr.normal(key, (n, d))
    return z / jnp.linalg.norm(z, axis=1, keepdims=True)


def _quantile_cells(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of (0, 1] on which both empirical quantile functions (n and m points) are
    constant: widths and the order-statistic index of each law on each cell. Then
    W2^2 = sum_cells width (x_(i) - y_(j))^2 exactly, for any n and m."""
    edges = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    lower = np.concatenate([[0.0], edges[:-1]])
    keep = edges > lower
    lower, edges = lower[keep], edges[keep]
    mid = 0.5 * (lower + edges)
    return edges - lower, np.floor(mid * n).astype(int), np.floor(mid * m).astype(int)


def _gaussian_cell_weights(n: int) -> np.ndarray:
    r"""e_i = \int_{(i-1)/n}^{i/n} \Phi^{-1}(u) du = \varphi(z_{i-1}) - \varphi(z_i), z_i = \Phi^{-1}(i/n)."""
    z = ndtri(np.arange(1, n) / n)
    phi = np.concatenate([[0.0], np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi), [0.0]])
    return phi[:-1] - phi[1:]


# Projections are laid out (K, n), directions first, and sorted and summed along the
# particles, the last axis: a sort along a leading axis may be compiled on a transposed
# layout in one program and not in another, and the sums after it then add in another order.

def _w2sq_projected_samples(xp: Array, yp: Array) -> Array:
    """1-D W2^2 per row of projected samples (K, n) and (K, m), from sorted quantiles."""
    widths, ix, iy = _quantile_cells(xp.shape[1], yp.shape[1])
    xs, ys = jnp.sort(xp, axis=1), jnp.sort(yp, axis=1)
    return (xs[:, ix] - ys[:, iy]) ** 2 @ jnp.asarray(widths)


def _w2sq_projected_gaussian(xp: Array, mean: Array, sd: Array) -> Array:
    r"""1-D W2^2 per row between the empirical law of xp (K, n) and N(mean_k, sd_k^2):
    $\int_0^1 (x_{(\lceil un \rceil)} - m - s\Phi^{-1}(u))^2 du
    = \overline{x^2} - 2m\bar x - 2s\sum_i x_{(i)} e_i + m^2 + s^2$ (closed form, derived here)."""
    e = jnp.asarray(_gaussian_cell_weights(xp.shape[1]))
    xs = jnp.sort(xp, axis=1)
    return (jnp.mean(xs**2, axis=1) - 2.0 * mean * jnp.mean(xs, axis=1) - 2.0 * sd * (xs @ e)
            + mean**2 + sd**2)


def _projected_law(law: GaussianLaw, theta: Array) -> tuple[Array, Array]:
    mean = theta @ law.mean
    var = theta**2 @ law.cov if law.is_diagonal else jnp.einsum("ki,ij,kj->k", theta, law.cov, theta)
    return mean, jnp.sqrt(jnp.clip(var, 0.0))


def _batches(x: Array, g: int) -> Array:
    """The first g * (n // g) rows as g batches (g, n // g, d)."""
    b = x.shape[0] // g
    return x[: g * b].reshape(g, b, x.shape[1])


def _blocks(x: Array, size: int) -> Array:
    """x's rows in consecutive blocks of `size`, the last one filled up with zero rows:
    (ceil(n / size), size, ...)."""
    count = -(-x.shape[0] // size)
    filled = jnp.concatenate([x, jnp.zeros((count * size - x.shape[0],) + x.shape[1:])])
    return filled.reshape((count, size) + x.shape[1:])


# Every reduction over particles below runs inside blocks of a fixed shape (`map_blocks`),
# and the blocks' results are combined on the host, so a metric is the same number, bit for
# bit, whether the particles sit on one device or are split over several.
_ROW_BLOCK = 1024  # particles per block when projecting
_DIRECTION_BLOCK = 8  # directions per block when sorting (each block holds every particle)


def _by_direction(x: Array, theta: Array, mesh) -> Array:
    """The projections theta x_i in blocks of `_DIRECTION_BLOCK` directions, each with every
    particle: (ceil(K / kb), kb, n). They are computed in blocks of particles where the
    particles are; a sort runs along the particles, so each device then takes whole
    directions (an all-to-all when the particles are split), and no device gathers every
    particle of every direction."""
    n = x.shape[0]
    blocks = _blocks(x, min(_ROW_BLOCK, n))
    xp = map_blocks(lambda xb, th: xb @ th.T, mesh, (blocks,), (theta,))
    return _blocks(xp.reshape(-1, theta.shape[0])[:n].T, _DIRECTION_BLOCK)


@mesh_invariant_jit
def _sliced_parts(theta, x, reference, n_batches, mesh):
    k = theta.shape[0]
    columns = _by_direction(x, theta, mesh)
    if isinstance(reference, GaussianLaw):
        # The law's projections are taken inside the blocks too: computed outside, the
        # partitioner may split them by direction, and their rounding with them.
        def against_law(xp, th, mean, cov):
            return _w2sq_projected_gaussian(xp, *_projected_law(GaussianLaw(mean, cov), th))

        per_direction = map_blocks(against_law, mesh, (columns, _blocks(theta, _DIRECTION_BLOCK)),
                                   (reference.mean, reference.cov))
        per_batch = map_blocks(lambda xb, th, mean, cov: against_law(th @ xb.T, th, mean, cov),
                               mesh, (_batches(x, n_batches),), (theta, reference.mean, reference.cov))
    else:
        per_direction = map_blocks(_w2sq_projected_samples, mesh,
                                   (columns, _by_direction(reference, theta, mesh)))
        per_batch = map_blocks(
            lambda xb, yb, th: _w2sq_projected_samples(th @ xb.T, th @ yb.T), mesh,
            (_batches(x, n_batches), _batches(reference, n_batches)), (theta,))
    return per_direction.reshape(-1)[:k], per_batch


def sliced_w2sq(key: PRNGKeyArray, x, reference, *, n_projections: int = DEFAULT_PROJECTIONS,
                n_batches: int = DEFAULT_BATCHES) -> McEstimate:
    r"""Squared sliced 2-Wasserstein distance between the empirical law of `x` (n, d) and
    `reference`: samples (m, d) (any m) or an exact `GaussianLaw`.

    $\widehat{SW_2^2} = \frac1K \sum_k W_2^2(\theta_k{}_\# \hat p, \theta_k{}_\# q)$ with K =
    `n_projections` directions drawn uniformly on the sphere from `key`. Each 1-D W2^2 is
    exact between the empirical quantile functions (sorted samples; any n, m) or, against a
    Gaussian law, in closed form against its quantile function $m + s\Phi^{-1}$.

    Reported squared. It is the plug-in value: against a reference it is biased upwards by
    the sampling floor (of order 1/n up to logs when p = q), so compare it with the floor of
    an exact sample of the same size. Standard error (derived here):
    $se^2 = s_\theta^2/K + s_B^2/B$: $s_\theta^2$, the spread over projections, is the
    conditional variance given the samples; $s_B^2$, the spread of the same statistic over
    B = `n_batches` disjoint batches of the samples (paired with batches of a reference
    sample) with the same directions, is the sampling variance at n/B points, scaled to n by
    1/B (the variance falls like 1/n when p != q; when p = q it falls faster, so the
    batch term is conservative there).
    """
    x = _samples("x", x)
    reference = _check_reference(reference, x.shape[1])
    k = _check_count("n_projections", n_projections, 2)
    limit = x.shape[0] if isinstance(reference, GaussianLaw) else min(x.shape[0], reference.shape[0])
    g = min(_check_count("n_batches", n_batches, 2), limit)
    theta = _directions(key, k, x.shape[1])
    per_direction, per_batch = (to_host(a) for a in _sliced_parts(theta, x, reference, g,
                                                                   holding_mesh(x)))
    per_batch = per_batch.mean(axis=1)
    value = float(np.mean(per_direction))
    var = float(np.var(per_direction, ddof=1)) / k + float(np.var(per_batch, ddof=1)) / g
    return McEstimate(value, math.sqrt(var))


def sliced_w2sq_gaussians(key: PRNGKeyArray, p: GaussianLaw, q: GaussianLaw,
                          n_projections: int = 4096) -> McEstimate:
    r"""$SW_2^2$ between two Gaussian laws, by Monte Carlo over directions only (each 1-D term
    is the closed form $(\theta\cdot\Delta m)^2 + (\sqrt{\theta^T S_p\theta} - \sqrt{\theta^T S_q\theta})^2$);
    `se` is the spread over directions / sqrt(K). A reference value for tests and floors."""
    theta = _directions(key, _check_count("n_projections", n_projections, 2), p.dim)
    mp, sp = _projected_law(p, theta)
    mq, sq = _projected_law(q, theta)
    terms = (mp - mq) ** 2 + (sp - sq) ** 2
    return McEstimate(float(jnp.mean(terms)), float(jnp.std(terms, ddof=1)) / math.sqrt(theta.shape[0]))


# --- MMD -------------------------------------------------------------------------------------

def _sqdist(a: Array, b: Array) -> Array:
    return jnp.clip(jnp.sum(a**2, 1)[:, None] + jnp.sum(b**2, 1)[None, :] - 2.0 * a @ b.T, 0.0)


def _kernel(sqdist: Array, h2) -> Array:
    # A product with the reciprocal, not a quotient: XLA may compile a division by a traced
    # value either way depending on the surrounding program, which changes the last bit
    # between one device and several.
    return jnp.exp(sqdist * (-0.5 / h2))


def _within_block(a: Array, h2) -> Array:
    """Mean of k(a_i, a_j) over i != j (the unbiased U-statistic of one block)."""
    n = a.shape[0]
    k = _kernel(_sqdist(a, a), h2)
    return (jnp.sum(k) - jnp.trace(k)) / (n * (n - 1))


def _gaussian_kernel_mean(x: Array, law: GaussianLaw, h2) -> Array:
    r"""$E_{Y\sim N(m,S)} k(x, Y) = \det(I + S/h^2)^{-1/2}\exp(-\tfrac12 (x-m)^T (S + h^2 I)^{-1}(x-m))$."""
    diff = x - law.mean
    if law.is_diagonal:
        return jnp.prod(1.0 + law.cov / h2) ** -0.5 * jnp.exp(-0.5 * jnp.sum(diff**2 / (law.cov + h2), 1))
    c = law.cov + h2 * jnp.eye(law.dim)
    _, logdet = jnp.linalg.slogdet(c / h2)
    quad = jnp.sum(diff * jnp.linalg.solve(c, diff.T).T, 1)
    return jnp.exp(-0.5 * logdet - 0.5 * quad)


def gaussian_kernel_expectation(p: GaussianLaw, q: GaussianLaw, bandwidth: float) -> Array:
    r"""$E\,k(X, Y)$ for independent X ~ p, Y ~ q and $k(x,y) = \exp(-|x-y|^2/(2h^2))$:
    X - Y ~ N(m_p - m_q, C = S_p + S_q), so it is
    $\det(I + C/h^2)^{-1/2}\exp(-\tfrac12\Delta^T(C + h^2 I)^{-1}\Delta)$."""
    diff = GaussianLaw(p.mean - q.mean, p.cov + q.cov if p.is_diagonal == q.is_diagonal
                       else p.covariance_matrix() + q.covariance_matrix())
    return _gaussian_kernel_mean(jnp.zeros((1, p.dim)), diff, float(bandwidth) ** 2)[0]


def mmd2_gaussians(p: GaussianLaw, q: GaussianLaw, bandwidth: float) -> float:
    """Exact squared MMD between two Gaussian laws with the Gaussian kernel of `bandwidth`
    (closed form: E k(X,X') + E k(Y,Y') - 2 E k(X,Y))."""
    e = lambda a, b: gaussian_kernel_expectation(a, b, bandwidth)
    return float(e(p, p) + e(q, q) - 2.0 * e(p, q))


@mesh_invariant_jit
def _mmd_blocks(x, reference, h2, n_blocks, mesh):
    xb = _batches(x, n_blocks)
    if isinstance(reference, GaussianLaw):
        def block(a, mean, cov, h2):
            law = GaussianLaw(mean, cov)
            # E k(Y, Y') for Y, Y' ~ law: Y - Y' ~ N(0, 2 S). In the block, so that every
            # block's number comes from the same compiled body.
            self_ref = _gaussian_kernel_mean(jnp.zeros((1, a.shape[1])),
                                             GaussianLaw(jnp.zeros_like(mean), 2.0 * cov), h2)[0]
            return (_within_block(a, h2) - 2.0 * jnp.mean(_gaussian_kernel_mean(a, law, h2))
                    + self_ref)

        return map_blocks(block, mesh, (xb,), (reference.mean, reference.cov, h2))
    return map_blocks(lambda a, b, h2: _within_block(a, h2) + _within_block(b, h2)
                      - 2.0 * jnp.mean(_kernel(_sqdist(a, b), h2)),
                      mesh, (xb, _batches(reference, n_blocks)), (h2,))


def default_bandwidth(reference) -> float:
    r"""The kernel bandwidth h = sqrt(tr Cov(reference)): E|X - Y|^2 = 2 tr Cov for independent
    draws, so this is close to the median heuristic, but it depends on the reference only, so
    every row of a study is measured with the same kernel."""
    if isinstance(reference, GaussianLaw):
        total = jnp.sum(reference.cov) if reference.is_diagonal else jnp.trace(reference.cov)
    else:
        total = jnp.sum(jnp.var(jnp.asarray(reference, float), axis=0, ddof=1))
    h = math.sqrt(float(total))
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"the reference has total variance {float(total)!r}; give a bandwidth > 0")
    return h


def mmd2(x, reference, *, bandwidth: float | None = None,
         block_size: int = DEFAULT_MMD_BLOCK) -> McEstimate:
    r"""Unbiased squared MMD between the law of `x` (n, d) and `reference` (samples (m, d) or a
    `GaussianLaw`), Gaussian kernel $k(x,y) = \exp(-|x-y|^2/(2h^2))$, h = `bandwidth`
    (default `default_bandwidth(reference)`).

    Block estimator (Zaremba, Gretton & Blaschko 2013): the samples are cut into B disjoint
    blocks of about `block_size` points (at least min(10, n/2) blocks of at least 2 points,
    smaller blocks for small n); in each, the
    U-statistic $\frac{1}{b(b-1)}\sum_{i\ne j}[k(x_i,x_j) + k(y_i,y_j)] - \frac{2}{b b'}\sum k(x_i,y_j)$
    is unbiased for MMD^2; against a Gaussian law the y-terms are closed forms
    ($E_Y k(x_i, Y)$ and $E k(Y,Y') = \det(I + 2S/h^2)^{-1/2}$). The estimate is the mean of the B
    independent block values and `se` their standard deviation / sqrt(B): exact i.i.d.
    replicates, no asymptotics. Cost O(n * block_size), not O(n^2). Reported squared; may
    be negative when the laws are close. Needs n >= 4 (and m >= 4).
    """
    x = _samples("x", x, minimum=4)
    reference = _check_reference(reference, x.shape[1])
    h = default_bandwidth(reference) if bandwidth is None else float(bandwidth)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"bandwidth must be a finite number > 0, got {bandwidth!r}")
    size = _check_count("block_size", block_size, 2)
    limit = x.shape[0] if isinstance(reference, GaussianLaw) else min(x.shape[0], reference.shape[0])
    if limit < 4:
        raise ValueError(f"mmd2 needs at least 4 reference samples, got {limit}")
    # At least 10 blocks where there are 20 points (the SE's own spread is ~ 1/sqrt(2(B-1))).
    n_blocks = max(limit // size, min(10, limit // 2))
    per_block = to_host(_mmd_blocks(x, reference, jnp.asarray(h**2), n_blocks, holding_mesh(x)))
    return McEstimate(float(np.mean(per_block)),
                      float(np.std(per_block, ddof=1)) / math.sqrt(n_blocks))


# --- Fréchet (Bures W2^2 between Gaussian fits) ----------------------------------------------

@mesh_invariant_jit
def _group_moments(x: Array, g: int, mesh) -> tuple[Array, Array]:
    # (r, g, d) -> (g, r, d): group j holds rows j, j + g, ... (zero rows fill the last ones).
    groups = jnp.swapaxes(_blocks(x, g), 0, 1)
    return map_blocks(lambda rows: (rows.sum(0), rows.T @ rows), mesh, (groups,))


def _group_sums(x: Array, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, sums and sums of outer products of g groups of rows (rows i with i % g equal),
    each group summed where its rows are and brought to the host."""
    n = x.shape[0]
    counts = (n - np.arange(g) + g - 1) // g
    sums, outer = (to_host(a) for a in _group_moments(x, g, holding_mesh(x)))
    return counts.astype(float), sums, outer


def _fit(counts, sums, outer, weights) -> GaussianLaw:
    """The Gaussian fit (mean, unbiased covariance) of the groups taken `weights` times each."""
    total = weights @ counts
    mean = weights @ sums / total
    second = jnp.einsum("g,gij->ij", weights, outer) / total
    cov = (second - jnp.outer(mean, mean)) * total / (total - 1.0)
    return GaussianLaw(mean, 0.5 * (cov + cov.T))


def _resample(key, g: int, n_bootstrap: int) -> Array:
    """Bootstrap weights: how often each of g groups is drawn, g draws with replacement."""
    picks = jr.randint(key, (n_bootstrap, g), 0, g)
    return jax.vmap(lambda p: jnp.zeros(g).at[p].add(1.0))(picks)


@eqx.filter_jit
def _frechet_bootstrap(key, xs, reference, n_bootstrap):
    """Plug-in Bures W2^2 and its bootstrap replicates, from the group sums `xs` of the
    samples and the reference (an exact law, or the group sums of a reference sample)."""
    kx, ky = jr.split(key)
    g = xs[0].shape[0]
    fit_x = lambda w: _fit(*xs, w)
    if isinstance(reference, GaussianLaw):
        fit_y = lambda w: reference
        wy = jnp.ones((n_bootstrap, 1))
        ones_y = jnp.ones(1)
    else:
        gy = reference[0].shape[0]
        fit_y = lambda w: _fit(*reference, w)
        wy = _resample(ky, gy, n_bootstrap)
        ones_y = jnp.ones(gy)
    plugin = w2sq_gaussian(fit_x(jnp.ones(g)), fit_y(ones_y))
    boot = jax.vmap(lambda a, b: w2sq_gaussian(fit_x(a), fit_y(b)))(_resample(kx, g, n_bootstrap), wy)
    return plugin, boot


def frechet(key: PRNGKeyArray, x, reference, *, n_bootstrap: int = DEFAULT_BOOTSTRAP,
            n_groups: int = DEFAULT_GROUPS) -> McEstimate:
    r"""Fréchet distance: Bures $W_2^2$ (`w2sq_gaussian`) between the Gaussian fit (sample mean,
    unbiased covariance) of `x` (n, d) and the fit of a reference sample, or an exact
    `GaussianLaw`: the metric the exact theory computes, so `value` is comparable with
    `error_curve(...).w2sq`. Reported squared.

    The plug-in value is biased upwards: E|m_hat - m|^2 = tr S/n and, to second order,
    E Bures^2(S_hat, S) = (1/2n) [sum_{i!=j} l_i l_j/(l_i + l_j) + sum_i l_i] for Gaussian
    data (derived here from the first-order Bures form of MATH.md section 3), so the floor is
    about d/n + d(d+1)/(4n) for unit variances. `value` removes the bias by the bootstrap:
    value = 2 plugin - mean(boot) (bias = mean(boot) - plugin, left O(1/n^2)); `se` is the
    bootstrap standard deviation times sqrt(1 + 1/R) for the R = `n_bootstrap` replicates
    (the Monte Carlo noise of the correction). Bootstrap rather than the delta method: at a
    small error the gradient of W2^2 vanishes and the delta-method SE collapses to 0, while
    the bootstrap sees the second-order (chi-square-like) fluctuation.

    For speed the bootstrap resamples g = min(`n_groups`, n) groups of the rows, each
    summarised by its count, sum and sum of outer products (one O(n d^2) pass; every
    replicate is then O(g d^2 + d^3)): group averages are i.i.d., so the resampled
    mean and covariance fluctuate like the originals, which is all the bias and SE need.
    """
    x = _samples("x", x)
    reference = _check_reference(reference, x.shape[1])
    r = _check_count("n_bootstrap", n_bootstrap, 2)
    g = min(_check_count("n_groups", n_groups, 2), x.shape[0])
    if not isinstance(reference, GaussianLaw):
        reference = _group_sums(reference, min(g, reference.shape[0]))
    plugin, boot = _frechet_bootstrap(key, _group_sums(x, g), reference, r)
    plugin, boot = float(plugin), np.asarray(boot)
    bias = float(np.mean(boot)) - plugin
    se = float(np.std(boot, ddof=1)) * math.sqrt(1.0 + 1.0 / r)
    return McEstimate(plugin - bias, se, plugin=plugin, bias=bias)


# --- coupled error and its order ---------------------------------------------------------------

def coupled_error(x, x_reference) -> McEstimate:
    r"""$E|X_N - X_{ref}|^2$ from particles paired row by row (same start, same Brownian path):
    the mean of the squared distances and its standard error std/sqrt(n) (the rows are
    i.i.d.). Reported squared (the square of the strong L2 error)."""
    x = _samples("x", x)
    x_reference = _samples("x_reference", x_reference, x.shape[1])
    if x_reference.shape[0] != x.shape[0]:
        raise ValueError(f"coupled error needs paired particles, got {x.shape[0]} and "
                         f"{x_reference.shape[0]}")
    sq = to_host(jnp.sum((x - x_reference) ** 2, axis=1))
    return McEstimate(float(sq.mean()), float(sq.std(ddof=1) / math.sqrt(sq.size)))


@dataclasses.dataclass(frozen=True)
class OrderFit:
    """Slope of log(coupled error) against log N and its standard error; `order` = -slope/2
    is the strong order p (E|X_N - X_ref|^2 ~ N^{-2p})."""

    slope: float
    slope_se: float
    order: float
    order_se: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def order_fit(key: PRNGKeyArray, steps, squared_errors, n_bootstrap: int = DEFAULT_BOOTSTRAP) -> OrderFit:
    r"""Least-squares slope of log mean_i e_{i,N} against log N, from `squared_errors` (n, len(steps)),
    e_{i,N} = |X_N^i - X_ref^i|^2 of the same particles at every N. The errors at different N
    share their particles, so they are correlated; the standard error is therefore the
    bootstrap over particles (rows resampled together across N), not the independent-points
    formula."""
    steps = np.asarray(steps, float)
    e = jnp.asarray(squared_errors, float)
    if steps.ndim != 1 or steps.size < 2 or e.ndim != 2 or e.shape[1] != steps.size:
        raise ValueError(f"need >= 2 step counts and errors of shape (n, {steps.size}), "
                         f"got {steps.size} and {e.shape}")
    if e.shape[0] < 2:
        raise ValueError(f"need at least 2 particles, got {e.shape[0]}")
    logn = jnp.asarray(np.log(steps))
    centred = logn - logn.mean()

    def slope(means):
        return centred @ (jnp.log(means) - jnp.mean(jnp.log(means))) / (centred @ centred)

    means = jnp.mean(e, axis=0)
    if not bool(jnp.all(means > 0)):
        raise ValueError("the coupled error is zero at some N: no order to fit")
    r = _check_count("n_bootstrap", n_bootstrap, 2)
    picks = jr.randint(key, (r, e.shape[0]), 0, e.shape[0])
    boot = jax.vmap(lambda p: slope(jnp.mean(e[p], axis=0)))(picks)
    s, se = float(slope(means)), float(jnp.std(boot, ddof=1))
    return OrderFit(s, se, -s / 2.0, se / 2.0)
