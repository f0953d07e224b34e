"""`dlsim dsm`: error of denoising score matching followed by Langevin sampling ([DSM])."""

from ._names import SPECTRUM_FORMS
from ._output import format_number, table

NAME = "dsm"
HELP = ("expected W2^2 between N(0, Sigma) and the stationary law of ULA (step tau) driven by "
        "an affine denoiser fitted by score matching at noise level sigma on N samples: "
        "population bias + first-order 1/N term, optionally Monte Carlo over training sets")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--spectrum", default="power:1:10",
                   help=f"data covariance eigenvalues: {SPECTRUM_FORMS}")
    p.add_argument("--n-samples", type=int, required=True, help="training set size N")
    p.add_argument("--sigma", type=float, required=True, help="score-matching noise level sigma")
    p.add_argument("--tau", type=float, required=True, help="ULA step size tau (0: exact sampling)")
    p.add_argument("--model", default="linear",
                   help="linear (known mean, W y) or affine (W y + b, mean estimated too)")
    p.add_argument("--gamma", type=float, default=None,
                   help="SGD learning rate: report the stationary mean and variance of each "
                        "direction's SGD-trained coefficient")
    p.add_argument("--datasets", type=int, default=0,
                   help="also average the exact error over this many random training sets")
    p.add_argument("--seed", type=int, default=0, help="key of the training sets")
    return p


def _diagonal_model(lam, args):
    from analysis import dsm_diagonal_expected_w2sq

    # The diagonal model's expectation is finite only when no training set can break the
    # stability condition, i.e. tau < 2 sigma^2; report null otherwise.
    if args.model != "linear" or not args.tau < 2.0 * args.sigma**2:
        return None
    return float(dsm_diagonal_expected_w2sq(lam, args.n_samples, args.sigma, args.tau))


def run(args) -> dict:
    if args.model not in ("linear", "affine"):
        raise ValueError(f"unknown --model {args.model!r}; allowed: linear, affine")
    import jax
    import numpy as np

    from analysis import (
        dsm_expansion,
        dsm_monte_carlo,
        dsm_sgd_stationary_moments,
        dsm_stability_bound,
        parse_spectrum,
    )

    lam = parse_spectrum(args.spectrum)
    exp = dsm_expansion(lam, args.n_samples, args.sigma, args.tau, centred=args.model == "affine")
    out = exp.to_dict()
    out.update(spectrum=args.spectrum, model=args.model,
               population_stability_bound=float(dsm_stability_bound(float(np.min(lam)), args.sigma)),
               diagonal_model=_diagonal_model(lam, args))
    if args.gamma is not None:
        mean, var = dsm_sgd_stationary_moments(lam, args.sigma, args.gamma)
        out["sgd"] = {"gamma": args.gamma, "theta_mean": np.asarray(mean).tolist(),
                      "theta_variance": np.asarray(var).tolist()}
    if args.datasets:
        mc = dsm_monte_carlo(jax.random.key(args.seed), lam, args.n_samples, args.sigma, args.tau,
                             args.datasets, centred=args.model == "affine")
        out.update(w2sq_monte_carlo=mc.mean, w2sq_standard_error=mc.standard_error,
                   datasets=args.datasets, seed=args.seed)
    return out


def columns(result: dict) -> dict:
    """The quantities of the table, one row each (Monte Carlo with its standard error)."""
    rows = {"quantity": ["bias", "first_order", "w2sq_expansion"],
            "value": [result["bias"], result["first_order"], result["w2sq_expansion"]],
            "standard_error": ["", "", ""]}
    if result.get("diagonal_model") is not None:
        rows["quantity"].append("diagonal_model")
        rows["value"].append(result["diagonal_model"])
        rows["standard_error"].append("")
    if "w2sq_monte_carlo" in result:
        rows["quantity"].append("w2sq_monte_carlo")
        rows["value"].append(result["w2sq_monte_carlo"])
        rows["standard_error"].append(result["w2sq_standard_error"])
    return rows


def render(result: dict) -> str:
    lines = [f"DSM then ULA on N(0, diag({result['spectrum']})), {result['model']} denoiser, "
             f"N = {result['n_samples']}, sigma = {result['sigma']:g}, tau = {result['tau']:g}"]
    rows = {"quantity": ["population bias", "first-order term V1", "bias + V1/N"],
            "value": [result["bias"], result["first_order"], result["w2sq_expansion"]]}
    if result.get("diagonal_model") is not None:
        rows["quantity"].append("diagonal model (exact)")
        rows["value"].append(result["diagonal_model"])
    if "w2sq_monte_carlo" in result:
        rows["quantity"].append(f"Monte Carlo over {result['datasets']} training sets")
        rows["value"].append(f"{format_number(result['w2sq_monte_carlo'])} "
                             f"+- {format_number(result['w2sq_standard_error'])}")
    lines.append(table(rows))
    if "sgd" in result:
        sgd = result["sgd"]
        lines.append(f"SGD (gamma = {sgd['gamma']:g}), per direction:")
        lines.append(table({"eigenvalue": list(result["eigenvalues"]),
                            "E theta": sgd["theta_mean"], "Var theta": sgd["theta_variance"]}))
    return "\n".join(lines)
