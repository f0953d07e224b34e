"""Reverse-time solvers, one file each, and the registry that names them."""

# The solvers read the reverse family (sampling.diffusion), whose package imports this
# registry: load that package first, so the cycle resolves whichever is imported first.
from .. import diffusion as _diffusion  # noqa: F401, I001
from ._registry import SOLVERS as SOLVERS
from ._registry import levy_area_of as levy_area_of
from ._registry import make_solver as make_solver
from ._registry import score_evaluations_per_step as score_evaluations_per_step
from ._ddim import DDIM as DDIM
from ._ddim import StochasticDDIM as StochasticDDIM
from ._dpm import DPMSolverPP2M as DPMSolverPP2M
from ._heun import Heun as Heun
from ._deis import DEIS as DEIS
from ._ipndm import IPNDM as IPNDM
from ._unipc import UniPC as UniPC
from ._unipc import UniPC3 as UniPC3
from ._euler_ancestral import EulerAncestral as EulerAncestral
from ._dpm2 import DPM2 as DPM2
from ._dpm2_ancestral import DPM2Ancestral as DPM2Ancestral
from ._dpmpp_2s_ancestral import DPMSolverPP2SAncestral as DPMSolverPP2SAncestral
from ._dpmpp_sde import DPMSolverPPSDE as DPMSolverPPSDE
from ._dpmpp_2m_sde import DPMSolverPP2MSDE as DPMSolverPP2MSDE
from ._dpmpp_2m_sde import DPMSolverPP2MSDEHeun as DPMSolverPP2MSDEHeun
from ._dpmpp_3m_sde import DPMSolverPP3MSDE as DPMSolverPP3MSDE
from ._dpmpp_3m_sde import DPMSolverPP3MSDECorrected as DPMSolverPP3MSDECorrected
from ._lms import LMS as LMS
from ._base import AbstractReverseSolver as AbstractReverseSolver
from ._registry import check_solver_use as check_solver_use
from ._registry import is_ode_only as is_ode_only
from ._registry import min_steps as min_steps
from ._registry import solver_name as solver_name
from ._registry import solver_kind as solver_kind
