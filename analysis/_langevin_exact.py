r"""Exact references for the Langevin family on Gaussian targets ([MLMC], MATH.md section 5).

With a Gaussian target N(mu, A^-1) and a quadratic mirror map (preconditioned ULA,
including ULA and Newton–Langevin) one step is affine in the state and in the normals it
consumes: x+ = x + D x + c + B z. The map is read off the kernel's own `increment`
(jax.linearize, exact for an affine map), so the sampler and its exact law cannot drift
apart (DESIGN.md section 2). Keeping the increment D instead of I + D keeps full relative
precision for small h: the stationary covariance solves D S + S D^T + D S D^T = -B B^T.

Closed forms (references and test oracles, MATH.md section 5):
stable iff h < 2 / lambda_max(M^-1 A); stationary covariance (A - (h/2) A M^-1 A)^-1;
continuous time Sigma(t) = A^-1 + e^{-tK}(Sigma_0 - A^-1) e^{-tK^T}, K = M^-1 A.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jaxtyping import Array

from sampling import (
    ULA,
    AbstractUnadjustedKernel,
    DualLangevin,
    EntropyOrthant,
    EntropySimplex,
    FermiDirac,
    GaussianLaw,
    GaussianPotential,
    LogisticNormal,
    LogitNormal,
    LogNormal,
    NewtonLangevin,
    PreconditionedULA,
)
from sampling.targets._potential import check_positive_definite
from schedules._errors import check_finite_scalar

from ._distances import kl_gaussian, w2_gaussian


@dataclass(frozen=True)
class AffineIncrement:
    """One step x+ = x + drift @ x + offset + noise @ z, z ~ N(0, I)."""

    drift: np.ndarray
    offset: np.ndarray
    noise: np.ndarray


def _increment_function(kernel):
    if isinstance(kernel, DualLangevin):
        return kernel.dual_increment
    if isinstance(kernel, AbstractUnadjustedKernel):
        return kernel.increment
    raise ValueError(f"{type(kernel).__name__} has no affine increment; exact laws exist for "
                     "unadjusted kernels (ULA, PreconditionedULA, NewtonLangevin, "
                     "AnnealedLangevin, DualLangevin)")


@eqx.filter_jit
def _linear_parts(kernel, dim: int, step_index):
    fn = _increment_function(kernel)
    x0, z0 = jnp.zeros(dim), jnp.zeros(dim)
    offset, jvp = jax.linearize(lambda x, z: fn(x, z, step_index), x0, z0)
    eye = jnp.eye(dim)
    drift = jax.vmap(lambda e: jvp(e, z0), out_axes=1)(eye)
    noise = jax.vmap(lambda e: jvp(x0, e), out_axes=1)(eye)
    probe = jnp.linspace(-1.0, 1.0, dim) + 0.5
    actual = fn(probe, z0, step_index)
    mismatch = jnp.max(jnp.abs(offset + drift @ probe - actual))
    scale = jnp.max(jnp.abs(actual)) + jnp.max(jnp.abs(offset)) + 1e-300
    return drift, offset, noise, mismatch / scale


def _check_affine(kernel, relative_mismatch) -> None:
    if float(np.max(np.asarray(relative_mismatch))) > 1e-8:
        raise ValueError(f"{type(kernel).__name__}'s step is not affine in x for this target; "
                         "exact laws need a Gaussian target (use Monte Carlo otherwise)")


def read_increment(kernel, dim: int, step_index: int = 0) -> AffineIncrement:
    """Read (D, c, B) off the kernel's increment at step `step_index` by jax.linearize.

    Exact when the increment is affine in (x, z), i.e. for a Gaussian target (a Gaussian
    dual target for `DualLangevin`); checked at a second point, a ValueError otherwise.
    """
    _increment_function(kernel)
    drift, offset, noise, mismatch = _linear_parts(kernel, dim, jnp.asarray(step_index))
    _check_affine(kernel, mismatch)
    return AffineIncrement(np.asarray(drift), np.asarray(offset), np.asarray(noise))


def _check_contraction(drift: np.ndarray, what: str) -> None:
    radius = float(np.max(np.abs(np.linalg.eigvals(np.eye(drift.shape[0]) + drift))))
    if not radius < 1.0:
        raise ValueError(f"{what} is not stable: spectral radius of its step is {radius:.6g} "
                         ">= 1, so it has no stationary law")


def _check_known_bound(kernel) -> None:
    """Name the closed-form stability bound when the kernel is one of the quadratic family."""
    target = getattr(kernel, "target", None)
    if not isinstance(target, GaussianPotential) or not np.ndim(kernel.step_size) == 0:
        return
    h = float(kernel.step_size)
    a = np.asarray(target.precision_matrix())
    if isinstance(kernel, NewtonLangevin):
        check_step_below_bound(h, 2.0, "Newton–Langevin")
    elif isinstance(kernel, PreconditionedULA):
        check_step_below_bound(h, stability_bound(a, np.asarray(kernel.preconditioner)),
                               "preconditioned ULA")
    elif isinstance(kernel, ULA):
        check_step_below_bound(h, stability_bound(a), "ULA")


def stationary_law(kernel, dim: int) -> GaussianLaw:
    """Exact stationary law of a homogeneous unadjusted kernel on a Gaussian target.

    Mean -D^-1 c; covariance from the increment form of the discrete Lyapunov equation,
    D S + S D^T + D S D^T = -B B^T. A symmetric D (ULA on a Gaussian or a learned symmetric
    affine score) is solved in its eigenbasis, O(d^3); otherwise by a Kronecker solve, O(d^6),
    meant for small d.
    """
    if not getattr(kernel, "is_homogeneous", True):
        raise ValueError(f"{type(kernel).__name__} changes with the step; it has no single "
                         "stationary law")
    _check_known_bound(kernel)
    inc = read_increment(kernel, dim)
    _check_contraction(inc.drift, type(kernel).__name__)
    cov = _increment_lyapunov(inc.drift, inc.noise @ inc.noise.T)
    mean = -np.linalg.solve(inc.drift, inc.offset)
    return GaussianLaw(jnp.asarray(mean), jnp.asarray((cov + cov.T) / 2))


def _increment_lyapunov(d: np.ndarray, q: np.ndarray) -> np.ndarray:
    """S with D S + S D^T + D S D^T = -Q, i.e. S = (I + D) S (I + D)^T + Q written without
    forming I + D, which would lose the digits of a small step's D."""
    if np.allclose(d, d.T, rtol=0.0, atol=1e-14 * np.max(np.abs(d))):
        w, v = np.linalg.eigh((d + d.T) / 2)
        denom = w[:, None] + w[None, :] + w[:, None] * w[None, :]
        return v @ (-(v.T @ q @ v) / denom) @ v.T
    eye = np.eye(d.shape[0])
    op = np.kron(eye, d) + np.kron(d, eye) + np.kron(d, d)
    rhs = -q.reshape(-1, order="F")
    return np.linalg.solve(op, rhs).reshape(d.shape, order="F")


def _compose(first, second):
    """The affine Gaussian map 'first, then second' on (A, c, Q): x -> A x + c, noise cov Q."""
    a1, c1, q1 = first
    a2, c2, q2 = second
    return a2 @ a1, a2 @ c1 + c2, a2 @ q1 @ a2.T + q2


def langevin_law(kernel, start: GaussianLaw, n_steps: int) -> GaussianLaw:
    """Exact law after `n_steps` steps of an unadjusted kernel from the Gaussian `start`.

    Homogeneous kernels compose their one-step map by repeated squaring (log2 n_steps
    products); others (annealed Langevin) read the map off every step.
    """
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"number of steps must be an integer >= 0, got {n_steps!r}")
    n_steps = int(n_steps)
    dim = start.dim
    identity = (np.eye(dim), np.zeros(dim), np.zeros((dim, dim)))

    if getattr(kernel, "is_homogeneous", True):
        inc = read_increment(kernel, dim)
        one = (np.eye(dim) + inc.drift, inc.offset, inc.noise @ inc.noise.T)
        total, power, k = identity, one, n_steps
        while k:
            if k & 1:
                total = _compose(total, power)
            power = _compose(power, power)
            k >>= 1
    else:
        _increment_function(kernel)
        parts = jax.vmap(lambda k: _linear_parts(kernel, dim, k))(jnp.arange(n_steps))
        drifts, offsets, noises, mismatch = (np.asarray(p) for p in parts)
        _check_affine(kernel, mismatch)
        total = identity
        for k in range(n_steps):
            total = _compose(total, (np.eye(dim) + drifts[k], offsets[k],
                                     noises[k] @ noises[k].T))
    a, c, q = total
    mean = a @ np.asarray(start.mean) + c
    cov = a @ np.asarray(start.covariance_matrix()) @ a.T + q
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise FloatingPointError(f"the exact law of {type(kernel).__name__} after {n_steps} "
                                 "steps is not finite: the chain diverges")
    return GaussianLaw(jnp.asarray(mean), jnp.asarray((cov + cov.T) / 2))


def _as_matrix(name, m, dim=None) -> np.ndarray:
    m = check_positive_definite(name, m)
    if dim is not None and m.shape[0] != dim:
        raise ValueError(f"{name} has dimension {m.shape[0]}, the target has {dim}")
    return np.diag(m) if m.ndim == 1 else m


def stability_bound(precision, preconditioner=None) -> float:
    """h_max = 2 / lambda_max(M^-1 A): preconditioned ULA on N(mu, A^-1) is stable iff h < h_max.
    M = None means M = I (ULA)."""
    a = _as_matrix("precision A", precision)
    m = np.eye(a.shape[0]) if preconditioner is None else _as_matrix(
        "preconditioner M", preconditioner, a.shape[0])
    if not (np.any(a - np.diag(np.diag(a))) or np.any(m - np.diag(np.diag(m)))):
        return float(2.0 / np.max(np.diag(a) / np.diag(m)))  # diagonal: no eigen-solver rounding
    return float(2.0 / scipy.linalg.eigh(a, m, eigvals_only=True)[-1])


def check_step_below_bound(h, bound: float, what: str = "preconditioned ULA") -> float:
    """Return h, or raise ValueError when h is not in (0, bound), naming the bound."""
    h = check_finite_scalar("step size h", h, positive=True)
    if h >= bound:
        raise ValueError(f"step size h = {h!r} is at or above the stability bound "
                         f"h_max = 2/lambda_max(M^-1 A) = {bound!r} of {what}: the chain diverges")
    return h


def stationary_covariance(precision, preconditioner, h) -> np.ndarray:
    """Closed form Sigma_h = (A - (h/2) A M^-1 A)^-1 ([MLMC], MATH.md section 5); M = None is I."""
    a = _as_matrix("precision A", precision)
    m = np.eye(a.shape[0]) if preconditioner is None else _as_matrix(
        "preconditioner M", preconditioner, a.shape[0])
    check_step_below_bound(h, stability_bound(a, m))
    return np.linalg.inv(a - 0.5 * h * a @ np.linalg.solve(m, a))


def continuous_time_covariance(precision, preconditioner, cov0, t) -> np.ndarray:
    """Sigma(t) = A^-1 + e^{-tK} (Sigma_0 - A^-1) e^{-tK^T}, K = M^-1 A: the law at time t of
    the preconditioned Langevin diffusion dX = -M^-1 A (X - mu) dt + sqrt(2) M^-1/2 dW."""
    a = _as_matrix("precision A", precision)
    m = np.eye(a.shape[0]) if preconditioner is None else _as_matrix(
        "preconditioner M", preconditioner, a.shape[0])
    t = check_finite_scalar("time t", t)
    if t < 0:
        raise ValueError(f"time t must be >= 0, got {t!r}")
    e = scipy.linalg.expm(-t * np.linalg.solve(m, a))
    inv_a = np.linalg.inv(a)
    return inv_a + e @ (np.asarray(cov0, float) - inv_a) @ e.T


def continuous_time_law(target: GaussianPotential, preconditioner, start: GaussianLaw,
                        t) -> GaussianLaw:
    """Law at time t of dX = -M^-1 A (X - mu) dt + sqrt(2) M^-1/2 dW from `start`:
    mean mu + e^{-tK}(m_0 - mu), covariance `continuous_time_covariance` (K = M^-1 A)."""
    a = np.asarray(target.precision_matrix())
    m = np.eye(a.shape[0]) if preconditioner is None else _as_matrix(
        "preconditioner M", preconditioner, a.shape[0])
    cov = continuous_time_covariance(a, m, np.asarray(start.covariance_matrix()), t)
    e = scipy.linalg.expm(-float(t) * np.linalg.solve(m, a))
    mu = np.asarray(target.mean)
    mean = mu + e @ (np.asarray(start.mean) - mu)
    return GaussianLaw(jnp.asarray(mean), jnp.asarray((cov + cov.T) / 2))


def dual_w2(law: GaussianLaw, target: GaussianLaw, preconditioner) -> Array:
    """W2 in dual coordinates y = M x: Bures between N(M m, M S M) and N(M mu, M A^-1 M)."""
    m = jnp.asarray(_as_matrix("preconditioner M", preconditioner, law.dim))
    push = lambda p: GaussianLaw(m @ p.mean, m @ p.covariance_matrix() @ m.T)
    return w2_gaussian(push(law), push(target))


# ----------------------------------------------------------------------------------------
# Centred Gaussian target with diagonal covariance and a diagonal preconditioner: every
# direction evolves alone. This is what `dlsim langevin` computes.

STARTS_LANGEVIN = {"zero": "Dirac mass at 0 (the target mean): x_0 = 0",
          "normal": "standard normal N(0, I)"}
MIRRORS = ("identity", "newton", "diag:m1,m2,...")


def parse_mirror(spec: str, dim: int) -> tuple[str, np.ndarray]:
    """(name, diagonal of M) for a CLI mirror spec, M = A for newton (filled in later as None)."""
    if spec == "identity":
        return "identity", np.ones(dim)
    if spec == "newton":
        return "newton", None
    if isinstance(spec, str) and spec.startswith("diag:"):
        try:
            m = np.array([float(v) for v in spec[5:].split(",")])
        except ValueError:
            raise ValueError(f"malformed mirror {spec!r}; allowed: {', '.join(MIRRORS)}") from None
        if m.size != dim:
            raise ValueError(f"mirror {spec!r} has {m.size} entries, the target has dimension {dim}")
        check_positive_definite(f"mirror {spec!r} (M = diag(m))", m)
        return "diag", m
    raise ValueError(f"unknown mirror {spec!r}; allowed: {', '.join(MIRRORS)}")


def _direction_kernel(kind: str, a, m, h):
    target = GaussianPotential(a[None])
    if kind == "identity":
        return ULA(target, h)
    if kind == "newton":
        return NewtonLangevin(target, h)
    return PreconditionedULA(target, h, m[None])


@jax.jit
def _scalar_maps_all(a, m, h, kind_code):
    """Per direction (d, b^2): x+ = x + d x + b z, read off the 1-D kernel's increment."""
    def one(ai, mi):
        def read(kind):
            kernel = _direction_kernel(kind, ai, mi, h)
            _, jvp = jax.linearize(lambda x, z: kernel.increment(x, z), jnp.zeros(1), jnp.zeros(1))
            return jvp(jnp.ones(1), jnp.zeros(1))[0], jvp(jnp.zeros(1), jnp.ones(1))[0] ** 2
        return jax.lax.switch(kind_code, [lambda: read("identity"), lambda: read("newton"),
                                          lambda: read("diag")])
    return jax.vmap(one)(a, m)


_KIND_CODES = {"identity": 0, "newton": 1, "diag": 2}


@dataclass(frozen=True)
class LangevinCurve:
    """Exact distances of preconditioned ULA's law to N(0, diag(lambda)) against h."""

    step: list
    w2: list
    w2sq: list
    w2_dual: list
    kl: list
    variances: list  # per step, the chain's variance in every direction
    preconditioner: list  # the diagonal of M
    stability_bound: float
    iterations: int | None
    start: str

    def to_dict(self) -> dict:
        return {"step": self.step, "w2": self.w2, "w2sq": self.w2sq, "w2_dual": self.w2_dual,
                "kl": self.kl, "stability_bound": self.stability_bound,
                "iterations": self.iterations, "stationary": self.iterations is None,
                "start": self.start, "start_law": STARTS_LANGEVIN[self.start],
                "preconditioner": self.preconditioner}


def langevin_curve(eigenvalues, mirror: str, steps, iterations: int | None = None,
                   start: str = "zero") -> LangevinCurve:
    """Exact W2 (primal and dual y = M x), W2^2 and KL between the chain's law and the
    centred target N(0, diag(eigenvalues)) (precision A = diag(1/eigenvalues)) for each step h.

    `mirror`: "identity" (ULA, M = I), "newton" (Newton–Langevin, M = A), "diag:m1,..."
    (M = diag(m)). `iterations` None: the stationary law; K: the law after K steps from
    `start` ("zero": x_0 = 0, the default; "normal": N(0, I)). Per direction, with
    x+ = (1 + d) x + b z read off the kernel: stationary variance v = -b^2 / (d (2 + d)) and
    v_K = v_0 - expm1(K log1p(d (2 + d))) (v - v_0).
    """
    lam = check_positive_definite("target covariance eigenvalues", np.asarray(eigenvalues, float))
    if lam.ndim != 1:
        raise ValueError("target covariance eigenvalues must be a 1-D array")
    a = 1.0 / lam
    kind, m = parse_mirror(mirror, lam.size)
    m = a if m is None else m
    if start not in STARTS_LANGEVIN:
        raise ValueError(f"unknown start {start!r}; allowed: {', '.join(STARTS_LANGEVIN)}")
    if iterations is not None and (int(iterations) != iterations or iterations < 0):
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    steps = [check_finite_scalar("step size h", h, positive=True) for h in np.atleast_1d(steps)]
    if not steps:
        raise ValueError("give at least one step size")
    bound = 2.0 if kind == "newton" else float(2.0 / np.max(a / m))
    what = {"identity": "ULA (M = I)", "newton": "Newton–Langevin (M = A)",
            "diag": "preconditioned ULA (M = diag(m))"}[kind]
    v0 = 0.0 if start == "zero" else 1.0
    out = {"w2": [], "w2sq": [], "w2_dual": [], "kl": [], "variances": []}
    for h in steps:
        check_step_below_bound(h, bound, what)
        d, b2 = (np.asarray(v) for v in _scalar_maps_all(jnp.asarray(a), jnp.asarray(m),
                                                          jnp.asarray(h), _KIND_CODES[kind]))
        if not np.all((d < 0) & (d > -2)):
            raise ValueError(f"step size h = {h!r} makes {what} unstable (bound {bound!r})")
        v_stat = -b2 / (d * (2.0 + d))
        # rho^2K = exp(K log1p(d(2 + d))), also for rho = 1 + d < 0; rho = 0 gives exp(-inf) = 0.
        with np.errstate(divide="ignore"):
            decay = np.expm1(int(iterations) * np.log1p(d * (2.0 + d))) if iterations else 0.0 * d
        v = v_stat if iterations is None else v0 - decay * (v_stat - v0)
        diff = v - lam
        per_dir = diff**2 / (np.sqrt(v) + np.sqrt(lam)) ** 2
        w2sq = float(np.sum(per_dir))
        if np.any(v == 0):
            kl = None  # a Dirac start (K = 0): KL is infinite, reported as null
        else:
            e = diff / lam
            kl = float(0.5 * np.sum(e - np.log1p(e)))
        out["w2sq"].append(w2sq)
        out["w2"].append(float(np.sqrt(w2sq)))
        out["w2_dual"].append(float(np.sqrt(np.sum(m**2 * per_dir))))
        out["kl"].append(kl)
        out["variances"].append(v.tolist())
    return LangevinCurve(steps, out["w2"], out["w2sq"], out["w2_dual"], out["kl"],
                         out["variances"], m.tolist(), bound, None if iterations is None else int(iterations),
                         start)


def stationary_distances(kernel, target: GaussianPotential) -> dict:
    """Exact W2, KL of a kernel's stationary law to a Gaussian target (full matrices)."""
    law = stationary_law(kernel, target.dim)
    ref = target.law()
    return {"w2": float(w2_gaussian(law, ref)), "kl": float(kl_gaussian(law, ref))}


# Hsieh et al.'s dual scheme on targets that are Gaussian in the dual.
_DUAL_MAPS = ((LogisticNormal, EntropySimplex), (LogitNormal, FermiDirac), (LogNormal, EntropyOrthant))


def dual_scheme_stationary_law(target, h) -> tuple[GaussianLaw, object]:
    """Exact stationary dual law of `DualLangevin` with step h, and the mirror map used.

    For a logistic-normal (entropic simplex map), logit-normal (Fermi–Dirac) or log-normal
    (orthant entropy) target with dual law N(m, S), the dual target exp(-W) is N(m, S), so
    the dual chain is ULA on it: stationary N(m, (S^-1 - (h/2) S^-2)^-1), stable iff
    h < 2 lambda_min(S) (MATH.md section 5). Read off the kernel's dual increment.
    """
    for cls, mirror_cls in _DUAL_MAPS:
        if isinstance(target, cls):
            mirror = mirror_cls()
            break
    else:
        raise ValueError(f"no exact dual stationary law for {type(target).__name__}; "
                         "allowed: LogisticNormal, LogitNormal, LogNormal")
    cov = np.asarray(target.dual_cov)
    check_step_below_bound(h, stability_bound(np.linalg.inv(cov)), "the dual scheme")
    return stationary_law(DualLangevin(target, mirror, h), target.dim), mirror
