"""The in-graph BetaVAE / FactorVAE path against the host reference (`host_reference`) and the
host-rendering path of non-jittable datasets.

The encoder counts the pixels of 4×4 blocks of the 64×64 dSprites image: whole numbers, exact in
float32 whatever the batching, so equal factor draws must give equal scores, not close ones.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.evaluation import host_reference
from vae import errors
from vae import preemption
from vae.data import dsprites
from vae.data import dsprites_variants
from vae.data import ground_truth
from vae.evaluation import beta_vae_score
from vae.evaluation import factor_vae_score
from vae.evaluation import sampled_scores

_NOISE = 3.0  # The sampled representation's noise scale, in pixels.


def _block_counts(params, observations):
  """Pixel counts of the 16 blocks, times ``params`` (1: the counts themselves)."""
  n = observations.shape[0]
  return params * observations.reshape(n, 4, 16, 4, 16).sum(axis=(2, 4)).reshape(n, 16)


def _with_noise(counts, key):
  """{'mean': the counts, 'sampled': the counts plus _NOISE·N(0, 1)}."""
  return {'mean': counts, 'sampled': counts + _NOISE * jax.random.normal(key, counts.shape)}


def _encoder():
  return sampled_scores.PureEncoder(_block_counts, _with_noise, jnp.float32(1.0))


def _host_mean(observations):
  """The mean representation as a host callable: the reference's `encode_fn` interface."""
  return np.asarray(_block_counts(1.0, jnp.asarray(observations)))


def _on_host(data):
  """The same dataset, marked non-jittable: the scores take the host path."""
  return dataclasses.replace(data, jittable=False)


def test_mean_representation_scores_equal_the_host_path():
  data, key, noise_key = dsprites.dataset(), jax.random.key(5), jax.random.key(6)
  sizes = {'batch_size': 8, 'num_train': 60, 'num_eval': 40}
  beta = host_reference.beta_vae_score(data, _host_mean, key, **sizes)
  assert beta_vae_score.beta_vae_scores(data, _encoder(), key, noise_key, **sizes)['mean'] == beta
  assert beta_vae_score.beta_vae_scores(_on_host(data), _encoder(), key, noise_key,
                                  **sizes)['mean'] == beta
  factor = host_reference.factor_vae_score(data, _host_mean, key, num_variance_estimate=200,
                                           **sizes)
  assert factor['num_active_dims'] > 0
  in_graph = factor_vae_score.factor_vae_scores(data, _encoder(), key, noise_key,
                                          num_variance_estimate=200, **sizes)
  assert in_graph['mean'] == factor


def test_codes_do_not_depend_on_the_step_size():
  data, key, noise_key = dsprites.dataset(), jax.random.key(1), jax.random.key(2)
  runs = [sampled_scores.codes_and_factors(data, _encoder(), key, noise_key, 100, per_step)
          for per_step in (32, 64)]
  (codes, factors), (other_codes, other_factors) = runs
  # The factors are `sample_with_factors`'s, as the host path draws them.
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
                                 beta_vae_score._pair_distance, 64)[0]
          for d, seed in ((data, 4), (_on_host(data), 5))]
  assert not np.array_equal(runs[0]['sampled'], runs[1]['sampled'])
  (a, a_error), (b, b_error) = (_mean_and_error(run['sampled'] - run['mean']) for run in runs)
  assert abs(a - b) < 4 * np.hypot(a_error, b_error)
  np.testing.assert_array_equal(runs[0]['mean'], runs[1]['mean'])


def _small_grid():
  """Procedural dSprites on a sub-grid of 3·2·4·8·8 = 1,536 tuples: quick to tabulate."""
  sizes = (3, 2, 4, 8, 8)
  return dataclasses.replace(
      dsprites.dataset(), factor_sizes=sizes,
      sample_factors=functools.partial(ground_truth.uniform_factors, sizes))


def test_tabulated_scores_of_the_mean_representation_equal_the_rendered_ones():
  # Whole pixel counts: exact whatever the batching, so the lookups must give the same numbers.
  data, key, noise_key = _small_grid(), jax.random.key(7), jax.random.key(8)
  table_data, table_encoder = sampled_scores.tabulated(data, _encoder(), 100)
  assert table_encoder.params.shape == (data.num_combinations, 16)
  sizes = {'batch_size': 8, 'num_train': 60, 'num_eval': 40}
  for score, extra in ((beta_vae_score.beta_vae_scores, {}),
                       (factor_vae_score.factor_vae_scores, {'num_variance_estimate': 200})):
    rendered = score(data, _encoder(), key, noise_key, **sizes, **extra)
    looked_up = score(table_data, table_encoder, key, noise_key, **sizes, **extra)
    assert looked_up['mean'] == rendered['mean']
  codes, factors = sampled_scores.codes_and_factors(table_data, table_encoder, key, noise_key, 50)
  np.testing.assert_array_equal(factors, np.asarray(data.sample_with_factors(key, 50)[1]))
  np.testing.assert_array_equal(codes['mean'], _host_mean(data.observations_from_factors(factors)))


def test_tabulated_sampled_representation_agrees_in_distribution():
  # Each lookup draws its own noise, as each freshly encoded observation does: the same tuple
  # looked up twice gets two samples, and BetaVAE's sampled points average alike on both paths.
  data = _small_grid()
  table_data, table_encoder = sampled_scores.tabulated(data, _encoder(), 256)
  twice = table_encoder.represent(table_encoder.statistics(table_encoder.params,
                                                           jnp.array([5, 5])), jax.random.key(0))
  np.testing.assert_array_equal(twice['mean'][0], twice['mean'][1])
  assert not np.array_equal(twice['sampled'][0], twice['sampled'][1])
  key = jax.random.key(3)
  runs = [sampled_scores._points(d, e, key, jax.random.key(seed), 8, 100, 2,
                                 beta_vae_score._pair_distance, 64)[0]
          for d, e, seed in ((data, _encoder(), 4), (table_data, table_encoder, 5))]
  (a, a_error), (b, b_error) = (_mean_and_error(run['sampled'] - run['mean']) for run in runs)
  assert abs(a - b) < 4 * np.hypot(a_error, b_error)
  np.testing.assert_array_equal(runs[0]['mean'], runs[1]['mean'])


def test_per_image_nuisance_is_not_tabulated():
  assert sampled_scores.can_tabulate(dsprites.dataset())
  assert not sampled_scores.can_tabulate(dsprites_variants.color_dataset())
  assert not sampled_scores.can_tabulate(_on_host(dsprites.dataset()))


def test_codes_of_given_factors_encode_exactly_those_tuples():
  # Reference: the block counts of the same tuples rendered and counted on the host, in numpy.
  data = dsprites.dataset()
  factors = np.array(data.sample_factors(jax.random.key(7), 37))
  factors[:, 1] = 2  # An intervention: every tuple's second factor set to one value.
  expected = _host_mean(np.asarray(data.observations_from_factors(jnp.asarray(factors))))
  for source in (data, _on_host(data)):
    codes = sampled_scores.codes_of_given_factors(source, _encoder(), factors, jax.random.key(8),
                                                  per_step=16)
    np.testing.assert_array_equal(codes['mean'], expected)
    assert codes['sampled'].shape == expected.shape
    assert not np.array_equal(codes['sampled'], expected)


def test_the_grid_is_encoded_in_parts_a_stop_can_end_between(monkeypatch):
  data, encoder = _small_grid(), _encoder()
  whole = sampled_scores.grid_statistics(data, encoder, 100)  # 1,536 points: one call.
  monkeypatch.setattr(sampled_scores, 'GRID_POINTS_PER_CALL', 500)  # 4 calls, the last short.
  parts = sampled_scores.grid_statistics(data, encoder, 100)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), parts, whole)
  calls = []

  def stop_at_third(what):
    calls.append(what)
    if len(calls) == 3:
      raise errors.Interrupted(15, f'SIGTERM: stopped while {what}')

  monkeypatch.setattr(preemption, 'stop_point', stop_at_third)
  with pytest.raises(errors.Interrupted, match='encoding the factor grid'):
    sampled_scores.grid_statistics(data, encoder, 100)
  assert calls == ['encoding the factor grid'] * 3
