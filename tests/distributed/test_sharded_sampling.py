"""Monte Carlo split over 8 host devices gives the particles of one device, bit for bit, and
the statistics to rounding; a particle count the devices do not divide is padded; the CLI's
--devices reaches the library. One subprocess with 8 forced CPU devices (the device count is
fixed when JAX starts) computes both sides, so they share the process and its compiler."""

import io
import json
import os
import subprocess
import sys
import textwrap
from contextlib import redirect_stderr

import numpy as np
import pytest

_EIGHT_DEVICES = textwrap.dedent("""
    import io, json, sys
    from contextlib import redirect_stdout
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np
    from sampling import (BetaProduct, BoxBarrier, GaussianScore, GaussianTarget, MirrorLangevin,
                          ReverseDiffusion, ULA, make_solver, sample, sample_statistics)
    from sampling.langevin import run_langevin, run_mirror_langevin
    from sampling.targets import GaussianPotential
    from sampling._sharding import is_split, particle_mesh
    from schedules import VPLinear, make_grid
    from scripts.cli import main

    slow = sys.argv[1] == "slow"
    out = {"devices": jax.device_count()}
    mesh = particle_mesh()
    host = lambda x: np.asarray(x).tolist()

    def same(a, b):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))

    def rel(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    # Diffusion sampler: Euler-Maruyama (eta = 1) on a 3-d Gaussian, both routes.
    s = VPLinear()
    target = GaussianTarget(np.array([0.2, 1.0, 3.0]))
    reverse = ReverseDiffusion(s, GaussianScore(target, s), 1.0)
    grid = make_grid("edm", s, 6)
    start = target.marginal(s, grid[0])
    key = jr.key(7)
    for route in (("diffrax",) if slow else ("scan",)):
        run = lambda n, dev: sample(key, reverse, grid, make_solver("euler"), start, n, route=route,
                                    brownian="unsafe", devices=dev).samples
        one, eight = run(96, 1), run(96, None)
        out[route] = {"equal": same(one, eight), "split": is_split(eight, mesh)}
        if route == "scan":  # 100 particles: padded to 104 on 8 devices, to 102 on 3
            odd, three = run(100, None), run(100, 3)
            out[route].update(prefix=same(odd[:96], one), three=same(three, odd),
                              odd_shape=list(odd.shape), odd_split=is_split(odd, mesh))
        (m1, c1, _), (m8, c8, _) = sample_statistics(one), sample_statistics(eight)
        out[route]["mean_rel"], out[route]["cov_rel"] = rel(m8, m1), rel(c8, c1)
        out[route]["mean"], out[route]["mean_se"] = host(m1), host(jnp.sqrt(jnp.diag(c1) / 96))
        out[route]["exact_mean"] = host(jnp.zeros(3))
        if route == "scan":  # the metrics reduce in fixed blocks: the same bits on 1, 3 or 8
            from analysis import frechet, mmd2, sliced_w2sq
            law = target.marginal(s, grid[-1])
            held_out = jr.normal(jr.key(9), (80, 3)) * jnp.sqrt(target.eigenvalues)
            def metrics(x):
                return [[m.value, m.se] for m in (
                    sliced_w2sq(jr.key(3), x, law, n_projections=20),
                    frechet(jr.key(4), x, law, n_bootstrap=20), mmd2(x, law),
                    sliced_w2sq(jr.key(3), x, held_out, n_projections=20))]
            out[route]["metrics"] = [metrics(one), metrics(eight)]

    # A network score (an MLP, untrained): its matrix products round the same on 1 and 8
    # devices only because the particle programs compile alike on any mesh
    # (`mesh_invariant_jit`: with XLA's CSE pass on they differed by ~1e-14) and no device
    # holds other than whole multiples of SHARE_ALIGN particles (12 each differed by 6e-14).
    from sampling import MLPScore
    mlp = ReverseDiffusion(s, MLPScore(3, s, jr.key(5), width=16, depth=2), 1.0)
    net = [sample(key, mlp, grid, make_solver("heun"), start, 96, route="scan", devices=dev).samples
           for dev in (1, None)]
    out["mlp"] = {"equal": same(*net), "split": is_split(net[1], mesh)}

    # ULA on N(0, diag(1, 0.25)): traced and untraced drivers, 100 chains (not a multiple of 8).
    ula = ULA(GaussianPotential(jnp.array([1.0, 4.0])), 0.1)
    x0 = jnp.ones((100, 2))
    a = run_langevin(jr.key(1), ula, x0, 20, devices=1)
    b = run_langevin(jr.key(1), ula, x0, 20)
    c = run_langevin(jr.key(1), ula, x0[:96], 20)
    out["ula"] = {"equal": same(a.state.position, b.state.position),
                  "prefix": same(c.state.position, a.state.position[:96]),
                  "split": is_split(c.state.position, mesh),
                  "mean_rel": rel(c.state.position.mean(0), a.state.position[:96].mean(0))}
    if slow:
        ta = run_langevin(jr.key(1), ula, x0, 20, record=lambda st: st.position[0], devices=1)
        tb = run_langevin(jr.key(1), ula, x0[:96], 20, record=lambda st: st.position[0])
        out["ula"].update(trace_equal=same(ta.trace[:, :96], tb.trace),
                          traced_is_untraced=same(ta.state.position, a.state.position))

    # Mirror Langevin on Beta(2, 5) with the box log-barrier, 37 chains.
    beta = BetaProduct(2.0, 5.0)
    kernel = MirrorLangevin(beta, BoxBarrier(), 0.05)
    x0 = beta.sample(jr.key(0), 37)
    runs = [run_mirror_langevin(jr.key(2), kernel, x0, 30, escape_box=(-8.0, 8.0), devices=d)
            for d in (1, None)]
    more = [run_mirror_langevin(jr.key(2), kernel, r, 30, escape_box=(-8.0, 8.0), devices=d)
            for r, d in zip(runs, (1, None))]
    out["mirror"] = {"equal": all(same(getattr(runs[0], f), getattr(runs[1], f))
                                  for f in ("refusals", "escape_step", "acceptance_rate"))
                     and same(runs[0].state.position, runs[1].state.position)
                     and same(more[0].state.position, more[1].state.position),
                     "steps": int(np.asarray(more[1].state.step_index)[0])}

    # The CLI: mc-curve and sweep with --devices 1 and --devices 8.
    def cli(argv):
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = main(argv + ["--json"])
        return rc, json.loads(buf.getvalue())

    if not slow:
        print(json.dumps(out))
        raise SystemExit(0)
    sw = ["sweep", "--spectrum", "power:1:50", "--steps", "2", "5", "--eta", "0", "1"]
    (s1, w1), (s8, w8) = cli(sw + ["--devices", "1"]), cli(sw + ["--devices", "8"])
    out["sweep"] = {"rc": [s1, s8], "one": [r["w2sq"] for r in w1["rows"]],
                    "eight": [r["w2sq"] for r in w8["rows"]]}
    mc = ["mc-curve", "--target", "power:1:3", "--steps", "2", "4", "--particles", "64",
          "--reference-steps", "8", "--projections", "16", "--bootstrap", "20"]
    (r1, c1), (r8, c8) = cli(mc + ["--devices", "1"]), cli(mc + ["--devices", "8"])
    keys = ["sliced_w2", "frechet", "mmd", "coupled", "coupled_se", "frechet_se", "sliced_w2_se"]
    out["mc_curve"] = {"rc": [r1, r8],
                       "one": [[row[k] for k in keys] for row in c1["rows"]],
                       "eight": [[row[k] for k in keys] for row in c8["rows"]],
                       "fits": [[f["slope"], f["slope_se"]] for f in (c1["fits"] + c8["fits"])]}
    print(json.dumps(out))
""")


def _on_eight_devices(part: str) -> dict:
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": "8", "JAX_PLATFORMS": "cpu", "DLSIM_CACHE_DIR": "off"}
    done = subprocess.run([sys.executable, "-c", _EIGHT_DEVICES, part], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def eight():
    return _on_eight_devices("fast")


@pytest.fixture(scope="module")
def eight_slow():
    return _on_eight_devices("slow")


def test_diffusion_particles_are_the_same_on_eight_devices(eight):
    _check_diffusion(eight, "scan")


@pytest.mark.slow
def test_diffrax_route_particles_are_the_same_on_eight_devices(eight_slow):
    _check_diffusion(eight_slow, "diffrax")


def _check_diffusion(eight, route):
    run = eight[route]
    assert eight["devices"] == 8
    assert run["equal"] and run["split"]  # bit for bit, and really spread over all 8 devices
    if route == "scan":
        # 100 particles on 8 (and 3) devices: padded; the first 96 are those of a 96-particle run.
        assert run["prefix"] and run["three"] and run["odd_shape"] == [100, 3]
        assert not run["odd_split"]  # JAX cannot split 100 rows evenly over 8: result replicated
    # Sample moments are all-reduces in another order: equal to rounding only.
    assert run["mean_rel"] < 1e-12 and run["cov_rel"] < 1e-12
    if route == "scan":
        # The Monte Carlo metrics (sliced W2, Frechet, MMD against a law, sliced W2 against
        # held-out samples; values and SEs) reduce in fixed blocks: the same bits on 1 and 8 devices.
        one, eight_devices = (np.array(m) for m in run["metrics"])
        np.testing.assert_array_equal(eight_devices, one)
        assert np.all(np.isfinite(one)) and np.all(one[:, 1] > 0)
    # And the particles are right: the mean is the target's within 4 standard errors.
    mean, se = np.array(run["mean"]), np.array(run["mean_se"])
    assert np.all(np.abs(mean - np.array(run["exact_mean"])) < 4 * se)


def test_network_score_particles_are_the_same_on_eight_devices(eight):
    assert eight["mlp"] == {"equal": True, "split": True}


def test_langevin_chains_are_the_same_on_eight_devices(eight):
    ula = eight["ula"]
    assert ula["equal"] and ula["prefix"] and ula["split"]
    assert ula["mean_rel"] < 1e-12


@pytest.mark.slow
def test_recorded_langevin_chains_are_the_same_on_eight_devices(eight_slow):
    ula = eight_slow["ula"]
    assert ula["equal"] and ula["trace_equal"] and ula["traced_is_untraced"]


def test_mirror_langevin_is_the_same_on_eight_devices(eight):
    assert eight["mirror"]["equal"]
    assert eight["mirror"]["steps"] == 60  # continued runs add up


@pytest.mark.slow
def test_cli_devices_reaches_sweep(eight_slow):
    sw = eight_slow["sweep"]
    assert sw["rc"] == [0, 0]
    np.testing.assert_array_equal(sw["one"], sw["eight"])


@pytest.mark.slow
def test_cli_devices_reaches_mc_curve(eight_slow):
    mc = eight_slow["mc_curve"]
    assert mc["rc"] == [0, 0]
    one, many = np.array(mc["one"], float), np.array(mc["eight"], float)
    assert one.shape == (2, 7) and np.all(np.isfinite(one))
    # Particles bit-identical, metrics reduced in fixed blocks, fits from the same numbers.
    np.testing.assert_array_equal(many, one)
    fits = np.array(mc["fits"])
    np.testing.assert_array_equal(fits[1], fits[0])


def _fails(argv: list[str]) -> str:
    from scripts.cli import main

    err = io.StringIO()
    with redirect_stderr(err):
        assert main(argv) == 2
    return err.getvalue().strip()


@pytest.mark.parametrize("command", [["mc-curve", "--target", "power:1:2", "--steps", "2"],
                                     ["sweep", "--steps", "2"], ["error-curve", "--steps", "2"],
                                     ["compare", "--nfe", "4"]])
def test_cli_devices_reaches_the_library(command):
    # K >= 1 is checked before jax loads; K above the device count by the library itself,
    # which shows that --devices reaches it (mc_curve, and error_sweep behind the others).
    assert _fails(command + ["--devices", "0"]) == (
        f"dlsim {command[0]}: error: --devices must be an integer >= 1 (or left out: all devices), got 0")
    import jax

    n = jax.device_count()
    where = "available" if command[0] == "mc-curve" else "local"
    assert _fails(command + ["--particles", "8"] * (command[0] == "mc-curve")
                  + ["--devices", str(n + 1)]) == (
        f"dlsim {command[0]}: error: devices must be between 1 and the {n} {where} device(s), got {n + 1}")
