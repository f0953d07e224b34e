r"""A noise-free reference for 1-D Langevin and mirror-Langevin chains: their law on a grid.

One step of ULA, of [MLMC]'s mirror Langevin (`MirrorLangevin`) or of Hsieh et al.'s dual
scheme (`DualLangevin`) moves a 1-D point y (the dual point; y = x for ULA) to
y+ ~ N(m(y), s(y)^2): Gaussian given y, with m and s read off the kernel's own increment
(`increment`, `mirror_increment`, `dual_increment`, evaluated at z = 0 and z = 1; DESIGN.md
section 2). The density p_k of y_k then obeys p_{k+1}(y') = \int p_k(y) N(y'; m(y), s(y)^2) dy,
propagated here by Nyström quadrature: nodes y_i with weights w_i,
p_{k+1}(y_j) = \sum_i w_i p_k(y_i) N(y_j; m(y_i), s(y_i)^2) (derived here; the standard
Nyström method). Nodes are the midpoints of a uniform grid in a coordinate u (u = y, or
y = c sinh(u) for the box log-barrier, whose dual tails are polynomial), so the rule is the
midpoint rule in u (the trapezoid rule where the density vanishes at the ends): spectrally
accurate while the kernel spans several nodes (`resolution` nodes per kernel standard
deviation, 4 by default) and the density is smooth. For ULA on a Gaussian target the grid
law equals the exact law (`langevin_law`) to 1e-12 (tests/analysis/test_langevin_1d.py).

Escape. The grid covers [lower, upper] in the dual; the mass a step sends outside is counted
exactly per node (normal CDFs) as escaped below or above, and never returns (absorbed). For
ULA on a target on an interval, [lower, upper] is the domain: escape is a step out of it. For
the Fermi–Dirac and entropic-box maps the edges are |y| = 30 (x within e^-30 of the boundary):
beyond them the step's drift h f'(x) and scale sqrt(2h phi''(x)) grow like e^|y| and throw
the point further out (the chain is in its explosive regime), and near y = 37 float64 rounds
x onto the boundary, where a Monte Carlo chain freezes. For the box log-barrier the edges
are x within 1e-10 of the boundary, where for Beta(a, b), a, b > 1, the chain's law has no
visible mass (its escape is 0 to quadrature accuracy).

What is reported per step: the surviving mass, the escaped mass below and above, and the
mean and variance of x = grad phi*(y) under the surviving law renormalised; the final
density; the quasi-stationary law (the Perron eigenvector of the sub-Markov operator,
eigenvalue lambda: the law of the survivors after a long time; escape rate -log(lambda)/h per
unit time), which is the stationary law when lambda = 1 to quadrature accuracy.

Accuracy, stated by the result: `initial_outside` = the target's mass beyond the grid (the
start is the target restricted to the grid and renormalised), `mass_defect` =
|1 - surviving - escaped| (the quadrature error of the kernel's in-grid mass, summed over
steps) and `grid_check` = the change of the
reported numbers when the grid spacing is doubled (an upper estimate of the error, since the
rule converges faster than geometrically).

NumPy/SciPy, not JAX, for the propagation: it is one fixed sparse matrix applied K times and
one sparse eigen-solve, with nothing to differentiate or batch; scipy.sparse has both, JAX on
CPU has neither a sparse eigen-solver nor a sparse product that would not be recompiled for
every grid size. The kernel's moments are still read off the JAX step (one vmap).
"""

from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import scipy.special

from sampling.langevin import (
    ULA,
    BoxBarrier,
    DualLangevin,
    EntropicBox,
    FermiDirac,
    MirrorLangevin,
)
from sampling.targets import GaussianPotential

DUAL_EDGE = 30.0  # |y| beyond which an entropic-map chain has escaped (see module docstring)
BOX_EDGE = 1e-10  # relative distance to the boundary where the box-barrier grid stops
MAX_NODES = 40000
MIN_NODES = 1000
_CUT = 40.0  # kernel standard deviations kept per source node (exp(-800) underflows)
STATIONARY_TOLERANCE = 1e-10  # |1 - lambda| per step below which the law is stationary


@dataclass(frozen=True)
class DualGrid:
    """Quadrature nodes y_i (sorted), weights w_i, and the dual edges [lower, upper]."""

    nodes: np.ndarray
    weights: np.ndarray
    lower: float
    upper: float
    coordinate: str


def _midpoint_grid(lo_u, hi_u, n, to_y, dy_du, lower, upper, coordinate) -> DualGrid:
    du = (hi_u - lo_u) / n
    u = lo_u + (np.arange(n) + 0.5) * du
    return DualGrid(to_y(u), du * dy_du(u), lower, upper, coordinate)


def _map_kind(kernel) -> str:
    if isinstance(kernel, ULA):
        return "euclidean"
    if isinstance(kernel, MirrorLangevin | DualLangevin):
        if isinstance(kernel.mirror, FermiDirac | EntropicBox):
            return "entropic"
        if isinstance(kernel.mirror, BoxBarrier):
            return "barrier"
        raise ValueError(f"no 1-D grid for the {kernel.mirror.name} mirror map; allowed: "
                         "fermi-dirac, entropic-box, box-barrier (and ULA)")
    raise ValueError(f"no 1-D grid law for {type(kernel).__name__}; allowed: ULA, "
                     "MirrorLangevin, DualLangevin")


def _layout(kernel):
    """(u-range, y(u), dy/du, dual edges, coordinate name) before the spacing is chosen."""
    kind = _map_kind(kernel)
    target = kernel.target
    if kind == "euclidean":
        if isinstance(target, GaussianPotential):
            a = float(np.asarray(target.precision_matrix())[0, 0])
            mu = float(np.asarray(target.mean)[0])
            h = float(kernel.step_size)
            if not h < 2.0 / a:
                raise ValueError(f"step size h = {h!r} is at or above ULA's stability bound "
                                 f"2/A = {2.0 / a!r}: the chain diverges")
            sd = max(1.0 / np.sqrt(a), 1.0 / np.sqrt(a - 0.5 * h * a * a))
            lo, hi = mu - 14.0 * sd, mu + 14.0 * sd  # Gaussian mass beyond 14 sd: < 1e-44
        elif hasattr(target, "lower") and hasattr(target, "upper"):
            lo, hi = float(np.ravel(target.lower)[0]), float(np.ravel(target.upper)[0])
        else:
            raise ValueError(f"ULA on the grid needs a Gaussian target or one on an interval, "
                             f"got {type(target).__name__}")
        return (lo, hi), (lambda u: u), np.ones_like, (lo, hi), "linear"
    if kind == "entropic":
        return ((-DUAL_EDGE, DUAL_EDGE), (lambda u: u), np.ones_like,
                (-DUAL_EDGE, DUAL_EDGE), "linear")
    a = float(np.ravel(kernel.mirror.upper - kernel.mirror.lower)[0]) / 2
    c = np.sqrt(2.0) / a  # equal kernel widths in u at the centre and in the tails
    edge = 1.0 / (2.0 * a * BOX_EDGE)  # x - l ~ 1/|y| near the boundary
    lim = float(np.arcsinh(edge / c))
    return ((-lim, lim), (lambda u: c * np.sinh(u)), (lambda u: c * np.cosh(u)),
            (-edge, edge), "asinh")


@eqx.filter_jit
def _node_moments(kernel, y):
    """Per node: x = grad phi*(y), the step's mean m(y) and scale s(y) (read off the kernel at
    z = 0, 1), an affinity residual (z = -1), log pi(x) - log|dy/dx| (the target's density
    in y, unnormalised) and whether x is strictly inside the domain."""
    def one(yi):
        yv = yi[None]
        if isinstance(kernel, ULA):
            x, inc, log_jac = yv, (lambda z: kernel.increment(yv, z)), jnp.zeros(())
        else:
            x = kernel.mirror.grad_conjugate(yv)
            if isinstance(kernel, MirrorLangevin):
                inc = lambda z: kernel.mirror_increment(x, z)  # noqa: E731
            else:
                inc = lambda z: kernel.dual_increment(yv, z)  # noqa: E731
            log_jac = kernel.mirror.log_det_hessian(x)  # dy/dx = phi''(x)
        a0, a1, am = inc(jnp.zeros(1)), inc(jnp.ones(1)), inc(-jnp.ones(1))
        inside = kernel.target.in_domain(x) & (kernel.mirror.in_domain(x)
                                               if hasattr(kernel, "mirror") else True)
        safe = jnp.where(inside, x, jnp.full_like(x, jnp.nan))
        log_p = -kernel.target.potential(safe) - log_jac
        return x[0], yi + a0[0], a1[0] - a0[0], (a1 + am - 2 * a0)[0], log_p, inside
    return jax.vmap(one)(y)


_CHUNK = 2048  # nodes per compiled call: one compilation per kernel type, whatever the grid


def _moments(kernel, grid: DualGrid):
    y = grid.nodes
    pad = -y.size % _CHUNK
    padded = np.concatenate([y, np.full(pad, y[y.size // 2])])  # a harmless interior node
    parts = [_node_moments(kernel, jnp.asarray(c)) for c in padded.reshape(-1, _CHUNK)]
    x, m, s, curv, log_p, inside = (np.concatenate([np.asarray(p[i]) for p in parts])[:y.size]
                                    for i in range(6))
    if not np.all(inside):
        bad = grid.nodes[~inside]
        raise ValueError(f"grid nodes y = {bad[0]!r}... map onto the domain's boundary in float64; "
                         "narrow the grid")
    s = np.abs(s)
    if np.any(np.abs(curv) > 1e-9 * (np.abs(m - grid.nodes) + s + 1e-300)):
        raise ValueError(f"{type(kernel).__name__}'s step is not affine in its normals; the grid "
                         "law needs a Gaussian transition given the current point")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("the step's mean or scale is not finite and positive on the grid")
    return x, m, s, log_p


def dual_grid(kernel, resolution: float = 4.0, n_nodes: int | None = None) -> DualGrid:
    """The grid for `kernel`: uniform in u, with `resolution` nodes per kernel standard
    deviation (the smallest over the grid, measured in u) and at least MIN_NODES nodes;
    `n_nodes` fixes the count instead."""
    if not (np.isfinite(resolution) and resolution > 0):
        raise ValueError(f"resolution must be finite and > 0, got {resolution!r}")
    (lo_u, hi_u), to_y, dy_du, (lower, upper), name = _layout(kernel)
    if n_nodes is not None:
        return _midpoint_grid(lo_u, hi_u, int(n_nodes), to_y, dy_du, lower, upper, name)
    probe = _midpoint_grid(lo_u, hi_u, _CHUNK, to_y, dy_du, lower, upper, name)
    _, _, s, _ = _moments(kernel, probe)
    u = lo_u + (np.arange(_CHUNK) + 0.5) * (hi_u - lo_u) / _CHUNK
    width_u = np.min(s / dy_du(u))
    n = int(np.ceil((hi_u - lo_u) * resolution / width_u))
    n = max(n, MIN_NODES)
    if n > MAX_NODES:
        raise ValueError(f"the grid would need {n} nodes (> {MAX_NODES}) at h = "
                         f"{float(kernel.step_size)!r}: the step is too small for the grid route")
    return _midpoint_grid(lo_u, hi_u, n, to_y, dy_du, lower, upper, name)


def _operator(grid: DualGrid, m, s):
    """Sparse A with A[i, j] = w_i N(y_j; m_i, s_i^2) (source i to node j), and per source the
    exact probabilities of leaving below and above the grid."""
    y, w = grid.nodes, grid.weights
    first = np.searchsorted(y, m - _CUT * s)
    last = np.searchsorted(y, m + _CUT * s)
    counts = last - first
    rows = np.repeat(np.arange(y.size), counts)
    cols = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + \
        np.repeat(first, counts)
    z = (y[cols] - m[rows]) / s[rows]
    vals = w[rows] * np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * s[rows])
    op = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(y.size, y.size))
    below = scipy.special.ndtr((grid.lower - m) / s)
    above = scipy.special.ndtr((m - grid.upper) / s)
    return op, below, above


@dataclass(frozen=True)
class Langevin1DLaw:
    """The grid law of a 1-D chain started from its target; see `langevin_1d`."""

    step: float
    n_steps: int
    nodes: np.ndarray  # dual grid y_i
    weights: np.ndarray
    positions: np.ndarray  # x_i = grad phi*(y_i)
    surviving: np.ndarray  # (n_steps + 1,) mass still on the grid
    escaped_below: np.ndarray  # (n_steps + 1,) cumulative
    escaped_above: np.ndarray
    mean: np.ndarray  # (n_steps + 1,) of x under the survivors' law, renormalised
    variance: np.ndarray
    density: np.ndarray  # final density of y at the nodes (unnormalised: integrates to surviving)
    target_mean: float
    target_variance: float
    eigenvalue: float  # Perron eigenvalue of the one-step sub-Markov operator
    qsd_density: np.ndarray
    qsd_mean: float
    qsd_variance: float
    qsd_escape_below_fraction: float
    mass_defect: float
    grid_check: dict = field(default_factory=dict)
    initial_outside: float | None = None  # target mass beyond the grid (None: CDF unknown)

    @property
    def escaped(self) -> np.ndarray:
        return self.escaped_below + self.escaped_above

    @property
    def escape_rate(self) -> float:
        """-log(lambda) / h: the quasi-stationary escape rate per unit time."""
        return float(-np.log1p(self.eigenvalue - 1.0) / self.step)

    @property
    def stationary(self) -> bool:
        return abs(1.0 - self.eigenvalue) < STATIONARY_TOLERANCE

    @property
    def survivor_variance_error(self) -> float:
        return float(self.variance[-1] - self.target_variance)

    @property
    def quasi_stationary_bias(self) -> float:
        return float(self.qsd_variance - self.target_variance)

    @property
    def stationary_bias(self) -> float | None:
        return self.quasi_stationary_bias if self.stationary else None


def _weighted_moments(w, p, x):
    mass = np.sum(w * p)
    mean = np.sum(w * p * x) / mass
    return mass, mean, np.sum(w * p * (x - mean) ** 2) / mass


def _perron(op_t, start):
    """Leading eigenpair of the nonnegative operator op_t (p -> A^T p)."""
    vals, vecs = scipy.sparse.linalg.eigs(op_t, k=1, which="LM", v0=start, tol=1e-13,
                                          maxiter=20000)
    lam, vec = vals[0], vecs[:, 0]
    vec = vec * np.exp(-1j * np.angle(vec[np.argmax(np.abs(vec))]))
    if abs(lam.imag) > 1e-10 or np.max(np.abs(vec.imag)) > 1e-8 * np.max(np.abs(vec)):
        raise ValueError(f"the leading eigenvalue {lam} is not real: no quasi-stationary law")
    vec = vec.real
    vec[np.abs(vec) < 1e-14 * np.max(vec)] = 0.0
    if np.any(vec < 0):
        raise ValueError("the leading eigenvector changes sign: the grid is too coarse")
    return float(lam.real), vec


def _propagate(kernel, grid: DualGrid, n_steps: int):
    x, m, s, log_p = _moments(kernel, grid)
    w = grid.weights
    p = np.exp(log_p - np.max(log_p))
    p /= np.sum(w * p)
    op, below, above = _operator(grid, m, s)
    op_t = op.T.tocsr()
    surv, esc_lo, esc_hi, means, variances = [], [0.0], [0.0], [], []
    mass, mean, var = _weighted_moments(w, p, x)
    surv.append(mass)
    means.append(mean)
    variances.append(var)
    for _ in range(n_steps):
        wp = w * p
        esc_lo.append(esc_lo[-1] + float(wp @ below))
        esc_hi.append(esc_hi[-1] + float(wp @ above))
        p = op_t @ p
        mass, mean, var = _weighted_moments(w, p, x)
        surv.append(mass)
        means.append(mean)
        variances.append(var)
    lam, q = _perron(op_t, p)
    wq = w * q
    qsd_below = float(wq @ below) / max(float(wq @ (below + above)), 1e-300)
    _, qmean, qvar = _weighted_moments(w, q, x)
    start_mass, start_mean, start_var = _weighted_moments(w, np.exp(log_p - np.max(log_p)), x)
    return dict(x=x, surviving=np.array(surv), below=np.array(esc_lo), above=np.array(esc_hi),
                mean=np.array(means), variance=np.array(variances), density=p, eigenvalue=lam,
                qsd=q / np.sum(wq), qmean=qmean, qvar=qvar, qsd_below=qsd_below,
                start_mean=start_mean, start_var=start_var)


def _target_moments(target, fallback_mean, fallback_var):
    """Exact mean and variance of the first coordinate where the target knows them."""
    if isinstance(target, GaussianPotential):
        return (float(np.asarray(target.mean)[0]),
                float(1.0 / np.asarray(target.precision_matrix())[0, 0]))
    if hasattr(target, "variance") and hasattr(target, "mean") and callable(target.mean):
        return float(np.ravel(target.mean())[0]), float(np.ravel(target.variance())[0])
    return fallback_mean, fallback_var


def _target_cdf(target, x: float) -> float | None:
    """P(X <= x) for the target's first coordinate, where known in closed form."""
    from sampling.targets import BetaProduct, LogitNormal

    if isinstance(target, BetaProduct):
        a, b, lo, hi = (float(np.ravel(v)[0]) for v in (target.a, target.b, target.lower,
                                                        target.upper))
        return float(scipy.special.betainc(a, b, np.clip((x - lo) / (hi - lo), 0.0, 1.0)))
    if isinstance(target, GaussianPotential):
        a = float(np.asarray(target.precision_matrix())[0, 0])
        return float(scipy.special.ndtr((x - float(np.asarray(target.mean)[0])) * np.sqrt(a)))
    if isinstance(target, LogitNormal):
        m, v = float(target.dual_mean[0]), float(target.dual_cov[0, 0])
        if x <= 0 or x >= 1:
            return 0.0 if x <= 0 else 1.0
        return float(scipy.special.ndtr((scipy.special.logit(x) - m) / np.sqrt(v)))
    return None


def _initial_outside(kernel, grid: DualGrid) -> float | None:
    """The target's mass beyond the grid's edges (dropped: the start is the target restricted
    to the grid, renormalised); None where the target's CDF is not known."""
    edges = np.array([grid.lower, grid.upper])
    if not isinstance(kernel, ULA):
        edges = np.asarray(jax.vmap(kernel.mirror.grad_conjugate)(jnp.asarray(edges)[:, None]))[:, 0]
    lo, hi = (_target_cdf(kernel.target, float(e)) for e in edges)
    return None if lo is None else float(lo + (1.0 - hi))


def langevin_1d(kernel, n_steps: int, *, resolution: float = 4.0,
                check: bool = True) -> Langevin1DLaw:
    """The law of `n_steps` steps of a 1-D `ULA`, `MirrorLangevin` or `DualLangevin` chain
    started from its target, on the grid of `dual_grid` (see the module docstring).

    `check`: also run on a grid of half the nodes (twice the spacing) and report in `grid_check` how much the
    escaped mass, the survivors' variance and the quasi-stationary variance moved.
    """
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"number of steps must be an integer >= 0, got {n_steps!r}")
    target = kernel.target
    if getattr(target, "dim", 1) != 1:
        raise ValueError(f"the grid law is for 1-D targets, got dimension {target.dim}")
    grid = dual_grid(kernel, resolution)
    r = _propagate(kernel, grid, int(n_steps))
    mean, var = _target_moments(target, r["start_mean"], r["start_var"])
    defect = abs(1.0 - r["surviving"][-1] - r["below"][-1] - r["above"][-1])
    checks = {}
    if check:
        coarse = _propagate(kernel, dual_grid(kernel, n_nodes=grid.nodes.size // 2), int(n_steps))
        checks = {
            "escaped": abs(coarse["below"][-1] + coarse["above"][-1] - r["below"][-1]
                           - r["above"][-1]),
            "survivor_variance": abs(coarse["variance"][-1] - r["variance"][-1]),
            "qsd_variance": abs(coarse["qvar"] - r["qvar"]),
            "eigenvalue": abs(coarse["eigenvalue"] - r["eigenvalue"]),
            "nodes": [grid.nodes.size, coarse["x"].size],
        }
    return Langevin1DLaw(
        step=float(kernel.step_size), n_steps=int(n_steps), nodes=grid.nodes,
        weights=grid.weights, positions=r["x"], surviving=r["surviving"],
        escaped_below=r["below"], escaped_above=r["above"], mean=r["mean"],
        variance=r["variance"], density=r["density"], target_mean=mean, target_variance=var,
        eigenvalue=r["eigenvalue"], qsd_density=r["qsd"], qsd_mean=r["qmean"],
        qsd_variance=r["qvar"], qsd_escape_below_fraction=r["qsd_below"], mass_defect=defect,
        grid_check=checks, initial_outside=_initial_outside(kernel, grid))


# ----------------------------------------------------------------------------------------
# Named 1-D targets and maps: what `dlsim langevin-1d` runs.

TARGET_FORMS = "beta:A:B (on (0, 1)), logit-normal:M:S (logit x ~ N(M, S^2)), gaussian:MEAN:VAR"
MIRRORS_1D = {"identity": None, "fermi-dirac": FermiDirac, "entropic-box": EntropicBox,
              "box-barrier": BoxBarrier}
SCHEMES_1D = ("mlmc", "hsieh")


def parse_target_1d(spec: str):
    """A 1-D target from 'beta:A:B', 'logit-normal:M:S' or 'gaussian:MEAN:VAR'."""
    from sampling.targets import BetaProduct, LogitNormal

    name, _, rest = str(spec).partition(":")
    try:
        values = [float(v) for v in rest.split(":")] if rest else []
    except ValueError:
        raise ValueError(f"malformed target {spec!r}; allowed: {TARGET_FORMS}") from None
    if len(values) != 2 or name not in ("beta", "logit-normal", "gaussian"):
        raise ValueError(f"malformed target {spec!r}; allowed: {TARGET_FORMS}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"target {spec!r} has a non-finite parameter")
    a, b = values
    if name == "beta":
        return BetaProduct(a, b)
    if b <= 0:
        raise ValueError(f"target {spec!r}: the second parameter must be > 0, got {b!r}")
    if name == "logit-normal":
        return LogitNormal(jnp.array([a]), jnp.array([b * b]))
    return GaussianPotential(jnp.array([1.0 / b]), jnp.array([a]))


def kernel_1d(target, mirror: str, h: float, scheme: str = "mlmc"):
    """ULA (mirror 'identity'), [MLMC]'s MirrorLangevin (scheme 'mlmc') or Hsieh et al.'s
    DualLangevin (scheme 'hsieh') on a 1-D target with a named map on (0, 1)."""
    if mirror not in MIRRORS_1D:
        raise ValueError(f"unknown mirror {mirror!r}; allowed: {', '.join(MIRRORS_1D)}")
    if scheme not in SCHEMES_1D:
        raise ValueError(f"unknown scheme {scheme!r}; allowed: {', '.join(SCHEMES_1D)}")
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"step size must be finite and > 0, got {h!r}")
    if mirror == "identity":
        return ULA(target, h)
    if isinstance(target, GaussianPotential):
        raise ValueError(f"the {mirror} map lives on (0, 1); a Gaussian target takes only "
                         "--mirror identity")
    cls = MirrorLangevin if scheme == "mlmc" else DualLangevin
    return cls(target, MIRRORS_1D[mirror](), h)


def langevin_1d_table(target_spec: str, mirror: str, steps, time: float,
                      scheme: str = "mlmc", resolution: float = 4.0) -> dict:
    """For each step size h: the grid law after ceil(time / h) steps from the target, and the
    quasi-stationary law. Plain data (lists, None where a value does not exist)."""
    if not (np.isfinite(time) and time > 0):
        raise ValueError(f"time must be finite and > 0, got {time!r}")
    steps = [float(h) for h in np.atleast_1d(steps)]
    if not steps:
        raise ValueError("give at least one step size")
    target = parse_target_1d(target_spec)
    kernels = [kernel_1d(target, mirror, h, scheme) for h in steps]  # validate all first
    cols = {k: [] for k in ("step", "n_steps", "escaped", "escaped_below", "escaped_above",
                            "survivor_mass", "survivor_mean_error", "survivor_variance_error",
                            "escape_rate", "quasi_stationary_bias", "stationary_bias",
                            "mass_defect", "grid_error", "initial_outside", "nodes")}
    target_variance = None
    for h, kernel in zip(steps, kernels, strict=True):
        n = int(np.ceil(round(time / h, 9)))
        law = langevin_1d(kernel, n, resolution=resolution, check=True)
        target_variance = law.target_variance
        chk = law.grid_check
        vals = (h, n, float(law.escaped[-1]), float(law.escaped_below[-1]),
                float(law.escaped_above[-1]), float(law.surviving[-1]),
                float(law.mean[-1] - law.target_mean), law.survivor_variance_error,
                law.escape_rate, law.quasi_stationary_bias, law.stationary_bias,
                law.mass_defect,
                float(max(chk["escaped"], chk["survivor_variance"], chk["qsd_variance"])),
                law.initial_outside, int(law.nodes.size))
        for key, v in zip(cols, vals, strict=True):
            cols[key].append(v)
    return {"target": target_spec, "mirror": mirror,
            "scheme": "ULA" if mirror == "identity" else {"mlmc": "MLMC (MirrorLangevin)",
                                                         "hsieh": "Hsieh dual (DualLangevin)"}[scheme],
            "time": float(time), "target_variance": target_variance, **cols}


# ----------------------------------------------------------------------------------------
# Monte Carlo side: escape made visible, and slopes with standard errors.

@dataclass(frozen=True)
class SurvivorStatistics:
    """Monte Carlo summary of a `MirrorRun` for one coordinate: the fractions of chains that
    escaped and that froze (binomial standard errors), and the mean and variance errors of
    the surviving chains and, separately, of all chains (lost ones included, at whatever
    point they stopped): each with its standard error."""

    n_chains: int
    escaped: float
    escaped_se: float
    frozen: float
    frozen_se: float
    survivor_mean_error: float | None  # None: fewer than 2 survivors
    survivor_mean_error_se: float | None
    survivor_variance_error: float | None
    survivor_variance_error_se: float | None
    all_mean_error: float
    all_mean_error_se: float
    all_variance_error: float
    all_variance_error_se: float

    @property
    def lost(self) -> float:
        return self.escaped + self.frozen

    @property
    def lost_se(self) -> float:
        return float(np.sqrt(self.lost * (1 - self.lost) / self.n_chains))


def _mean_var_errors(x, mean, var):
    n = x.size
    if n < 2:
        raise ValueError(f"need at least 2 chains for a variance, got {n}")
    v = x.var(ddof=1)
    mu4 = np.mean((x - x.mean()) ** 4)
    return (float(x.mean() - mean), float(x.std() / np.sqrt(n)), float(v - var),
            float(np.sqrt(max(mu4 - x.var() ** 2, 0.0) / n)))


def survivor_statistics(run, mean: float, variance: float, coordinate: int = 0
                        ) -> SurvivorStatistics:
    """Summarise a `sampling.run_mirror_langevin` run against a target coordinate's exact
    `mean` and `variance`. Frozen and escaped chains are counted, never averaged into the
    survivors' statistics; the all-chain statistics are reported beside them."""
    x = np.asarray(run.state.position)[:, coordinate]
    esc, frozen, surv = (np.asarray(v) for v in (run.escaped, run.frozen, run.survived))
    n = x.size
    binom = lambda p: float(np.sqrt(p * (1 - p) / n))  # noqa: E731
    # Fewer than 2 survivors: no survivors' statistics (None), never NaN.
    s = _mean_var_errors(x[surv], mean, variance) if surv.sum() >= 2 else (None,) * 4
    finite = np.isfinite(x)
    a = _mean_var_errors(x[finite], mean, variance)
    return SurvivorStatistics(n, float(esc.mean()), binom(esc.mean()), float(frozen.mean()),
                              binom(frozen.mean()), *s, *a)


def stationary_mask(values_t, se_t, values_2t, se_2t, z: float = 3.0) -> np.ndarray:
    """True where a statistic measured at run lengths T and 2T agrees within z standard
    errors of the difference: the check that it is stationary before a slope is fitted."""
    vt, st, v2, s2 = (np.asarray(v, float) for v in (values_t, se_t, values_2t, se_2t))
    return np.abs(vt - v2) <= z * np.sqrt(st**2 + s2**2)


def power_law_slope(h, values, se=None) -> tuple[float, float]:
    """(slope, standard error) of log|values| against log h by least squares.

    With standard errors `se` (Monte Carlo): weighted by |value| / se (the delta method for
    log|value|), slope s.e. from the weighted fit, inflated by sqrt(chi^2 / dof) when the
    points scatter more than their errors. Without (grid values, no sampling noise): the
    s.e. from the residuals, i.e. how far the points are from one power law (needs >= 3)."""
    h, v = np.asarray(h, float), np.abs(np.asarray(values, float))
    if h.size < 2 or h.size != v.size or np.any(v <= 0) or np.any(h <= 0):
        raise ValueError(f"a slope needs >= 2 positive values at positive h, got {v.tolist()}")
    x, y = np.log(h), np.log(v)
    if se is None:
        if h.size < 3:
            raise ValueError("a slope's standard error from residuals needs >= 3 points")
        coef, cov = np.polyfit(x, y, 1, cov=True)
        return float(coef[0]), float(np.sqrt(cov[0, 0]))
    sigma = np.asarray(se, float) / v
    wts = 1.0 / sigma**2
    xm = np.sum(wts * x) / np.sum(wts)
    sxx = np.sum(wts * (x - xm) ** 2)
    slope = float(np.sum(wts * (x - xm) * y) / sxx)
    intercept = np.sum(wts * y) / np.sum(wts) - slope * xm
    dof = h.size - 2
    chi2 = float(np.sum(wts * (y - intercept - slope * x) ** 2))
    inflate = max(1.0, np.sqrt(chi2 / dof)) if dof > 0 else 1.0
    return slope, float(inflate / np.sqrt(sxx))
