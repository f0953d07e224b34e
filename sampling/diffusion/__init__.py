"""The reverse-time diffusion and running its solvers: drift, noise, `sample`, `sample_diffusion`."""

from ._reverse import ReverseDiffusion as ReverseDiffusion
from ._reverse import ReverseDriftTerm as ReverseDriftTerm
from ._reverse import reverse_parts as reverse_parts
from ._noise import StandardNormalIncrements as StandardNormalIncrements
from ._final_step import FINAL_STEPS as FINAL_STEPS
from ._final_step import apply_final_step as apply_final_step
from ._final_step import check_final_step as check_final_step
from ._final_step import final_step_evaluations as final_step_evaluations
from ._noise import noise_names as noise_names
from ._sample import NonFiniteError as NonFiniteError
from ._sample import Samples as Samples
from ._sample import reversed_times as reversed_times
from ._sample import sample as sample
from ._sample import sample_statistics as sample_statistics
from ._sample import solver_init as solver_init
from ._sample import solver_step as solver_step
from ._sampler import sample_diffusion as sample_diffusion
