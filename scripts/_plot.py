"""`--plot FILE.png`: error curves on log-log axes with slope guides (Matplotlib, Agg)."""

import math


def fitted_slope(steps, values) -> float | None:
    """Least-squares slope of log(value) against log(N) over the last half of the points
    (at least two), the asymptotic rate; None when fewer than two points are positive."""
    pts = [(math.log(n), math.log(v)) for n, v in zip(steps, values, strict=True)
           if v is not None and v > 0 and math.isfinite(v)]
    pts = pts[-max(2, len(pts) // 2):]
    if len(pts) < 2 or len({x for x, _ in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return (sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts))


def plot_curves(path, curves, *, xlabel: str, ylabel: str, title: str) -> str:
    """One line per (label, xs, ys) on log-log axes, with the fitted asymptotic slope in the
    legend and dotted guides of slope -1 and -2 through the first curve's last point; written
    atomically as PNG. Non-positive or non-finite values are left out (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from ._files import save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    anchor = None
    for label, xs, ys in curves:
        pts = [(x, y) for x, y in zip(xs, ys, strict=True)
               if y is not None and math.isfinite(y) and y > 0]
        if not pts:
            continue
        slope = fitted_slope(*zip(*pts, strict=True)) if len(pts) > 1 else None
        ax.plot(*zip(*pts, strict=True), marker="o", ms=3,
                label=label + ("" if slope is None else f" (slope {slope:.2f})"))
        anchor = anchor or pts[-1]
    if anchor is not None:
        xs = sorted({x for _, cx, _ in curves for x in cx})
        lo, hi = xs[0], xs[-1]
        if hi > lo:
            for order, style in ((1, ":"), (2, "--")):
                ax.plot([lo, hi], [anchor[1] * (lo / anchor[0]) ** -order,
                                   anchor[1] * (hi / anchor[0]) ** -order],
                        color="grey", ls=style, lw=1, label=f"slope -{order} guide")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Step counts and budgets read as plain integers; minor ticks unlabelled (no overlaps).
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(path, fig)
    return str(path)


def add_plot_option(parser) -> None:
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="also draw the curves as a PNG (log-log, slope guides, legend)")


def check_plot_path(path) -> None:
    if path is not None and not str(path).lower().endswith(".png"):
        raise ValueError(f"--plot needs a .png file name, got {path!r}")
