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
    outs = _two_processes(_WORKER)
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


# The exact sweep over both processes' devices (4 lanes' shares), a non-centred target, a
# stochastic multistep and a stochastic one-step solver, two etas, several N.
_SWEEP_WORKER = textwrap.dedent("""
    import json, sys
    import jax
    process, port = int(sys.argv[1]), sys.argv[2]
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process,
                               initialization_timeout=60)
    import numpy as np
    from analysis import error_sweep
    from tests.distributed.test_multihost import SWEEP_SETTINGS, sweep_target
    from schedules import VPLinear

    whole = error_sweep(sweep_target(), VPLinear(), **SWEEP_SETTINGS)
    # Each process's own devices only: every process computes the whole sweep itself.
    own = error_sweep(sweep_target(), VPLinear(), devices=jax.local_devices(), **SWEEP_SETTINGS)
    try:  # the first 2 devices are process 0's: refused on both processes alike
        error_sweep(sweep_target(), VPLinear(), devices=2, **SWEEP_SETTINGS)
        refused = ""
    except ValueError as e:
        refused = str(e)
    rows = lambda s: [[r.w2sq, r.kl, r.weak_trace, r.discretization, r.initialization,
                       r.truncation] for r in s.rows]
    print(json.dumps({"process": jax.process_index(), "devices": [whole.devices, own.devices],
                      "rows": rows(whole), "own": rows(own), "refused": refused}))
""")

SWEEP_SETTINGS = dict(steps=[2, 3, 9, 40], etas=[0.5, 1.0], solvers=["dpmpp-2m-sde", "ddim-sde"],
                      grids=["edm"])


def sweep_target():
    from sampling import GaussianTarget

    d = 300
    return GaussianTarget(np.linspace(0.01, 3.0, d), None, np.sin(np.arange(d)))


def _two_processes(worker: str) -> list[dict]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "2", "DLSIM_CACHE_DIR": "off"}
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(i), port], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    return outs


@pytest.mark.slow
def test_two_processes_give_the_sweep_of_one_device():
    outs = _two_processes(_SWEEP_WORKER)
    assert [o["process"] for o in outs] == [0, 1]
    assert all(o["devices"] == [4, 2] for o in outs)
    assert all(o["refused"] == (
        "devices=2 are devices of process(es) [0] only; a sweep over 2 processes needs devices "
        "of every process (or, as a list, this process's own devices only, to compute the "
        "whole sweep on each process)") for o in outs)

    from analysis import error_sweep
    from schedules import VPLinear

    assert jax.process_count() == 1
    one = error_sweep(sweep_target(), VPLinear(), devices=1, **SWEEP_SETTINGS)
    expected = np.array([[r.w2sq, r.kl, r.weak_trace, r.discretization, r.initialization, r.truncation]
                         for r in one.rows])
    assert expected.shape == (16, 6) and np.all(expected[:, 0] > 0)
    for o in outs:  # every process returns every row, equal to one device's bit for bit
        np.testing.assert_array_equal(np.array(o["rows"]), expected)
        np.testing.assert_array_equal(np.array(o["own"]), expected)


# The CLI on two processes: DLSIM_DISTRIBUTED=1 joins them; process 0 prints the result.
_CLI_WORKER = textwrap.dedent("""
    import io, json, sys
    from contextlib import redirect_stdout
    from scripts.cli import main
    outs = []
    for argv in json.loads(sys.argv[1]):
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = main(argv)
        outs.append([rc, buf.getvalue()])
    print(json.dumps(outs))
""")

_CLI_COMMANDS = [
    ["sweep", "--spectrum", "power:1:40", "--solver", "dpmpp-2m-sde", "euler", "--eta", "0", "1",
     "--steps", "2:12:5", "--json"],
    ["mc-curve", "--target", "power:1:3", "--steps", "2", "4", "--particles", "300",
     "--reference-steps", "8", "--projections", "16", "--bootstrap", "20", "--json"],
]


@pytest.mark.slow
def test_the_cli_on_two_processes_prints_one_process_output():
    port = str(_free_port())
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "2", "DLSIM_CACHE_DIR": "off",
           "DLSIM_DISTRIBUTED": "1", "DLSIM_COORDINATOR": f"localhost:{port}",
           "DLSIM_NUM_PROCESSES": "2"}
    procs = [subprocess.Popen([sys.executable, "-c", _CLI_WORKER, json.dumps(_CLI_COMMANDS)],
                              env={**env, "DLSIM_PROCESS_ID": str(i)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    single = {**os.environ, "JAX_PLATFORMS": "cpu", "DLSIM_CACHE_DIR": "off"}
    single.pop("DLSIM_DISTRIBUTED", None)
    for k, argv in enumerate(_CLI_COMMANDS):
        alone = subprocess.run([sys.executable, "-c", _CLI_WORKER, json.dumps([argv])], env=single,
                               capture_output=True, text=True, timeout=300)
        assert alone.returncode == 0, alone.stderr[-3000:]
        (rc, text), = json.loads(alone.stdout.strip().splitlines()[-1])
        expected = json.loads(text)
        assert rc == 0 and outs[0][k][0] == 0 and outs[1][k] == [0, ""]  # process 1 prints nothing
        got = json.loads(outs[0][k][1])
        assert got["rows"] == expected["rows"] and len(got["rows"]) > 0  # bit for bit
        assert got.get("fits") == expected.get("fits")


def test_a_bad_distributed_setting_is_one_line(monkeypatch, capsys):
    from scripts.cli import main

    monkeypatch.setenv("DLSIM_DISTRIBUTED", "1")
    monkeypatch.setenv("DLSIM_NUM_PROCESSES", "two")
    assert main(["sweep", "--spectrum", "power:1:4", "--steps", "2"]) == 2
    assert capsys.readouterr().err == ("dlsim sweep: error: DLSIM_NUM_PROCESSES must be an integer, "
                                       "got 'two'\n")
