"""What is sampled: Gaussian targets and laws, potentials, constrained targets."""

from ._gaussian import GaussianLaw as GaussianLaw
from ._gaussian import GaussianTarget as GaussianTarget
from ._potential import AbstractPotential as AbstractPotential
from ._potential import GaussianPotential as GaussianPotential
from ._potential import ScoreTarget as ScoreTarget
from ._constrained import CONSTRAINED_TARGETS as CONSTRAINED_TARGETS
from ._constrained import BetaProduct as BetaProduct
from ._constrained import Dirichlet as Dirichlet
from ._constrained import LogisticNormal as LogisticNormal
from ._constrained import LogitNormal as LogitNormal
from ._constrained import LogNormal as LogNormal
from ._constrained import UniformBox as UniformBox
from ._datasets import DATASETS as DATASETS
from ._datasets import Dataset as Dataset
from ._datasets import array_sha256 as array_sha256
from ._datasets import load_dataset as load_dataset
