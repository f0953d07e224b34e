r"""Mirror maps phi for mirror Langevin ([MLMC], MATH.md section 5).

A mirror map is a Legendre function on an open convex set: dual point y = grad phi(x),
primal point x = grad phi*(y). Each map gives phi, grad phi, grad phi* (written to stay
accurate near the boundary), the Hessian, a square-root product S(x) v with
S S^T = hess phi(x) (diagonal or structured where possible, Cholesky otherwise), the
solve S(x)^{-1} v, log det hess phi(x), and the primal and dual domains.

Every map is dimension-agnostic except where a field fixes the dimension (quadratic,
boxes with array bounds). Points are (d,) arrays; batch with jax.vmap.
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from schedules import is_concrete

from ..targets._potential import check_positive_definite


class AbstractMirrorMap(eqx.Module):
    """A Legendre mirror map phi: see the module docstring for what it provides."""

    name: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def phi(self, x: Array) -> Array:
        """phi(x)."""

    @abc.abstractmethod
    def grad(self, x: Array) -> Array:
        """grad phi(x): primal -> dual."""

    @abc.abstractmethod
    def grad_conjugate(self, y: Array) -> Array:
        """grad phi*(y) = (grad phi)^{-1}(y): dual -> primal."""

    @abc.abstractmethod
    def hessian(self, x: Array) -> Array:
        """hess phi(x) as a (d, d) matrix."""

    @abc.abstractmethod
    def hessian_sqrt_product(self, x: Array, v: Array) -> Array:
        """S(x) v with S S^T = hess phi(x)."""

    @abc.abstractmethod
    def hessian_sqrt_solve(self, x: Array, v: Array) -> Array:
        """S(x)^{-1} v (the same S as `hessian_sqrt_product`)."""

    @abc.abstractmethod
    def log_det_hessian(self, x: Array) -> Array:
        """log det hess phi(x)."""

    @abc.abstractmethod
    def in_domain(self, x: Array) -> Array:
        """True when x lies in the open primal domain."""

    def in_dual_domain(self, y: Array) -> Array:
        """True when y lies in the dual domain (all of R^d unless overridden)."""
        return jnp.all(jnp.isfinite(y))

    def check_point(self, x: ArrayLike, what: str = "starting point") -> Array:
        """Return x as an array, or raise ValueError if a concrete x leaves the domain."""
        x = jnp.asarray(x, float)
        if is_concrete(x) and not bool(self.in_domain(x)):
            raise ValueError(f"{what} {np.asarray(x).tolist()} is outside the domain of the "
                             f"{self.name} mirror map ({self.domain_text()})")
        return x

    def check_dual_point(self, y: ArrayLike, what: str = "dual point") -> Array:
        y = jnp.asarray(y, float)
        if is_concrete(y) and not bool(self.in_dual_domain(y)):
            raise ValueError(f"{what} {np.asarray(y).tolist()} is outside the dual domain of "
                             f"the {self.name} mirror map ({self.dual_domain_text()})")
        return y

    def domain_text(self) -> str:
        return "R^d"

    def dual_domain_text(self) -> str:
        return "R^d"


class _DiagonalMirrorMap(AbstractMirrorMap):
    """A separable map: hess phi(x) = diag(h(x)), so S = diag(sqrt h)."""

    @abc.abstractmethod
    def hessian_diagonal(self, x: Array) -> Array:
        """The diagonal h(x) of hess phi(x)."""

    def log_hessian_diagonal(self, x: Array) -> Array:
        return jnp.log(self.hessian_diagonal(x))

    def hessian(self, x):
        return jnp.diag(self.hessian_diagonal(x))

    def hessian_sqrt_product(self, x, v):
        return jnp.sqrt(self.hessian_diagonal(x)) * v

    def hessian_sqrt_solve(self, x, v):
        return v / jnp.sqrt(self.hessian_diagonal(x))

    def log_det_hessian(self, x):
        return jnp.sum(self.log_hessian_diagonal(x))


class QuadraticMirror(AbstractMirrorMap):
    r"""phi(x) = x^T M x / 2 on R^d: mirror Langevin is then preconditioned ULA with M.

    `matrix` M: (d, d) symmetric positive definite, or (d,) positive diagonal. S is the
    Cholesky factor of M (the square root itself when M is diagonal).
    """

    matrix: Array
    name = "quadratic"

    def __init__(self, matrix: ArrayLike):
        if is_concrete(matrix):
            check_positive_definite("mirror matrix M", matrix)
        self.matrix = jnp.asarray(matrix, float)

    @property
    def _diag(self) -> bool:
        return self.matrix.ndim == 1

    def _chol(self):
        return jnp.linalg.cholesky(self.matrix)

    def phi(self, x):
        return 0.5 * x @ self.grad(x)

    def grad(self, x):
        return self.matrix * x if self._diag else self.matrix @ x

    def grad_conjugate(self, y):
        if self._diag:
            return y / self.matrix
        return jax.scipy.linalg.cho_solve((self._chol(), True), y)

    def hessian(self, x):
        return jnp.diag(self.matrix) if self._diag else self.matrix

    def hessian_sqrt_product(self, x, v):
        return jnp.sqrt(self.matrix) * v if self._diag else self._chol() @ v

    def hessian_sqrt_solve(self, x, v):
        if self._diag:
            return v / jnp.sqrt(self.matrix)
        return jax.scipy.linalg.solve_triangular(self._chol(), v, lower=True)

    def log_det_hessian(self, x):
        if self._diag:
            return jnp.sum(jnp.log(self.matrix))
        return 2.0 * jnp.sum(jnp.log(jnp.diag(self._chol())))

    def in_domain(self, x):
        return jnp.all(jnp.isfinite(x))


class EntropyOrthant(_DiagonalMirrorMap):
    """Entropy on the orthant (0, inf)^d: phi = sum x log x - x, grad phi = log x,
    grad phi* = exp(y), hess phi = diag(1/x)."""

    name = "entropy-orthant"

    def phi(self, x):
        return jnp.sum(x * jnp.log(x) - x)

    def grad(self, x):
        return jnp.log(x)

    def grad_conjugate(self, y):
        return jnp.exp(y)

    def hessian_diagonal(self, x):
        return 1.0 / x

    def log_hessian_diagonal(self, x):
        return -jnp.log(x)

    def in_domain(self, x):
        return jnp.all(x > 0) & jnp.all(jnp.isfinite(x))

    def domain_text(self):
        return "(0, inf)^d"


class EntropySimplex(AbstractMirrorMap):
    r"""Entropy on the open simplex in p coordinates, x_{p+1} = 1 - sum_i x_i:
    phi = sum_{i <= p+1} x_i log x_i, grad phi = log(x_i / x_{p+1}), grad phi* = softmax of
    (y, 0) without its last entry; hess phi = diag(1/x) + 1 1^T / x_{p+1}.

    grad phi* computes log x_{p+1} = -logsumexp(0, y) directly, never 1 - sum x. The
    square root is structured (derived here): S = diag(x)^{-1/2} (I + beta u u^T),
    u = sqrt(x), beta = 1 / (sqrt(x_{p+1}) (1 + sqrt(x_{p+1}))); log det = -sum_{i<=p+1} log x_i.
    """

    name = "entropy-simplex"

    @staticmethod
    def _last(x):
        return 1.0 - jnp.sum(x)

    def phi(self, x):
        last = self._last(x)
        return jnp.sum(x * jnp.log(x)) + last * jnp.log(last)

    def grad(self, x):
        return jnp.log(x) - jnp.log(self._last(x))

    def grad_conjugate(self, y):
        log_norm = jnp.logaddexp(0.0, jax.nn.logsumexp(y))
        return jnp.exp(y - log_norm)

    def hessian(self, x):
        return jnp.diag(1.0 / x) + 1.0 / self._last(x)

    def _beta(self, x):
        r = jnp.sqrt(self._last(x))
        return 1.0 / (r * (1.0 + r)), r

    def hessian_sqrt_product(self, x, v):
        beta, _ = self._beta(x)
        u = jnp.sqrt(x)
        return (v + beta * u * (u @ v)) / u

    def hessian_sqrt_solve(self, x, v):
        beta, r = self._beta(x)
        u = jnp.sqrt(x)
        w = u * v
        # (I + beta u u^T)^{-1} = I - beta / (1 + beta |u|^2) u u^T and 1 + beta |u|^2 = 1/r.
        return w - beta * r * u * (u @ w)

    def log_det_hessian(self, x):
        return -jnp.sum(jnp.log(x)) - jnp.log(self._last(x))

    def in_domain(self, x):
        return jnp.all(x > 0) & (self._last(x) > 0) & jnp.all(jnp.isfinite(x))

    def domain_text(self):
        return "x_i > 0, sum_i x_i < 1"


def _box_bounds(lower, upper):
    lo, hi = jnp.asarray(lower, float), jnp.asarray(upper, float)
    if is_concrete(lo) and is_concrete(hi):
        lo_np, hi_np = np.broadcast_arrays(np.asarray(lo), np.asarray(hi))
        if not (np.all(np.isfinite(lo_np)) and np.all(np.isfinite(hi_np))):
            raise ValueError("box bounds must be finite")
        if np.any(lo_np >= hi_np):
            i = int(np.argmax((lo_np >= hi_np).ravel()))
            raise ValueError(f"box bounds need lower < upper, got lower = {lo_np.ravel()[i]!r} "
                             f">= upper = {hi_np.ravel()[i]!r}")
    return lo, hi


class _AbstractBoxMap(_DiagonalMirrorMap):
    """A separable map on the open box (l, u)^d; c = (l+u)/2 and a = (u-l)/2 are its centre
    and half-width."""

    lower: Array
    upper: Array

    def __init__(self, lower: ArrayLike = 0.0, upper: ArrayLike = 1.0):
        self.lower, self.upper = _box_bounds(lower, upper)

    def _centre_half_width(self):
        return (self.lower + self.upper) / 2, (self.upper - self.lower) / 2

    def in_domain(self, x):
        return jnp.all((x > self.lower) & (x < self.upper))

    def domain_text(self):
        return f"open box ({np.asarray(self.lower).tolist()}, {np.asarray(self.upper).tolist()})"


class BoxBarrier(_AbstractBoxMap):
    r"""Log-barrier of the box (l, u)^d: phi = -sum log(x - l) + log(u - x).

    grad phi* = c + a^2 y / (1 + sqrt(1 + a^2 y^2)), c = (l+u)/2, a = (u-l)/2, evaluated as
    the distance to the nearer bound, a (1 + 1/(r + a|y|)) / (1 + r) with r = sqrt(1 + a^2 y^2)
    (derived here), so that x - l keeps full relative precision as y -> -inf (the form
    c + ... would round it to a multiple of eps * a); hess phi = diag(1/(x-l)^2 + 1/(u-x)^2).
    """

    name = "box-barrier"

    def phi(self, x):
        return -jnp.sum(jnp.log(x - self.lower) + jnp.log(self.upper - x))

    def grad(self, x):
        return 1.0 / (self.upper - x) - 1.0 / (x - self.lower)

    def grad_conjugate(self, y):
        _, a = self._centre_half_width()
        r = jnp.sqrt(1.0 + (a * y) ** 2)
        # 1 + r - a|y| = 1 + 1/(r + a|y|): the distance to the nearer bound without cancellation
        gap = a * (1.0 + 1.0 / (r + a * jnp.abs(y))) / (1.0 + r)
        return jnp.where(y < 0, self.lower + gap, self.upper - gap)

    def hessian_diagonal(self, x):
        return 1.0 / (x - self.lower) ** 2 + 1.0 / (self.upper - x) ** 2


class EntropicBox(_AbstractBoxMap):
    r"""Entropy of the box (l, u)^d: phi = sum (x-l) log(x-l) + (u-x) log(u-x);
    grad phi = log((x-l)/(u-x)), grad phi* = c + a tanh(y/2), hess phi = 1/(x-l) + 1/(u-x)."""

    name = "entropic-box"

    def phi(self, x):
        p, q = x - self.lower, self.upper - x
        return jnp.sum(p * jnp.log(p) + q * jnp.log(q))

    def grad(self, x):
        return jnp.log(x - self.lower) - jnp.log(self.upper - x)

    def grad_conjugate(self, y):
        c, a = self._centre_half_width()
        return c + a * jnp.tanh(y / 2)

    def hessian_diagonal(self, x):
        return 1.0 / (x - self.lower) + 1.0 / (self.upper - x)


class FermiDirac(_DiagonalMirrorMap):
    """Fermi–Dirac entropy on (0, 1)^d: phi = sum x log x + (1-x) log(1-x),
    grad phi = logit, grad phi* = sigmoid, hess phi = diag(1/(x(1-x)))."""

    name = "fermi-dirac"

    def phi(self, x):
        return jnp.sum(x * jnp.log(x) + (1 - x) * jnp.log1p(-x))

    def grad(self, x):
        return jnp.log(x) - jnp.log1p(-x)

    def grad_conjugate(self, y):
        return jax.nn.sigmoid(y)

    def hessian_diagonal(self, x):
        return 1.0 / (x * (1.0 - x))

    def log_hessian_diagonal(self, x):
        return -jnp.log(x) - jnp.log1p(-x)

    def in_domain(self, x):
        return jnp.all((x > 0) & (x < 1))

    def domain_text(self):
        return "(0, 1)^d"


class BallBarrier(AbstractMirrorMap):
    r"""Log-barrier of the ball |x| < r: phi = -log(r^2 - |x|^2).

    grad phi = 2x/g, g = r^2 - |x|^2; grad phi* = r^2 y / (1 + sqrt(1 + r^2 |y|^2)) (derived
    here); hess phi = (2/g)(I + (2/g) x x^T), square root (derived here)
    sqrt(2/g)(I + beta x x^T) with beta = (2/g) / (1 + sqrt(1 + 2|x|^2/g)).
    """

    radius: float = 1.0
    name = "ball-barrier"

    def __check_init__(self):
        if is_concrete(self.radius) and not float(self.radius) > 0:
            raise ValueError(f"ball radius must be > 0, got {self.radius!r}")

    def _gap(self, x):
        return self.radius**2 - x @ x

    def phi(self, x):
        return -jnp.log(self._gap(x))

    def grad(self, x):
        return 2.0 * x / self._gap(x)

    def grad_conjugate(self, y):
        r2 = self.radius**2
        return r2 * y / (1.0 + jnp.sqrt(1.0 + r2 * (y @ y)))

    def hessian(self, x):
        g = self._gap(x)
        return (2.0 / g) * (jnp.eye(x.shape[0]) + (2.0 / g) * jnp.outer(x, x))

    def _parts(self, x):
        g = self._gap(x)
        root = jnp.sqrt(1.0 + 2.0 * (x @ x) / g)
        return g, root, (2.0 / g) / (1.0 + root)

    def hessian_sqrt_product(self, x, v):
        g, _, beta = self._parts(x)
        return jnp.sqrt(2.0 / g) * (v + beta * x * (x @ v))

    def hessian_sqrt_solve(self, x, v):
        g, root, beta = self._parts(x)
        w = v / jnp.sqrt(2.0 / g)
        return w - (beta / root) * x * (x @ w)  # 1 + beta |x|^2 = root

    def log_det_hessian(self, x):
        g, root, _ = self._parts(x)
        return x.shape[0] * jnp.log(2.0 / g) + 2.0 * jnp.log(root)

    def in_domain(self, x):
        return self._gap(x) > 0

    def domain_text(self):
        return f"open ball of radius {self.radius}"


class BurgEntropy(_DiagonalMirrorMap):
    """Burg entropy on (0, inf)^d: phi = -sum log x, grad phi = -1/x, grad phi* = -1/y.

    Its dual domain is (-inf, 0)^d, not R^d: a Gaussian dual step can leave it, and the
    kernels reject such a step and report it (never clip it).
    """

    name = "burg"

    def phi(self, x):
        return -jnp.sum(jnp.log(x))

    def grad(self, x):
        return -1.0 / x

    def grad_conjugate(self, y):
        return -1.0 / y

    def hessian_diagonal(self, x):
        return 1.0 / x**2

    def log_hessian_diagonal(self, x):
        return -2.0 * jnp.log(x)

    def in_domain(self, x):
        return jnp.all(x > 0) & jnp.all(jnp.isfinite(x))

    def in_dual_domain(self, y):
        return jnp.all(y < 0)

    def domain_text(self):
        return "(0, inf)^d"

    def dual_domain_text(self):
        return "(-inf, 0)^d"


MIRROR_MAPS = {cls.name: cls for cls in (QuadraticMirror, EntropyOrthant, EntropySimplex,
                                         BoxBarrier, EntropicBox, FermiDirac, BallBarrier,
                                         BurgEntropy)}
