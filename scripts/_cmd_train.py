"""`dlsim train`: denoising score matching of an Equinox score network on a named data set."""

from ._output import format_number, table

NAME = "train"
DATA_NAMES = "digits, moons, eight-gaussians, checkerboard, mixture:FILE.npz"
HELP = ("train an MLP score network (EDM preconditioning) by denoising score matching over all "
        "noise levels on a data set; write a checkpoint (Equinox leaves + JSON sidecar) to --out")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--data", required=True, help=f"data set: {DATA_NAMES}")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint directory")
    p.add_argument("--iterations", type=int, default=2000,
                   help="train until this iteration (0: write the untrained network)")
    p.add_argument("--batch", type=int, default=256, help="minibatch size")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate after warm-up")
    p.add_argument("--width", type=int, default=128, help="hidden width of the MLP")
    p.add_argument("--depth", type=int, default=3, help="number of hidden layers of the MLP")
    p.add_argument("--seed", type=int, default=0,
                   help="key of the initial weights and of every minibatch (the data are fixed)")
    p.add_argument("--resume", action="store_true",
                   help="continue the checkpoint in --out (same settings and data) up to "
                        "--iterations; the result equals an uninterrupted run bit for bit")
    p.add_argument("--checkpoint-every", type=int, default=1000, metavar="K",
                   help="also write the checkpoint every K iterations (and always at the end)")
    return p


def _check_args(args) -> None:
    for name, minimum in (("iterations", 0), ("batch", 1), ("width", 1), ("depth", 0),
                          ("checkpoint_every", 1)):
        value = getattr(args, name)
        if value < minimum:
            raise ValueError(f"--{name.replace('_', '-')} must be an integer >= {minimum}, "
                             f"got {value}")
    if not args.lr > 0 or args.lr == float("inf"):
        raise ValueError(f"--lr must be a finite number > 0, got {args.lr}")


def run(args) -> dict:
    _check_args(args)
    import time
    from pathlib import Path

    import jax

    from sampling.targets import load_dataset
    from sampling.training import (
        TrainConfig,
        build_mlp_score,
        data_rms,
        dsm_loss_estimate,
        init_train_state,
        load_checkpoint,
        mlp_config,
        read_sidecar,
        save_checkpoint,
        skeleton_state,
        train_score_model,
    )

    out = Path(args.out)
    data = load_dataset(args.data)
    sigma_data = data_rms(data.train)
    train_config = TrainConfig(batch_size=args.batch, learning_rate=args.lr,
                               sigma_data=sigma_data)
    config = {"model": mlp_config(data.dim, width=args.width, depth=args.depth,
                                  sigma_data=sigma_data),
              "train": train_config.to_dict(), "seed": args.seed}
    data_sha = data.train_sha256()
    k_init, k_train = jax.random.split(jax.random.key(args.seed))
    history: list[list] = []
    if args.resume:
        read_sidecar(out)  # "no checkpoint in DIR" before anything else
        state, sidecar = load_checkpoint(out, skeleton_state(config), config=config,
                                         data_sha256=data_sha)
        history = [list(h) for h in sidecar.get("loss_history", [])]
    else:
        state = init_train_state(build_mlp_score(config["model"], k_init), train_config)
    start = state.iteration
    extra = lambda: {"data": args.data, "loss_history": history}

    def on_chunk(s, losses):
        history.append([s.iteration, float(losses.mean())])
        if s.iteration % args.checkpoint_every < train_config.chunk_size \
                and s.iteration < args.iterations:
            save_checkpoint(out, s, config=config, data_sha256=data_sha, extra=extra())

    began = time.perf_counter()
    result = train_score_model(None, data.train, key=k_train, iterations=args.iterations,
                               config=train_config, state=state, progress=True,
                               on_chunk=on_chunk)
    seconds = time.perf_counter() - began
    state = result.state
    sidecar = save_checkpoint(out, state, config=config, data_sha256=data_sha, extra=extra())
    # The training loss on (at most) as many training points as held-out ones: the same
    # compiled evaluation serves both, and its standard error is as small.
    subset = data.train[: max(data.heldout.shape[0], 2)]
    loss, loss_se = dsm_loss_estimate(state.ema_model, subset, config=train_config)
    held, held_se = dsm_loss_estimate(state.ema_model, data.heldout, config=train_config)
    return {"checkpoint": str(out), "data": args.data, "iterations": state.iteration,
            "resumed_from": start if args.resume else None,
            "loss": loss, "loss_se": loss_se, "loss_points": int(subset.shape[0]),
            "heldout_loss": held, "heldout_loss_se": held_se,
            "params_sha256": sidecar["leaves_sha256"], "data_sha256": data_sha,
            "dim": data.dim, "n_train": int(data.train.shape[0]),
            "n_heldout": int(data.heldout.shape[0]), "train_seconds": seconds,
            "config": config,
            "history_iteration": [h[0] for h in history],
            "history_loss": [h[1] for h in history]}


def render(result: dict) -> str:
    lines = [f"DSM training on {result['data']} (d = {result['dim']}, {result['n_train']} train "
             f"/ {result['n_heldout']} held-out points): iteration {result['iterations']}"
             + (f", resumed from {result['resumed_from']}" if result["resumed_from"] is not None
                else "") + f", {result['train_seconds']:.1f} s",
             table({"quantity": ["DSM loss, train (EMA weights)", "DSM loss, held-out"],
                    "value": [f"{format_number(result['loss'])} +- "
                              f"{format_number(result['loss_se'])}",
                              f"{format_number(result['heldout_loss'])} +- "
                              f"{format_number(result['heldout_loss_se'])}"]}),
             f"checkpoint: {result['checkpoint']}  params sha256: {result['params_sha256']}"]
    return "\n".join(lines)
