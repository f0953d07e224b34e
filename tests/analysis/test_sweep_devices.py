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
    block = S._sweep_block
    def recording(*args):
        carry, sums = block(*args)
        spans.append(len(carry[1].sharding.device_set))
        return carry, sums
    recording._cached = block._cached  # compile counting reads it
    S._sweep_block = recording

    lam = np.linspace(0.01, 3.0, 300)
    out = {"devices": jax.device_count()}
    cases = (("centred", GaussianTarget(lam), dict(etas=[0.0, 0.7], solvers=["euler"])),
             ("shifted", GaussianTarget(lam, None, np.sin(np.arange(300))),
              dict(etas=[0.7], solvers=["ddim-sde", "dpmpp-2m-sde"])))
    for name, target, kw in cases:
        kw["grids"] = ["edm"]
        rows, used, span, compiled = [], [], [], []
        for k in (1, 2, 3, None):  # 3 does not divide the lanes of a call (a power of two)
            spans.clear()
            sweep = error_sweep(target, VPLinear(), [2, 3, 17], devices=k, **kw)
            rows.append([[r.w2sq, r.kl, r.weak_trace, r.discretization, r.initialization]
                         for r in sweep.rows])
            used.append(sweep.devices)
            span.append(sorted(set(spans)))
            compiled.append([sweep.programs, sweep.compiled])
        out[name] = rows
        out[name + "_used"], out[name + "_spans"], out[name + "_compiled"] = used, span, compiled
    # N = 1100 needs two blocks of records: the second block reuses the first's program.
    long = [error_sweep(GaussianTarget(lam[:8]), VPLinear(), [1100], devices=k) for k in (1, None)]
    out["long"] = [[s.programs, s.compiled, s.rows[0].w2sq] for s in long]
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def eight_device_run():
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": "8", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", _EIGHT_DEVICES], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sweep_on_two_three_and_eight_devices_equals_one_device(eight_device_run):
    run = eight_device_run
    assert run["devices"] == 8
    for case in ("centred", "shifted"):
        assert run[case + "_used"] == [1, 2, 3, 8]
        # Every block's state really is spread over all the devices asked for.
        assert run[case + "_spans"] == [[1], [2], [3], [8]]
        # Per device count (the mesh is part of the program): one program per solver and
        # kind of eta (centred: eta 0 and 0.7; shifted: two solvers), each compiled once.
        assert run[case + "_compiled"] == [[2, 2]] * 4
        one, *more = (np.array(x) for x in run[case])
        assert one.shape == (6, 5) and np.all(np.isfinite(one)) and np.all(one[:, 0] > 0)
        # Bit for bit, centred or not: every device count runs the same program form, with
        # the same lanes per device (with XLA's CSE on, 1 and 2 devices differ by ~1e-14
        # on the shifted rows).
        for other in more:
            np.testing.assert_array_equal(other, one)


def test_a_sweep_of_several_blocks_compiles_once(eight_device_run):
    (programs_1, compiled_1, w2sq_1), (programs_8, compiled_8, w2sq_8) = eight_device_run["long"]
    assert (programs_1, compiled_1, programs_8, compiled_8) == (1, 1, 1, 1)
    assert w2sq_1 == w2sq_8 and 0 < w2sq_1 < 1e-3


def test_device_count_is_checked():
    target = GaussianTarget(np.array([1.0, 2.0]))
    import jax

    n = jax.local_device_count()
    for bad in (0, n + 1):
        with pytest.raises(ValueError, match=rf"devices must be between 1 and the {n} local device\(s\), got {bad}"):
            error_sweep(target, VPLinear(), [2], devices=bad)
    with pytest.raises(ValueError, match="devices must be a count or a non-empty list of jax devices"):
        error_sweep(target, VPLinear(), [2], devices=[])
