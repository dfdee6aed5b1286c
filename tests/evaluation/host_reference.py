"""BetaVAE and FactorVAE scores drawn and encoded on the host, through a plain `encode_fn`.

The reference the in-graph production path (`vae.evaluation.beta_vae_score`, `vae.evaluation.factor_vae_score`)
is checked against: the factor tuples are drawn with numpy indexing from the same JAX draws, the
observations rendered and encoded ``_OBSERVATIONS_PER_CALL`` at a time by ``encode_fn``
(``observations -> codes [n, num_codes]``), and the points reduced and classified by the
production functions. Equal keys give equal factor tuples, so a deterministic encoder scores the
same on both paths.
"""

import jax
import numpy as np

from vae.evaluation import beta_vae_score as beta_vae_lib
from vae.evaluation import factor_vae_score as factor_vae_lib
from vae.evaluation import sampled_scores

_OBSERVATIONS_PER_CALL = 4096


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
  return beta_vae_lib._pair_distance(np.moveaxis(codes, 0, -3)), fixed


def beta_vae_score(data, encode_fn, key, batch_size=64, num_train=10000,
                   num_eval=5000):
  """BetaVAE score (Higgins et al. 2017): ``train_accuracy``, ``eval_accuracy``."""
  sampled_scores.check_dataset(data, batch_size, num_train, num_eval)
  key_train, key_eval, key_model = jax.random.split(key, 3)
  x_train, y_train = _beta_vae_points(data, encode_fn, key_train, batch_size,
                                      num_train)
  x_eval, y_eval = _beta_vae_points(data, encode_fn, key_eval, batch_size,
                                    num_eval)
  return beta_vae_lib.accuracies(x_train, y_train, x_eval, y_eval, key_model)


def _factor_vae_votes(data, encode_fn, key, batch_size, num_points,
                      global_variances, active):
  """Votes ``[num_factors, num_active]``: how often each code had the least variance."""
  fixed, factors = _fixed_factor_batches(data, key, num_points, batch_size, 1)
  local = factor_vae_lib._batch_variance(_encode(data, encode_fn, factors[0]))
  return factor_vae_lib.votes(local, fixed, global_variances, active, len(data.factor_sizes))


def factor_vae_score(data, encode_fn, key, batch_size=64, num_train=10000,
                     num_eval=5000, num_variance_estimate=10000,
                     prune_threshold=0.05):
  """FactorVAE score (Kim & Mnih 2018).

  Returns ``train_accuracy``, ``eval_accuracy`` and ``num_active_dims``.
  """
  sampled_scores.check_dataset(data, batch_size, num_train, num_eval, num_variance_estimate)
  key_variance, key_train, key_eval = jax.random.split(key, 3)
  codes = _encode(data, encode_fn, np.asarray(
      data.sample_factors(key_variance, num_variance_estimate)))
  global_variances, active = factor_vae_lib.prune(codes, prune_threshold)
  if not active.any():
    # Every code collapsed: no code can reveal a factor (reference: score 0).
    return dict(factor_vae_lib.NO_ACTIVE_CODE)
  votes = [_factor_vae_votes(data, encode_fn, k, batch_size, n,
                             global_variances, active)
           for k, n in ((key_train, num_train), (key_eval, num_eval))]
  return factor_vae_lib.accuracies(votes, active.sum())
