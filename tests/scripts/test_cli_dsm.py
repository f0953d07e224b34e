"""`dlsim dsm`: the CLI contract of DESIGN.md section 4."""

import json

import numpy as np
import pytest

from scripts.cli import main


def run_json(capsys, *argv):
    assert main(["dsm", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def g(mu, sigma, tau):
    return (mu + sigma**2) ** 2 / (mu + sigma**2 - tau / 2)


def test_json_against_math_md_formulas(capsys):
    out = run_json(capsys, "--spectrum", "list:1,0.25", "--n-samples", "300", "--sigma", "0.2",
                   "--tau", "0.04")
    lam = np.array([1.0, 0.25])
    bias = np.sum((np.sqrt(lam) - np.sqrt(g(lam, 0.2, 0.04))) ** 2)
    assert out["bias"] == pytest.approx(bias, rel=1e-12)
    # V1 written out from MATH.md section 4 (known mean).
    p, q = 0.2**2 - 0.04 / 2, (0.04 / 2) ** 2
    a, b = lam[:, None], lam[None, :]
    g1 = 1 - q / ((a + p) * (b + p))
    ga, gb = g(a, 0.2, 0.04), g(b, 0.2, 0.04)
    k = np.sqrt(a * b) * g1**2 / (2 * np.sqrt(ga * gb) * (np.sqrt(a * ga) + np.sqrt(b * gb)))
    l_ = (1 - np.sqrt(a / ga)) * q / ((a + p) * (b + p) * (a + p))
    weight = a * b + np.diag(lam**2)
    v1 = np.sum(weight * (k + l_))
    assert out["first_order"] == pytest.approx(v1, rel=1e-10)
    assert out["w2sq_expansion"] == pytest.approx(bias + v1 / 300, rel=1e-12)
    assert out["model"] == "linear" and out["diagonal_model"] is not None
    assert out["population_stability_bound"] == pytest.approx(2 * (0.25 + 0.04))


def test_monte_carlo_and_sgd(capsys):
    out = run_json(capsys, "--spectrum", "list:1,0.25", "--n-samples", "400", "--sigma", "0.1",
                   "--tau", "0.004", "--model", "affine", "--datasets", "60", "--gamma", "0.1")
    assert abs(out["w2sq_monte_carlo"] - out["w2sq_expansion"]) < 4 * out["w2sq_standard_error"]
    assert out["diagonal_model"] is None  # the diagonal model is a known-mean model
    a = np.array([1.0, 0.25]) + 0.01
    np.testing.assert_allclose(out["sgd"]["theta_mean"], [1.0 / a[0], 0.25 / a[1]], rtol=1e-12)


@pytest.mark.parametrize("argv, message", [
    (["--n-samples", "1", "--sigma", "0.1", "--tau", "0"], "n_samples must be an integer >= 2"),
    (["--n-samples", "50", "--sigma", "0.1", "--tau", "5"], "stability bound"),
    (["--n-samples", "50", "--sigma", "0.1", "--tau", "0", "--model", "x"], "unknown --model"),
    (["--n-samples", "50", "--sigma", "0.1", "--tau", "0", "--spectrum", "list:1,-2"], "eigenvalue"),
    (["--n-samples", "50", "--sigma", "-1", "--tau", "0"], "sigma"),
    (["--n-samples", "50", "--sigma", "0.1", "--tau", "0", "--gamma", "10"], "gamma"),
])
def test_bad_input_one_line_exit_2(capsys, argv, message):
    assert main(["dsm", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and message in captured.err
