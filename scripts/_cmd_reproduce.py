"""`dlsim reproduce`: every figure and its CSV into one folder."""

from ._names import FIGURES

NAME = "reproduce"
HELP = ("reproduce the figures (PNG + CSV) into a folder; figures whose files and making code are "
        "unchanged since the last run (checked against manifest.json) are skipped")


def add_parser(subparsers):
    p = subparsers.add_parser(NAME, help=HELP, description=HELP)
    p.add_argument("--only", nargs="+", default=None, help=f"some of: {', '.join(FIGURES)}")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--quick", action="store_true", help="small sizes, into OUT/quick")
    p.add_argument("--force", action="store_true", help="remake figures that already exist")
    return p


def run(args) -> dict:
    from .reproduce import reproduce

    return reproduce(args.out, only=args.only, quick=args.quick, force=args.force,
                     progress=not args.json)


def columns(result: dict) -> dict:
    names = result["made"] + result["skipped"]
    status = ["made"] * len(result["made"]) + ["up to date"] * len(result["skipped"])
    return {"figure": names, "status": status}


def render(result: dict) -> str:
    lines = [f"figures in {result['out']}"]
    rebuilt = result.get("rebuilt", {})
    lines += [f"  made     {n}" + (f" (old outputs not trusted: {rebuilt[n]})" if n in rebuilt else "")
              for n in result["made"]]
    lines += [f"  up to date {n}" for n in result["skipped"]]
    lines.append(f"index of figures and result tables: {result['index']}")
    return "\n".join(lines)
