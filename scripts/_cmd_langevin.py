"""`dlsim langevin`: exact W2 of (preconditioned) ULA to a centred Gaussian target against h."""

from analysis import SPECTRUM_FORMS, STARTS_LANGEVIN, langevin_curve, parse_spectrum

from ._output import table

NAME = "langevin"
HELP = ("exact W2 between the law of ULA / preconditioned ULA / Newton–Langevin and a centred "
        "Gaussian target, against the step size h (stationary, or after --iterations K steps)")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--target", required=True,
                   help="covariance eigenvalues of the centred Gaussian target (precision A = "
                        f"their inverse): {SPECTRUM_FORMS}")
    p.add_argument("--mirror", default="identity",
                   help="identity (ULA, M = I) | newton (Newton–Langevin, M = A) | "
                        "diag:m1,m2,... (M = diag(m)); default identity")
    p.add_argument("--step", type=float, nargs="+", required=True, help="step sizes h")
    p.add_argument("--iterations", type=int, default=None,
                   help="law after K steps instead of the stationary law")
    p.add_argument("--start", default="zero",
                   help="start of the chain for --iterations: zero (x_0 = 0, the target mean; "
                        "default) or normal (N(0, I))")
    return p


def run(args) -> dict:
    eigenvalues = parse_spectrum(args.target)
    curve = langevin_curve(eigenvalues, args.mirror, args.step, iterations=args.iterations,
                           start=args.start)
    out = curve.to_dict()
    out.update(target=args.target, eigenvalues=eigenvalues.tolist(),
               precision=(1.0 / eigenvalues).tolist(), mirror=args.mirror,
               sampler={"identity": "ULA", "newton": "Newton-Langevin"}.get(
                   args.mirror, "preconditioned ULA"),
               start_law=STARTS_LANGEVIN[args.start])
    return out


def render(result: dict) -> str:
    what = ("stationary law" if result["stationary"]
            else f"law after {result['iterations']} steps from {result['start_law']}")
    head = (f"{result['sampler']} (mirror {result['mirror']}) on N(0, diag({result['target']})): "
            f"{what}; stability bound h < {result['stability_bound']:.6g}")
    cols = {k: result[k] for k in ("step", "w2", "w2_dual", "kl")}
    cols["kl"] = ["inf" if v is None else v for v in cols["kl"]]
    return head + "\n" + table(cols)
