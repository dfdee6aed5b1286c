"""Drawing and encoding a ground-truth dataset for the suite: fixed-factor batches, points, codes.

The scores that sample a :class:`vae.data.ground_truth.GroundTruthDataset` (BetaVAE,
`vae.evaluation.beta_vae_score`; FactorVAE, `vae.evaluation.factor_vae_score`) draw batches of factor tuples
with one factor held fixed (`fixed_factor_batches`), render them, encode them with a
:class:`PureEncoder` (jittable encoder statistics and the representations drawn from them) and
reduce each batch to a point (`_points`). Every representation is scored on the same
observations, encoded once. The fixed factor is drawn among factors with more than one value:
fixing a constant factor fixes nothing.

On a jittable dataset, drawing the factors, rendering, encoding and reducing each batch run in
one jitted program per set of points: a `lax.map` over steps of `observations_per_step`
observations, so only the points ``[P, C]`` per representation reach the host. Other datasets
render on the host and encode chunk by chunk (`_encode_on_host`). Both paths draw the same factor
tuples for the same key, so the codes do not depend on how many observations go through the
encoder at once. On a grid that renders each tuple one way, `tabulated` encodes every grid point
once and the scores look their statistics up.
"""

import dataclasses
import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vae import preemption
from vae.data import ground_truth
from vae.errors import UserInputError
from vae.evaluation import metric

# Observations per encoder call on the host path: bounds memory for image datasets.
OBSERVATIONS_PER_CALL = 4096
# Observations rendered and encoded per step of the in-graph path (the default): measured on a
# 2-core CPU, 256-512 run the conv encoder fastest; larger steps fall out of cache.
_OBSERVATIONS_PER_STEP = 512
# Grid points per call when the whole factor grid is encoded (`grid_statistics`): a stop request
# waits for one call, a few seconds of the conv encoder on a CPU (dSprites' 737,280 points in one
# call took 389 s), against tens of milliseconds of dispatch on a GPU for the 45 calls.
GRID_POINTS_PER_CALL = 16_384

# `config.disentanglement.encode_batch_size`: the observations per step of the in-graph path.
LEAST = (metric.Least('encode_batch_size', 1),)


class PureEncoder(NamedTuple):
  """An encoder that runs inside ``jit``, in two pure-JAX parts.

  ``statistics(params, observations)`` is the deterministic encoder pass: a pytree of
  ``[n, ...]`` arrays (e.g. the posterior's mean and log-variance). ``represent(statistics, key)``
  turns them into ``{name: codes [n, num_codes]}``, one per representation (e.g. the mean, and a
  sample drawn with ``key``), so every representation shares one encoder pass. ``params`` is
  traced: a new model reuses the compiled programs when both functions are the same objects.
  """
  statistics: Callable[[Any, Any], Any]
  represent: Callable[[Any, Any], dict]
  params: Any

  @property
  def functions(self):
    """The static (hashable) part: what the compiled programs are keyed by."""
    return self.statistics, self.represent


def _apply(functions, params, observations, key):
  """``{name: codes}`` of ``observations`` (pure JAX)."""
  statistics, represent = functions
  return represent(statistics(params, observations), key)


def check_dataset(data, batch_size, *counts):
  """Raises unless the dataset can render factors and the sizes make sense."""
  if not data.has_factor_grid:
    raise UserInputError(
        f'dataset {data.name!r} cannot render chosen factors; sampled scores '
        'need sample_factors and observations_from_factors')
  if batch_size < 2:
    raise UserInputError(f'batch_size must be at least 2, got {batch_size}')
  if min(counts) < 1:
    raise UserInputError(f'numbers of points must be positive, got {counts}')
  if not np.any(np.asarray(data.factor_sizes) > 1):
    raise UserInputError('every factor of the dataset takes a single value')


def fixed_factor_batches(data, key, num_points, batch_size, copies):
  """``(fixed factor [P], factors [copies, P, B, F])``, one fixed factor per point (JAX, inside
  or outside ``jit``).

  With ``copies == 1`` the fixed factor shares its value across the batch (FactorVAE); with
  ``copies == 2`` it is shared within each pair (BetaVAE).
  """
  key_index, key_factors = jax.random.split(key)
  varying = jnp.asarray(np.flatnonzero(np.asarray(data.factor_sizes) > 1))
  fixed = varying[jax.random.randint(key_index, (num_points,), 0, varying.size)]
  # One draw for every copy keeps the number of distinct shapes (and so of compilations of a
  # jitted sampler) small.
  factors = jnp.asarray(data.sample_factors(
      key_factors, copies * num_points * batch_size)).reshape(
          copies, num_points, batch_size, -1)
  is_fixed = jax.nn.one_hot(fixed, factors.shape[-1], dtype=bool)[None, :, None, :]
  # The source of the shared value: the first observation of the batch (one copy), or the
  # first copy's observation of the pair (two copies; copy 0 then keeps its own values).
  source = factors[:1, :, :batch_size if copies == 2 else 1]
  return fixed, jnp.where(is_fixed, source, factors)


def _map_steps(fn, items, key, per_step):
  """``fn(items [k, ...], key) -> {name: [k, ...]}`` over all items, ``k = per_step`` at a time.

  One `lax.map`: a single compiled step, no host round trip between steps. The last step is
  filled by wrapping around to the first items (valid inputs), whose outputs are dropped. Each
  step gets its own split of ``key``, or None when ``key`` is None (``fn`` draws no noise).
  """
  n = items.shape[0]
  num_steps = -(-n // per_step)
  steps = items[jnp.arange(num_steps * per_step) % n].reshape(num_steps, per_step,
                                                              *items.shape[1:])
  keys = None if key is None else jax.random.split(key, num_steps)
  out = jax.lax.map(lambda args: fn(*args), (steps, keys))
  return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:])[:n], out)


def _encode_in_graph(data, functions, params, factors, key):
  """``{name: codes [..., C]}`` of the observations of ``factors [..., F]`` (inside jit)."""
  observations = data.observations_from_factors(factors.reshape(-1, factors.shape[-1]))
  codes = _apply(functions, params, observations, key)
  return jax.tree.map(lambda c: c.reshape(*factors.shape[:-1], c.shape[-1]), codes)


def _steps_of(group, per_step):
  """Groups (of ``group`` observations) per step of the in-graph path: at least one."""
  return max(1, per_step // group)


@functools.partial(jax.jit, static_argnums=(0, 1, 5, 6, 7, 8, 9))
def _points_in_graph(data, functions, params, key, noise_key, batch_size, num_points, copies,
                     reduce, per_step):
  """``({name: reduce(codes)}, fixed [P])`` of every representation, in one program: BetaVAE's
  pair distances (``copies == 2``) or FactorVAE's batch variances (``copies == 1``)."""
  fixed, factors = fixed_factor_batches(data, key, num_points, batch_size, copies)
  items = jnp.moveaxis(factors, 0, 1) if copies == 2 else factors[0]
  points = _map_steps(
      lambda f, k: jax.tree.map(reduce, _encode_in_graph(data, functions, params, f, k)),
      items, noise_key, _steps_of(copies * batch_size, per_step))
  return points, fixed


@functools.partial(jax.jit, static_argnums=(0, 1, 5, 6))
def _codes_in_graph(data, functions, params, key, noise_key, num_points, per_step):
  """``({name: codes [n, C]}, factors [n, F])`` of ``sample_factors(key, n)``, in one program."""
  factors = jnp.asarray(data.sample_factors(key, num_points))
  codes = _map_steps(lambda f, k: _encode_in_graph(data, functions, params, f, k), factors,
                     noise_key, per_step)
  return codes, factors


encode_chunk = jax.jit(_apply, static_argnums=0)


def _encode_on_host(encoder, inputs, key, render=None):
  """``{name: codes [n, C]}`` of host ``inputs [n, ...]``, a chunk of at most
  `OBSERVATIONS_PER_CALL` at a time: observations, or factor tuples that ``render`` turns into
  observations chunk by chunk.

  Observation chunks are padded (with copies of their first row) to one shape, so the encoder
  compiles once, and chunk ``i`` draws its noise from ``fold_in(key, i)``. Rendered chunks keep
  their shape and draw from ``fold_in(fold_in(key, start), 0)``, ``start`` their first row: the
  noise schedule of the sampled codes of host-rendered sources.
  """
  chunk = min(OBSERVATIONS_PER_CALL, len(inputs))
  parts = []
  for index, start in enumerate(range(0, len(inputs), chunk)):
    preemption.stop_point('encoding observations')
    part = inputs[start:start + chunk]
    if render is None:
      observations = np.concatenate([part, np.repeat(part[:1], chunk - len(part), 0)])
      chunk_key = jax.random.fold_in(key, index)
    else:
      observations = np.asarray(render(part))
      chunk_key = jax.random.fold_in(jax.random.fold_in(key, start), 0)
    codes = encode_chunk(encoder.functions, encoder.params, observations, chunk_key)
    parts.append({name: np.asarray(c)[:len(part)] for name, c in codes.items()})
  return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _render_and_encode_on_host(data, encoder, factors, key):
  """``{name: codes [..., C]}`` of host-rendered ``factors [..., F]``."""
  codes = _encode_on_host(encoder, factors.reshape(-1, factors.shape[-1]), key,
                          data.observations_from_factors)
  return {name: c.reshape(*factors.shape[:-1], -1) for name, c in codes.items()}


def _points(data, encoder, key, noise_key, batch_size, num_points, copies, reduce, per_step):
  """``({name: reduce(codes)}, fixed)`` of fixed-factor batches, in graph where possible."""
  if data.jittable:
    points, fixed = _points_in_graph(data, encoder.functions, encoder.params, key, noise_key,
                                     batch_size, num_points, copies, reduce, per_step)
    return jax.tree.map(np.asarray, points), np.asarray(fixed)
  fixed, factors = fixed_factor_batches(data, key, num_points, batch_size, copies)
  codes = _render_and_encode_on_host(data, encoder, np.moveaxis(np.asarray(factors), 0, 1),
                                     noise_key)
  return ({name: reduce(c if copies == 2 else c[:, 0]) for name, c in codes.items()},
          np.asarray(fixed))


def codes_and_factors(data, encoder, key, noise_key, num_points,
                      observations_per_step=_OBSERVATIONS_PER_STEP):
  """``({name: codes [n, C]}, factors [n, F])`` of ``data.sample_with_factors(key, n)``.

  A jittable dataset with a factor grid renders and encodes them in one program,
  ``observations_per_step`` at a time (the codes do not depend on it); ``noise_key`` feeds the
  encoder's noise.
  """
  if data.jittable and data.has_factor_grid:
    codes, factors = _codes_in_graph(data, encoder.functions, encoder.params, key, noise_key,
                                     num_points, observations_per_step)
    return jax.tree.map(np.asarray, codes), np.asarray(factors)
  observations, factors = data.sample_with_factors(key, num_points)
  return _encode_on_host(encoder, np.asarray(observations), noise_key), np.asarray(factors)


def codes_of_factors(data, encoder, key, noise_key, num_points, per_step):
  """``{name: codes [N, C]}`` of the observations of ``sample_factors(key, N)``."""
  if data.jittable:
    return _codes_in_graph(data, encoder.functions, encoder.params, key, noise_key, num_points,
                           per_step)[0]
  return _render_and_encode_on_host(data, encoder, np.asarray(data.sample_factors(key, num_points)),
                                    noise_key)


@functools.partial(jax.jit, static_argnums=(0, 1, 5))
def _codes_of_given_in_graph(data, functions, params, factors, noise_key, per_step):
  return _map_steps(lambda f, k: _encode_in_graph(data, functions, params, f, k), factors,
                    noise_key, per_step)


def codes_of_given_factors(data, encoder, factors, noise_key, per_step=_OBSERVATIONS_PER_STEP):
  """``{name: codes [N, C]}`` (numpy) of the observations of the factor tuples ``factors [N, F]``
  (e.g. intervened ones), rendered and encoded in one program where the dataset is jittable;
  ``noise_key`` feeds the encoder's noise."""
  factors = np.asarray(factors)
  if data.jittable:
    codes = _codes_of_given_in_graph(data, encoder.functions, encoder.params,
                                     jnp.asarray(factors), noise_key, per_step)
    return jax.tree.map(np.asarray, codes)
  return _render_and_encode_on_host(data, encoder, factors, noise_key)


# --- Each grid point encoded once. ---------------------------------------------------------------
#
# At the published sizes the scores encode about 2.9 M observations per model, four times the
# 737,280 points of the whole dSprites grid. Where a factor tuple is rendered the same wherever it
# is drawn (`fixed_observations`), the encoder's statistics of every grid point can be computed
# once and looked up: the mean representation is then the same numbers (up to the float rounding
# of other batch shapes) and the sampled one draws fresh noise at every lookup, as it does for
# every freshly encoded observation, so its distribution is the same too.


@dataclasses.dataclass(frozen=True)
class _GridIndex:
  """`observations_from_factors` of a tabulated dataset: each tuple's row-major grid index."""
  sizes: tuple

  def __call__(self, factors):
    return ground_truth.factors_to_index(factors, self.sizes)


def _looked_up(table, indices):
  """`statistics` of a tabulated encoder: the table's rows at grid ``indices``."""
  return jax.tree.map(lambda rows: rows[indices], table)


@functools.partial(jax.jit, static_argnums=(0, 1, 4, 5))
def _grid_statistics_part(data, statistics, params, start, count, per_step):
  """The encoder statistics of grid points start .. start + count − 1 in row-major order (those
  past the grid repeat its last point), in one program."""
  index = jnp.minimum(start + jnp.arange(count, dtype=jnp.int32), data.num_combinations - 1)
  encode = lambda i, _: statistics(params, data.observations_from_factors(
      ground_truth.index_to_factors(i, data.factor_sizes)))
  return _map_steps(encode, index, None, per_step)


def can_tabulate(data):
  """Whether `tabulated` applies: a jittable grid that renders each tuple one way."""
  return data.jittable and data.has_factor_grid and data.fixed_observations


def grid_statistics(data, encoder, observations_per_step=_OBSERVATIONS_PER_STEP):
  """The encoder's statistics of every grid point, row-major (``num_combinations`` rows)."""
  if not can_tabulate(data):
    raise ValueError(f'dataset {data.name!r} cannot be tabulated')
  total = data.num_combinations
  count = min(GRID_POINTS_PER_CALL, total)
  parts = []
  for start in range(0, total, count):
    preemption.stop_point('encoding the factor grid')
    part = _grid_statistics_part(data, encoder.statistics, encoder.params, start, count,
                                 observations_per_step)
    parts.append(jax.tree.map(lambda x: x[:total - start], jax.block_until_ready(part)))
  return jax.tree.map(lambda *xs: jnp.concatenate(xs), *parts)


def tabulated(data, encoder, observations_per_step=_OBSERVATIONS_PER_STEP, table=None):
  """``(data, encoder)`` that score like the given pair, with each grid point encoded once.

  The dataset's observations become grid indices and the encoder looks their statistics up in a
  table of the whole grid's (``num_combinations`` rows, one pass of the encoder), so any number
  of points costs the same. Needs `can_tabulate(data)`. `table`: the `grid_statistics` of
  ``(data, encoder)`` where the caller has them already.
  """
  if table is None:
    table = grid_statistics(data, encoder, observations_per_step)
  indexed = dataclasses.replace(data, observation_shape=(),
                                observations_from_factors=_GridIndex(tuple(data.factor_sizes)))
  return indexed, PureEncoder(_looked_up, encoder.represent, table)
