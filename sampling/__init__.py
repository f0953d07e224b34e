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
