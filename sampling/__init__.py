"""What moves: score models, the reverse-time family and its solvers, Monte Carlo."""

import schedules as _schedules  # noqa: F401  (float64 on import)

from ._gaussian import GaussianLaw as GaussianLaw
from ._gaussian import GaussianTarget as GaussianTarget
from ._noise import StandardNormalIncrements as StandardNormalIncrements
from ._noise import noise_names as noise_names
from ._reverse import ReverseDiffusion as ReverseDiffusion
from ._sample import NonFiniteError as NonFiniteError
from ._sample import Samples as Samples
from ._sample import reversed_times as reversed_times
from ._sample import sample as sample
from ._sample import sample_statistics as sample_statistics
from ._sample import solver_init as solver_init
from ._sample import solver_step as solver_step
from ._score import AbstractScoreModel as AbstractScoreModel
from ._score import GaussianScore as GaussianScore
from ._solvers import SOLVERS as SOLVERS
from ._solvers import levy_area_of as levy_area_of
from ._solvers import make_solver as make_solver
from ._solvers import score_evaluations_per_step as score_evaluations_per_step
from ._langevin import MALA as MALA
from ._langevin import ULA as ULA
from ._langevin import AbstractLangevinKernel as AbstractLangevinKernel
from ._langevin import AbstractUnadjustedKernel as AbstractUnadjustedKernel
from ._langevin import AnnealedLangevin as AnnealedLangevin
from ._langevin import DualLangevin as DualLangevin
from ._langevin import LangevinInfo as LangevinInfo
from ._langevin import LangevinRun as LangevinRun
from ._langevin import LangevinState as LangevinState
from ._langevin import MirrorLangevin as MirrorLangevin
from ._langevin import MirrorMALA as MirrorMALA
from ._langevin import NewtonLangevin as NewtonLangevin
from ._langevin import PreconditionedULA as PreconditionedULA
from ._langevin import run_langevin as run_langevin
from ._mirror import MIRROR_MAPS as MIRROR_MAPS
from ._mirror import AbstractMirrorMap as AbstractMirrorMap
from ._mirror import BallBarrier as BallBarrier
from ._mirror import BoxBarrier as BoxBarrier
from ._mirror import BurgEntropy as BurgEntropy
from ._mirror import EntropicBox as EntropicBox
from ._mirror import EntropyOrthant as EntropyOrthant
from ._mirror import EntropySimplex as EntropySimplex
from ._mirror import FermiDirac as FermiDirac
from ._mirror import QuadraticMirror as QuadraticMirror
from ._potential import AbstractPotential as AbstractPotential
from ._potential import GaussianPotential as GaussianPotential
