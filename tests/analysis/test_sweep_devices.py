"""The sweep engine split over several devices gives the rows of one device."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from analysis import error_sweep
from sampling import GaussianTarget
from schedules import VPLinear

# Run with 8 forced host devices (a fresh process: the device count is fixed at start-up).
_EIGHT_DEVICES = textwrap.dedent("""
    import json
    import jax
    import numpy as np
    import analysis._sweep as S
    from analysis import error_sweep
    from sampling import GaussianTarget
    from schedules import VPLinear

    spans = []
    block = S._sharded_sweep_block
    def recording(*args):
        carry, sums = block(*args)
        spans.append(len(carry[1].sharding.device_set))
        return carry, sums
    recording._cached = block._cached  # compile counting reads it
    S._sharded_sweep_block = recording

    lam = np.linspace(0.01, 3.0, 300)
    out = {"devices": jax.device_count()}
    cases = (("centred", GaussianTarget(lam), dict(etas=[0.0, 0.7], solvers=["euler"])),
             ("shifted", GaussianTarget(lam, None, np.sin(np.arange(300))),
              dict(etas=[0.7], solvers=["ddim-sde"])))
    for name, target, kw in cases:
        kw["grids"] = ["edm"]
        one = error_sweep(target, VPLinear(), [2, 3, 17], devices=1, **kw)
        eight = error_sweep(target, VPLinear(), [2, 3, 17], **kw)
        out[name] = [[[r.w2sq, r.kl, r.weak_trace, r.discretization] for r in s.rows] for s in (one, eight)]
        out[name + "_used"] = [one.devices, eight.devices]
    out["spans"] = sorted(set(spans))
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def eight_device_run():
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": "8", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", _EIGHT_DEVICES], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sweep_on_eight_devices_equals_one_device(eight_device_run):
    run = eight_device_run
    assert run["devices"] == 8
    assert run["centred_used"] == [1, 8] and run["shifted_used"] == [1, 8]
    # Every block's state really is spread over all eight devices.
    assert run["spans"] == [8]
    one, eight = (np.array(x) for x in run["centred"])
    np.testing.assert_array_equal(one, eight)  # bit for bit on centred data
    one, eight = (np.array(x) for x in run["shifted"])
    # Non-centred data: equal to rounding (XLA may fuse the sharded program's mean update
    # differently; ~1e-14 relative seen for ddim-sde).
    np.testing.assert_allclose(eight, one, rtol=1e-12, atol=0)


def test_device_count_is_checked():
    target = GaussianTarget(np.array([1.0, 2.0]))
    import jax

    n = jax.local_device_count()
    for bad in (0, n + 1):
        with pytest.raises(ValueError, match=rf"devices must be between 1 and the {n} local device\(s\), got {bad}"):
            error_sweep(target, VPLinear(), [2], devices=bad)
    with pytest.raises(ValueError, match="devices must be a count or a non-empty list of jax devices"):
        error_sweep(target, VPLinear(), [2], devices=[])
