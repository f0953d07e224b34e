"""Float64 for every dlsim computation.

The first-order discretization errors dlsim measures are ~1e-6 relative at N = 1000
(MATH.md section 2), below float32 resolution. Importing any dlsim package therefore
switches JAX to 64-bit mode once, so that users never have to remember the flag.
"""

import jax

jax.config.update("jax_enable_x64", True)
