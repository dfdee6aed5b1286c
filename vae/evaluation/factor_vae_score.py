"""FactorVAE score (Kim & Mnih 2018), on every representation of a model at once.

Codes whose std over ``num_variance_estimate`` random observations is below ``prune_threshold``
are pruned (the reference's absolute threshold on the std, 0.05); a point is the active code with
the least variance, normalized by its global variance, over a batch sharing the fixed factor
(`sampled_scores.fixed_factor_batches`, one copy); a majority vote maps each code to a factor.
The reference's defaults: batch 64, 10,000 training and 5,000 evaluation points, 10,000 for the
variance estimate.
"""

import jax
import numpy as np

from vae.evaluation import metric
from vae.evaluation import sampled_scores

_OWN_KEYS = ('train_accuracy', 'eval_accuracy', 'num_active_dims')
NO_ACTIVE_CODE = {'train_accuracy': 0.0, 'eval_accuracy': 0.0, 'num_active_dims': 0.0}


def _batch_variance(codes):
  """Unbiased variance over the batch of codes ``[..., B, C]`` (numpy or JAX)."""
  return codes.var(axis=-2, ddof=1)


def votes(local_variances, fixed, global_variances, active, num_factors):
  """Votes ``[num_factors, num_active]`` from each batch's code variances ``[P, C]``: how often
  each active code had the least variance."""
  local = np.asarray(local_variances, np.float64)[:, active] / global_variances[active]
  counts = np.zeros((num_factors, int(active.sum())), dtype=np.int64)
  np.add.at(counts, (np.asarray(fixed), np.argmin(local, axis=1)), 1)
  return counts


def prune(codes, prune_threshold):
  """``(global variances [C], active [C])`` of the variance-estimate codes ``[N, C]``."""
  global_variances = np.var(np.asarray(codes, np.float64), axis=0, ddof=1)
  return global_variances, np.sqrt(global_variances) >= prune_threshold


def accuracies(train_and_eval_votes, num_active):
  """The majority-vote classifier's accuracies from the train and eval votes."""
  # The classifier maps each code to the factor that most often chose it.
  chosen = np.argmax(train_and_eval_votes[0], axis=0)
  accuracy = [float(v[chosen, np.arange(v.shape[1])].sum() / v.sum())
              for v in train_and_eval_votes]
  return {'train_accuracy': accuracy[0], 'eval_accuracy': accuracy[1],
          'num_active_dims': float(num_active)}


def factor_vae_scores(data, encoder, key, noise_key, batch_size=64, num_train=10000,
                      num_eval=5000, num_variance_estimate=10000, prune_threshold=0.05,
                      observations_per_step=sampled_scores._OBSERVATIONS_PER_STEP):
  """``{name: {'train_accuracy', 'eval_accuracy', 'num_active_dims'}}`` of every representation
  of a `sampled_scores.PureEncoder`; ``noise_key`` feeds the encoder's noise."""
  sampled_scores.check_dataset(data, batch_size, num_train, num_eval, num_variance_estimate)
  key_variance, key_train, key_eval = jax.random.split(key, 3)
  noise_variance, noise_train, noise_eval = jax.random.split(noise_key, 3)
  codes = sampled_scores.codes_of_factors(data, encoder, key_variance, noise_variance,
                                          num_variance_estimate, observations_per_step)
  local = [sampled_scores._points(data, encoder, k, noise, batch_size, n, 1, _batch_variance,
                                  observations_per_step)
           for k, noise, n in ((key_train, noise_train, num_train),
                               (key_eval, noise_eval, num_eval))]
  scores = {}
  for name, representation in codes.items():
    global_variances, active = prune(representation, prune_threshold)
    if not active.any():
      # Every code collapsed: no code can reveal a factor (reference: score 0).
      scores[name] = dict(NO_ACTIVE_CODE)
      continue
    scores[name] = accuracies([votes(variances[name], fixed, global_variances, active,
                                     len(data.factor_sizes)) for variances, fixed in local],
                              active.sum())
  return scores


def _score(inputs):
  sizes = inputs.sizes
  return metric.prefixed('factor_vae', factor_vae_scores(
      inputs.dataset, inputs.encoder, inputs.keys[METRIC.stream],
      inputs.noise_keys[METRIC.stream], sizes.sampled_batch_size, sizes.sampled_num_train,
      sizes.sampled_num_eval, sizes.num_variance_estimate,
      observations_per_step=inputs.per_step))


def _observations(sizes):
  """A batch per point, and the variance estimate."""
  return (sizes.sampled_batch_size * (sizes.sampled_num_train + sizes.sampled_num_eval)
          + sizes.num_variance_estimate)


METRIC = metric.Metric(
    'factor_vae', tuple(f'factor_vae_{key}' for key in _OWN_KEYS), _score, stream=3,
    least=(metric.Least('sampled_batch_size', 2, 'FactorVAE variances', 'need two per batch'),
           metric.Least('sampled_num_train', 1), metric.Least('sampled_num_eval', 1),
           metric.Least('num_variance_estimate', 2, 'the FactorVAE global variance',
                        'needs two points')),
    observations=_observations)
