"""Exact error sweeps: every (grid, eta, solver, N) of a Gaussian problem in a few programs.

The per-direction exact law (MATH.md section 2; `exact_law_per_direction`) of one sampler
is a scan over its N steps. Compiling one scan per N is what made long error curves slow,
so a sweep packs its runs instead. The steps of the runs that share a compiled step (same
solver, same kind of eta) are laid end to end in flat sequences of step records
(r0, r1, eta, first, last), split into a few sequences of nearly equal length. A task is
one sequence on one chunk of directions; a compiled block runs L tasks side by side
(lanes, vmapped) for up to a fixed number of records, and a thread per core runs blocks of
different lanes at once. Within a lane, a run's first record lifts the start laws onto the
solver's augmented state (`augmented_start`: solver state never crosses runs, so a
multistep method sees exactly its own history), every record applies `affine_step` (the
map read off `solver.step`, DESIGN.md section 2), and a run's last record reduces its
errors over the chunk. Short lanes are padded after their last run with records that
start and end nothing, so padding changes no number. Block length, lanes and chunk width
depend only on the solver's state size, the dimension's bucket and the memory budget:
a new N, grid, eta or spectrum of a size seen before reuses the compiled block.

Both starts (the exact marginal at t_max and the prior) are pushed through the same
read-off of each step. Chunks are sized by a memory budget, so d = 10^6 needs no more than
a few chunks' state; nothing is ever d x d.

A block's lanes are split over a 1-D mesh of devices (`jax.shard_map`, one program form for
any mesh: `_sweep_block`), of every process's devices after `jax.distributed.initialize`;
the rows are the same bits on any number of devices or processes.
"""

import dataclasses
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from sampling import (
    GaussianLaw,
    GaussianScore,
    GaussianTarget,
    ReverseDiffusion,
    apply_final_step,
    check_final_step,
    check_solver_use,
    make_solver,
    solver_name,
)
from sampling._sharding import device_mesh, mesh_invariant_jit, to_host
from schedules import AbstractSchedule, make_grids, validate_grid

from ._distances import kl_gaussian, w2sq_gaussian, weak_error_quadratic
from ._exact_law import affine_step, augmented_start, augmented_unravel

STARTS = ("marginal", "prior")
REFERENCES = ("tmin", "data")
# The reference each final step is compared with by default ("denoise" ends at sigma = 0).
DEFAULT_REFERENCE = {"none": "tmin", "denoise": "data"}
METRICS = ("w2sq", "kl", "weak_trace", "discretization", "initialization", "truncation")

# Records per compiled block (a fixed shape: a block runs only its valid records).
_BLOCK = 1024
# Directions per chunk: a power of two at most this wide (wider chunks leave the cache
# and run slower), fewer when the memory budget says so.
_MAX_CHUNK = 2**11
# Lanes per compiled call (per device): enough that the lanes' state (lanes x chunk
# directions, two augmented laws each) fills ~_KERNEL_BYTES, so that the fixed cost of each
# small kernel of a step is shared by that much work while the state and a step's
# temporaries stay in a core's L2 cache (2^18 measured ~20% faster than 2^19 or 2^17 on the
# bench's Euler sweep).
_KERNEL_BYTES = 2**18
_MAX_LANES = 64
DEFAULT_MEMORY_BUDGET = 256 * 2**20
# The mesh axis a sweep's lanes are split over.
_LANE_AXIS = "lanes"
# Lane groups a sweep is cut into at least (when it has the runs): covers the cores or
# devices of one host.
_PARALLEL_SLOTS = 8


@dataclasses.dataclass(frozen=True)
class SweepRow:
    """Exact errors of one sampler (grid, eta, solver) at N = `steps` (see `ErrorCurve`)."""

    grid: str
    eta: float | str
    solver: str
    steps: int
    w2sq: float
    kl: float
    weak_trace: float
    discretization: float
    initialization: float
    truncation: float


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The rows of `error_sweep`, nested grid > eta > solver > steps, and how they were run.

    `programs` counts the distinct compiled blocks the sweep ran (one per solver, kind of
    eta and chunk width), `compiled` those it had to compile (the rest were
    compiled by an earlier call in this process); `chunk` is the widest chunk of directions;
    `devices` how many devices its lanes were split over."""

    rows: list[SweepRow]
    start: str
    reference: str
    programs: int
    compiled: int
    chunk: int
    devices: int = 1
    final_step: str = "none"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def select(self, grid: str, eta, solver: str) -> list[SweepRow]:
        """The rows of one curve, in the order of the step counts."""
        return [r for r in self.rows if (r.grid, r.eta, r.solver) == (grid, _eta_label(eta), solver)]


def check_steps(steps: Sequence[int]) -> list[int]:
    """Step counts as a list of ints >= 1 (at least one)."""
    out = []
    for n in steps:
        if isinstance(n, bool) or not isinstance(n, int | np.integer | float) or int(n) != n or n < 1:
            raise ValueError(f"step counts must be integers >= 1, got {n!r}")
        out.append(int(n))
    if not out:
        raise ValueError("give at least one step count")
    return out


def resolve_solver(solver: str | diffrax.AbstractSolver) -> diffrax.AbstractSolver:
    """A solver object from a name (`sampling.SOLVERS`) or the object itself."""
    return make_solver(solver) if isinstance(solver, str) else solver


def _eta_label(eta) -> float | str:
    if callable(eta):
        return getattr(eta, "__name__", type(eta).__name__)
    return float(eta)


def _grid_label(grid) -> str:
    if isinstance(grid, str):
        return grid
    return getattr(grid, "__name__", "custom") if callable(grid) else "custom"


def _build_grids(grid, schedule: AbstractSchedule, steps: list[int], rho: float) -> list[np.ndarray]:
    if isinstance(grid, str):
        return make_grids(grid, schedule, steps, rho=rho)
    if callable(grid):
        return [np.asarray(validate_grid(schedule, grid(schedule, n))) for n in steps]
    arr = np.asarray(validate_grid(schedule, grid))
    if any(n != arr.shape[0] - 1 for n in steps):
        raise ValueError(f"an explicit grid of {arr.shape[0] - 1} steps cannot give N = "
                         f"{[n for n in steps if n != arr.shape[0] - 1][0]}; pass a grid name or a "
                         f"builder f(schedule, n) to vary N")
    return [arr for _ in steps]


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def _pow2_at_most(n: int) -> int:
    return 1 << (max(1, int(n)).bit_length() - 1)


class _Group(eqx.Module):
    """What a compiled block is specialised on: the solver, the kind of eta ("ode" for
    eta = 0, "sde" for a number > 0 read from the records, or a function eta(t)), whether
    the data are centred (see `_n_means`), and the final step (`sampling.FINAL_STEPS`)."""

    solver: diffrax.AbstractSolver
    eta_kind: str = eqx.field(static=True)
    eta_function: Callable | None
    start: str = eqx.field(static=True)
    reference: str = eqx.field(static=True)
    centred: bool = eqx.field(static=True)
    final_step: str = eqx.field(static=True, default="none")


def _n_means(group: _Group, state_size: int) -> int:
    """Means carried per direction: one per start; none for centred data with a solver that
    keeps no state (both starts have mean 0 and every step is linear, so they stay 0); one,
    the linearisation point, for centred data with a stateful solver, whose state may hold
    time-like history (previous step sizes, noise levels) that the step is not linear in."""
    if not group.centred:
        return 2
    return 0 if state_size == 1 else 1


def _reverse(schedule, group: _Group, lam, mu, eta_record):
    """The reverse family of one eigen-direction (1-D Gaussian data N(mu, lam))."""
    if group.eta_kind == "ode":
        eta = 0.0
    elif group.eta_kind == "sde":
        eta = eta_record
    else:
        eta = group.eta_function
    target = GaussianTarget(lam[None], None, mu[None])
    return ReverseDiffusion(schedule, GaussianScore(target, schedule), eta)


def _final_laws(schedule, group: _Group, lam, mu, means, variances, t_end):
    """1-D laws per direction (means, variances: (S, W)) pushed through the run's final
    step at t_end: the affine map y -> a y + b read off `sampling.apply_final_step` (the
    map Monte Carlo applies) by linearising it, as `affine_step` reads a solver step."""
    def one(l, m, mean, var):
        reverse = _reverse(schedule, group, l, m, jnp.zeros(()))  # the denoiser ignores eta
        final = lambda y: apply_final_step(reverse, group.final_step, y[None], t_end)[0]
        new_mean0, slope = jax.linearize(final, mean[0])
        a = slope(jnp.ones(()))
        return new_mean0 + a * (mean - mean[0]), a * a * var

    new_means, new_vars = jax.vmap(one, in_axes=(0, 0, 1, 1), out_axes=1)(lam, mu, means, variances)
    return new_means, new_vars


def _run_metrics(schedule, group: _Group, lam, mu, weight, mean_m, mean_p, var_m, var_p, t_end):
    """Weighted sums over the chunk of the per-direction errors of a finished run (the run's
    laws, and the exact marginal at its last time t_end, after the final step)."""
    alpha, sigma = schedule.alpha(t_end), schedule.sigma(t_end)
    col = lambda v: v[:, None]  # each direction as its own 1-D law: sums over axis -1 stay per direction
    if group.final_step != "none":
        means, variances = _final_laws(
            schedule, group, lam, mu, jnp.stack([mean_m, mean_p, alpha * mu]),
            jnp.stack([var_m, var_p, alpha**2 * lam + sigma**2]), t_end)
        (mean_m, mean_p, mean_t), (var_m, var_p, var_t) = means, variances
    else:
        mean_t, var_t = alpha * mu, alpha**2 * lam + sigma**2
    marginal = GaussianLaw(col(mean_t), col(var_t))
    data = GaussianLaw(col(mu), col(lam))
    from_marginal = GaussianLaw(col(mean_m), col(var_m))
    from_prior = GaussianLaw(col(mean_p), col(var_p))
    output = from_prior if group.start == "prior" else from_marginal
    ref = data if group.reference == "data" else marginal
    per_direction = jnp.stack([
        w2sq_gaussian(output, ref),
        kl_gaussian(output, ref),
        weak_error_quadratic(output, ref),
        w2sq_gaussian(from_marginal, marginal),
        w2sq_gaussian(from_prior, from_marginal),
        w2sq_gaussian(marginal, data),
    ])
    return jnp.sum(per_direction * weight, axis=1)


def _block_body(group: _Group, schedule, lam, mu, weight, carry, records, n_records):
    """Run one block of step records on L lanes side by side (see the module doc).

    Lane j holds a chunk of directions (`lam`, `mu`, `weight`: (L, W)) and its own
    sequence of records (each field (S, L)). The first `n_records` records run: where a
    lane's record starts a run its state is replaced by the run's start laws, every record
    advances every lane, and where records end runs their errors are reduced over the
    chunk (both behind a `lax.cond` on any lane, so they cost nothing elsewhere). Returns
    the carry and the (S, L, METRICS) sums (zero where no run ends)."""
    prior_variance = schedule.prior_variance()
    unravel, state_size = augmented_unravel(
        _reverse(schedule, group, lam[0, 0], mu[0, 0], records["eta"][0, 0]), group.solver, 1)
    n_means = _n_means(group, state_size)

    def start(l_chunk, m_chunk, r0, r1, eta, n_steps):
        def one(l, m):
            t0 = -r0
            alpha, sigma = schedule.alpha(t0), schedule.sigma(t0)
            means = jnp.stack([alpha * m, jnp.zeros_like(m)])[:n_means, None]
            covs = jnp.stack([alpha**2 * l + sigma**2, prior_variance])[:, None, None]
            return augmented_start(_reverse(schedule, group, l, m, eta), group.solver, r0, r1,
                                   means, covs, n_steps)

        return jax.vmap(one)(l_chunk, m_chunk)

    def advance(l_chunk, m_chunk, lane_carry, r0, r1, eta, n_steps):
        def one(l, m, means, covs):
            return affine_step(_reverse(schedule, group, l, m, eta), group.solver, r0, r1, unravel,
                               means, covs, n_steps)

        return jax.vmap(one)(l_chunk, m_chunk, *lane_carry)

    def metrics(l_chunk, m_chunk, w_chunk, lane_carry, t_end):
        means, covs = lane_carry
        mean_m, mean_p = ((means[:, 0, 0], means[:, -1, 0]) if n_means
                          else (jnp.zeros_like(l_chunk), jnp.zeros_like(l_chunk)))
        return _run_metrics(schedule, group, l_chunk, m_chunk, w_chunk, mean_m, mean_p,
                            covs[:, 0, 0, 0], covs[:, 1, 0, 0], t_end)

    def per_lane(flag, new, old):
        return jax.tree_util.tree_map(
            lambda a, b: jnp.where(flag.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)

    def body(k, state):
        carry, sums = state
        rec = jax.tree_util.tree_map(lambda x: x[k], records)
        r0, r1, eta, first, last = rec["r0"], rec["r1"], rec["eta"], rec["first"], rec["last"]
        n_steps = rec["n_steps"]  # each record's own run length (lanes pack runs of several N)
        carry = jax.lax.cond(
            jnp.any(first),
            lambda c: per_lane(first, jax.vmap(start)(lam, mu, r0, r1, eta, n_steps), c),
            lambda c: c, carry)
        carry = jax.vmap(advance)(lam, mu, carry, r0, r1, eta, n_steps)
        sums = jax.lax.cond(
            jnp.any(last),
            lambda c: sums.at[k].set(jnp.where(last[:, None], jax.vmap(metrics)(lam, mu, weight, c, -r1),
                                               0.0)),
            lambda c: sums, carry)
        return carry, sums

    # A loop over the valid records only (a traced count): a short sweep costs its own
    # length, not the block's, and the block's shape never changes.
    sums = jnp.zeros(records["r0"].shape + (len(METRICS),))
    return jax.lax.fori_loop(0, n_records, body, (carry, sums))


@mesh_invariant_jit
def _sweep_block(group: _Group, schedule, mesh, lam, mu, weight, carry, records, n_records):
    """One block with its lanes split over the devices of a 1-D mesh (`jax.shard_map`).

    Lanes never interact, so each device runs `_block_body` on its own lanes (as many per
    device whatever the mesh size), with its own `lax.cond` decisions: no collective inside
    the loop. Every sweep runs this one form, on a mesh of one device too (a plain jit of
    the body compiles to other arithmetic, ~1e-14 relative for non-centred ddim-sde;
    DISTRIBUTED.md section 1.3), compiled by `mesh_invariant_jit` (XLA's common-subexpression
    pass off). Measured with that pass on, 1 vs 2 devices, non-centred data: rows of 11 of
    15 solvers apart, by up to 1e-12 relative for deis, 1e-13 for the multistep ones, 4e-15
    for ddim-sde; without it every lane's numbers are the same bits on 1, 2, 3, 4 or 8
    devices (all 15 solvers) and on several processes (tests/analysis/
    test_sweep_devices.py, tests/distributed/test_multihost.py). Its cost, on one device:
    none measurable on `dlsim bench`'s Euler sweep, about 5% on a non-centred dpmpp-2m-sde
    sweep (repeated slices of the augmented state stay unmerged)."""
    lanes, per_record = P(_LANE_AXIS), P(None, _LANE_AXIS)
    run = jax.shard_map(
        lambda l, m, w, c, r: _block_body(group, schedule, l, m, w, c, r, n_records),
        mesh=mesh, in_specs=(lanes, lanes, lanes, lanes, per_record), out_specs=(lanes, per_record),
        check_vma=False)
    return run(lam, mu, weight, carry, records)


@dataclasses.dataclass
class _Run:
    row: int  # index into the sweep's rows
    grid: np.ndarray
    eta: float


def _records(runs: list[_Run], eta_kind: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The flat step records of a group's runs, and the record index where each run ends."""
    r = [-np.asarray(run.grid, float) for run in runs]
    lengths = np.array([x.shape[0] - 1 for x in r])
    ends = np.cumsum(lengths) - 1
    first = np.zeros(int(lengths.sum()), bool)
    last = np.zeros_like(first)
    first[ends - lengths + 1] = True
    last[ends] = True
    eta = np.concatenate([np.full(n, run.eta if eta_kind == "sde" else 0.0)
                          for n, run in zip(lengths, runs, strict=True)])
    records = {"r0": np.concatenate([x[:-1] for x in r]), "r1": np.concatenate([x[1:] for x in r]),
               "eta": eta, "first": first, "last": last,
               "n_steps": np.concatenate([np.full(n, float(n)) for n in lengths])}
    return records, ends


def _pad_records(records: dict[str, np.ndarray], length: int) -> dict[str, np.ndarray]:
    """Pad to `length` with records that neither start nor end a run: empty steps at the
    last time (r0 = r1). Nothing reads the state they leave; an empty step keeps most
    solvers' state as it is (so it cannot drift into slow subnormal numbers), and where a
    solver divides by the step (stochastic DDIM) the NaN it makes stays in that lane."""
    n = records["r0"].shape[0]
    if n == length:
        return records
    fills = {"r0": records["r1"][-1], "r1": records["r1"][-1], "eta": records["eta"][-1],
             "first": False, "last": False, "n_steps": records["n_steps"][-1]}
    return {key: np.concatenate([value, np.full(length - n, fills[key], value.dtype)])
            for key, value in records.items()}


def _threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def error_sweep(target: GaussianTarget, schedule: AbstractSchedule, steps: Sequence[int], *,
                grids: Sequence[str | Callable] = ("edm",), etas: Sequence = (0.0,),
                solvers: Sequence[str | diffrax.AbstractSolver] = ("euler",), rho: float = 7.0,
                start: str = "marginal", reference: str | None = None,
                memory_budget: int = DEFAULT_MEMORY_BUDGET, progress: bool = False,
                devices: int | Sequence[jax.Device] | None = None,
                final_step: str = "none") -> Sweep:
    """Exact errors of every sampler (grid, eta, solver) in the sweep at every N in `steps`.

    Each row is what `error_curve` reports for that sampler and N: W2^2, KL(output ||
    reference) and the weak trace error of the output law (started as `start` says) against
    the `reference` law, and the parts `discretization`, `initialization`, `truncation`.
    Exact (no Monte Carlo), float64, per eigen-direction of `target` (a diagonal problem:
    memory grows like d, never d^2). Grids are names (`schedules.GRIDS`), builders
    f(schedule, n) or one explicit array of N + 1 times; etas are numbers >= 0 or functions
    eta(t); solvers are names (`sampling.SOLVERS`) or solver objects. `memory_budget`
    (bytes) bounds the working state of one chunk of directions; `progress` shows a
    progress bar on stderr.

    `final_step` (`sampling.FINAL_STEPS`): "none" (default) compares the state at the
    grid's own last time t_N; "denoise" appends the practitioners' jump to sigma = 0,
    x <- D(x, t_N) (`sampling.apply_final_step`, its affine map read off that function),
    and the reference is then the data law (`reference` defaults to `DEFAULT_REFERENCE`;
    "tmin" with "denoise" is refused). With "denoise" every law of a row (the outputs from
    both starts and the exact marginal at t_N) goes through the final step: discretization =
    W2^2(D#output from the marginal, D#exact marginal at t_N), initialization = W2^2(D#output
    from the prior, D#output from the marginal), truncation = W2^2(D#exact marginal at t_N,
    data law).

    `devices` (default: all of this process's devices; a count takes the first ones; or a
    list) are the devices the sweep's lanes are split over, with `jax.shard_map` on a 1-D
    mesh (of one device too). After `jax.distributed.initialize` with several processes,
    the default is every process's devices (`jax.devices()`): each process computes the
    lanes of its own devices, the sums are gathered on every process, and every process
    returns the same full `Sweep` (SPMD: call it on every process, with the same
    arguments; see `_lane_mesh` for counts and lists there). Each lane is computed by the
    same per-device program whatever the number of devices or processes, so the rows do
    not depend on them: bit for bit in our tests (1 vs 2, 3, 4, 8 host devices, and 2
    processes x 2 devices vs 1 device).

    Raises ValueError for a bad setting (naming it) and FloatingPointError, naming the
    row, if a sampler's law is not finite.
    """
    if start not in STARTS:
        raise ValueError(f"unknown start {start!r}; allowed: {', '.join(STARTS)}")
    reference = resolve_reference(reference, final_step)
    if int(memory_budget) < 1:
        raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
    steps = check_steps(steps)
    mesh = _lane_mesh(devices)
    grids, etas, solvers = list(grids), list(etas), list(solvers)
    for what, values in (("grids", grids), ("etas", etas), ("solvers", solvers)):
        if not values:
            raise ValueError(f"give at least one value in {what}")
    solver_objects = [resolve_solver(s) for s in solvers]
    built = [_build_grids(g, schedule, steps, rho) for g in grids]

    # Check every use before computing anything: one clear error, no half-finished sweep.
    probe = GaussianScore(GaussianTarget(jnp.ones(1)), schedule)
    for eta in etas:
        reverse = ReverseDiffusion(schedule, probe, eta)
        for g in built:
            for grid in g:
                reverse.check_eta_on_grid(grid)
        for solver in solver_objects:
            check_solver_use(solver, reverse, np.zeros(min(steps) + 1))

    eig = target.in_eigenbasis()
    lam = np.asarray(eig.eigenvalues, float)
    mu = np.asarray(eig.mean_vector(), float)
    centred = not np.any(mu)
    labels, groups = [], {}
    for gi, g in enumerate(grids):
        for eta in etas:
            kind = "ode" if not callable(eta) and float(eta) == 0.0 else "sde"
            key_eta = ("fn", id(eta)) if callable(eta) else kind
            for si, solver in enumerate(solver_objects):
                group = groups.setdefault((si, key_eta), (
                    _Group(solver, "function" if callable(eta) else kind,
                           eta if callable(eta) else None, start, reference, centred,
                           final_step), []))
                for n, grid in zip(steps, built[gi], strict=True):
                    group[1].append(_Run(len(labels), grid, 0.0 if callable(eta) else float(eta)))
                    labels.append((_grid_label(g), _eta_label(eta), solver_name(solver), n))

    shards = mesh.size
    plans = [_plan(group, runs, schedule, lam.shape[0], int(memory_budget), shards)
             for group, runs in groups.values()]
    work = [(plan, tasks) for plan in plans for tasks in plan.lane_groups()]
    compiled_before = compiled_sweep_blocks()
    bar = _progress_bar(sum(-(-plan.length(tasks) // _BLOCK) for plan, tasks in work), progress)

    # Lane groups are independent: compiled calls release the GIL, so a thread per core
    # runs them side by side (fewer when each call already spans several devices; one, in
    # order, over several processes). Their sums are added in a fixed order, whatever
    # finishes first.
    sums = np.zeros((len(labels), len(METRICS)))
    with ThreadPoolExecutor(max_workers=_workers(mesh)) as pool:
        outputs = pool.map(lambda item: _run_lanes(*item, schedule, lam, mu, bar, mesh), work)
        for (plan, tasks), out in zip(work, outputs, strict=True):
            for lane, (seq, _) in enumerate(tasks):
                if seq >= 0:
                    sums[plan.rows[seq]] += out[plan.ends[seq], lane]
    bar.close()

    rows = []
    for (grid, eta, solver, n), values in zip(labels, sums, strict=True):
        if not np.all(np.isfinite(values)):
            raise FloatingPointError(
                f"the exact law of {solver} on the {grid} grid with eta = {eta} at N = {n} steps "
                f"is not finite: the sampler diverges")
        rows.append(SweepRow(grid, eta, solver, n, *(float(v) for v in values)))
    programs = {(id(p.group.solver), p.group.eta_kind, id(p.group.eta_function), p.width, p.lanes)
                for p in plans}
    return Sweep(rows, start, reference, len(programs), compiled_sweep_blocks() - compiled_before,
                 max(p.width for p in plans), shards, final_step)


def resolve_reference(reference: str | None, final_step: str) -> str:
    """The reference law's name: `reference`, or the final step's default
    (`DEFAULT_REFERENCE`); ValueError for an unknown name, or for "tmin" after the jump
    to sigma = 0 (the state then lives at time 0, not at t_min)."""
    check_final_step(final_step)
    if reference is None:
        return DEFAULT_REFERENCE[final_step]
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}; allowed: {', '.join(REFERENCES)}")
    if final_step == "denoise" and reference == "tmin":
        raise ValueError("reference 'tmin' does not fit final step 'denoise': the denoised "
                         "output is at sigma = 0, so it is compared with the data law "
                         "(reference 'data')")
    return reference


def _lane_mesh(devices) -> jax.sharding.Mesh:
    """The 1-D mesh (axis `lanes`) a sweep's lanes are split over; a mesh of one device too
    (every sweep runs the same program form, `_sweep_block`).

    One process: its devices (None = all, a count K = the first K, or a list). Several
    processes (after `jax.distributed.initialize`): None = every process's devices
    (`jax.devices()`), so each process computes the lanes of its own devices and the sums
    are gathered on every process; a count K takes the first K of them and must reach
    every process; a list must hold devices of every process, or this process's own only
    (then each process computes the whole sweep on its own devices). ValueError otherwise."""
    if jax.process_count() == 1:
        return device_mesh(devices, _LANE_AXIS, jax.local_devices(), "local")
    mesh = device_mesh(devices, _LANE_AXIS, jax.devices(), "available")
    processes = sorted({d.process_index for d in mesh.devices.flat})
    own_list = isinstance(devices, Sequence) and processes == [jax.process_index()]
    if len(processes) < jax.process_count() and not own_list:
        raise ValueError(
            f"devices={devices!r} are devices of process(es) {processes} only; a sweep over "
            f"{jax.process_count()} processes needs devices of every process (or, as a list, "
            f"this process's own devices only, to compute the whole sweep on each process)")
    return mesh


def _workers(mesh: jax.sharding.Mesh) -> int:
    # Two threads per core: while one hands a block over (slicing records, launching, reading
    # back), the other keeps the core computing (~10% faster than one per core, measured on
    # the bench sweep). A call over several devices already spans that many cores. A mesh
    # over several processes takes one thread: every process must launch the same programs
    # and gathers in the same order (multi-controller JAX), which concurrent threads would not.
    if not NamedSharding(mesh, P()).is_fully_addressable:
        return 1
    return max(1, 2 * _threads() // mesh.size)


@dataclasses.dataclass
class _Plan:
    """How one group's runs are laid out: `sequences` of runs (their records, the record
    where each run ends, the rows they fill), chunks of `width` directions, `lanes` tasks
    (a sequence on a chunk) per device in a compiled call, split over `shards` devices,
    `state_size` = n of the augmented state."""

    group: _Group
    records: list[dict[str, np.ndarray]]
    ends: list[np.ndarray]
    rows: list[np.ndarray]
    d: int
    width: int
    lanes: int
    state_size: int
    shards: int = 1

    def lane_groups(self) -> list[list[tuple[int, int]]]:
        """Tasks (sequence, first direction) in groups of `lanes` x `shards`; the last group
        is filled with copies of its first task marked -1 (computed, never read)."""
        per_call = self.lanes * self.shards
        tasks = [(s, lo) for lo in range(0, self.d, self.width) for s in range(len(self.records))]
        out = [tasks[i:i + per_call] for i in range(0, len(tasks), per_call)]
        out[-1] = out[-1] + [(-1, out[-1][0][1])] * (per_call - len(out[-1]))
        return out

    def length(self, tasks) -> int:
        return max(self.records[s]["r0"].shape[0] for s, _ in tasks if s >= 0)


def _plan(group: _Group, runs: list["_Run"], schedule, d: int, memory_budget: int,
          shards: int = 1) -> _Plan:
    """Chunk width and lanes from the memory budget (shared by the threads), and the runs
    split into balanced sequences so that every lane and every thread has work."""
    _, n = augmented_unravel(_reverse(schedule, group, jnp.ones(()), jnp.zeros(()), jnp.ones(())),
                             group.solver, 1)
    # Per direction a block holds two augmented laws (2 (n + n^2) floats) and temporaries
    # of the same size per live step value; 16 copies is a generous bound.
    per_direction = 8 * 16 * 2 * (n + n * n)
    fits = max(1, memory_budget // (per_direction * _threads()))
    state_bytes = 8 * 2 * (n + n * n)
    width = min(_pow2_at_least(d), _MAX_CHUNK, _pow2_at_most(fits),
                _pow2_at_most(max(1, _KERNEL_BYTES // state_bytes)))
    n_chunks = -(-d // width)
    # Lanes depend on the width only (not on how many runs there are), so that a sweep of
    # another size reuses the compiled block; spare lanes repeat a task and are not read.
    lanes = min(_MAX_LANES, _pow2_at_most(max(1, _KERNEL_BYTES // (state_bytes * width))),
                _pow2_at_most(max(1, fits // width)))
    # Enough sequences to fill _PARALLEL_SLOTS x lanes lanes. A fixed number, not the
    # machine's core or device count: which lane position a run lands in can change its
    # last bits (XLA's vector and remainder loops round transcendentals differently), so
    # the packing must not depend on where the sweep runs.
    n_sequences = min(len(runs), -(-_PARALLEL_SLOTS * lanes // n_chunks))
    sequences = _balanced(runs, n_sequences)
    built = [_records(seq, group.eta_kind) for seq in sequences]
    return _Plan(group, [b[0] for b in built], [b[1] for b in built],
                 [np.array([run.row for run in seq]) for seq in sequences], d, width, lanes, n, shards)


def _balanced(runs: list["_Run"], n: int) -> list[list["_Run"]]:
    """Split runs into n sequences of nearly equal total steps (longest first, to the
    lightest sequence)."""
    loads, out = [0] * n, [[] for _ in range(n)]
    for run in sorted(runs, key=lambda r: -r.grid.shape[0]):
        j = loads.index(min(loads))
        out[j].append(run)
        loads[j] += run.grid.shape[0] - 1
    return [seq for seq in out if seq]


def _run_lanes(plan: _Plan, tasks, schedule, lam, mu, bar, mesh) -> np.ndarray:
    """Run one lane group through its records on `mesh`: (records, lanes, METRICS) sums,
    as NumPy on this process (gathered from every process's devices where the mesh spans
    several processes)."""
    length = plan.length(tasks)
    padded = -(-length // _BLOCK) * _BLOCK
    lanes, per_record, replicated = P(_LANE_AXIS), P(None, _LANE_AXIS), P()
    chunks = [_chunk(lam, mu, lo, plan.width, real=seq >= 0) for seq, lo in tasks]
    lam_l, mu_l, weight_l = (_on_mesh(np.stack([c[i] for c in chunks]), mesh, lanes) for i in range(3))
    lane_records = [_pad_records(plan.records[max(seq, 0)], padded) for seq, _ in tasks]
    records = {k: np.stack([r[k] for r in lane_records], axis=1) for k in lane_records[0]}
    n, n_lanes = plan.state_size, plan.lanes * plan.shards
    carry = (_on_mesh(np.zeros((n_lanes, plan.width, _n_means(plan.group, n), n)), mesh, lanes),
             _on_mesh(np.zeros((n_lanes, plan.width, 2, n, n)), mesh, lanes))
    out = []
    for b0 in range(0, length, _BLOCK):
        part = {k: _on_mesh(v[b0:b0 + _BLOCK], mesh, per_record) for k, v in records.items()}
        count = _on_mesh(np.asarray(min(_BLOCK, length - b0)), mesh, replicated)
        carry, sums = _sweep_block(plan.group, schedule, mesh, lam_l, mu_l, weight_l, carry, part, count)
        # Keep the carry's sharding that of the first block's input: on a mesh of one device
        # the block returns it as P() (equivalent, not equal), which would compile again.
        carry = jax.device_put(carry, NamedSharding(mesh, lanes))
        out.append(sums)
        bar.update(1)
    if all(part.is_fully_addressable for part in out):
        # Joined on the host: an eager concatenate would compile a program per shape.
        return np.concatenate([np.asarray(part) for part in out])
    return to_host(jnp.concatenate(out))


def _on_mesh(x: np.ndarray, mesh: jax.sharding.Mesh, spec: P) -> jax.Array:
    """x, the same NumPy array on every process, split over `mesh` as `spec` says. Each
    process puts only the slices of its own devices (`jax.make_array_from_callback`):
    nothing crosses processes, and no `device_put` check that the processes agree (a
    collective per array) runs."""
    sharding = NamedSharding(mesh, spec)
    if sharding.is_fully_addressable:
        return jax.device_put(x, sharding)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def _chunk(lam: np.ndarray, mu: np.ndarray, lo: int, width: int, real: bool = True):
    """Directions lo..lo+width, padded with unit-variance directions of weight 0 (all of
    weight 0 for a lane that is not `real`)."""
    part = slice(lo, lo + width)
    n = lam[part].shape[0]
    pad = width - n
    weight = np.concatenate([np.full(n, 1.0 if real else 0.0), np.zeros(pad)])
    return (np.concatenate([lam[part], np.ones(pad)]), np.concatenate([mu[part], np.zeros(pad)]),
            weight)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(total: int, show: bool):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    # Appears only for sweeps longer than a couple of seconds.
    return tqdm(total=total, desc="sweep", unit="block", delay=2.0, leave=False)


def compiled_sweep_blocks() -> int:
    """How many sweep blocks have been compiled in this process (for tests and benchmarks)."""
    return _sweep_block._cached._cache_size()
