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


def columns_of(result: dict) -> dict[str, list]:
    """A result's table as columns, for --csv: its `rows` (a list of dicts; nested values
    written as JSON), else its list-valued entries of the most common length (e.g. steps,
    w2sq, kl of one curve)."""
    rows = result.get("rows")
    if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
        names = list(dict.fromkeys(k for r in rows for k in r))
        cell = lambda v: json.dumps(v) if isinstance(v, dict | list) else v
        return {k: [cell(r.get(k, "")) for r in rows] for k in names}
    lists = {k: v for k, v in result.items()
             if isinstance(v, list) and v and not any(isinstance(x, dict | list) for x in v)}
    if not lists:
        raise ValueError("this result has no table to write as CSV")
    lengths = [len(v) for v in lists.values()]
    n = max(set(lengths), key=lengths.count)
    return {k: v for k, v in lists.items() if len(v) == n}
