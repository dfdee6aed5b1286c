"""Seed statistics of a sweep: spreads, the variance share and the best-strength test."""

import itertools

import numpy as np
import pytest
from scipy import stats

from vae.studies import seed_statistics


def test_spread_is_numpys_linear_quartiles():
  # Closed form: for 1, 2, 3, 4 the linear-interpolation quartiles sit at 1.75, 2.5, 3.25.
  assert seed_statistics.spread([4, 1, 3, 2]) == {'median': 2.5, 'q25': 1.75, 'q75': 3.25,
                                                  'n': 4}


def test_variance_share_matches_scipys_one_way_anova():
  # Reference: scipy's F statistic; SS_between / SS_total = F(k−1) / (F(k−1) + N − k).
  rng = np.random.default_rng(0)
  groups = [rng.normal(loc, 1.0, size) for loc, size in ((0, 3), (1, 4), (3, 5))]
  f = stats.f_oneway(*groups).statistic
  k, n = len(groups), sum(len(g) for g in groups)
  assert seed_statistics.variance_share(groups) == pytest.approx(f * (k - 1) / (f * (k - 1) + n - k))
  assert seed_statistics.variance_share([[1, 1], [1, 1]]) is None  # Nothing varies.


@pytest.mark.parametrize('seeds,expected', [(3, 2 / 20), (5, 2 / 252)])
def test_two_separated_strengths_give_the_exact_rank_test_p(seeds, expected):
  # Closed form: of the C(2n, n) ways to split 2n seeds, two put one strength wholly above the
  # other; Mann–Whitney's exact two-sided p is 2 / C(2n, n).
  best = seed_statistics.best_strength({1.0: list(range(seeds)), 4.0: list(range(10, 10 + seeds))})
  assert (best.best, best.runner_up) == (4.0, 1.0)
  assert best.p_value == pytest.approx(expected)
  assert best.smallest_p == pytest.approx(expected)
  assert best.distinguishable == (expected < seed_statistics.ALPHA)
  mann_whitney = stats.mannwhitneyu(range(10, 10 + seeds), range(seeds), method='exact')
  assert best.p_value == pytest.approx(mann_whitney.pvalue)


def _brute_force_p(groups):
  """Every assignment of the pooled values to groups of the same sizes, enumerated."""
  def u_best_over_runner_up(split):
    order = np.argsort([-np.median(g) for g in split], kind='stable')
    a, b = split[order[0]], split[order[1]]
    return sum((x > y) + 0.5 * (x == y) for x in a for y in b)

  pooled = np.concatenate(groups)
  sizes = [len(g) for g in groups]
  observed = u_best_over_runner_up(groups)
  hits = total = 0
  for perm in itertools.permutations(range(len(pooled))):
    split = np.split(pooled[list(perm)], np.cumsum(sizes)[:-1])
    hits += u_best_over_runner_up(split) >= observed - 1e-12
    total += 1
  return hits / total


def test_best_strength_p_equals_a_brute_force_enumeration():
  rng = np.random.default_rng(3)
  groups = {1.0: rng.normal(0, 1, 2), 2.0: rng.normal(1, 1, 3), 8.0: rng.normal(2, 1, 2)}
  best = seed_statistics.best_strength(groups)
  assert best.p_value == pytest.approx(_brute_force_p([groups[b] for b in sorted(groups)]))


def test_equal_strengths_are_called_distinguishable_at_most_at_the_nominal_rate():
  # Under the null (every strength's seeds from one distribution) an exact level-α test rejects
  # with probability ≤ α; 400 tables bound the rate to α + 3 standard errors.
  rng = np.random.default_rng(0)
  trials = 400
  calls = sum(seed_statistics.best_strength(
      {1.0: rng.normal(size=5), 4.0: rng.normal(size=5)}, seed=i).distinguishable
      for i in range(trials))
  alpha = seed_statistics.ALPHA
  assert calls / trials <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / trials)


def test_a_clear_difference_is_found_with_five_seeds():
  # Shifted by 3 standard deviations, 5 seeds apiece: the strengths separate wholly in most draws.
  rng = np.random.default_rng(1)
  found = [seed_statistics.best_strength({1.0: rng.normal(0, 1, 5), 4.0: rng.normal(3, 1, 5)}
                                         ).distinguishable for _ in range(50)]
  assert np.mean(found) >= 0.8


def test_one_seed_cannot_be_tested():
  best = seed_statistics.best_strength({1.0: [0.3], 4.0: [0.5]})
  assert best.best == 4.0 and best.p_value is None and not best.distinguishable
