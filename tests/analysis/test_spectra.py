"""The SPEC mini-language: power, list, flat, two-block, digits, .npy."""

import numpy as np
import pytest

from analysis import parse_spectrum
from analysis._spectra import digits_spectrum


def test_power_and_list_unchanged():
    np.testing.assert_allclose(parse_spectrum("power:2:3"), [1.0, 0.25, 1 / 9])
    np.testing.assert_allclose(parse_spectrum("list:3,0.5"), [3.0, 0.5])


def test_flat_and_two_block():
    np.testing.assert_array_equal(parse_spectrum("flat:4"), np.ones(4))
    np.testing.assert_array_equal(parse_spectrum("flat:0.5:3"), np.full(3, 0.5))
    np.testing.assert_array_equal(parse_spectrum("two-block:2:2:0.01:3"),
                                  [2.0, 2.0, 0.01, 0.01, 0.01])


def test_digits_drops_the_constant_pixels():
    from sklearn.datasets import load_digits

    pixels = load_digits().data / 16.0
    constant = int(np.sum(pixels.std(axis=0) == 0))
    assert constant == 3
    lam = parse_spectrum("digits")
    assert lam.size == 64 - constant
    assert np.all(lam > 0) and np.all(np.diff(lam) <= 0)
    # Total variance is preserved: the dropped directions carry none.
    assert lam.sum() == pytest.approx(np.trace(np.cov(pixels, rowvar=False)), rel=1e-12)
    assert lam[-1] > 1e-7   # the smallest kept eigenvalue is a real one, not round-off


def test_digits_floor_keeps_all_64():
    lam = parse_spectrum("digits:floor:1e-6")
    assert lam.size == 64 and lam.min() == 1e-6
    np.testing.assert_allclose(lam[:61], np.maximum(digits_spectrum(), 1e-6))


def test_npy_file(tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.array([1.0, 0.1]))
    np.testing.assert_array_equal(parse_spectrum(str(path)), [1.0, 0.1])


@pytest.mark.parametrize("spec, message", [
    ("power:2", "malformed spectrum 'power:2'"),
    ("flat:0", "dimension must be an integer >= 1"),
    ("flat:-1:3", "eigenvalue must be a finite number > 0"),
    ("two-block:1:2:0", "malformed spectrum"),
    ("two-block:1:2:0:2", "eigenvalue must be a finite number > 0"),
    ("digits:cap:1", "malformed spectrum"),
    ("digits:floor:0", "eigenvalue must be a finite number > 0"),
    ("list:1,-2", "must be > 0"),
    ("missing.npy", "does not exist"),
    ("gauss:3", "allowed: power:ALPHA:D"),
])
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spectrum(spec)
