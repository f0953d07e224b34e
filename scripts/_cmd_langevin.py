"""`dlsim langevin`: exact W2 of (preconditioned) ULA to a centred Gaussian target against h."""

from ._names import SPECTRUM_FORMS, STARTS_LANGEVIN, columns_epilog
from ._options import check_choice
from ._output import table

NAME = "langevin"
HELP = ("exact W2 between the law of ULA / preconditioned ULA / Newton–Langevin and a centred "
        "Gaussian target, against the step size h (stationary, or after --iterations K steps)")
COLUMNS = ("step", "w2", "w2_dual", "kl", "unstable")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP,
                              epilog=columns_epilog(("w2", "w2_dual")) +
                              "\n  kl: KL(chain's law || target) (inf for a Dirac law)"
                              "\n  unstable: h >= the stability bound 2/lambda_max(M^-1 A): the "
                              "chain diverges; w2, w2_dual, kl are null there")
    p.add_argument("--target", required=True,
                   help="covariance eigenvalues of the centred Gaussian target (precision A = "
                        f"their inverse): {SPECTRUM_FORMS}")
    p.add_argument("--mirror", default="identity",
                   help="identity (ULA, M = I) | newton (Newton–Langevin, M = A) | "
                        "diag:m1,m2,... (M = diag(m))")
    p.add_argument("--step", type=float, nargs="+", required=True, help="step sizes h")
    p.add_argument("--iterations", type=int, nargs="+", default=None, metavar="K",
                   help="laws after K steps (one row per K and h) instead of the stationary law")
    p.add_argument("--start", default="zero",
                   help="start of the chain for --iterations: zero (x_0 = 0, the target mean) "
                        "or normal (N(0, I))")
    return p


def run(args) -> dict:
    check_choice("start", args.start, STARTS_LANGEVIN)
    for k in args.iterations or []:
        if k < 0:
            raise ValueError(f"--iterations must be integers >= 0, got {k}")
    import numpy as np

    from analysis import STARTS_LANGEVIN as START_LAWS
    from analysis import langevin_curve, parse_mirror, parse_spectrum

    eigenvalues = parse_spectrum(args.target)
    kind, m = parse_mirror(args.mirror, eigenvalues.size)
    precision = 1.0 / eigenvalues
    # The bound langevin_curve uses: h_max = 2 / lambda_max(M^-1 A) (2 for Newton, M = A).
    bound = 2.0 if kind == "newton" else float(2.0 / np.max(precision / m))
    for h in args.step:
        if not (h > 0 and np.isfinite(h)):
            raise ValueError(f"step size h must be a finite number > 0, got {h!r}")
    stable = [h for h in args.step if h < bound]
    rows = {k: [] for k in ("iterations_of_row", "step", "w2", "w2sq", "w2_dual", "kl", "unstable")}
    extra = {}
    for k in (args.iterations or [None]):
        curve = (langevin_curve(eigenvalues, args.mirror, stable, iterations=k, start=args.start)
                 .to_dict() if stable else None)
        if curve is not None:
            extra = {key: curve[key] for key in ("preconditioner", "stability_bound")}
        at = {h: i for i, h in enumerate(stable)}
        for h in args.step:
            ok = h in at
            rows["iterations_of_row"].append(k)
            rows["step"].append(h)
            rows["unstable"].append(not ok)
            for key in ("w2", "w2sq", "w2_dual", "kl"):
                rows[key].append(curve[key][at[h]] if ok else None)
    out = {**rows, "target": args.target, "eigenvalues": eigenvalues.tolist(),
           "precision": precision.tolist(), "mirror": args.mirror,
           "sampler": {"identity": "ULA", "newton": "Newton-Langevin"}.get(args.mirror,
                                                                            "preconditioned ULA"),
           "stability_bound": float(extra.get("stability_bound", bound)),
           "preconditioner": extra.get("preconditioner", (precision if kind == "newton" else m).tolist()),
           "iterations": (None if args.iterations is None else
                          args.iterations[0] if len(args.iterations) == 1 else args.iterations),
           "stationary": args.iterations is None, "start": args.start,
           "start_law": START_LAWS[args.start]}
    if any(rows["unstable"]):
        bad = sorted({h for h, u in zip(rows["step"], rows["unstable"], strict=True) if u})
        out["warnings"] = [f"step size h = {', '.join(f'{h:g}' for h in bad)} is at or above the "
                           f"stability bound h_max = 2/lambda_max(M^-1 A) = {out['stability_bound']!r}"
                           f": the chain diverges (rows marked unstable, w2 null)"]
    return out


def columns(result: dict) -> dict:
    cols = {"step": result["step"]}
    if not result["stationary"]:
        cols = {"iterations": result["iterations_of_row"], **cols}
    return {**cols, **{k: result[k] for k in ("w2", "w2_dual", "kl", "unstable")}}


def render(result: dict) -> str:
    what = ("stationary law" if result["stationary"]
            else f"law after K steps from {result['start_law']}")
    head = (f"{result['sampler']} (mirror {result['mirror']}) on N(0, diag({result['target']})): "
            f"{what}; stability bound h < {result['stability_bound']:.6g}")
    cols = columns(result)
    unstable = cols.pop("unstable")
    for key in ("w2", "w2_dual", "kl"):
        cols[key] = [("unstable" if u else "inf" if v is None else v)
                     for v, u in zip(cols[key], unstable, strict=True)]
    return head + "\n" + table(cols)
