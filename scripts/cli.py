"""The `dlsim` command line (also `python -m scripts.cli`).

Every subcommand prints a table, or with --json exactly one JSON object on stdout.
Bad input: one line on stderr, exit code 2, no traceback.
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
)
from ._output import to_json  # noqa: E402

# Each command module gives NAME, add_parser(subparsers), run(args) -> dict, render(dict) -> str.
COMMANDS = [_cmd_error_curve, _cmd_expansion, _cmd_optimize, _cmd_langevin, _cmd_dsm,
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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.module.run(args)
    except (ValueError, FloatingPointError) as err:
        message = " ".join(str(err).split())
        print(f"dlsim {args.command}: error: {message}", file=sys.stderr)
        return 2
    print(to_json(result) if args.json else args.module.render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
