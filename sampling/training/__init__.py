"""Denoising score matching: losses, affine denoisers, training loops."""

from ._dsm import AffineDenoiser as AffineDenoiser
from ._dsm import empirical_moments as empirical_moments
from ._dsm import dsm_loss as dsm_loss
from ._dsm import expected_dsm_loss as expected_dsm_loss
from ._dsm import fit_affine_denoiser as fit_affine_denoiser
from ._dsm import train_denoiser_sgd as train_denoiser_sgd
from ._train import NOISE_RANGE as NOISE_RANGE
from ._train import TrainConfig as TrainConfig
from ._train import TrainResult as TrainResult
from ._train import TrainState as TrainState
from ._train import data_rms as data_rms
from ._train import dsm_loss_estimate as dsm_loss_estimate
from ._train import init_train_state as init_train_state
from ._train import make_optimizer as make_optimizer
from ._train import train_score_model as train_score_model
from ._train import weighted_denoising_errors as weighted_denoising_errors
from ._checkpoint import build_mlp_score as build_mlp_score
from ._checkpoint import leaves_sha256 as leaves_sha256
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import load_trained_score as load_trained_score
from ._checkpoint import mlp_config as mlp_config
from ._checkpoint import read_sidecar as read_sidecar
from ._checkpoint import save_checkpoint as save_checkpoint
from ._checkpoint import skeleton_state as skeleton_state
