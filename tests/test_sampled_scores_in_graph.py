"""The in-graph BetaVAE / FactorVAE path against the host path it replaces on jittable datasets.

The encoder counts the pixels of 4×4 blocks of the 64×64 dSprites image: whole numbers, exact in
float32 whatever the batching, so equal factor draws must give equal scores, not close ones.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vae.data import dsprites
from vae.evaluation import sampled_scores

_NOISE = 3.0  # The sampled representation's noise scale, in pixels.


def _block_counts(params, observations, key):
  """{'mean': pixel counts of 16 blocks, 'sampled': the counts plus params·N(0, 1) noise}."""
  n = observations.shape[0]
  counts = observations.reshape(n, 4, 16, 4, 16).sum(axis=(2, 4)).reshape(n, 16)
  return {'mean': counts, 'sampled': counts + params * jax.random.normal(key, counts.shape)}


def _encoder():
  return sampled_scores.PureEncoder(_block_counts, jnp.float32(_NOISE))


def _host_mean(observations):
  """The mean representation as a host callable: today's `encode_fn` interface."""
  return np.asarray(_block_counts(0.0, jnp.asarray(observations), jax.random.key(0))['mean'])


def _on_host(data):
  """The same dataset, marked non-jittable: the scores take the host path."""
  return dataclasses.replace(data, jittable=False)


def test_mean_representation_scores_equal_the_host_path():
  data, key, noise_key = dsprites.dataset(), jax.random.key(5), jax.random.key(6)
  sizes = {'batch_size': 8, 'num_train': 60, 'num_eval': 40}
  beta = sampled_scores.beta_vae_score(data, _host_mean, key, **sizes)
  assert sampled_scores.beta_vae_scores(data, _encoder(), key, noise_key, **sizes)['mean'] == beta
  assert sampled_scores.beta_vae_scores(_on_host(data), _encoder(), key, noise_key,
                                        **sizes)['mean'] == beta
  factor = sampled_scores.factor_vae_score(data, _host_mean, key, num_variance_estimate=200,
                                           **sizes)
  assert factor['num_active_dims'] > 0
  in_graph = sampled_scores.factor_vae_scores(data, _encoder(), key, noise_key,
                                              num_variance_estimate=200, **sizes)
  assert in_graph['mean'] == factor


def test_codes_do_not_depend_on_the_step_size():
  data, key, noise_key = dsprites.dataset(), jax.random.key(1), jax.random.key(2)
  runs = [sampled_scores.codes_and_factors(data, _encoder(), key, noise_key, 100, per_step)
          for per_step in (32, 64)]
  (codes, factors), (other_codes, other_factors) = runs
  # The factors are `sample_with_factors`'s, as the host path (and today's suite) draws them.
  np.testing.assert_array_equal(factors, np.asarray(data.sample_with_factors(key, 100)[1]))
  np.testing.assert_array_equal(factors, other_factors)
  np.testing.assert_array_equal(codes['mean'], other_codes['mean'])
  np.testing.assert_array_equal(codes['mean'], _host_mean(data.observations_from_factors(factors)))


def _mean_and_error(points):
  return points.mean(), points.std(ddof=1) / np.sqrt(points.size)


def test_sampled_representation_agrees_with_the_host_path_in_distribution():
  # The noise differs between the paths (per step in graph, per chunk on the host), so the points
  # agree in distribution only: their averages within 4 standard errors of the difference.
  data, key = dsprites.dataset(), jax.random.key(3)
  runs = [sampled_scores._points(d, _encoder(), key, jax.random.key(seed), 8, 100, 2,
                                 sampled_scores._pair_distance, 64)[0]
          for d, seed in ((data, 4), (_on_host(data), 5))]
  assert not np.array_equal(runs[0]['sampled'], runs[1]['sampled'])
  (a, a_error), (b, b_error) = (_mean_and_error(run['sampled'] - run['mean']) for run in runs)
  assert abs(a - b) < 4 * np.hypot(a_error, b_error)
  np.testing.assert_array_equal(runs[0]['mean'], runs[1]['mean'])
