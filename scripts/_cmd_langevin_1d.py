"""`dlsim langevin-1d`: the noise-free grid law of a 1-D Langevin or mirror-Langevin chain
(escaped mass, survivors' variance error, stationary bias) against the step size h."""

NAME = "langevin-1d"
HELP = ("grid law (Nyström quadrature, no Monte Carlo noise) of ULA or 1-D mirror Langevin "
        "started from a Beta, logit-normal or Gaussian target and run for ceil(T/h) steps: "
        "mass escaped, survivors' variance error, stationary bias, against h")
TARGETS = "beta:A:B (on (0, 1)), logit-normal:M:S (logit x ~ N(M, S^2)), gaussian:MEAN:VAR"
MIRRORS = ("identity", "fermi-dirac", "entropic-box", "box-barrier")  # analysis.MIRRORS_1D
SCHEMES = ("mlmc", "hsieh")  # analysis.SCHEMES_1D
COLUMNS = ("step", "n_steps", "escaped", "escaped_below", "escaped_above",
           "survivor_variance_error", "escape_rate", "quasi_stationary_bias", "stationary_bias",
           "grid_error")
EPILOG = """output columns:
  escaped: mass that left by step ceil(T/h): to infinity in the dual (mirror maps) or out of the
    domain (identity map, i.e. ULA); _below / _above: which side (dual -inf / +inf, or below /
    above the domain)
  survivor_variance_error: variance of x under the surviving law renormalised, minus the
    target's variance (signed)
  escape_rate: -log(lambda)/h per unit time, lambda the Perron eigenvalue of the one-step
    sub-Markov operator (the survivors' long-run loss rate)
  quasi_stationary_bias: variance error of the law of the survivors after a long time
  stationary_bias: the same where nothing escapes (|1 - lambda| < 1e-10): the stationary law's
    variance error; null otherwise
  grid_error: largest change of escaped, survivor variance and quasi-stationary variance when
    the grid spacing doubles (an upper estimate of the quadrature error)
JSON only: survivor_mass, survivor_mean_error, mass_defect (|1 - surviving - escaped|),
  initial_outside (the target's mass beyond the grid, dropped from the start), nodes"""


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP, epilog=EPILOG)
    p.add_argument("--target", required=True, help=f"1-D target: {TARGETS}")
    p.add_argument("--mirror", default="identity",
                   help=f"{' | '.join(MIRRORS)} (identity: Euclidean ULA)")
    p.add_argument("--scheme", default="mlmc",
                   help="mlmc ([MLMC]'s mirror Langevin) | hsieh (Hsieh et al.'s dual scheme)")
    p.add_argument("--step", type=float, nargs="+", required=True, help="step sizes h")
    p.add_argument("--time", type=float, required=True,
                   help="run time T: ceil(T/h) steps from the target")
    p.add_argument("--resolution", type=float, default=4.0,
                   help="grid nodes per kernel standard deviation")
    return p


def run(args) -> dict:
    from ._options import check_choice

    check_choice("mirror", args.mirror, MIRRORS)
    check_choice("scheme", args.scheme, SCHEMES)
    from analysis import langevin_1d_table

    return langevin_1d_table(args.target, args.mirror, args.step, args.time,
                             scheme=args.scheme, resolution=args.resolution)


def columns(result: dict) -> dict:
    return {k: result[k] for k in COLUMNS}


def render(result: dict) -> str:
    from ._output import table

    head = (f"{result['scheme']} on {result['target']} (mirror {result['mirror']}), "
            f"T = {result['time']:g} from the target; target variance "
            f"{result['target_variance']:.6g}; grid law (Nyström), no sampling noise")
    cols = columns(result)
    cols["stationary_bias"] = ["-" if v is None else v for v in cols["stationary_bias"]]
    return head + "\n" + table(cols)
