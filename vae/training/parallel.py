"""Devices and hosts: the (`models`, `data`) mesh, where a group's state and batches live, which
process writes what.

A group of W models trains as one program. Its stacked state (every leaf [W, ...]) is placed
with `NamedSharding(mesh, P('models'))`: each row of the mesh holds whole models. The program is
`Layout.per_device` of one model's pure step: a `shard_map` manual over `models`, so each row
computes its own models and nothing else, and no collective can cross `models`. Within a row,
each model's batch is sharded over `data`: the devices of the row split it, and XLA averages
their gradients from the shardings (an all-reduce it inserts; none is written here). A row with
the whole batch (D = 1) vmaps its models; a row that splits batches runs them one after another,
because XLA's partitioner gathers a vmapped (grouped) convolution's activations rather than split
them by batch. The step itself stays a pure function of one model: the only device-aware thing
it sees is the batch's sharding constraint, applied by the sampler this module wraps around the
dataset's.

The `auto` mesh, for n devices and a group of W models: one model is data-parallel over every
device, (1, n); several take the largest divisor m of n with m ≤ W for `models` and the rest,
n / m, for `data`. A group whose width does not divide `models` is padded with inert slots
(copies of a trainee, never written; the run loop's filler), so every mesh runs every sweep.

In-graph data (the procedural sources) is drawn inside the program as the global batch of each
model: with JAX's partitionable threefry every device draws and renders only its own rows, so
each process produces only its shard and the data are the same bits on any mesh or process
count. Host data (tfds sources, the npz file) is drawn whole on every process from the same key,
and each process places only the rows of its own devices (`jax.make_array_from_callback`).

Several hosts (`--config.distributed=true`) run the same command. Control flow stays the same
on every process: the train metrics and stop requests are gathered to all. A model's files
(metrics, events, figures, scores, completion marker) are written by the process whose devices
hold it (`owner`); checkpoints by process 0 alone, from the gathered state (a model's state is
never split across devices, so every host would write the same bytes), followed by a barrier, so
a model is marked complete only after its final checkpoint is in place.

A process that dies (a lost host, a SIGKILL, an out-of-memory kill) is noticed by the others'
liveness watch (`initialize`'s `on_lost`): each process bumps a counter of its own in the
coordination service every `BEAT_S` seconds and reads the others'; one that has not moved for
`LOST_AFTER_S` is lost, and the entry point's `on_lost` ends this process in one line. A process
that ends on an error says so first (`announce_exit`), and the others end within a beat, naming
its line. Without the watch the survivors would wait in a barrier until the service's heartbeat
timeout, after which XLA's client aborts each of them with a page of C++ log. The service runs in
a process of its own (coordination_service.py), not inside process 0 as jax would place it, so
that process 0 too can be lost without the service.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import threading
import time

import jax
import jax.numpy as jnp
from jax._src import distributed as jax_distributed  # The coordination service's barrier.
from jax._src.lib import _jax  # The coordination service's factory (initialize).
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np

from vae.errors import UserInputError
from vae.training import coordination_service

MODELS, DATA = 'models', 'data'
# Where and how a run computes, not what: a model trained under other values is the same model
# (a finished one stays finished, a checkpoint resumes under any of them).
DEVICE_SETTINGS = ('mesh_shape', 'distributed', 'coordinator_address', 'num_processes',
                   'process_id', 'conv_impl')


# A process is lost when its counter has not moved for LOST_AFTER_S: longer than a live process's
# Python thread ever pauses (a compile or a fit holds the interpreter for seconds), shorter than
# the coordination service's heartbeat timeout (HEARTBEAT_TIMEOUT_S, jax's default), after which
# XLA's client aborts every process.
BEAT_S = 2.0
LOST_AFTER_S = 30.0
HEARTBEAT_TIMEOUT_S = 100
_EXITS = 'vae/exit/'  # A process's `announce_exit` line, under its id.


def _counter(client, process):
  """`process`'s liveness counter, None before its first beat."""
  try:
    return client.key_value_try_get(f'vae/alive/{process}')
  except jax.errors.JaxRuntimeError as e:
    if 'NOT_FOUND' in str(e):
      return None
    raise


def distributed() -> bool:
  """Whether this process joined a cluster (`initialize`)."""
  return jax_distributed.global_state.client is not None


def lost_process(seen, counters, exits, me, now, lost_after_s=LOST_AFTER_S):
  """(process id, why) of the first other process that announced its exit or whose counter has
  not moved for `lost_after_s`, else None; one look of the liveness watch.

  `counters`: {process: its counter now, None before its first beat}; `exits`: (key, line) of the
  announced exits; `seen`: {process: (counter, when it was first seen)}, updated here.
  """
  for key, line in exits:
    process = int(key.rsplit('/', 1)[1])
    if process != me:
      return process, f'it ended with: {line.removeprefix("error: ")}'
  for p, counter in counters.items():
    if p not in seen or seen[p][0] != counter:  # A first look, or a beat, restarts the wait.
      seen[p] = (counter, now)
    elif now - seen[p][1] > lost_after_s:
      return p, f'it has not signalled for {lost_after_s:.0f} s'
  return None


def _watch_liveness(on_lost, beat_s=BEAT_S):
  """Starts a daemon thread that calls `on_lost(process id, why)` once another process of the
  cluster is lost or has announced its exit."""
  if jax.process_count() == 1:
    return
  client, me, count = jax_distributed.global_state.client, jax.process_index(), jax.process_count()

  def watch():
    beats, seen = 0, {}
    while True:
      beats += 1
      try:
        client.key_value_set(f'vae/alive/{me}', str(beats), allow_overwrite=True)
        counters = {p: _counter(client, p) for p in range(count) if p != me}
        exits = client.key_value_dir_get(_EXITS)
      except Exception as e:  # pylint: disable=broad-except  # The service is gone.
        on_lost(0, f'the coordination service stopped answering ({type(e).__name__})')
        return
      lost = lost_process(seen, counters, exits, me, time.monotonic())
      if lost is not None:
        on_lost(*lost)
        return
      time.sleep(beat_s)

  threading.Thread(target=watch, name='vae-liveness', daemon=True).start()


def announce_exit(line: str):
  """Tells the other processes of the cluster that this one ends with `line` (their liveness
  watch ends them within a beat, naming it)."""
  if distributed() and jax.process_count() > 1:
    try:
      jax_distributed.global_state.client.key_value_set(
          f'{_EXITS}{jax.process_index()}', line, allow_overwrite=True)
    except Exception:  # pylint: disable=broad-except  # The service is gone: the watch tells.
      pass


def initialize(config, on_lost=None):
  """Joins the cluster when `--config.distributed=true` (before any other JAX call).

  `on_lost(process id, why)` is called, from the liveness watch's thread, once another process of
  the cluster is lost. Process 0 starts the coordination service in a process of its own.
  """
  if not config.get('distributed', False):
    return
  explicit = {
      'coordinator_address': config.coordinator_address or None,
      'num_processes': config.num_processes or None,
      'process_id': None if config.process_id < 0 else config.process_id}
  in_process_service = _jax.get_distributed_runtime_service
  _jax.get_distributed_runtime_service = coordination_service.start  # What jax calls on 0.
  try:
    jax.distributed.initialize(**explicit, heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S)
  except (ValueError, RuntimeError) as e:
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise UserInputError(
        f'--config.distributed=true: no cluster to join ({reason}); under SLURM or on a TPU pod '
        'run the same command on every host, else set --config.coordinator_address=HOST:PORT, '
        '--config.num_processes and --config.process_id') from None
  finally:
    _jax.get_distributed_runtime_service = in_process_service
  if on_lost is not None:
    _watch_liveness(on_lost)


def mesh_shape(setting: str, width: int, num_devices: int) -> tuple[int, int]:
  """(models, data) from `--config.mesh_shape` ('auto' or 'M,D') for a group of `width`."""
  if setting == 'auto':
    if width == 1:
      return 1, num_devices
    models = max(m for m in range(1, num_devices + 1) if num_devices % m == 0 and m <= width)
    return models, num_devices // models
  try:
    shape = tuple(int(v) for v in setting.split(','))
  except ValueError:
    shape = ()
  if len(shape) != 2 or min(shape) < 1:
    raise UserInputError(f'--config.mesh_shape={setting!r}: expected auto or M,D (two positive '
                         'integers: models, data)')
  if math.prod(shape) != num_devices:
    raise UserInputError(f'--config.mesh_shape={setting}: {shape[0]} x {shape[1]} = '
                         f'{math.prod(shape)} devices, but this run has {num_devices}; use auto '
                         f'or M,D with M x D = {num_devices}')
  return shape


_BARRIER_TIMEOUT_MS = 24 * 3600 * 1000  # A process may score its models for hours.
_barriers_passed = collections.Counter()


def barrier(name: str):
  """Waits for every process (nothing to wait for on one).

  Through the coordination service, whose wait has no short timeout; the collectives that follow
  one then find every process there (gloo gives up on a peer after 30 s).
  """
  if jax.process_count() > 1:
    _barriers_passed[name] += 1
    client = jax_distributed.global_state.client
    client.wait_at_barrier(f'vae/{name}/{_barriers_passed[name]}', _BARRIER_TIMEOUT_MS)


def _gathered(tree):
  """Every leaf of `tree` as a numpy array on every process (a collective when multi-host)."""
  if jax.process_count() == 1:
    return jax.tree.map(np.asarray, tree)
  barrier('gather')
  return multihost_utils.process_allgather(tree, tiled=True)


def any_process(flag: int | None) -> int | None:
  """The first process's pending stop request, else any other's (every process gets the same)."""
  if jax.process_count() == 1:
    return flag
  flags = _gathered(np.int32(flag or 0))
  return next((int(f) for f in np.atleast_1d(flags) if f), None)


def writes_checkpoints() -> bool:
  return jax.process_index() == 0


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where the W slots of one group live: the mesh, and the slots' (padded) count."""

  mesh: Mesh
  width: int

  @property
  def state_sharding(self) -> NamedSharding:
    return NamedSharding(self.mesh, P(MODELS))

  @property
  def batch_sharding(self) -> NamedSharding:
    return NamedSharding(self.mesh, P(MODELS, DATA))

  def owner(self, slot: int) -> int:
    """The process that writes the files of the model in `slot`: the one holding its first row."""
    row = slot // (self.width // self.mesh.shape[MODELS])
    return self.mesh.devices[row, 0].process_index

  def owns(self, slot: int) -> bool:
    return self.owner(slot) == jax.process_index()

  def place(self, tree):
    """Host (or one-device) values [W, ...] as global arrays sharded over `models`."""
    return jax.tree.map(lambda x: _put(x, self.state_sharding), tree)

  def place_batches(self, batches):
    """Host batches (arrays [W, B, ...]) sharded over both axes (each process copies its own
    rows)."""
    return jax.tree.map(lambda x: _put(x, self.batch_sharding), batches)

  def abstract_batches(self, batch):
    """Shapes, dtypes and sharding of the W slots' batches shaped like the host batch `batch`."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(
        (self.width, *np.shape(x)), np.asarray(x).dtype, sharding=self.batch_sharding), batch)

  def per_device(self, model_fn):
    """`model_fn` (one model's arrays in and out) over the group's stacked models, each device
    of a `models` row running that row's models alone: manual over `models`, `data` left to XLA.

    Sharding propagation is not trusted with models: a vmapped convolution with per-model weights
    is one grouped convolution whose feature axis mixes models and channels, and XLA's partitioner
    gathers its activations to every device, whether the models or the batch are split. So rows
    hold their own models by construction, and a row that splits each batch over `data` runs its
    models one after another (`_one_after_another`): ungrouped convolutions, which XLA splits by
    batch with the gradient all-reduce alone. A row with the whole batch vmaps them.
    """
    local = jax.vmap(model_fn) if self.mesh.shape[DATA] == 1 else _one_after_another(model_fn)
    return jax.shard_map(local, mesh=self.mesh, in_specs=P(MODELS), out_specs=P(MODELS),
                         axis_names={MODELS})

  def in_graph_sampler(self, sample):
    """`sample(key, n)` with its batch split over `data`, for use inside `per_device`."""
    return _in_graph_sampler(sample)

  def abstract(self, tree):
    """Shapes, dtypes and the state's sharding, for lowering the group's program."""
    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self.state_sharding), tree)

  def to_host(self, tree):
    """The metrics [W, ...] as numpy on every process."""
    return _gathered(tree)

  def members(self, states, count: int):
    """The first `count` slots' states, each on this process's first device alone.

    A model's evaluation programs (eval rows, log p(x), the suite, UDR) then compile for that one
    device. Indexing the sharded stack instead (`x[i]`) would broadcast the slot to every device
    of the mesh and replicate each evaluation over all of them.
    """
    home = jax.local_devices()[0]
    if jax.process_count() > 1:
      states = _gathered(states)
      return [jax.tree.map(lambda x, i=i: jax.device_put(x[i], home), states)
              for i in range(count)]
    return [jax.tree.map(lambda x, i=i: jax.device_put(self._slot(x, i), home), states)
            for i in range(count)]

  def _slot(self, stacked, slot):
    """Slot `slot` of a stack sharded over `models`, read from the row's first device."""
    per_row = self.width // self.mesh.shape[MODELS]
    row = slot // per_row
    device = self.mesh.devices[row, 0]
    shard = next(s for s in stacked.addressable_shards if s.device == device)
    return shard.data[slot - row * per_row]


def _one_after_another(model_fn):
  """`model_fn(state, *rest) -> (state, aux)` over stacked models, one model at a time, each
  state updated in place in the stack (`lax.map` would hold a second copy of every state)."""

  def run(states, *rest):
    count = jax.tree.leaves(states)[0].shape[0]
    at = lambda tree, i: jax.tree.map(lambda x: x[i], tree)  # noqa: E731
    aux_shapes = jax.eval_shape(model_fn, at(states, 0), *at(rest, 0))[1]
    # Zeros that vary over `models` like everything else a row holds (shard_map's types).
    aux = jax.tree.map(lambda s: jax.lax.pcast(jnp.zeros((count, *s.shape), s.dtype), MODELS,
                                               to='varying'), aux_shapes)

    def one_model(i, carry):
      state, aux_i = model_fn(at(carry[0], i), *at(rest, i))
      return jax.tree.map(lambda whole, part: whole.at[i].set(part), carry, (state, aux_i))

    return jax.lax.fori_loop(0, count, one_model, (states, aux))

  return run


def _put(array, sharding):
  """`array` (numpy, a one-device array or a typed PRNG key array) placed with `sharding`."""
  if jax.dtypes.issubdtype(array.dtype, jax.dtypes.prng_key):
    data = _put(jax.random.key_data(array), sharding)
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(array))
  host = np.asarray(array)
  return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


@functools.lru_cache(maxsize=None)
def _in_graph_sampler(sample):
  """One sampler per source, so the compiled programs that take it are cached."""
  return functools.partial(_constrained_sample, sample)


def _constrained_sample(sample, key, n):
  # A bare spec: inside `per_device` the mesh in context is the one whose `models` is manual.
  return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, P(DATA)), sample(key, n))


def layout(config, group_size: int, devices=None) -> Layout:
  """The layout of a group of `group_size` models on `devices` (default: every device)."""
  devices = devices or jax.devices()
  models, data = mesh_shape(config.get('mesh_shape', 'auto'), group_size, len(devices))
  if config.batch_size % data:
    raise UserInputError(f'--config.batch_size={config.batch_size} does not split over the '
                         f'mesh\'s {data} data-parallel devices (--config.mesh_shape='
                         f'{config.get("mesh_shape", "auto")}): use a multiple of {data}')
  mesh = Mesh(np.asarray(devices).reshape(models, data), (MODELS, DATA))
  return Layout(mesh, -(-group_size // models) * models)
