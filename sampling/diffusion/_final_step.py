r"""The practitioners' last jump to sigma = 0, written once.

dlsim's grids end at t_min > 0, and by default a sampler's output is its state there
(`final_step="none"`), compared with the exact marginal at that time. The samplers
practitioners run (k-diffusion, ComfyUI, diffusers with `final_sigmas_type="zero"`) end
instead with one more step to sigma = 0, which for every one of them is the denoiser at
the last noise level (SAMPLERS.md section 1: an Euler or exponential-integrator step to
sigma = 0 lands on D; k-diffusion: "the same as just returning denoised"):

    denoise:  x <- D(x, t_N) = (x + sigma(t_N)^2 s(x, t_N)) / alpha(t_N)      (Tweedie)

Its output lives at sigma = 0, so it is compared with the data law. It costs one score
evaluation. Monte Carlo (`sample`) applies this map to each particle; the exact-law route
(`analysis.error_sweep`) reads its affine map off the same function (it is affine for an
affine score), so both use one definition.
"""

from jaxtyping import Array, ArrayLike

from ._reverse import ReverseDiffusion

FINAL_STEPS = ("none", "denoise")


def check_final_step(final_step: str) -> str:
    """The name itself, or ValueError naming it and the allowed ones."""
    if final_step not in FINAL_STEPS:
        raise ValueError(f"unknown final step {final_step!r}; allowed: {', '.join(FINAL_STEPS)}")
    return final_step


def final_step_evaluations(final_step: str) -> int:
    """Score evaluations the final step costs (per particle): 1 for denoise, 0 for none."""
    return 1 if check_final_step(final_step) == "denoise" else 0


def apply_final_step(reverse: ReverseDiffusion, final_step: str, x: Array, t_end: ArrayLike) -> Array:
    """The sampler's output from its state x at the grid's last time t_end: x itself
    ("none"), or the denoiser D(x, t_end) ("denoise", the jump to sigma = 0)."""
    if check_final_step(final_step) == "none":
        return x
    return reverse.denoised(x, t_end)
