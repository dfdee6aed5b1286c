"""Pairs of observations that differ in k ground-truth factors, the weak supervision of
Locatello et al. 2020 ("Weakly-Supervised Disentanglement Without Compromises").

A pair's first factors are uniform on the grid. Then k of its F factors, a uniformly random
subset of that size, take new values: under the `uniform` draw each changed value is uniform
over the factor's other values, so exactly k factors differ. k is fixed (1 … F−1) or `rnd`, drawn
per pair uniformly from 1 … F−1.

The `disentanglement_lib` draw reproduces that library's sampler (`simple_dynamics` in
`methods/weak/train_weak_lib.py`) for exact comparisons: each pair changes 1 factor or k (k
drawn as above under `rnd`) with probability ½ each, a fixed k included, and a changed factor's
new value is uniform over all its values, so it may equal the old one (then fewer than k
factors differ).

Factor sampling is pure JAX. A jittable source renders the pair in-graph, like any batch; a host
source (tfds) renders the drawn factors on the host.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vae.data.ground_truth import GroundTruthDataset

RANDOM_K = 'rnd'
DRAWS = ('uniform', 'disentanglement_lib')


def parse_num_changed(value) -> int | None:
  """`num_changed_factors` ('1', 2 or 'rnd') as an int, None for `rnd` (already checked)."""
  return None if value == RANDOM_K else int(value)


def num_changed(key, n, num_factors, k, draw):
  """int32 [n]: how many factors each of n pairs redraws (`k` None: uniform on 1 … F−1)."""
  k_key, coin_key = jax.random.split(key)
  if k is None:
    counts = jax.random.randint(k_key, (n,), 1, num_factors, jnp.int32)
  else:
    counts = jnp.full((n,), k, jnp.int32)
  if draw == 'disentanglement_lib':
    counts = jnp.where(jax.random.bernoulli(coin_key, 0.5, (n,)), 1, counts)
  return counts


def changed_mask(key, counts, num_factors):
  """bool [n, F]: row i marks `counts[i]` factors, a uniformly random subset of that size.

  A row's factors ranked by i.i.d. uniform keys are a uniform random permutation; its first
  `counts[i]` are a uniform subset of that size.
  """
  keys = jax.random.uniform(key, (counts.shape[0], num_factors))
  ranks = jnp.argsort(jnp.argsort(keys, axis=1), axis=1)
  return ranks < counts[:, None]


def redraw(key, factors, sizes, mask, draw):
  """`factors` [n, F] with the `mask`ed entries drawn anew: under `uniform` from the factor's
  other values, under `disentanglement_lib` from all its values."""
  sizes = jnp.asarray(sizes, jnp.int32)
  if draw == 'uniform':  # old + an offset uniform on 1 … size−1, modulo size: any other value.
    fresh = (factors + jax.random.randint(key, factors.shape, 1, sizes, jnp.int32)) % sizes
  else:
    fresh = jax.random.randint(key, factors.shape, 0, sizes, jnp.int32)
  return jnp.where(mask, fresh, factors)


def pair_factors(key, sample_factors, sizes, k, draw, n):
  """(first [n, F], second [n, F], changed bool [n, F]) of n pairs; `changed` marks the factors
  drawn anew (under `disentanglement_lib` one may keep its value)."""
  first_key, count_key, subset_key, value_key = jax.random.split(key, 4)
  first = jnp.asarray(sample_factors(first_key, n), jnp.int32)
  changed = changed_mask(subset_key, num_changed(count_key, n, len(sizes), k, draw), len(sizes))
  return first, redraw(value_key, first, sizes, changed, draw), changed


@dataclasses.dataclass(frozen=True)
class PairSampler:
  """`(key, n) -> {'x1', 'x2': [n, *observation_shape], 'changed': bool [n, F]}`: n pairs of
  `dataset` (which has a factor grid) differing in `k` factors (None: `rnd`) drawn by `draw`.

  Hashable, so the compiled programs that take it are cached like those of a source's `sample`.
  """

  dataset: GroundTruthDataset
  k: int | None
  draw: str

  def factors(self, key, n):
    return pair_factors(key, self.dataset.sample_factors, self.dataset.factor_sizes, self.k,
                        self.draw, n)

  def __call__(self, key, n):
    # Each view rendered on its own: a batch split over devices renders every pair where its
    # factors were drawn (one render of both views concatenated would move rows between them).
    first, second, changed = self.factors(key, n)
    if self.dataset.jittable:
      return {'x1': self.dataset.observations_from_factors(first),
              'x2': self.dataset.observations_from_factors(second), 'changed': changed}
    return {'x1': self._host_observations(first), 'x2': self._host_observations(second),
            'changed': np.asarray(changed)}

  def _host_observations(self, factors):
    return np.asarray(self.dataset.observations_from_factors(np.asarray(factors)), np.float32)
