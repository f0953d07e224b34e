import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Keep the suite hermetic: no persistent compilation cache unless a test sets its own.
os.environ.setdefault("DLSIM_CACHE_DIR", "off")
