"""Schedules by name, as the CLI spells them."""

from ._base import AbstractSchedule
from ._flow import LinearInterpolant
from ._ve import EDM, VE
from ._vp import VPCosine, VPLinear

SCHEDULES: dict[str, type[AbstractSchedule]] = {
    "vp": VPLinear,
    "vp-cosine": VPCosine,
    "ve": VE,
    "edm": EDM,
    "flow": LinearInterpolant,
}


def make_schedule(name: str, *, t_min: float | None = None, t_max: float | None = None,
                  **params) -> AbstractSchedule:
    """Build the named schedule; `t_min`/`t_max` default to the schedule's own."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}")
    cls = SCHEDULES[name]
    if t_min is not None:
        params["t_min"] = t_min
    if t_max is not None:
        params["t_max"] = t_max
    return cls(**params)
