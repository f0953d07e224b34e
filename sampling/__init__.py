"""What moves: score models, the reverse-time family and its solvers, Monte Carlo.

Subpackages: `targets`, `scores`, `diffusion`, `solvers`, `langevin`, `training`; every public
name is re-exported here.
"""

import importlib

import schedules as _schedules  # noqa: F401  (float64 on import)

_EXPORTS = {
    "GaussianLaw": "targets",
    "GaussianTarget": "targets",
    "AbstractPotential": "targets",
    "GaussianPotential": "targets",
    "ScoreTarget": "targets",
    "CONSTRAINED_TARGETS": "targets",
    "BetaProduct": "targets",
    "Dirichlet": "targets",
    "LogisticNormal": "targets",
    "LogitNormal": "targets",
    "LogNormal": "targets",
    "UniformBox": "targets",
    "DATASETS": "targets",
    "Dataset": "targets",
    "load_dataset": "targets",
    "AbstractScoreModel": "scores",
    "GaussianScore": "scores",
    "PARAMETERISATIONS": "scores",
    "AffineScore": "scores",
    "GaussianMixtureScore": "scores",
    "MLPScore": "scores",
    "score_from_denoiser": "scores",
    "score_from_epsilon": "scores",
    "ReverseDiffusion": "diffusion",
    "ReverseDriftTerm": "diffusion",
    "reverse_parts": "diffusion",
    "StandardNormalIncrements": "diffusion",
    "noise_names": "diffusion",
    "FINAL_STEPS": "diffusion",
    "apply_final_step": "diffusion",
    "check_final_step": "diffusion",
    "final_step_evaluations": "diffusion",
    "NonFiniteError": "diffusion",
    "Samples": "diffusion",
    "reversed_times": "diffusion",
    "sample": "diffusion",
    "sample_statistics": "diffusion",
    "solver_init": "diffusion",
    "solver_step": "diffusion",
    "sample_diffusion": "diffusion",
    "SOLVERS": "solvers",
    "levy_area_of": "solvers",
    "make_solver": "solvers",
    "score_evaluations_per_step": "solvers",
    "DDIM": "solvers",
    "StochasticDDIM": "solvers",
    "DPMSolverPP2M": "solvers",
    "Heun": "solvers",
    "EulerAncestral": "solvers",
    "DPM2": "solvers",
    "DPM2Ancestral": "solvers",
    "DPMSolverPP2SAncestral": "solvers",
    "DPMSolverPPSDE": "solvers",
    "DPMSolverPP2MSDE": "solvers",
    "DPMSolverPP2MSDEHeun": "solvers",
    "DPMSolverPP3MSDE": "solvers",
    "DPMSolverPP3MSDECorrected": "solvers",
    "LMS": "solvers",
    "AbstractReverseSolver": "solvers",
    "check_solver_use": "solvers",
    "is_ode_only": "solvers",
    "min_steps": "solvers",
    "solver_name": "solvers",
    "solver_kind": "solvers",
    "MALA": "langevin",
    "ULA": "langevin",
    "AbstractLangevinKernel": "langevin",
    "AbstractUnadjustedKernel": "langevin",
    "AnnealedLangevin": "langevin",
    "DualLangevin": "langevin",
    "LangevinInfo": "langevin",
    "LangevinRun": "langevin",
    "LangevinState": "langevin",
    "MirrorLangevin": "langevin",
    "MirrorMALA": "langevin",
    "NewtonLangevin": "langevin",
    "PreconditionedULA": "langevin",
    "run_langevin": "langevin",
    "MIRROR_MAPS": "langevin",
    "AbstractMirrorMap": "langevin",
    "BallBarrier": "langevin",
    "BoxBarrier": "langevin",
    "BurgEntropy": "langevin",
    "EntropicBox": "langevin",
    "EntropyOrthant": "langevin",
    "EntropySimplex": "langevin",
    "FermiDirac": "langevin",
    "QuadraticMirror": "langevin",
    "MirrorRun": "langevin",
    "run_mirror_langevin": "langevin",
    "AffineDenoiser": "training",
    "empirical_moments": "training",
    "dsm_loss": "training",
    "expected_dsm_loss": "training",
    "fit_affine_denoiser": "training",
    "train_denoiser_sgd": "training",
    "TrainConfig": "training",
    "TrainState": "training",
    "train_score_model": "training",
    "dsm_loss_estimate": "training",
    "load_trained_score": "training",
}


def __getattr__(name):
    # Public names load their subpackage on first use: a command that runs a diffusion
    # sampler does not pay for the Langevin kernels, the training loop or the data sets.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = list(_EXPORTS)
