"""`dlsim mc-curve`: Monte Carlo errors, with standard errors, of samplers on any score model."""

from ._names import GRIDS, SCHEDULES, solvers_help
from ._options import (
    ETA_HELP,
    SPECTRUM_HELP,
    add_devices_option,
    add_steps_option,
    add_time_range,
    check_choice,
    check_devices,
    check_solver_name,
    eta_label,
    eta_value,
    parse_eta,
    parse_steps,
)
from ._output import table

NAME = "mc-curve"
HELP = ("Monte Carlo errors of samplers (every grid x eta x solver x N) on a trained network, an "
        "exact Gaussian target or an exact Gaussian mixture: sliced W2^2, Frechet W2^2, MMD^2 and "
        "the coupled discretization error, each with its standard error")
MIXTURE_PREFIX = "mixture:"
REFERENCES = ("tmin", "data")
STARTS = ("marginal", "prior")
QUANTITIES = {
    "sliced_w2": "squared sliced 2-Wasserstein distance SW2^2 to the reference (plug-in: includes "
                 "the sampling floor, see `floor`)",
    "frechet": "Frechet distance: Bures W2^2 between Gaussian fits, bootstrap bias-corrected "
               "(frechet_plugin, frechet_bias beside it); comparable with error-curve's w2sq",
    "mmd": "unbiased squared MMD (Gaussian kernel of width `bandwidth`), block estimator; may be < 0",
    "coupled": "E|X_N - X_ref|^2: same start and Brownian path through N and reference_steps "
               "steps of the same grid family (null without --reference-steps)",
}
COLUMNS = ("grid", "eta", "solver", "steps", "sliced_w2", "sliced_w2_se", "frechet", "frechet_se",
           "mmd", "mmd_se", "coupled", "coupled_se")
EPILOG = ("output columns (every value squared, each with its standard error *_se):\n"
          + "\n".join(f"  {k}: {v}" for k, v in QUANTITIES.items()))


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP, epilog=EPILOG)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", metavar="DIR", help="a checkpoint written by `dlsim train`")
    what.add_argument("--target", metavar="SPEC",
                      help=f"exact score of a centred Gaussian with this spectrum ({SPECTRUM_HELP}), "
                           f"or {MIXTURE_PREFIX}FILE.npz: a Gaussian mixture (weights, means, "
                           f"covariances) and its exact score")
    p.add_argument("--schedule", default=None,
                   help=f"one of: {', '.join(SCHEDULES)} (None: the checkpoint's with --model, "
                        f"else vp)")
    add_time_range(p)
    p.add_argument("--grid", nargs="+", default=["edm"], help=f"grids, any of: {', '.join(GRIDS)}")
    p.add_argument("--rho", type=float, default=7.0, help="EDM grid exponent")
    p.add_argument("--eta", nargs="+", default=["0"], help=ETA_HELP)
    p.add_argument("--solver", nargs="+", default=["euler"], help=f"solvers, any of: {solvers_help()}")
    add_steps_option(p, "step counts N")
    p.add_argument("--particles", type=int, default=2000, help="particles per run (>= 2)")
    p.add_argument("--reference", default=None,
                   help="tmin (the exact marginal at t_min; exact targets only) or data (the data "
                        "law: held-out data, or the exact law of a Gaussian target); None: tmin "
                        "for exact targets, data with --model")
    p.add_argument("--start", default=None,
                   help="marginal (exact law at t_max; Gaussian targets only) or prior; None: "
                        "marginal for a Gaussian target, else prior")
    p.add_argument("--reference-steps", type=int, default=None, metavar="M",
                   help="also run M >> N steps of each grid on the same starts and Brownian "
                        "paths: the coupled error E|X_N - X_ref|^2 and its slope in N")
    p.add_argument("--projections", type=int, default=256, help="sliced W2 directions")
    p.add_argument("--bootstrap", type=int, default=200, help="Frechet bootstrap replicates")
    p.add_argument("--bandwidth", type=float, default=None,
                   help="MMD kernel width h (None: sqrt of the reference's total variance)")
    p.add_argument("--seed", type=int, default=0, help="seed of the key of every random draw")
    add_devices_option(p)
    return p


def _check_args(args) -> tuple[list[int], list]:
    """Every check that needs no jax: a bad input is rejected before the numerical stack loads."""
    steps = parse_steps(args.steps)
    check_devices(args.devices)
    for g in args.grid:
        check_choice("grid", g, GRIDS)
    for s in args.solver:
        check_solver_name(s)
    if args.schedule is not None:
        check_choice("schedule", args.schedule, SCHEDULES)
    etas = [parse_eta(e) for e in args.eta]
    if args.particles < 2:
        raise ValueError(f"--particles must be an integer >= 2 (a standard error needs two), "
                         f"got {args.particles}")
    if args.reference is not None:
        check_choice("reference", args.reference, REFERENCES)
    if args.start is not None:
        check_choice("start", args.start, STARTS)
    exact = args.model is None
    if args.reference == "tmin" and not exact:
        raise ValueError("--reference tmin needs an exact target (--target); a trained model has "
                         "no exact marginal: use --reference data")
    gaussian = exact and not args.target.startswith(MIXTURE_PREFIX)
    if args.start == "marginal" and not gaussian:
        raise ValueError("--start marginal needs a Gaussian --target SPEC (the only exact "
                         "marginal that is a Gaussian law); use --start prior")
    if args.reference_steps is not None and args.reference_steps <= max(steps):
        raise ValueError(f"--reference-steps must exceed every N (max {max(steps)}), got "
                         f"{args.reference_steps}")
    for name in ("projections", "bootstrap"):
        if getattr(args, name) < 2:
            raise ValueError(f"--{name} must be an integer >= 2, got {getattr(args, name)}")
    if args.bandwidth is not None and not (0 < args.bandwidth < float("inf")):
        raise ValueError(f"--bandwidth must be a finite number > 0, got {args.bandwidth}")
    return steps, etas


def _marginal_draws(key, data_draws, schedule, t):
    """Draws of the forward marginal at t from draws of the data: alpha x0 + sigma eps."""
    import jax

    eps = jax.random.normal(key, data_draws.shape)
    return schedule.alpha(t) * data_draws + schedule.sigma(t) * eps


def _problem(args, key):
    """(score, schedule, start law, reference, floor samples, description) of the request."""
    import jax
    import jax.numpy as jnp

    from analysis import parse_spectrum, prior_law
    from sampling import GaussianLaw, GaussianScore, GaussianTarget
    from schedules import make_schedule

    k_ref, k_floor, k_floor_noise, k_ref_noise = jax.random.split(key, 4)
    n = args.particles

    def schedule_named(name):
        return make_schedule(name, t_min=args.t_min, t_max=args.t_max)

    def prior(schedule, dim):
        return GaussianLaw(jnp.zeros(dim), jnp.full(dim, float(schedule.prior_variance())))

    if args.model is not None:
        from sampling.targets import load_dataset
        from sampling.training import load_trained_score, read_sidecar
        from sampling.training._train import check_model_dimension

        sidecar = read_sidecar(args.model)
        name = args.schedule or sidecar["config"]["model"]["schedule"]
        schedule = schedule_named(name)
        score, sidecar = load_trained_score(args.model, schedule=schedule)
        data_name = sidecar.get("data")
        if not isinstance(data_name, str):
            raise ValueError(f"checkpoint in {args.model!r} does not name its data set")
        data = load_dataset(data_name)
        if data.train_sha256() != sidecar["data_sha256"]:
            raise ValueError(f"checkpoint in {args.model!r} was trained on other data than "
                             f"{data_name!r} gives now (data hash differs)")
        check_model_dimension(score, data.dim, float(schedule.t_max))
        floor = data.train[: min(n, data.train.shape[0])]
        return (score, schedule, name, prior(schedule, data.dim), data.heldout, floor,
                {"model": args.model, "data": data_name, "iteration": sidecar["iteration"]})
    name = args.schedule or "vp"
    schedule = schedule_named(name)
    if args.target.startswith(MIXTURE_PREFIX):
        from sampling.targets import load_dataset

        data = load_dataset(args.target)
        score = data.exact_score(schedule)
        start = prior(schedule, data.dim)
        if args.reference == "data":
            reference = data.heldout
            floor = score.sample_data(k_floor, n)
        else:  # exact draws of the mixture's marginal at t_min, and independent ones for the floor
            reference = _marginal_draws(k_ref_noise, score.sample_data(k_ref, n), schedule,
                                        schedule.t_min)
            floor = _marginal_draws(k_floor_noise, score.sample_data(k_floor, n), schedule,
                                    schedule.t_min)
        return score, schedule, name, start, reference, floor, {"target": args.target}
    target = GaussianTarget(parse_spectrum(args.target))
    score = GaussianScore(target, schedule)
    start = (target.marginal_in_eigenbasis(schedule, schedule.t_max) if args.start == "marginal"
             else prior_law(target, schedule))
    reference = (target.marginal_in_eigenbasis(schedule, schedule.t_min) if args.reference == "tmin"
                 else target.law_in_eigenbasis())
    floor = reference.mean + jnp.sqrt(reference.cov) * jax.random.normal(k_floor, (n, target.dim))
    return score, schedule, name, start, reference, floor, {"target": args.target}


def run(args) -> dict:
    steps, etas = _check_args(args)
    gaussian = args.model is None and not args.target.startswith(MIXTURE_PREFIX)
    if args.reference is None:
        args.reference = "data" if args.model is not None else "tmin"
    if args.start is None:
        args.start = "marginal" if gaussian else "prior"
    import jax

    from analysis import mc_curve

    k_problem, k_curve = jax.random.split(jax.random.key(args.seed))
    score, schedule, schedule_name, start, reference, floor, what = _problem(args, k_problem)
    curve = mc_curve(k_curve, score, schedule, steps, start=start, reference=reference,
                     n_particles=args.particles, grids=args.grid,
                     etas=[eta_value(e, schedule) for e in etas],
                     eta_labels=[eta_label(e) for e in etas], solvers=args.solver, rho=args.rho,
                     reference_steps=args.reference_steps, floor_samples=floor,
                     n_projections=args.projections, n_bootstrap=args.bootstrap,
                     bandwidth=args.bandwidth, progress=True, devices=args.devices)
    out = curve.to_dict()
    out.update(what, schedule=schedule_name, t_min=float(schedule.t_min),
               t_max=float(schedule.t_max), grids=args.grid, rho=args.rho,
               etas=[eta_label(e) for e in etas], solvers=args.solver, steps=steps,
               reference=args.reference, start=args.start, seed=args.seed,
               bootstrap=args.bootstrap, dim=int(start.dim), quantities=QUANTITIES)
    return out


def columns(result: dict) -> dict:
    return {k: [row[k] for row in result["rows"]] for k in COLUMNS}


def render(result: dict) -> str:
    source = (f"model {result['model']} ({result['data']})" if "model" in result
              else f"target {result['target']}")
    head = (f"{len(result['rows'])} Monte Carlo runs of {result['particles']} particles on "
            f"{result['schedule']}, {source}, d = {result['dim']}; reference: "
            f"{result['reference']}, start: {result['start']}; values squared, +- one standard "
            f"error")
    lines = [head, table(columns(result))]
    floor = result.get("floor")
    if floor:
        lines.append(f"floor (an exact sample of the same size): sliced_w2 = "
                     f"{floor['sliced_w2']:.4g} +- {floor['sliced_w2_se']:.2g}, frechet = "
                     f"{floor['frechet']:.4g} +- {floor['frechet_se']:.2g}")
    for fit in result["fits"]:
        lines.append(f"coupled error slope ({fit['grid']}, eta = {fit['eta']}, {fit['solver']}): "
                     f"{fit['slope']:.3f} +- {fit['slope_se']:.3f} (strong order "
                     f"{fit['order']:.3f} +- {fit['order_se']:.3f})")
    return "\n".join(lines)
