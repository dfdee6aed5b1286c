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
"""

import jax
import numpy as np

from vae.errors import UserInputError
from vae.evaluation import classifiers

# Observations per encode_fn call: bounds memory for image datasets.
_OBSERVATIONS_PER_CALL = 4096


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


def _beta_vae_points(data, encode_fn, key, batch_size, num_points):
  """Training points of the BetaVAE score: ``(mean |z1 − z2| [P, C], fixed [P])``."""
  fixed, factors = _fixed_factor_batches(data, key, num_points, batch_size, 2)
  codes = _encode(data, encode_fn, factors)
  return np.mean(np.abs(codes[0] - codes[1]), axis=1), fixed


def beta_vae_score(data, encode_fn, key, batch_size=64, num_train=10000,
                   num_eval=5000):
  """BetaVAE score (Higgins et al. 2017): ``train_accuracy``, ``eval_accuracy``."""
  _check_dataset(data, batch_size, num_train, num_eval)
  key_train, key_eval, key_model = jax.random.split(key, 3)
  x_train, y_train = _beta_vae_points(data, encode_fn, key_train, batch_size,
                                      num_train)
  x_eval, y_eval = _beta_vae_points(data, encode_fn, key_eval, batch_size,
                                    num_eval)
  if np.unique(y_train).size < 2:
    # Only one factor can be fixed: the classifier has nothing to tell apart.
    return {'train_accuracy': 1.0, 'eval_accuracy': 1.0}
  model = classifiers.fit_quietly(
      classifiers.reference_logistic_regression(
          classifiers.seed_from_key(key_model)), x_train, y_train)
  return {'train_accuracy': float(model.score(x_train, y_train)),
          'eval_accuracy': float(model.score(x_eval, y_eval))}


def _factor_vae_votes(data, encode_fn, key, batch_size, num_points,
                      global_variances, active):
  """Votes ``[num_factors, num_active]``: how often each code had the least variance."""
  fixed, factors = _fixed_factor_batches(data, key, num_points, batch_size, 1)
  codes = _encode(data, encode_fn, factors[0])[..., active]
  local = np.var(codes, axis=1, ddof=1) / global_variances[active]
  votes = np.zeros((len(data.factor_sizes), int(active.sum())), dtype=np.int64)
  np.add.at(votes, (fixed, np.argmin(local, axis=1)), 1)
  return votes


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
  global_variances = np.var(codes, axis=0, ddof=1)
  active = np.sqrt(global_variances) >= prune_threshold
  if not active.any():
    # Every code collapsed: no code can reveal a factor (reference: score 0).
    return {'train_accuracy': 0.0, 'eval_accuracy': 0.0, 'num_active_dims': 0.0}
  votes = [_factor_vae_votes(data, encode_fn, k, batch_size, n,
                             global_variances, active)
           for k, n in ((key_train, num_train), (key_eval, num_eval))]
  # The classifier maps each code to the factor that most often chose it.
  chosen = np.argmax(votes[0], axis=0)
  accuracy = [float(v[chosen, np.arange(v.shape[1])].sum() / v.sum())
              for v in votes]
  return {'train_accuracy': accuracy[0], 'eval_accuracy': accuracy[1],
          'num_active_dims': float(active.sum())}
