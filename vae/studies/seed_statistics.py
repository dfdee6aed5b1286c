"""What a sweep's seeds support: spreads over seeds, the share of variance between strengths, and
whether the best strength stands out from seed noise.

A sweep trains n seeds per strength. Locatello et al. 2019 found that the seed moves a score as
much as the hyperparameter does, so a summary never names a best strength from medians alone:
`best_strength` asks a permutation test whether the gap between the best and the runner-up
strength's medians is larger than relabelling the seeds across strengths gives.
"""

import dataclasses
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05  # The test's level: a best strength is named only below it.
_RESAMPLES = 9999  # Beyond this many relabellings the null is sampled (seeded), not enumerated.


def spread(values):
  """{'median', 'q25', 'q75', 'n'} of one strength's values over seeds (numpy's linear
  interpolation between order statistics for the quartiles)."""
  values = np.asarray(values, dtype=np.float64)
  q25, median, q75 = np.percentile(values, [25, 50, 75])
  return {'median': float(median), 'q25': float(q25), 'q75': float(q75), 'n': int(values.size)}


def variance_share(groups):
  """The share of the values' total sum of squares that lies between the groups' means (one-way
  ANOVA's SS_between / SS_total), or None where the values do not vary or a group is empty.

  1 − the share lies within the groups: the seeds' part.
  """
  groups = [np.asarray(g, dtype=np.float64) for g in groups]
  if not groups or any(g.size == 0 for g in groups):
    return None
  values = np.concatenate(groups)
  total = np.sum((values - values.mean()) ** 2)
  if not total > 0:
    return None
  between = sum(g.size * (g.mean() - values.mean()) ** 2 for g in groups)
  return float(between / total)


def _u_of_best_over_runner_up(*samples, axis=-1):
  """Mann–Whitney's U of the highest-median group over the second-highest (ties count ½),
  vectorized over scipy's resample axis: the groups are ranked afresh in every relabelling."""
  samples = [np.moveaxis(np.asarray(s), axis, -1) for s in samples]
  medians = np.stack([np.median(s, axis=-1) for s in samples])  # [groups, ...]
  order = np.argsort(-medians, axis=0, kind='stable')
  best, runner_up = order[0], order[1]
  u = np.zeros(medians.shape[1:])
  for i, a in enumerate(samples):
    for j, b in enumerate(samples):
      if i != j:
        diff = a[..., :, None] - b[..., None, :]
        pairs = np.sum(diff > 0, axis=(-2, -1)) + 0.5 * np.sum(diff == 0, axis=(-2, -1))
        u = np.where((best == i) & (runner_up == j), pairs, u)
  return u


def _permutation_p(samples, seed):
  result = stats.permutation_test(samples, _u_of_best_over_runner_up,
                                  permutation_type='independent', alternative='greater',
                                  n_resamples=_RESAMPLES, vectorized=True,
                                  rng=np.random.default_rng(seed))
  return float(result.pvalue)


@dataclasses.dataclass(frozen=True)
class Best:
  """The best group (a strength, or a method) by median and how sure the seeds make it."""
  best: Any  # The group with the highest median.
  median: float
  runner_up: Any  # The group with the second-highest median.
  p_value: float | None  # None where a strength has a single seed: nothing can be tested.
  smallest_p: float | None  # The p-value of a table whose strengths are wholly separated.
  min_seeds: int

  @property
  def distinguishable(self):
    return self.p_value is not None and self.p_value < ALPHA


def best_strength(by_strength, seed=0):
  """The `Best` of {strength: values over seeds} (two strengths or more; higher is better; the
  keys may be any sortable labels, e.g. the methods compared at one strength).

  The test: Mann–Whitney's U of the best strength's seeds over the runner-up's, with its null
  from relabelling every seed across strengths (an exact or, past `_RESAMPLES` relabellings,
  seeded Monte Carlo permutation test). Best and runner-up are chosen by median afresh in every
  relabelling, so choosing them from the data is part of the null. `smallest_p` is the same test
  on a table of the same sizes whose strengths do not overlap: below it no data can go, so with
  few seeds a researcher sees at once that no difference could have been shown.
  """
  strengths = sorted(by_strength)
  if len(strengths) < 2:
    raise ValueError('best_strength needs two strengths or more')
  samples = [np.asarray(by_strength[b], dtype=np.float64) for b in strengths]
  medians = np.array([np.median(s) for s in samples])
  order = np.argsort(-medians, kind='stable')
  min_seeds = min(s.size for s in samples)
  p_value = smallest_p = None
  if min_seeds >= 2:
    p_value = _permutation_p(samples, seed)
    offsets = np.cumsum([0] + [s.size for s in samples])
    separated = [np.arange(lo, hi, dtype=np.float64) for lo, hi in zip(offsets, offsets[1:])]
    smallest_p = _permutation_p(separated, seed)
  return Best(strengths[order[0]], float(medians[order[0]]), strengths[order[1]], p_value,
              smallest_p, min_seeds)
