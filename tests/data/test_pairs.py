"""The pair sampler against counting references: exactly k factors differ, the changed set is
uniform over subsets (chi-square), `rnd` draws k uniformly, the library's draw has its own law,
and rendered pairs are the renderings of their factor tuples."""

import itertools

import jax
import numpy as np
import pytest
from scipy import stats

from tests import host_dsprites
from vae.data import dsprites
from vae.data import pairs

SIZES = dsprites.FACTOR_SIZES  # 3, 6, 40, 32, 32: F = 5.
F = len(SIZES)
N = 20_000


def _factors(k, draw='uniform', n=N, seed=0):
  first, second, changed = jax.jit(
      lambda key: pairs.pair_factors(key, dsprites.sample_factors, SIZES, k, draw, n))(
          jax.random.key(seed))
  return np.asarray(first), np.asarray(second), np.asarray(changed)


def _uniform_p(observed, categories):
  """Pearson's chi-square p of counts over `categories` against the uniform law (scipy)."""
  counts = np.array([np.sum(observed == c) for c in categories])
  assert counts.sum() == len(observed)  # Nothing outside the categories.
  return stats.chisquare(counts).pvalue


@pytest.mark.parametrize('k', [1, 2, 3, 4])
def test_exactly_k_factors_differ_and_the_changed_set_is_uniform(k):
  first, second, changed = _factors(k)
  assert np.array_equal(first != second, changed)  # Every redrawn value is a new one.
  assert np.all(changed.sum(axis=1) == k)
  assert np.all((0 <= second) & (second < np.asarray(SIZES)))
  # Chi-square over the C(5, k) subsets (reference: each subset has probability 1 / C(5, k)).
  subsets = list(itertools.combinations(range(F), k))
  index = {s: i for i, s in enumerate(subsets)}
  drawn = np.array([index[tuple(np.flatnonzero(row))] for row in changed])
  assert _uniform_p(drawn, range(len(subsets))) > 1e-3


def test_a_changed_value_is_uniform_over_the_factors_other_values():
  first, second, changed = _factors(1)
  rows = changed[:, 1]  # scale: 6 values, so 5 offsets (new − old mod 6) of probability 1/5.
  offsets = (second[rows, 1] - first[rows, 1]) % SIZES[1]
  assert _uniform_p(offsets, range(1, SIZES[1])) > 1e-3


def test_rnd_draws_k_uniformly_from_one_to_f_minus_one():
  first, second, changed = _factors(None)
  k = changed.sum(axis=1)
  assert np.array_equal((first != second).sum(axis=1), k)
  assert _uniform_p(k, range(1, F)) > 1e-3


def test_the_reference_librarys_draw():
  # disentanglement_lib's simple_dynamics: 1 or k factors redrawn with probability 1/2 each, a
  # redrawn value uniform over all the factor's values (so it keeps its value with 1/size).
  first, second, changed = _factors(3, 'disentanglement_lib')
  count = changed.sum(axis=1)
  assert set(np.unique(count)) == {1, 3}
  assert stats.binomtest(int(np.sum(count == 1)), N, 0.5).pvalue > 1e-3
  kept = (first == second) & changed
  # Over the changed entries, P(same value) = mean of 1/size over the factors chosen.
  expected = np.sum(changed / np.asarray(SIZES)) / changed.sum()
  assert kept.sum() / changed.sum() == pytest.approx(expected, abs=4 * np.sqrt(expected / N))
  # Under rnd: k_obs uniform on 1 … 4, then 1 or k_obs, so P(1) = 1/2 + 1/8, P(j > 1) = 1/8.
  count = _factors(None, 'disentanglement_lib')[2].sum(axis=1)
  observed = np.array([np.sum(count == j) for j in range(1, F)])
  assert stats.chisquare(observed, N * np.array([5, 1, 1, 1]) / 8).pvalue > 1e-3


def test_rendered_pairs_are_their_factor_tuples_rendered_alone():
  dataset = dsprites.dataset()
  sampler = pairs.PairSampler(dataset, None, 'uniform')
  key = jax.random.key(3)
  first, second, changed = sampler.factors(key, 6)
  batch = jax.jit(sampler, static_argnums=1)(key, 6)
  for i in range(6):
    np.testing.assert_array_equal(batch['x1'][i], dsprites.render(first[i:i + 1])[0])
    np.testing.assert_array_equal(batch['x2'][i], dsprites.render(second[i:i + 1])[0])
  np.testing.assert_array_equal(batch['changed'], changed)
  # A host source draws the same factors and renders them on the host.
  host = pairs.PairSampler(host_dsprites.dataset(), None, 'uniform')(key, 6)
  assert all(isinstance(v, np.ndarray) for v in host.values())
  for name in ('x1', 'x2', 'changed'):
    np.testing.assert_array_equal(host[name], batch[name])
