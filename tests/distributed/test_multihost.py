"""Several hosts, simulated by two processes on this machine: `jax.distributed.initialize` on a
localhost coordinator, 2 CPU devices each (CPU collectives over gloo). Each process computes the
particles of its own devices, `to_host` gathers them on every process, and they equal the
particles of one process on one device, bit for bit. Slow: two fresh JAX processes."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

_WORKER = textwrap.dedent("""
    import json, sys
    import jax
    process, port = int(sys.argv[1]), sys.argv[2]
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process,
                               initialization_timeout=60)
    import jax.numpy as jnp, jax.random as jr, numpy as np
    from sampling import ULA, GaussianScore, GaussianTarget, ReverseDiffusion, make_solver, sample
    from sampling.langevin import run_langevin
    from sampling.targets import GaussianPotential
    from sampling._sharding import to_host
    from schedules import VPLinear, make_grid

    s = VPLinear()
    target = GaussianTarget(np.array([0.5, 2.0]))
    grid = make_grid("edm", s, 5)
    x = sample(jr.key(3), ReverseDiffusion(s, GaussianScore(target, s), 1.0), grid,
               make_solver("euler"), target.marginal(s, grid[0]), 10, route="scan",
               brownian="unsafe").samples
    run = run_langevin(jr.key(4), ULA(GaussianPotential(jnp.array([1.0, 4.0])), 0.1),
                       jnp.ones((8, 2)), 10)
    mean = float(jnp.mean(x))  # a reduction over both processes' devices
    out = {"process": jax.process_index(), "devices": jax.device_count(),
           "local": jax.local_device_count(), "samples": to_host(x).tolist(),
           "chains": to_host(run.state.position).tolist(), "mean": mean}
    print(json.dumps(out))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_particles_of_one():
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "2", "DLSIM_CACHE_DIR": "off"}
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(i), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert [o["process"] for o in outs] == [0, 1]
    assert all(o["devices"] == 4 and o["local"] == 2 for o in outs)

    import jax.numpy as jnp
    import jax.random as jr

    from sampling import ULA, GaussianScore, GaussianTarget, ReverseDiffusion, make_solver, sample
    from sampling.langevin import run_langevin
    from sampling.targets import GaussianPotential
    from schedules import VPLinear, make_grid

    s = VPLinear()
    target = GaussianTarget(np.array([0.5, 2.0]))
    grid = make_grid("edm", s, 5)
    one = np.asarray(sample(jr.key(3), ReverseDiffusion(s, GaussianScore(target, s), 1.0), grid,
                            make_solver("euler"), target.marginal(s, grid[0]), 10, route="scan",
                            brownian="unsafe", devices=1).samples)
    chains = np.asarray(run_langevin(jr.key(4), ULA(GaussianPotential(jnp.array([1.0, 4.0])), 0.1),
                                     jnp.ones((8, 2)), 10, devices=1).state.position)
    assert jax.process_count() == 1
    for o in outs:  # every process holds all the particles, equal to one device's bit for bit
        np.testing.assert_array_equal(np.array(o["samples"]), one)
        np.testing.assert_array_equal(np.array(o["chains"]), chains)
        assert abs(o["mean"] - one.mean()) < 1e-15
