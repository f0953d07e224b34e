"""Reverse-time solvers, one file each, and the registry that names them."""

from ._registry import SOLVERS as SOLVERS
from ._registry import levy_area_of as levy_area_of
from ._registry import make_solver as make_solver
from ._registry import score_evaluations_per_step as score_evaluations_per_step
from ._ddim import DDIM as DDIM
from ._ddim import StochasticDDIM as StochasticDDIM
from ._dpm import DPMSolverPP2M as DPMSolverPP2M
from ._heun import Heun as Heun
from ._base import AbstractReverseSolver as AbstractReverseSolver
from ._registry import check_solver_use as check_solver_use
from ._registry import is_ode_only as is_ode_only
from ._registry import min_steps as min_steps
from ._registry import solver_name as solver_name
from ._registry import solver_kind as solver_kind
