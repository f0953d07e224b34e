"""The `dlsim` command line (also `python -m scripts.cli`).

Every subcommand prints a table, or with --json exactly one JSON object on stdout.
Bad input, and running out of memory (host or accelerator): one line on stderr, exit code 2,
no traceback. A reader that closes stdout early (`dlsim ... | head -1`): a quiet exit, code 0.
"""

import argparse
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from . import (  # noqa: E402
    _cmd_bench,
    _cmd_dsm,
    _cmd_error_curve,
    _cmd_expansion,
    _cmd_langevin,
    _cmd_optimize,
    _cmd_reproduce,
    _cmd_sweep,
)
from ._output import to_json  # noqa: E402

# Each command module gives NAME, add_parser(subparsers), run(args) -> dict, render(dict) -> str.
COMMANDS = [_cmd_error_curve, _cmd_sweep, _cmd_expansion, _cmd_optimize, _cmd_langevin, _cmd_dsm,
            _cmd_reproduce, _cmd_bench]


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="dlsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    for module in COMMANDS:
        p = module.add_parser(sub)
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        p.set_defaults(module=module)
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
    DLSIM_CACHE_DIR=off switches it off. Returns the directory used (None when off)."""
    default = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dlsim", "jax")
    where = os.environ.get("DLSIM_CACHE_DIR", default)
    if where.strip().lower() in ("", "off", "0", "none", "false"):
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", where)
    # dlsim compiles few programs, most in 0.05-2 s: cache every one (a threshold on the
    # compile time would make what is cached depend on the machine's load).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return where


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    enable_compilation_cache()
    try:
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


if __name__ == "__main__":
    sys.exit(main())
