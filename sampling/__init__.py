"""What moves: score models, the reverse-time family and its solvers, Monte Carlo.

Subpackages: `targets`, `scores`, `diffusion`, `solvers`, `langevin`, `training`; every public
name is re-exported here.
"""

import schedules as _schedules  # noqa: F401  (float64 on import)

from .targets import GaussianLaw as GaussianLaw
from .targets import GaussianTarget as GaussianTarget
from .targets import AbstractPotential as AbstractPotential
from .targets import GaussianPotential as GaussianPotential
from .targets import ScoreTarget as ScoreTarget
from .targets import CONSTRAINED_TARGETS as CONSTRAINED_TARGETS
from .targets import BetaProduct as BetaProduct
from .targets import Dirichlet as Dirichlet
from .targets import LogisticNormal as LogisticNormal
from .targets import LogitNormal as LogitNormal
from .targets import LogNormal as LogNormal
from .targets import UniformBox as UniformBox
from .scores import AbstractScoreModel as AbstractScoreModel
from .scores import GaussianScore as GaussianScore
from .scores import PARAMETERISATIONS as PARAMETERISATIONS
from .scores import AffineScore as AffineScore
from .scores import GaussianMixtureScore as GaussianMixtureScore
from .scores import MLPScore as MLPScore
from .scores import score_from_denoiser as score_from_denoiser
from .scores import score_from_epsilon as score_from_epsilon
from .diffusion import ReverseDiffusion as ReverseDiffusion
from .diffusion import ReverseDriftTerm as ReverseDriftTerm
from .diffusion import reverse_parts as reverse_parts
from .diffusion import StandardNormalIncrements as StandardNormalIncrements
from .diffusion import noise_names as noise_names
from .diffusion import NonFiniteError as NonFiniteError
from .diffusion import Samples as Samples
from .diffusion import reversed_times as reversed_times
from .diffusion import sample as sample
from .diffusion import sample_statistics as sample_statistics
from .diffusion import solver_init as solver_init
from .diffusion import solver_step as solver_step
from .diffusion import sample_diffusion as sample_diffusion
from .solvers import SOLVERS as SOLVERS
from .solvers import levy_area_of as levy_area_of
from .solvers import make_solver as make_solver
from .solvers import score_evaluations_per_step as score_evaluations_per_step
from .solvers import DDIM as DDIM
from .solvers import StochasticDDIM as StochasticDDIM
from .solvers import DPMSolverPP2M as DPMSolverPP2M
from .solvers import Heun as Heun
from .solvers import AbstractReverseSolver as AbstractReverseSolver
from .solvers import check_solver_use as check_solver_use
from .solvers import is_ode_only as is_ode_only
from .solvers import min_steps as min_steps
from .solvers import solver_name as solver_name
from .solvers import solver_kind as solver_kind
from .langevin import MALA as MALA
from .langevin import ULA as ULA
from .langevin import AbstractLangevinKernel as AbstractLangevinKernel
from .langevin import AbstractUnadjustedKernel as AbstractUnadjustedKernel
from .langevin import AnnealedLangevin as AnnealedLangevin
from .langevin import DualLangevin as DualLangevin
from .langevin import LangevinInfo as LangevinInfo
from .langevin import LangevinRun as LangevinRun
from .langevin import LangevinState as LangevinState
from .langevin import MirrorLangevin as MirrorLangevin
from .langevin import MirrorMALA as MirrorMALA
from .langevin import NewtonLangevin as NewtonLangevin
from .langevin import PreconditionedULA as PreconditionedULA
from .langevin import run_langevin as run_langevin
from .langevin import MIRROR_MAPS as MIRROR_MAPS
from .langevin import AbstractMirrorMap as AbstractMirrorMap
from .langevin import BallBarrier as BallBarrier
from .langevin import BoxBarrier as BoxBarrier
from .langevin import BurgEntropy as BurgEntropy
from .langevin import EntropicBox as EntropicBox
from .langevin import EntropyOrthant as EntropyOrthant
from .langevin import EntropySimplex as EntropySimplex
from .langevin import FermiDirac as FermiDirac
from .langevin import QuadraticMirror as QuadraticMirror
from .training import AffineDenoiser as AffineDenoiser
from .training import empirical_moments as empirical_moments
from .training import dsm_loss as dsm_loss
from .training import expected_dsm_loss as expected_dsm_loss
from .training import fit_affine_denoiser as fit_affine_denoiser
from .training import train_denoiser_sgd as train_denoiser_sgd
