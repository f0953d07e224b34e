"""Printing results: human tables and strict JSON."""

import json
import math


def format_number(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}" if math.isfinite(x) else str(x)
    return str(x)


def table(columns: dict[str, list]) -> str:
    """Columns of equal length as an aligned text table."""
    names = list(columns)
    rows = [[format_number(v) for v in row] for row in zip(*columns.values(), strict=True)]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    lines = ["  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def to_json(result: dict) -> str:
    """One JSON object; NaN or inf is a bug upstream, so refuse it (allow_nan=False)."""
    return json.dumps(result, allow_nan=False)
