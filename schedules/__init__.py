"""Continuous noise schedules and discrete time grids (pure, tiny, no sampling).

Importing this package switches JAX to float64 (see `_precision`).
"""

from . import _precision
from ._base import AbstractSchedule as AbstractSchedule
from ._errors import is_concrete as is_concrete
from ._flow import LinearInterpolant as LinearInterpolant
from ._grids import GRIDS as GRIDS
from ._grids import edm_grid as edm_grid
from ._grids import geometric_grid as geometric_grid
from ._grids import kl_optimal_grid as kl_optimal_grid
from ._grids import logsnr_grid as logsnr_grid
from ._grids import make_grid as make_grid
from ._grids import make_grids as make_grids
from ._grids import named_grid_map as named_grid_map
from ._grids import quadratic_grid as quadratic_grid
from ._grids import uniform_grid as uniform_grid
from ._grids import validate_grid as validate_grid
from ._registry import SCHEDULES as SCHEDULES
from ._registry import make_schedule as make_schedule
from ._ve import EDM as EDM
from ._ve import VE as VE
from ._vp import VPCosine as VPCosine
from ._vp import VPLinear as VPLinear
