"""Options shared by the subcommands that describe a diffusion sampler on Gaussian data.

Light on purpose: building a parser and checking names must not import the numerical stack
(see `_names`); everything that needs jax is imported inside the functions that use it.
"""

import argparse
import re
from pathlib import Path

from ._names import GRIDS, SCHEDULES, SOLVERS, SPECTRUM_FORMS, solvers_help

SPECTRUM_HELP = f"data covariance eigenvalues: {SPECTRUM_FORMS}"
GRID_FILE_SUFFIXES = (".npy", ".csv")
GRID_HELP = (f"time grid: one of {', '.join(GRIDS)}, or a .npy/.csv file of strictly decreasing "
             f"times t_0 > ... > t_N inside [t_min, t_max] (e.g. from `dlsim optimize --save`); "
             f"a file fixes N")
ETA_FORM = "exp-quad:A,B,C"
ETA_HELP = ("diffusion-term coefficient: a number >= 0 (0 = probability-flow ODE, 1 = reverse "
            f"SDE), or eta(t) as {ETA_FORM} = exp(A + B s + C s^2) with s = 2 (log n(t) - "
            "log n(t_min)) / (log n(t_max) - log n(t_min)) - 1 in [-1, 1], n(t) the schedule's "
            "noise level, or a text file holding such a form (`dlsim optimize --family eta --save`)")


def add_sampler_options(parser: argparse.ArgumentParser, *, grid: bool = True) -> None:
    parser.add_argument("--schedule", default="vp", help=f"one of: {', '.join(SCHEDULES)}")
    if grid:
        parser.add_argument("--grid", default="edm", help=GRID_HELP)
    parser.add_argument("--rho", type=float, default=7.0, help="EDM grid exponent")
    parser.add_argument("--eta", default="0", help=ETA_HELP)
    parser.add_argument("--solver", default="euler", help=f"one of: {solvers_help()}")
    parser.add_argument("--spectrum", default="power:1:100", help=SPECTRUM_HELP)
    add_time_range(parser)


def add_time_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--t-min", type=float, default=None, help="schedule's t_min (None: its own)")
    parser.add_argument("--t-max", type=float, default=None, help="schedule's t_max (None: its own)")


STEPS_SYNTAX = "integers N >= 1 and inclusive ranges A:B or A:B:K (1 <= A <= B, stride K >= 1)"
MAX_STEP_COUNTS = 100_000  # one range can not silently expand to millions of runs
_INT = re.compile(r"[+-]?[0-9]+")


def _steps_error(token: str, problem: str) -> ValueError:
    return ValueError(f"bad --steps value {token!r}: {problem}; allowed: {STEPS_SYNTAX}")


def parse_steps(tokens: list[str]) -> list[int]:
    """Step counts from --steps tokens: `N`, `A:B` (A, A+1, ..., B) or `A:B:K` (A, A+K, ... <= B).

    Order is kept as given; an exact repeat of an earlier step count is dropped (first occurrence
    wins), so `--steps 1:4 2 8` gives [1, 2, 3, 4, 8]. Tokens that are already ints are accepted too,
    so parsing twice is harmless. Any bad token raises ValueError naming it and the allowed syntax.
    """
    out: dict[int, None] = {}  # ordered set
    for raw in tokens:
        token = str(raw)
        parts = token.strip().split(":")
        if token.strip() == "":
            raise _steps_error(token, "empty value")
        if len(parts) > 3:
            raise _steps_error(token, "too many ':' (at most A:B:K)")
        values = []
        for part in parts:
            if not _INT.fullmatch(part.strip()):
                raise _steps_error(token, f"invalid int value: {part.strip()!r}")
            values.append(int(part))
        start, end = values[0], values[min(1, len(values) - 1)]
        for v in values[:2]:
            if v < 1:
                raise _steps_error(token, f"step counts must be integers >= 1, got {v}")
        if len(values) == 1:
            out[start] = None
            continue
        stride = values[2] if len(values) == 3 else 1
        if stride < 1:
            raise _steps_error(token, f"stride must be an integer >= 1, got {stride}")
        if end < start:
            raise _steps_error(token, f"range end {end} is before its start {start}")
        if (end - start) // stride + 1 > MAX_STEP_COUNTS:
            raise _steps_error(token, f"range has more than {MAX_STEP_COUNTS} step counts")
        out.update(dict.fromkeys(range(start, end + 1, stride)))
    if not out:
        raise ValueError(f"--steps needs at least one value; allowed: {STEPS_SYNTAX}")
    if len(out) > MAX_STEP_COUNTS:
        raise ValueError(f"--steps gives {len(out)} step counts; at most {MAX_STEP_COUNTS} allowed")
    return list(out)


def add_steps_option(parser: argparse.ArgumentParser, help_text: str = "step counts N",
                     *, required: bool = True) -> None:
    """`--steps TOKEN [TOKEN ...]` kept as strings; expand them in run() with parse_steps(args.steps)."""
    parser.add_argument("--steps", nargs="+", required=required, metavar="N|A:B|A:B:K",
                        help=f"{help_text}: {STEPS_SYNTAX}; e.g. 1:256 or 10:100:10 200")


def check_choice(what: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
    return value


def check_solver_name(name: str) -> str:
    return check_choice("solver", name, SOLVERS)


def check_schedule_name(name: str) -> str:
    return check_choice("schedule", name, SCHEDULES)


# ---------------------------------------------------------------------------------------------
# Grids: a name or a file of times.


def is_grid_file(token: str) -> bool:
    return Path(token).suffix.lower() in GRID_FILE_SUFFIXES


def check_grid_token(token: str) -> str:
    """A grid name, or a .npy/.csv file that exists; ValueError naming what is allowed."""
    if is_grid_file(token):
        if not Path(token).is_file():
            raise ValueError(f"grid file {token!r} does not exist")
        return token
    if token not in GRIDS:
        raise ValueError(f"unknown grid {token!r}; allowed: {', '.join(GRIDS)}, or a .npy/.csv "
                         f"file of decreasing times")
    return token


def read_grid_file(path: str):
    """The times in a .npy (1-D array) or .csv (one time per row, or one row of times; a
    non-numeric header line is skipped) file, as a float64 NumPy array, checked: 1-D, at least
    two points, finite, strictly decreasing. The schedule's range is checked by the caller
    (`schedules.validate_grid`)."""
    import numpy as np

    p = Path(path)
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            text = [ln for ln in p.read_text().splitlines() if ln.strip()]
            if text and not re.match(r"\s*[-+0-9.]", text[0]):
                text = text[1:]  # header
            arr = np.array([float(x) for ln in text for x in ln.split(",") if x.strip()])
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read grid file {path!r}: {' '.join(str(err).split())}") from None
    arr = np.asarray(arr, dtype=float)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"grid file {path!r} must hold a 1-D list of at least 2 times, got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"grid file {path!r} holds non-finite times")
    bad = np.flatnonzero(np.diff(arr) >= 0)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"grid file {path!r} must be strictly decreasing (t_0 = t_max > ... > "
                         f"t_N = t_min), but t[{k}] = {arr[k]!r} <= t[{k + 1}] = {arr[k + 1]!r}")
    return arr


def grid_from(token: str, schedule):
    """A grid name as is, or the validated array of a grid file (inside the schedule's range)."""
    if not is_grid_file(token):
        return token
    from schedules import validate_grid

    try:
        return validate_grid(schedule, read_grid_file(token))
    except ValueError as err:
        if "grid file" in str(err):
            raise
        raise ValueError(f"grid file {token!r}: {err}") from None


def file_steps(grids: list) -> int | None:
    """N of the grid files among `grids` (arrays), None if there are none; ValueError if
    they disagree."""
    counts = {int(len(g)) - 1 for g in grids if not isinstance(g, str)}
    if len(counts) > 1:
        raise ValueError(f"grid files of different step counts {sorted(counts)}; give one N")
    return counts.pop() if counts else None


def check_steps_early(tokens, grid_tokens) -> None:
    """Before any import: --steps parses, and is given unless a grid is a file."""
    if tokens is not None:
        parse_steps(tokens)
    elif not any(is_grid_file(g) for g in grid_tokens):
        raise ValueError("--steps is required unless --grid is a file")


def steps_with_grid_files(tokens, grids: list) -> list[int]:
    """--steps, checked against grid files (a file fixes N; --steps may then be left out)."""
    n = file_steps(grids)
    if n is None:
        if tokens is None:
            raise ValueError("--steps is required unless --grid is a file")
        return parse_steps(tokens)
    steps = [n] if tokens is None else parse_steps(tokens)
    if steps != [n]:
        raise ValueError(f"the grid file has N = {n} steps; --steps gives {steps} (leave --steps "
                         f"out or give {n})")
    return steps


# ---------------------------------------------------------------------------------------------
# eta: a number, exp-quad:A,B,C, or a file holding a form.


def parse_eta(token: str):
    """A float >= 0, or ("exp-quad", (A, B, C)); a path is read and parsed as one of these."""
    text = str(token).strip()
    if not text.startswith("exp-quad:") and Path(text).is_file():
        lines = [ln.strip() for ln in Path(text).read_text().splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
        if len(lines) != 1:
            raise ValueError(f"eta file {text!r} must hold one line (a number or {ETA_FORM})")
        return parse_eta(lines[0])
    if text.startswith("exp-quad:"):
        parts = text[len("exp-quad:"):].split(",")
        try:
            params = tuple(float(p) for p in parts)
        except ValueError:
            params = ()
        if len(params) != 3 or not all(abs(p) < float("inf") for p in params):
            raise ValueError(f"bad --eta {text!r}: {ETA_FORM} needs three finite numbers")
        return ("exp-quad", params)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"bad --eta {text!r}: allowed: a number >= 0, {ETA_FORM}, or a file "
                         f"holding one of these") from None
    if not (value >= 0 and value < float("inf")):
        raise ValueError(f"bad --eta {text!r}: eta must be a finite number >= 0")
    return value


def eta_label(spec) -> float | str:
    return spec if isinstance(spec, float) else f"exp-quad:{','.join(f'{p:.17g}' for p in spec[1])}"


def eta_value(spec, schedule):
    """The number, or the function eta(t) of a parsed exp-quad form on this schedule."""
    if isinstance(spec, float):
        return spec
    from analysis import eta_function

    return eta_function(schedule, spec[1])


# ---------------------------------------------------------------------------------------------


def schedule_from(args):
    from schedules import make_schedule

    return make_schedule(check_schedule_name(args.schedule), t_min=args.t_min, t_max=args.t_max)


def target_from(args):
    from analysis import parse_spectrum
    from sampling import GaussianTarget

    return GaussianTarget(parse_spectrum(args.spectrum))


def describe(args, schedule) -> dict:
    """The settings a result was computed with, echoed into JSON output."""
    out = {"schedule": args.schedule, "t_min": schedule.t_min, "t_max": schedule.t_max,
           "eta": eta_label(parse_eta(args.eta)), "solver": args.solver, "spectrum": args.spectrum}
    if hasattr(args, "grid"):
        out.update(grid=args.grid, rho=args.rho)
    return out


def total_variance(target) -> float:
    """The data's total variance tr(Sigma), the sum of the eigenvalues. A sampler that outputs
    the data mean, a constant, has W2^2 = tr(Sigma) to the centred data law: an error above it
    is worse than not sampling at all, i.e. the sampler diverges in practice."""
    import numpy as np

    return float(np.sum(np.asarray(target.eigenvalues)))


def unstable_flags(values, bound: float) -> list[bool]:
    return [not (v <= bound) for v in values]


# ---------------------------------------------------------------------------------------------
# Devices: the work of a command split over the first K devices JAX sees.

DEVICES_HELP = ("split the work (Monte Carlo particles, or a sweep's lanes) over the first K "
                "devices JAX sees (None: all of them); the numbers do not depend on K. On a CPU "
                "host, JAX_NUM_CPU_DEVICES=8 makes 8 host devices")


def add_devices_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--devices", type=int, default=None, metavar="K", help=DEVICES_HELP)


def check_devices(value: int | None) -> int | None:
    """--devices K >= 1 (checked before jax loads; K above the devices JAX sees is refused by
    the library, naming how many there are)."""
    if value is not None and value < 1:
        raise ValueError(f"--devices must be an integer >= 1 (or left out: all devices), got {value}")
    return value


# ---------------------------------------------------------------------------------------------
# Final step: the practitioners' last jump to sigma = 0.

FINAL_STEP_HELP = ("none (default: the output is the state at the grid's last time, compared with "
                   "the exact marginal there) or denoise (append the jump to sigma = 0, x <- D(x, "
                   "t_N), the denoiser at the grid's last time, one more score evaluation; the "
                   "reference is then the data law)")


def add_final_step_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--final-step", default="none", help=FINAL_STEP_HELP)


def check_final_step_and_reference(final_step: str, reference: str | None) -> str:
    """--final-step's name, and the reference it allows (before jax loads): --reference
    defaults to tmin, or to data after --final-step denoise, which refuses tmin."""
    from ._names import FINAL_STEPS, REFERENCES

    check_choice("final step", final_step, FINAL_STEPS)
    if reference is None:
        return "data" if final_step == "denoise" else "tmin"
    check_choice("reference", reference, REFERENCES)
    if final_step == "denoise" and reference == "tmin":
        raise ValueError("--reference tmin does not fit --final-step denoise: the denoised output "
                         "is at sigma = 0, so it is compared with the data law (--reference data)")
    return reference
