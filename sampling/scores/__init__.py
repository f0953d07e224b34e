"""Score models: exact Gaussian and mixture scores, affine scores, Equinox networks, parameterisations."""

from ._score import AbstractScoreModel as AbstractScoreModel
from ._score import GaussianScore as GaussianScore
from ._score import PARAMETERISATIONS as PARAMETERISATIONS
from ._score import AffineScore as AffineScore
from ._score import GaussianMixtureScore as GaussianMixtureScore
from ._score import MLPScore as MLPScore
from ._score import score_from_denoiser as score_from_denoiser
from ._score import score_from_epsilon as score_from_epsilon
