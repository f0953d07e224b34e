"""One table, one row per mirror map: every test runs on every map."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling import (
    MIRROR_MAPS,
    BallBarrier,
    BoxBarrier,
    BurgEntropy,
    EntropicBox,
    EntropyOrthant,
    EntropySimplex,
    FermiDirac,
    QuadraticMirror,
)

D = 3


def _unit(u):  # hypothesis floats in (0, 1) -> domain points
    return np.clip(np.asarray(u, float), 1e-6, 1 - 1e-6)


# name -> (mirror map, map from u in (0,1)^D to a domain point)
ROWS = {
    "quadratic": (QuadraticMirror(np.array([[2.0, 0.4, 0.0], [0.4, 1.0, 0.3], [0.0, 0.3, 0.7]])),
                  lambda u: 20 * (u - 0.5)),
    "quadratic-diag": (QuadraticMirror(np.array([0.5, 2.0, 9.0])), lambda u: 20 * (u - 0.5)),
    "entropy-orthant": (EntropyOrthant(), lambda u: np.exp(16 * (u - 0.5))),
    "entropy-simplex": (EntropySimplex(),
                        lambda u: np.exp(8 * u) / (np.sum(np.exp(8 * u)) + np.exp(4.0))),
    "box-barrier": (BoxBarrier(np.array([-1.0, 0.0, 2.0]), np.array([1.0, 0.5, 7.0])),
                    lambda u: np.array([-1.0, 0.0, 2.0]) + u * np.array([2.0, 0.5, 5.0])),
    "entropic-box": (EntropicBox(-2.0, 3.0), lambda u: -2.0 + 5.0 * u),
    "fermi-dirac": (FermiDirac(), lambda u: u),
    "ball-barrier": (BallBarrier(2.0), lambda u: 2.0 * (u - 0.5) / np.sqrt(D) * 1.99),
    "burg": (BurgEntropy(), lambda u: np.exp(12 * (u - 0.5))),
}
IDS = list(ROWS)


def test_table_covers_every_map():
    covered = {type(m).name for m, _ in ROWS.values()}
    assert covered == set(MIRROR_MAPS)


def _point(name, u):
    mirror, to_domain = ROWS[name]
    x = jnp.asarray(to_domain(_unit(u)))
    assert bool(mirror.in_domain(x)), (name, x)
    return mirror, x


unit_vectors = st.lists(st.floats(0.0, 1.0), min_size=D, max_size=D)


@pytest.mark.parametrize("name", IDS)
@settings(max_examples=40, deadline=None)
@given(u=unit_vectors)
def test_round_trip(name, u):
    mirror, x = _point(name, u)
    y = mirror.grad(x)
    assert bool(mirror.in_dual_domain(y))
    np.testing.assert_allclose(mirror.grad_conjugate(y), x, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", IDS)
@settings(max_examples=15, deadline=None)
@given(u=unit_vectors)
def test_hessian_is_jacobian_of_grad(name, u):
    mirror, x = _point(name, u)
    hess = np.asarray(mirror.hessian(x))
    np.testing.assert_allclose(hess, np.asarray(jax.jacfwd(mirror.grad)(x)), rtol=1e-9,
                               atol=1e-9 * np.max(np.abs(hess)))
    np.testing.assert_allclose(np.asarray(jax.grad(mirror.phi)(x)), np.asarray(mirror.grad(x)),
                               rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", IDS)
@settings(max_examples=15, deadline=None)
@given(u=unit_vectors)
def test_sqrt_product_squares_to_hessian(name, u):
    mirror, x = _point(name, u)
    eye = jnp.eye(D)
    s = np.asarray(jax.vmap(lambda v: mirror.hessian_sqrt_product(x, v), out_axes=1)(eye))
    s_inv = np.asarray(jax.vmap(lambda v: mirror.hessian_sqrt_solve(x, v), out_axes=1)(eye))
    hess = np.asarray(mirror.hessian(x))
    np.testing.assert_allclose(s @ s.T, hess, rtol=1e-9, atol=1e-9 * np.max(np.abs(hess)))
    np.testing.assert_allclose(s_inv @ s, np.eye(D), atol=1e-8)
    sign, logdet = np.linalg.slogdet(hess)
    assert sign > 0
    assert float(mirror.log_det_hessian(x)) == pytest.approx(logdet, rel=1e-9, abs=1e-9)


def test_conjugates_stay_inside_their_domains_for_extreme_duals():
    y = jnp.array([-40.0, 0.0, 40.0])
    x = EntropySimplex().grad_conjugate(y)
    assert np.all(np.asarray(x) > 0) and 1.0 - float(jnp.sum(x)) >= 0
    np.testing.assert_allclose(EntropySimplex().grad_conjugate(jnp.array([-800.0, -800.0])),
                               [0.0, 0.0], atol=1e-300)
    xb = BoxBarrier(0.0, 1.0).grad_conjugate(jnp.array([-1e12, 1e-12, 1e12]))
    assert np.all((np.asarray(xb) >= 0) & (np.asarray(xb) <= 1))
    assert np.all(np.isfinite(np.asarray(BallBarrier().grad_conjugate(jnp.array([1e200, 0.0])))))


def test_domain_errors():
    with pytest.raises(ValueError, match="outside the domain of the entropy-simplex"):
        EntropySimplex().check_point([0.6, 0.6])
    with pytest.raises(ValueError, match="outside the domain of the box-barrier"):
        BoxBarrier(0.0, 1.0).check_point([0.5, 1.0])
    with pytest.raises(ValueError, match="outside the dual domain of the burg mirror map"):
        BurgEntropy().check_dual_point([-1.0, 0.5])
    assert not bool(BurgEntropy().in_dual_domain(jnp.array([-1.0, 0.0])))
    with pytest.raises(ValueError, match="lower < upper"):
        BoxBarrier(1.0, 0.0)
    with pytest.raises(ValueError, match="positive definite"):
        QuadraticMirror(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="radius must be > 0"):
        BallBarrier(-1.0)
