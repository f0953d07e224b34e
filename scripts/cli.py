"""The `dlsim` command line (also `python -m scripts.cli`).

Every subcommand prints a table, or with --json exactly one JSON object on stdout.
Bad input, and running out of memory (host or accelerator): one line on stderr, exit code 2,
no traceback. A reader that closes stdout early (`dlsim ... | head -1`): a quiet exit, code 0.
"""

import argparse
import importlib
import os
import sys


def _accelerator_plugin_installed() -> bool:
    """Whether a JAX accelerator plugin is installed (CUDA/ROCm wheels under the `jax_plugins`
    namespace, or libtpu): found without importing anything."""
    from importlib.util import find_spec

    return any(find_spec(name) is not None for name in ("jax_plugins", "libtpu"))


# Without an accelerator plugin the CPU is all JAX could use: say so, which skips its probing
# of other platforms at start-up. With one (`pip install -e '.[cuda]'`), JAX picks the GPU.
# A user's JAX_PLATFORMS always wins.
if not _accelerator_plugin_installed():
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

from ._output import columns_of, to_json  # noqa: E402

# One line per subcommand, in --help order: the module scripts/_cmd_<name>.py. Each gives NAME,
# HELP, add_parser(subparsers), run(args) -> dict, render(dict) -> str, and optionally
# columns(result) -> {column: list} (for --csv; else the result's rows or equal-length lists).
# A command module imports nothing heavy at module level (jax, numpy-heavy packages, matplotlib:
# inside run()), because `dlsim --help` imports every one; tests/scripts/test_cli_startup.py
# checks that. Names offered in --help come from `_names` (plain data, tested against the
# registries).
COMMANDS = [
    "error_curve",
    "sweep",
    "compare",
    "expansion",
    "optimize",
    "langevin",
    "langevin_1d",
    "dsm",
    "train",
    "mc_curve",
    "reproduce",
    "bench",
]


def command_modules() -> list:
    package = __package__ or "scripts"
    return [importlib.import_module(f"{package}._cmd_{name}") for name in COMMANDS]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default in its help (not for required options, flags, or None); the
    description and the epilog (output columns) keep their line breaks."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.required or action.default in (None, False, argparse.SUPPRESS)
                or "%(default)" in text or not action.option_strings):
            return text
        default = action.default
        if isinstance(default, list | tuple):
            default = " ".join(str(v) for v in default)
        return f"{text} (default: {default})"

    def _fill_text(self, text, width, indent):
        # A one-paragraph description is wrapped; text with line breaks (epilogs) kept as is.
        if "\n" in text:
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


class _OneLineParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_common(parser: argparse.ArgumentParser, option: str, **kwargs) -> bool:
    """An option every command takes, unless the command already defines it (and handles it)
    itself. True if added here."""
    if option in parser._option_string_actions:
        return False
    parser.add_argument(option, **kwargs)
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="dlsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    for module in command_modules():
        p = module.add_parser(sub)
        _add_common(p, "--json", action="store_true", help="print one JSON object on stdout")
        cli_csv = _add_common(p, "--csv", default=None, metavar="FILE",
                              help="also write the result's rows to FILE as CSV (atomically)")
        _add_common(p, "--strict", action="store_true",
                    help="a warning (e.g. an unstable result: error above the data's total "
                         "variance) is an error: one line on stderr, exit code 2, no output")
        p.set_defaults(module=module, cli_writes_csv=cli_csv)
    return parser


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _jax_runtime_errors() -> tuple[type[BaseException], ...]:
    """JAX's runtime-error classes, only if jax is already imported (an error from it implies it is)."""
    if "jax" not in sys.modules:
        return ()
    try:
        from jax.errors import JaxRuntimeError  # jax >= 0.4.36
        return (JaxRuntimeError,)
    except ImportError:
        pass
    try:
        from jaxlib.xla_extension import XlaRuntimeError  # older jaxlib
        return (XlaRuntimeError,)
    except ImportError:
        return ()


def _out_of_memory_reason(err: BaseException) -> str | None:
    """A short reason if `err` is an out-of-memory failure (host or accelerator), else None."""
    if isinstance(err, MemoryError):
        return _one_line(err) or "the host ran out of memory"
    if isinstance(err, _jax_runtime_errors()) and "RESOURCE_EXHAUSTED" in str(err):
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        reason = first.replace("RESOURCE_EXHAUSTED:", "").strip() or "the accelerator ran out of memory"
        return reason if len(reason) <= 200 else reason[:197] + "..."
    return None


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of a dead pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real fd (e.g. captured by pytest)
        pass


def enable_compilation_cache() -> str | None:
    """JAX's persistent compilation cache, so that a second run of the same command does not
    compile again: in $DLSIM_CACHE_DIR, default $XDG_CACHE_HOME/dlsim/jax (~/.cache/...);
    DLSIM_CACHE_DIR=off switches it off. Returns the directory used (None when off).

    Set through JAX's environment variables, read when jax is first imported, so that a
    command that never needs jax (--help, a rejected argument) does not pay its import;
    if jax is already imported (dlsim called in-process), its config is updated directly."""
    default = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dlsim", "jax")
    where = os.environ.get("DLSIM_CACHE_DIR", default)
    if where.strip().lower() in ("", "off", "0", "none", "false"):
        return None
    # dlsim compiles few programs, most in 0.05-2 s: cache every one (a threshold on the
    # compile time would make what is cached depend on the machine's load).
    settings = {"jax_compilation_cache_dir": where, "jax_persistent_cache_min_compile_time_secs": 0.0}
    if "jax" in sys.modules:
        import jax

        for key, value in settings.items():
            jax.config.update(key, value)
    else:
        for key, value in settings.items():
            os.environ[key.upper()] = str(value)
    return where


_OFF = ("", "0", "off", "false", "no")
_joined_as: int | None = None  # this process's index once it has joined a distributed run


def join_distributed() -> int:
    """Join a run of several processes (one per host or per GPU) when the environment asks:
    with DLSIM_DISTRIBUTED=1, `jax.distributed.initialize` before JAX is used, its coordinator,
    process count and id from DLSIM_COORDINATOR (host:port), DLSIM_NUM_PROCESSES and
    DLSIM_PROCESS_ID where set, else from JAX's own detection (Slurm, Open MPI, Kubernetes,
    Cloud TPU; JAX_COORDINATOR_ADDRESS). Every process then computes its share of the same
    command (sweep lanes, Monte Carlo particles) and process 0 alone prints the result.
    Returns this process's index (0 when not distributed)."""
    global _joined_as
    if _joined_as is not None:
        return _joined_as
    if os.environ.get("DLSIM_DISTRIBUTED", "").strip().lower() in _OFF:
        return 0
    settings = {}
    for name, key, kind in (("DLSIM_COORDINATOR", "coordinator_address", str),
                            ("DLSIM_NUM_PROCESSES", "num_processes", int),
                            ("DLSIM_PROCESS_ID", "process_id", int)):
        if os.environ.get(name, "").strip():
            try:
                settings[key] = kind(os.environ[name].strip())
            except ValueError:
                raise ValueError(f"{name} must be {'an integer' if kind is int else 'host:port'}, "
                                 f"got {os.environ[name]!r}") from None
    import jax

    try:
        jax.distributed.initialize(**settings)
    except (RuntimeError, ValueError) as err:  # no coordinator, a timeout, JAX already in use
        raise ValueError(f"cannot join the distributed run ({settings or 'settings detected by JAX'}): "
                         f"{_one_line(err)}") from None
    _joined_as = jax.process_index()
    return _joined_as


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    enable_compilation_cache()
    try:
        if join_distributed() != 0:
            return _run_quietly(args)
        result = args.module.run(args)
    except (ValueError, FloatingPointError) as err:
        print(f"dlsim {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as err:
        reason = _out_of_memory_reason(err)
        if reason is None:
            raise
        print(f"dlsim {args.command}: error: out of memory: {reason}", file=sys.stderr)
        return 2
    warnings = list(result.get("warnings") or [])
    if warnings and getattr(args, "strict", False):
        print(f"dlsim {args.command}: error: {_one_line(warnings[0])} (--strict)", file=sys.stderr)
        return 2
    for message in warnings:
        print(f"dlsim {args.command}: warning: {_one_line(message)}", file=sys.stderr)
    if args.cli_writes_csv and args.csv is not None:
        from ._files import write_csv

        try:
            write_csv(args.csv, getattr(args.module, "columns", columns_of)(result))
        except (OSError, ValueError) as err:
            print(f"dlsim {args.command}: error: cannot write --csv {args.csv}: {_one_line(err)}",
                  file=sys.stderr)
            return 2
    text = to_json(result) if args.json else args.module.render(result)
    try:
        sys.stdout.write(text + "\n")  # one write, flushed here so a closed pipe is caught here
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`dlsim ... | head -1`): that is its choice, not a failure of ours.
        # Exit quietly with 0, as ripgrep and fd do, so `set -o pipefail` scripts are not broken;
        # the reader's own exit code reports any problem on its side.
        _silence_stdout()
        return 0
    return 0


def _run_quietly(args) -> int:
    """A process other than 0 of a distributed run: the same computation (every process must
    make the same JAX calls), no output; its exit code still reports an error."""
    try:
        args.module.run(args)
    except (ValueError, FloatingPointError, MemoryError, RuntimeError):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
