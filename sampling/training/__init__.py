"""Denoising score matching: losses, affine denoisers, training loops."""

from ._dsm import AffineDenoiser as AffineDenoiser
from ._dsm import empirical_moments as empirical_moments
from ._dsm import dsm_loss as dsm_loss
from ._dsm import expected_dsm_loss as expected_dsm_loss
from ._dsm import fit_affine_denoiser as fit_affine_denoiser
from ._dsm import train_denoiser_sgd as train_denoiser_sgd
