"""`dlsim reproduce`: every figure and its CSV into one folder."""

from .reproduce import recipe_names, reproduce

NAME = "reproduce"
HELP = "reproduce the figures (PNG + CSV) into a folder; finished figures are skipped on rerun"


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--only", nargs="+", default=None, help=f"some of: {', '.join(recipe_names())}")
    p.add_argument("--out", default="out", help="output folder (default ./out)")
    p.add_argument("--quick", action="store_true", help="small sizes, into OUT/quick")
    p.add_argument("--force", action="store_true", help="remake figures that already exist")
    return p


def run(args) -> dict:
    return reproduce(args.out, only=args.only, quick=args.quick, force=args.force,
                     progress=not args.json)


def render(result: dict) -> str:
    lines = [f"figures in {result['out']}"]
    lines += [f"  made     {n}" for n in result["made"]]
    lines += [f"  up to date {n}" for n in result["skipped"]]
    lines.append(f"index of figures and result tables: {result['index']}")
    return "\n".join(lines)
