"""Scores that sample a ground-truth dataset: BetaVAE and FactorVAE.

Both draw factor tuples from a :class:`vae.data.ground_truth.GroundTruthDataset`
with one factor held fixed, render them, encode them with ``encode_fn``
(``observations -> codes [n, num_codes]``) and ask which factor was fixed:

* BetaVAE score (Higgins et al. 2017): a point is ``mean_b |z1_b − z2_b|``
  over a batch of pairs that share the fixed factor's value; a logistic
  regression (the reference's sklearn-0.20 ``LogisticRegression()``:
  one-vs-rest, liblinear) predicts the fixed factor from it.
* FactorVAE score (Kim & Mnih 2018): codes whose std over
  ``num_variance_estimate`` random observations is below ``prune_threshold``
  are pruned (the reference's absolute threshold on the std, 0.05); a point
  is the active code with the least variance, normalized by its global
  variance, over a batch sharing the fixed factor; a majority vote maps
  each code to a factor.

All randomness comes from the JAX ``key`` (split per use); sklearn's seed is
derived from it. Every factor tuple is drawn up front, so results do not
depend on how many observations go through ``encode_fn`` at once. The fixed
factor is drawn among factors with more than one value: fixing a constant
factor fixes nothing. The reference's defaults: batch 64, 10,000 training
and 5,000 evaluation points.

``beta_vae_scores`` / ``factor_vae_scores`` score every representation of a
:class:`PureEncoder` (jittable encoder statistics and the representations drawn
from them) on the same observations, drawn as above; on a jittable dataset the
rendering, encoding and reduction of all batches run in one jitted program per
set of points, and only the points ``[P, num_codes]`` reach the host. On a grid
that renders each tuple one way, `tabulated` encodes every grid point once and
the scores look their statistics up.
"""

import dataclasses
import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vae.data import ground_truth
from vae.errors import UserInputError
from vae.evaluation import classifiers

# Observations per encode_fn call: bounds memory for image datasets.
_OBSERVATIONS_PER_CALL = 4096
# Observations rendered and encoded per step of the in-graph path (the default): measured on a
# 2-core CPU, 256-512 run the conv encoder fastest; larger steps fall out of cache.
_OBSERVATIONS_PER_STEP = 512


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


def _check_dataset(data, batch_size, *counts):
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


def _encode(data, encode_fn, factors):
  """Codes ``[..., num_codes]`` of the observations of ``factors [..., F]``."""
  flat = factors.reshape(-1, factors.shape[-1])
  chunk = min(_OBSERVATIONS_PER_CALL, flat.shape[0])
  codes = []
  for start in range(0, flat.shape[0], chunk):
    part = flat[start:start + chunk]
    # Padding the last chunk (with valid factors) keeps a single input shape,
    # so a jitted renderer or encoder compiles once.
    padded = np.concatenate([part, np.repeat(part[:1], chunk - len(part), 0)])
    observations = data.observations_from_factors(padded)
    codes.append(np.asarray(encode_fn(observations), np.float64)[:len(part)])
  codes = np.concatenate(codes, axis=0)
  return codes.reshape(factors.shape[:-1] + codes.shape[-1:])


def _fixed_factor_batches(data, key, num_points, batch_size, copies):
  """``(fixed factor [P], factors [copies, P, B, F])``, one fixed factor per point.

  With ``copies == 1`` the fixed factor shares its value across the batch
  (FactorVAE); with ``copies == 2`` it is shared within each pair (BetaVAE).
  """
  key_index, key_factors = jax.random.split(key)
  varying = np.flatnonzero(np.asarray(data.factor_sizes) > 1)
  fixed = varying[np.asarray(jax.random.randint(
      key_index, (num_points,), 0, varying.size))]
  # One draw for every copy keeps the number of distinct shapes (and so of
  # compilations of a jitted sampler) small.
  factors = np.array(data.sample_factors(
      key_factors, copies * num_points * batch_size)).reshape(
          copies, num_points, batch_size, -1)
  points = np.arange(num_points)
  if copies == 1:
    factors[0, points, :, fixed] = factors[0, points, :1, fixed]
  else:
    factors[1, points, :, fixed] = factors[0, points, :, fixed]
  return fixed, factors


def _pair_distance(codes):
  """BetaVAE point of codes ``[..., 2, B, C]``: ``mean_b |z1_b − z2_b|`` (numpy or JAX)."""
  return abs(codes[..., 0, :, :] - codes[..., 1, :, :]).mean(axis=-2)


def _batch_variance(codes):
  """Unbiased variance over the batch of codes ``[..., B, C]`` (numpy or JAX)."""
  return codes.var(axis=-2, ddof=1)


def _beta_vae_points(data, encode_fn, key, batch_size, num_points):
  """Training points of the BetaVAE score: ``(mean |z1 − z2| [P, C], fixed [P])``."""
  fixed, factors = _fixed_factor_batches(data, key, num_points, batch_size, 2)
  codes = _encode(data, encode_fn, factors)
  return _pair_distance(np.moveaxis(codes, 0, -3)), fixed


def _beta_vae_accuracies(x_train, y_train, x_eval, y_eval, key_model):
  """The logistic regression's accuracies on the BetaVAE points."""
  if np.unique(y_train).size < 2:
    # Only one factor can be fixed: the classifier has nothing to tell apart.
    return {'train_accuracy': 1.0, 'eval_accuracy': 1.0}
  model = classifiers.fit_quietly(
      classifiers.reference_logistic_regression(
          classifiers.seed_from_key(key_model)), x_train, y_train)
  return {'train_accuracy': float(model.score(x_train, y_train)),
          'eval_accuracy': float(model.score(x_eval, y_eval))}


def beta_vae_score(data, encode_fn, key, batch_size=64, num_train=10000,
                   num_eval=5000):
  """BetaVAE score (Higgins et al. 2017): ``train_accuracy``, ``eval_accuracy``."""
  _check_dataset(data, batch_size, num_train, num_eval)
  key_train, key_eval, key_model = jax.random.split(key, 3)
  x_train, y_train = _beta_vae_points(data, encode_fn, key_train, batch_size,
                                      num_train)
  x_eval, y_eval = _beta_vae_points(data, encode_fn, key_eval, batch_size,
                                    num_eval)
  return _beta_vae_accuracies(x_train, y_train, x_eval, y_eval, key_model)


def _factor_vae_votes(data, encode_fn, key, batch_size, num_points,
                      global_variances, active):
  """Votes ``[num_factors, num_active]``: how often each code had the least variance."""
  fixed, factors = _fixed_factor_batches(data, key, num_points, batch_size, 1)
  local = _batch_variance(_encode(data, encode_fn, factors[0]))
  return _votes(local, fixed, global_variances, active, len(data.factor_sizes))


def _votes(local_variances, fixed, global_variances, active, num_factors):
  """Votes ``[num_factors, num_active]`` from each batch's code variances ``[P, C]``."""
  local = np.asarray(local_variances, np.float64)[:, active] / global_variances[active]
  votes = np.zeros((num_factors, int(active.sum())), dtype=np.int64)
  np.add.at(votes, (np.asarray(fixed), np.argmin(local, axis=1)), 1)
  return votes


def _prune(codes, prune_threshold):
  """``(global variances [C], active [C])`` of the variance-estimate codes ``[N, C]``."""
  global_variances = np.var(np.asarray(codes, np.float64), axis=0, ddof=1)
  return global_variances, np.sqrt(global_variances) >= prune_threshold


def _factor_vae_accuracies(votes, num_active):
  """The majority-vote classifier's accuracies from the train and eval votes."""
  # The classifier maps each code to the factor that most often chose it.
  chosen = np.argmax(votes[0], axis=0)
  accuracy = [float(v[chosen, np.arange(v.shape[1])].sum() / v.sum())
              for v in votes]
  return {'train_accuracy': accuracy[0], 'eval_accuracy': accuracy[1],
          'num_active_dims': float(num_active)}


_NO_ACTIVE_CODE = {'train_accuracy': 0.0, 'eval_accuracy': 0.0, 'num_active_dims': 0.0}


def factor_vae_score(data, encode_fn, key, batch_size=64, num_train=10000,
                     num_eval=5000, num_variance_estimate=10000,
                     prune_threshold=0.05):
  """FactorVAE score (Kim & Mnih 2018).

  Returns ``train_accuracy``, ``eval_accuracy`` and ``num_active_dims``.
  """
  _check_dataset(data, batch_size, num_train, num_eval, num_variance_estimate)
  key_variance, key_train, key_eval = jax.random.split(key, 3)
  codes = _encode(data, encode_fn, np.asarray(
      data.sample_factors(key_variance, num_variance_estimate)))
  global_variances, active = _prune(codes, prune_threshold)
  if not active.any():
    # Every code collapsed: no code can reveal a factor (reference: score 0).
    return dict(_NO_ACTIVE_CODE)
  votes = [_factor_vae_votes(data, encode_fn, k, batch_size, n,
                             global_variances, active)
           for k, n in ((key_train, num_train), (key_eval, num_eval))]
  return _factor_vae_accuracies(votes, active.sum())


# --- Every representation of a PureEncoder at once. ---------------------------------------------
#
# On a jittable dataset, drawing the factors, rendering, encoding and reducing each batch to its
# point all run in one jitted program per set of points: a `lax.map` over steps of
# `observations_per_step` observations, so only the points ([P, C] per representation) come back
# to the host. Other datasets render on the host and encode chunk by chunk. Both paths draw the
# factor tuples exactly as `beta_vae_score` / `factor_vae_score` do, so equal keys give equal
# factors, and every representation is scored on the same observations, encoded once.


def _fixed_factor_batches_in_graph(data, key, num_points, batch_size, copies):
  """`_fixed_factor_batches` in JAX: the same draws, the same factors for the same key."""
  key_index, key_factors = jax.random.split(key)
  varying = jnp.asarray(np.flatnonzero(np.asarray(data.factor_sizes) > 1))
  fixed = varying[jax.random.randint(key_index, (num_points,), 0, varying.size)]
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
  fixed, factors = _fixed_factor_batches_in_graph(data, key, num_points, batch_size, copies)
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


_apply_jitted = jax.jit(_apply, static_argnums=0)


def _encode_on_host(encoder, observations, key):
  """``{name: codes}`` of host observations, a fixed-shape chunk at a time (one compile)."""
  observations = np.asarray(observations)
  chunk = min(_OBSERVATIONS_PER_CALL, len(observations))
  parts = []
  for index, start in enumerate(range(0, len(observations), chunk)):
    part = observations[start:start + chunk]
    padded = np.concatenate([part, np.repeat(part[:1], chunk - len(part), 0)])
    codes = _apply_jitted(encoder.functions, encoder.params, padded, jax.random.fold_in(key, index))
    parts.append({name: np.asarray(c)[:len(part)] for name, c in codes.items()})
  return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _render_and_encode_on_host(data, encoder, factors, key):
  """``{name: codes [..., C]}`` of host-rendered ``factors [..., F]``."""
  flat = factors.reshape(-1, factors.shape[-1])
  chunk = min(_OBSERVATIONS_PER_CALL, flat.shape[0])
  parts = [_encode_on_host(encoder, data.observations_from_factors(flat[start:start + chunk]),
                           jax.random.fold_in(key, start))
           for start in range(0, flat.shape[0], chunk)]
  return {name: np.concatenate([p[name] for p in parts]).reshape(*factors.shape[:-1], -1)
          for name in parts[0]}


def _points(data, encoder, key, noise_key, batch_size, num_points, copies, reduce, per_step):
  """``({name: reduce(codes)}, fixed)`` of fixed-factor batches, in graph where possible."""
  if data.jittable:
    points, fixed = _points_in_graph(data, encoder.functions, encoder.params, key, noise_key,
                                     batch_size, num_points, copies, reduce, per_step)
    return jax.tree.map(np.asarray, points), np.asarray(fixed)
  fixed, factors = _fixed_factor_batches(data, key, num_points, batch_size, copies)
  codes = _render_and_encode_on_host(data, encoder, np.moveaxis(factors, 0, 1), noise_key)
  return {name: reduce(c if copies == 2 else c[:, 0]) for name, c in codes.items()}, fixed


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
  return _encode_on_host(encoder, observations, noise_key), np.asarray(factors)


def _variance_estimate_codes(data, encoder, key, noise_key, num_points, per_step):
  """``{name: codes [N, C]}`` of ``sample_factors(key, N)``, as `factor_vae_score` draws them."""
  if data.jittable:
    return _codes_in_graph(data, encoder.functions, encoder.params, key, noise_key, num_points,
                           per_step)[0]
  return _render_and_encode_on_host(data, encoder, np.asarray(data.sample_factors(key, num_points)),
                                    noise_key)


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


@functools.partial(jax.jit, static_argnums=(0, 1, 3))
def _grid_statistics(data, statistics, params, per_step):
  """The encoder statistics of every grid point, in row-major order, in one program."""
  index = jnp.arange(data.num_combinations, dtype=jnp.int32)
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
  return _grid_statistics(data, encoder.statistics, encoder.params, observations_per_step)


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


# The keys of these two functions are `beta_vae_score`'s and `factor_vae_score`'s, so the factor
# tuples are the same for the same `key`: a deterministic representation scores the same. The
# encoder's noise comes from its own `noise_key`.


def beta_vae_scores(data, encoder, key, noise_key, batch_size=64, num_train=10000,
                    num_eval=5000, observations_per_step=_OBSERVATIONS_PER_STEP):
  """`beta_vae_score` of every representation of a `PureEncoder`: ``{name: scores}``."""
  _check_dataset(data, batch_size, num_train, num_eval)
  key_train, key_eval, key_model = jax.random.split(key, 3)
  noise_train, noise_eval = jax.random.split(noise_key)
  (x_train, y_train), (x_eval, y_eval) = (
      _points(data, encoder, k, noise, batch_size, n, 2, _pair_distance, observations_per_step)
      for k, noise, n in ((key_train, noise_train, num_train), (key_eval, noise_eval, num_eval)))
  return {name: _beta_vae_accuracies(x_train[name], y_train, x_eval[name], y_eval, key_model)
          for name in x_train}


def factor_vae_scores(data, encoder, key, noise_key, batch_size=64, num_train=10000,
                      num_eval=5000, num_variance_estimate=10000, prune_threshold=0.05,
                      observations_per_step=_OBSERVATIONS_PER_STEP):
  """`factor_vae_score` of every representation of a `PureEncoder`: ``{name: scores}``."""
  _check_dataset(data, batch_size, num_train, num_eval, num_variance_estimate)
  key_variance, key_train, key_eval = jax.random.split(key, 3)
  noise_variance, noise_train, noise_eval = jax.random.split(noise_key, 3)
  codes = _variance_estimate_codes(data, encoder, key_variance, noise_variance,
                                   num_variance_estimate, observations_per_step)
  local = [_points(data, encoder, k, noise, batch_size, n, 1, _batch_variance,
                   observations_per_step)
           for k, noise, n in ((key_train, noise_train, num_train),
                               (key_eval, noise_eval, num_eval))]
  scores = {}
  for name, representation in codes.items():
    global_variances, active = _prune(representation, prune_threshold)
    if not active.any():
      # Every code collapsed: no code can reveal a factor (reference: score 0).
      scores[name] = dict(_NO_ACTIVE_CODE)
      continue
    votes = [_votes(variances[name], fixed, global_variances, active, len(data.factor_sizes))
             for variances, fixed in local]
    scores[name] = _factor_vae_accuracies(votes, active.sum())
  return scores
