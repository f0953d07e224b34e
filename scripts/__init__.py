"""The `dlsim` command line and the figure recipes (orchestration only; no numerics)."""
