"""Checkpoints of score-matching runs: Equinox leaves plus a JSON sidecar, never pickle.

A checkpoint directory holds
- `checkpoint.eqx`: `eqx.tree_serialise_leaves` of (model, EMA model, optimizer state), the
  arrays only (NumPy's .npy records, no code), read back into a skeleton built from the config;
- `checkpoint.json`: the format, the iteration, the config (model, training, data, seed), the
  sha256 of the training data, the size and sha256 of `checkpoint.eqx`, the loss history.
Both are written atomically (a temporary file beside the target, then a rename), leaves first:
a crash between the two leaves a sidecar whose hash no longer matches, which is refused.
Loading checks the leaves' size and hash before deserialising, and, for a resumed run, that the
config and the data are those of the run that wrote it; any mismatch is one ValueError line.
"""

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import equinox as eqx
import jax

from ._train import TrainConfig, TrainState, init_train_state

LEAVES_FILE = "checkpoint.eqx"
SIDECAR_FILE = "checkpoint.json"
FORMAT = "dlsim-score-checkpoint"
VERSION = 1


def _write_atomic(path: Path, data: bytes) -> None:
    # Same recipe as scripts/_files.write_atomic; the library does not import the CLI package.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def serialise_leaves(state: TrainState) -> bytes:
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, state.leaves())
    return buf.getvalue()


def leaves_sha256(state: TrainState) -> str:
    """sha256 of the checkpoint leaves (model, EMA model, optimizer state) of `state`: equal
    hashes mean bit-identical parameters and optimizer state."""
    return hashlib.sha256(serialise_leaves(state)).hexdigest()


def save_checkpoint(directory: str | Path, state: TrainState, *, config: dict, data_sha256: str,
                    extra: dict | None = None) -> dict:
    """Write `state` to `directory` (created if needed); returns the sidecar written.

    `config` must be JSON-serialisable and describe everything that fixes the run except the
    iteration count (a resumed run must give the same); `extra` adds fields (loss history)."""
    directory = Path(directory)
    blob = serialise_leaves(state)
    sidecar = {"format": FORMAT, "version": VERSION, "iteration": int(state.iteration),
               "config": config, "data_sha256": data_sha256, "leaves_file": LEAVES_FILE,
               "leaves_bytes": len(blob), "leaves_sha256": hashlib.sha256(blob).hexdigest()}
    sidecar.update(extra or {})
    text = json.dumps(sidecar, indent=1, allow_nan=False)  # before any write: fail early
    _write_atomic(directory / LEAVES_FILE, blob)
    _write_atomic(directory / SIDECAR_FILE, text.encode())
    return sidecar


def read_sidecar(directory: str | Path) -> dict:
    """The sidecar of the checkpoint in `directory`, checked to be one of ours."""
    path = Path(directory) / SIDECAR_FILE
    if not path.is_file():
        raise ValueError(f"no checkpoint in {str(directory)!r}: {SIDECAR_FILE} not found")
    try:
        sidecar = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"checkpoint sidecar {str(path)!r} is unreadable (truncated or not "
                         f"JSON: {type(err).__name__})") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a {FORMAT} sidecar")
    if sidecar.get("version") != VERSION:
        raise ValueError(f"checkpoint {str(path)!r} has format version "
                         f"{sidecar.get('version')!r}; this dlsim reads version {VERSION}")
    for field, kind in (("iteration", int), ("config", dict), ("data_sha256", str),
                        ("leaves_bytes", int), ("leaves_sha256", str)):
        if not isinstance(sidecar.get(field), kind):
            raise ValueError(f"checkpoint sidecar {str(path)!r} lacks a valid {field!r}")
    return sidecar


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_compatible(sidecar: dict, directory, *, config: dict | None = None,
                     data_sha256: str | None = None) -> None:
    """Raise ValueError when the checkpoint was made with another config or other data."""
    where = str(directory)
    if data_sha256 is not None and sidecar["data_sha256"] != data_sha256:
        raise ValueError(f"checkpoint in {where!r} was trained on other data (data sha256 "
                         f"{sidecar['data_sha256'][:12]}..., this run's {data_sha256[:12]}...); "
                         f"resume on the same data or write to another --out")
    if config is not None:
        old, new = _flatten(sidecar["config"]), _flatten(json.loads(json.dumps(config)))
        diff = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k)]
        if diff:
            raise ValueError(f"checkpoint in {where!r} was made with another config "
                             f"({'; '.join(diff)}); resume with its settings or write to "
                             f"another --out")


def load_checkpoint(directory: str | Path, like: TrainState, *, config: dict | None = None,
                    data_sha256: str | None = None) -> tuple[TrainState, dict]:
    """Read the checkpoint in `directory` into the structure of `like` (a state built from
    the same config). Refuses (ValueError, one line) a missing, truncated or modified leaves
    file, and, when `config` / `data_sha256` are given, another config or other data.
    Returns (state, sidecar)."""
    directory = Path(directory)
    sidecar = read_sidecar(directory)
    check_compatible(sidecar, directory, config=config, data_sha256=data_sha256)
    path = directory / LEAVES_FILE
    if not path.is_file():
        raise ValueError(f"checkpoint in {str(directory)!r} is incomplete: {LEAVES_FILE} missing")
    blob = path.read_bytes()
    if len(blob) != sidecar["leaves_bytes"]:
        raise ValueError(f"checkpoint {str(path)!r} is truncated or modified: {len(blob)} bytes, "
                         f"its sidecar records {sidecar['leaves_bytes']}")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sidecar["leaves_sha256"]:
        raise ValueError(f"checkpoint {str(path)!r} is corrupted or modified: sha256 "
                         f"{digest[:12]}... does not match its sidecar's "
                         f"{sidecar['leaves_sha256'][:12]}...")
    try:
        model, ema, opt_state = eqx.tree_deserialise_leaves(io.BytesIO(blob), like.leaves())
    except Exception as err:  # noqa: BLE001  (a well-hashed file of another structure)
        raise ValueError(f"checkpoint {str(path)!r} does not fit the model its config describes "
                         f"({type(err).__name__}: {' '.join(str(err).split())[:160]})") from None
    return TrainState(model, ema, opt_state, sidecar["iteration"]), sidecar


# ----- the MLPScore checkpoints of `dlsim train` ----------------------------------------------

MODEL_KIND = "MLPScore"


def mlp_config(dim: int, *, width: int, depth: int, sigma_data: float,
               parameterisation: str = "edm", n_frequencies: int = 0,
               schedule: str = "edm") -> dict:
    """The JSON description of an `MLPScore` that `build_mlp_score` turns back into one.

    n_frequencies defaults to 0 (the log noise level alone as the time feature): measured on
    eight Gaussians (width 64, 3000 iterations), the held-out loss fell to 0.91 without the
    sines and cosines of the log noise level and to 0.914 with 8 frequencies (exact score
    0.86), so they add inputs without a measured gain. (They once stopped training
    altogether, at a loss of 1.00: the first layer's initial scale shrank with the extra
    inputs, fixed in `MLPScore`.)"""
    return {"kind": MODEL_KIND, "dim": int(dim), "width": int(width), "depth": int(depth),
            "parameterisation": parameterisation, "n_frequencies": int(n_frequencies),
            "sigma_data": float(sigma_data), "schedule": schedule}


def build_mlp_score(model_config: dict, key):
    """The `MLPScore` of `mlp_config(...)`, initialised from `key`."""
    from schedules import make_schedule

    from ..scores._score import MLPScore

    if model_config.get("kind") != MODEL_KIND:
        raise ValueError(f"unknown model kind {model_config.get('kind')!r}; allowed: {MODEL_KIND}")
    return MLPScore(model_config["dim"], make_schedule(model_config["schedule"]), key,
                    width=model_config["width"], depth=model_config["depth"],
                    parameterisation=model_config["parameterisation"],
                    n_frequencies=model_config["n_frequencies"],
                    sigma_data=model_config["sigma_data"])


def skeleton_state(config: dict) -> TrainState:
    """A state with the structure of the checkpoint of `config` (values irrelevant)."""
    model = build_mlp_score(config["model"], jax.random.key(0))
    return init_train_state(model, TrainConfig(**config["train"]))


def load_trained_score(directory: str | Path, *, ema: bool = True, schedule=None):
    """The trained `MLPScore` of a `dlsim train` checkpoint (the EMA weights by default: the
    ones to sample with), checked against its sidecar. `schedule` rebinds it to another
    schedule (the network sees only x/alpha and the noise level sigma/alpha, so it is the same
    score model of the same noise levels). Returns (model, sidecar)."""
    sidecar = read_sidecar(directory)
    try:
        like = skeleton_state(sidecar["config"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"checkpoint in {str(directory)!r} has an incomplete config "
                         f"({type(err).__name__}: {err})") from None
    state, sidecar = load_checkpoint(directory, like)
    model = state.ema_model if ema else state.model
    if schedule is not None:
        model = eqx.tree_at(lambda m: m.schedule, model, schedule)
    return model, sidecar
