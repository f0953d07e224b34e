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
# Practitioners' schedules (k-diffusion, ComfyUI, diffusers, Align Your Steps); importing the
# module registers them in GRIDS.
from ._practitioner_grids import AYS_TABLES as AYS_TABLES
from ._practitioner_grids import MAPPED_GRIDS as MAPPED_GRIDS
from ._practitioner_grids import ays_grid as ays_grid
from ._practitioner_grids import ays_sigmas as ays_sigmas
from ._practitioner_grids import beta_grid as beta_grid
from ._practitioner_grids import beta_sigmas as beta_sigmas
from ._practitioner_grids import ddim_uniform_sigmas as ddim_uniform_sigmas
from ._practitioner_grids import diffusers_sigmas as diffusers_sigmas
from ._practitioner_grids import exponential_sigmas as exponential_sigmas
from ._practitioner_grids import grid_from_noise_levels as grid_from_noise_levels
from ._practitioner_grids import karras_sigmas as karras_sigmas
from ._practitioner_grids import linear_quadratic_grid as linear_quadratic_grid
from ._practitioner_grids import linear_quadratic_sigmas as linear_quadratic_sigmas
from ._practitioner_grids import polyexponential_sigmas as polyexponential_sigmas
from ._practitioner_grids import scaled_linear_table as scaled_linear_table
from ._practitioner_grids import sgm_uniform_sigmas as sgm_uniform_sigmas
from ._practitioner_grids import simple_sigmas as simple_sigmas
from ._practitioner_grids import vp_linear_table as vp_linear_table
from ._registry import SCHEDULES as SCHEDULES
from ._registry import make_schedule as make_schedule
from ._ve import EDM as EDM
from ._ve import VE as VE
from ._vp import VPCosine as VPCosine
from ._vp import VPLinear as VPLinear
