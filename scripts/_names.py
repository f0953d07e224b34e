"""The names the CLI offers, importable without the numerical stack.

`dlsim --help`, `dlsim CMD --help` and argument errors must answer in well under a second,
so building the parser may not import jax (~2-3 s). The registries live in the packages
(`schedules.SCHEDULES`, `schedules.GRIDS`, `sampling.SOLVERS`, ...), which import jax; this
module repeats their *names* (and each solver's score evaluations per step) as plain data.
tests/scripts/test_cli_names.py checks that every list here equals its registry and says
exactly which names are missing or extra: adding a solver, grid or schedule to a registry
means adding its name here too (one line).
"""

SCHEDULES = ("vp", "vp-cosine", "ve", "edm", "flow")  # schedules.SCHEDULES
GRIDS = ("uniform", "quadratic", "edm", "logsnr", "geometric", "kl-optimal",  # schedules.GRIDS
         "karras", "exponential", "polyexponential", "ays", "ays-sdxl", "ays-svd", "beta",
         "linear-quadratic", "simple", "sgm-uniform", "ddim-uniform", "leading", "trailing",
         "linspace")

# sampling.SOLVERS -> score evaluations per step (sampling.score_evaluations_per_step) and
# which equations it runs ("ode": eta = 0 only, "sde": eta > 0 only, "any").
SOLVERS = {
    "euler": (1, "any"),
    "heun": (2, "any"),
    "ddim": (1, "ode"),
    "ddim-sde": (1, "any"),
    "dpm2m": (1, "ode"),
    "shark": (2, "sde"),
    "sra1": (2, "sde"),
    "euler-ancestral": (1, "any"),
    "dpm2": (2, "ode"),
    "dpm2-ancestral": (2, "any"),
    "dpmpp-2s-ancestral": (2, "any"),
    "dpmpp-sde": (2, "any"),
    "dpmpp-2m-sde": (1, "any"),
    "dpmpp-2m-sde-heun": (1, "any"),
    "dpmpp-3m-sde": (1, "any"),
    "dpmpp-3m-sde-corrected": (1, "any"),
    "lms": (1, "ode"),
    "unipc": (1, "ode"),
    "unipc-3": (1, "ode"),
    "deis": (1, "ode"),
    "ipndm": (1, "ode"),
}

REFERENCES = ("tmin", "data")  # analysis.REFERENCES
STARTS = ("marginal", "prior")  # analysis.STARTS
FINAL_STEPS = ("none", "denoise")  # sampling.FINAL_STEPS
STARTS_LANGEVIN = ("zero", "normal")  # analysis.STARTS_LANGEVIN
FIGURES = ("error_curves", "solver_comparison", "p1_expansion", "p2_kernel", "p3_eta", "p4_rho",
           "p5_optimized", "langevin_gaussian", "langevin_mirror", "dsm_errors",
           "learned_vs_theory")  # figures.RECIPES
SPECTRUM_FORMS = ("power:ALPHA:D, list:l1,l2,..., flat:D, flat:VALUE:D, two-block:L1:D1:L2:D2, "
                  "digits, digits:floor:EPS, or a .npy file")  # analysis.SPECTRUM_FORMS

METRICS = {"w2sq": "squared 2-Wasserstein distance W2^2", "kl": "KL(output || reference)",
           "weak": "|weak_trace| = |E|X_out|^2 - E|X_ref|^2|"}
METRIC_COLUMNS = {"w2sq": "w2sq", "kl": "kl", "weak": "weak_trace"}


def solvers_help() -> str:
    """'euler (1 NFE/step), heun (2 NFE/step), ...' (score evaluations per step) for every
    solver-taking --help."""
    parts = [f"{n} ({k} NFE/step"
             + {"ode": ", eta = 0 only", "sde": ", eta > 0 only", "any": ""}[kind] + ")"
             for n, (k, kind) in SOLVERS.items()]
    return ", ".join(parts)


# What each output column means; shown in --help epilogs and in the README.
COLUMNS = {
    "steps": "number of steps N of the grid",
    "nfe": "score-evaluation budget (network function evaluations)",
    "w2sq": "squared 2-Wasserstein distance W2^2 between the sampler's output law and the "
            "reference law (exact, Gaussian)",
    "kl": "KL(output law || reference law)",
    "weak_trace": "weak error of |x|^2: E|X_out|^2 - E|X_ref|^2 (signed)",
    "discretization": "W2^2 of the sampler started from the exact marginal at t_max, against "
                      "the exact marginal at t_min (the grid's own error)",
    "initialization": "W2^2 between the sampler's output started from the prior and started "
                      "from the exact marginal at t_max (same grid): the cost of the prior start",
    "truncation": "W2^2 between the exact marginal at t_min and the data law (same for every N)",
    "unstable": "true when the error exceeds the data's total variance (sum of eigenvalues): "
                "the sampler diverges in practice",
    "w2": "2-Wasserstein distance W2 between the chain's law and the target",
    "w2_dual": "W2 between the laws of the dual variables y = M x (mirror coordinates)",
}


def columns_epilog(names) -> str:
    return "output columns:\n" + "\n".join(f"  {n}: {COLUMNS[n]}" for n in names)
