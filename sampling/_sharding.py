r"""Particles split over devices: a 1-D mesh, padding to a multiple of its size, and each
device running the per-particle program on its own share (`jax.shard_map`).

Monte Carlo particles never interact, so the mesh has one axis, `particles`, and nothing is
communicated while they move: each device runs the same vmapped program on its slice of
the global particle indices, and particle i draws its noise from `fold_in(key, i)` (i the
global index), so which device holds it, and how many devices there are, cannot change
its noise (DISTRIBUTED.md sections 1.1-1.2). The count n is padded so that every device
gets an equal share of whole multiples of `SHARE_ALIGN` particles (indices n, n+1, ...;
computed, then dropped), so the first n are the particles of an unpadded run.

Each device's share is one vmapped batch whose width depends on the device count; with
the programs compiled by `mesh_invariant_jit` and aligned shares, the arithmetic per
particle is the same, and per-particle states are bit-identical on 1, 2, 3 and 8 devices
in our tests (`tests/distributed`), exact scores and score networks alike. A plain
reduction over split particles (`x.mean(0)`) is an all-reduce whose order of addition
depends on the split: equal to rounding (about 1e-16 relative in float64), not bit for
bit. `map_blocks` computes per-block statistics in blocks of a fixed shape where the
particles are, to be combined in a fixed order: the Monte Carlo metrics reduce that way
and are bit-identical.

Several hosts (`jax.distributed.initialize`, README "Several devices and hosts"): the
default mesh is `jax.devices()`, every device of every process, so each process computes
the particles of its own devices; `to_host` gathers a result on every process
(`process_allgather`), which every process must call (SPMD: same calls, same order).
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

PARTICLE_AXIS = "particles"

Devices = int | Sequence[jax.Device] | None


def device_mesh(devices: Devices, axis: str, available: Sequence[jax.Device], which: str) -> Mesh:
    """The 1-D mesh (one axis, `axis`) of the chosen devices among `available` (described as
    `which` in errors): None = all of them, a count K = the first K, or a list of devices.
    Raises ValueError naming the bad value."""
    if devices is None:
        chosen = list(available)
    elif isinstance(devices, int | np.integer) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices must be between 1 and the {len(available)} {which} device(s), "
                             f"got {devices}")
        chosen = list(available)[:int(devices)]
    else:
        chosen = list(devices) if isinstance(devices, Sequence) else []
        if not chosen or not all(isinstance(d, jax.Device) for d in chosen):
            raise ValueError(f"devices must be a count or a non-empty list of jax devices, got {devices!r}")
    # Auto axis: plain jit on the sharded results propagates the split (no jax.set_mesh needed).
    return Mesh(np.array(chosen), (axis,))


def particle_mesh(devices: Devices = None) -> Mesh:
    """The 1-D mesh (axis `particles`) of the devices a Monte Carlo run is split over.

    `devices`: None = every device JAX sees (`jax.devices()`: this process's on one host,
    every process's after `jax.distributed.initialize`); a count K = the first K of them;
    or a list of devices. Raises ValueError naming the bad value."""
    return device_mesh(devices, PARTICLE_AXIS, jax.devices(), "available")


# XLA compiles a program on a mesh of one device without its SPMD partitioner, and on a mesh
# of several with it; the partitioner's clean-up merges common subexpressions (XLA's "cse"
# pass) before the algebraic simplifier runs, which then rewrites some arithmetic otherwise,
# so the same per-particle (or per-lane) program rounds differently on one device and on
# several (measured: a trained MLP score, particles 1.8e-14 apart after 6 Euler steps; sweep
# rows of multistep solvers up to 1e-12). Without that pass both compile the same graph.
_SAME_ON_ANY_MESH = {"xla_disable_hlo_passes": "cse"}


def mesh_invariant_jit(fn: Callable) -> Callable:
    """`eqx.filter_jit` of a function that runs on a device mesh (through `map_particles` or
    `jax.shard_map`), compiled so that each device's arithmetic is the same whatever the
    mesh's size (see above): numbers identical, bit for bit, on 1 or many devices. The
    cost: repeated subexpressions are computed again (none measurable on Euler sweeps,
    ~5% on multistep ones)."""
    return eqx.filter_jit(fn, compiler_options=_SAME_ON_ANY_MESH)


def padded_count(n: int, mesh: Mesh) -> int:
    """n rounded up to a multiple of the mesh size (every device gets an equal share)."""
    return -(-int(n) // mesh.size) * mesh.size


def _pad_rows(a: jax.Array, n_pad: int) -> jax.Array:
    # Padded rows repeat row 0: a valid start (inside a mirror map's domain, say).
    extra = n_pad - a.shape[0]
    if extra == 0:
        return a
    return jnp.concatenate([a, jnp.broadcast_to(a[:1], (extra,) + a.shape[1:])])


# Every device's share of particles is a multiple of this many (a run is padded up to it).
# XLA's vectorised loops leave a remainder to scalar code, and it picks another matrix-product
# kernel for a few rows; both round otherwise, so particles differed across device counts
# (300 particles on 1 device vs 150 on 2: 9e-16 apart with an exact score; an MLP score on 8
# devices sharing 96, 12 rows each: 6e-14). With shares of whole multiples of 32 they were the
# same bits in every case measured (MLPs of width 4-256, 8-1001 particles, 1-8 devices).
SHARE_ALIGN = 32


def map_particles(local: Callable, mesh: Mesh, n: int, *batched):
    """`local(indices, *batched)` on every device's share of the particles, inside jit.

    `indices` are the global particle indices of the share (int array); `batched` are
    pytrees whose leaves have n leading rows (per-particle inputs: start points, states),
    padded with copies of row 0 so that every device gets an equal share, a multiple of
    `SHARE_ALIGN` particles. `local` returns a pytree whose leaves
    lead with the share's particles. Returns that pytree for all n particles: split over
    the mesh when the device count divides n; otherwise JAX (which cannot split an array
    unevenly) leaves the sliced result replicated, while the simulation itself was still
    split."""
    unit = mesh.size * SHARE_ALIGN
    n_pad = -(-int(n) // unit) * unit
    batched = jax.tree_util.tree_map(lambda a: _pad_rows(a, n_pad), batched)
    split = P(PARTICLE_AXIS)
    # check_vma=False: diffrax's while loops fail the varying-axes check (diffrax#735).
    out = jax.shard_map(local, mesh=mesh, in_specs=split, out_specs=split,
                        check_vma=False)(jnp.arange(n_pad), *batched)
    if n_pad == n:
        return out
    return jax.tree_util.tree_map(lambda a: a[:n], out)


def holding_mesh(x: jax.Array) -> Mesh:
    """The 1-D mesh of the devices that hold x: its own mesh when x is split along its rows
    (as `sample` and the Langevin drivers leave particles), else the devices x is on (one
    device for an array that is not split), in id order."""
    sharding = x.sharding
    if isinstance(sharding, NamedSharding) and len(sharding.mesh.axis_names) == 1:
        return sharding.mesh
    return Mesh(np.array(sorted(sharding.device_set, key=lambda d: d.id)), (PARTICLE_AXIS,))


def map_blocks(fn: Callable, mesh: Mesh, blocks, shared=()):
    """`fn(*block_i, *shared)` for every block i, the blocks spread over the devices of `mesh`.

    `blocks` is a tuple of arrays whose leading axis counts the blocks (B of them, each of a
    fixed shape); `shared` a tuple of arrays every block sees. Each device loops (`lax.map`)
    over its own blocks, so every block is computed by the same compiled loop body with the
    same shapes whatever the number of devices: a reduction inside a block adds in the same
    order on 1 or 8 devices, and the results are bit-identical (a reduction over a split
    axis is an all-reduce whose order depends on the split; DISTRIBUTED.md section 1.4). B
    is padded to a multiple of the mesh size with copies of block 0 (computed, then
    dropped). Returns fn's pytree with a leading axis of B, split over the mesh (replicated
    when the devices do not divide B); combine the blocks in a fixed order (on the host, say)
    to keep the bit-identity."""
    n_blocks = blocks[0].shape[0]
    padded = tuple(_pad_rows(b, padded_count(n_blocks, mesh)) for b in blocks)
    axis = mesh.axis_names[0]
    run = jax.shard_map(lambda own, common: jax.lax.map(lambda b: fn(*b, *common), own),
                        mesh=mesh, in_specs=(P(axis), P()), out_specs=P(axis), check_vma=False)
    out = run(padded, tuple(shared))
    if padded[0].shape[0] == n_blocks:
        return out
    # B blocks the devices do not divide cannot stay split: say so (replicated), rather than
    # leave the partitioner to find a layout for the uneven slice (it warns, and gathers).
    everywhere = NamedSharding(mesh, P())
    return jax.tree_util.tree_map(
        lambda a: jax.lax.with_sharding_constraint(a[:n_blocks], everywhere), out)


def particle_keys(key, indices: jax.Array) -> jax.Array:
    """The key of each particle: fold_in(key, i) on its global index i."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(indices)


def is_split(x: jax.Array, mesh: Mesh) -> bool:
    """Whether x's rows are split over all of `mesh` (for tests and reports)."""
    return x.sharding.is_equivalent_to(NamedSharding(mesh, P(PARTICLE_AXIS)), x.ndim)


def to_host(x) -> np.ndarray:
    """x as a NumPy array on this process: the array itself on one process; with several,
    `process_allgather` (every process must call it, with the same array)."""
    if jax.process_count() == 1 or getattr(x, "is_fully_addressable", True):
        return np.asarray(x)  # one process, or an array this process holds whole
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
