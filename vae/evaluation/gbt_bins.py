"""Binning of classifier inputs for the histogram booster (:mod:`hist_gbt`).

Split candidates per feature: sklearn's own (midpoints between consecutive
distinct values) when there are at most ``max_bins`` distinct values, else
``max_bins − 1`` gap-aware quantile thresholds. :func:`prepare` also keeps
what every boosting stage reuses: each sample's bins, per-bin counts and value
ranges, and each feature's sorted sample order
(for the exact search inside bins).
"""

from typing import NamedTuple

import numpy as np


def bin_edges(column, max_bins):
  """Split thresholds of one feature, at most ``max_bins − 1`` of them.

  All midpoints between distinct values when there are few enough (sklearn's
  own candidates); otherwise one per quantile, moved to the widest gap
  between distinct values within half a bin of the quantile, so that a gap
  between clusters of values is cut where sklearn would cut it.
  """
  distinct, counts = np.unique(column, return_counts=True)
  midpoints = (distinct[:-1] + distinct[1:]) / 2.0
  if distinct.size <= max_bins:
    return midpoints
  # Cutting at midpoints[i] leaves rank[i] samples on the left.
  rank = np.cumsum(counts)[:-1]
  gaps = np.diff(distinct)
  width = rank[-1] / max_bins
  targets = width * np.arange(1, max_bins)
  first = np.searchsorted(rank, targets - width / 2, side='left')
  last = np.searchsorted(rank, targets + width / 2, side='right')
  chosen = [lo + np.argmax(gaps[lo:hi]) if hi > lo else min(lo, gaps.size - 1)
            for lo, hi in zip(first, last)]
  return np.unique(midpoints[chosen])


def apply_bins(x, edges):
  """Bin index per entry: the number of thresholds strictly below the value."""
  # A value equal to a threshold goes left, as sklearn's `x <= threshold`.
  return np.stack([np.searchsorted(e, x[:, j], side='left')
                   for j, e in enumerate(edges)], axis=1)


class BinnedData(NamedTuple):
  """The training set as bins and in sorted order, the test set as values."""
  train: np.ndarray        # [F, N] bin index of each training value
  x_train: np.ndarray      # [F, N] training values
  x_test: np.ndarray       # [F, N_test] test values
  count: np.ndarray        # [F, B] training samples per bin (root counts)
  bin_min: np.ndarray      # [F, B] smallest training value in each bin
  bin_max: np.ndarray      # [F, B] largest training value in each bin
  order: np.ndarray        # [F, N] samples sorted by value, per feature
  bin_start: np.ndarray    # [F, B + 1] where each bin starts in that order
  inner: np.ndarray        # [F, B] bool: the bin holds several distinct values


def prepare(x_train, x_test, max_bins):
  """Bins the training features once for all stages."""
  edges = [bin_edges(x_train[:, j], max_bins) for j in range(x_train.shape[1])]
  num_bins = max(e.size for e in edges) + 1
  binned = apply_bins(x_train, edges)                   # [N, F]
  num_samples, num_features = binned.shape
  features = np.arange(num_features)
  bin_min = np.full((num_features, num_bins), np.inf)
  bin_max = np.full((num_features, num_bins), -np.inf)
  np.minimum.at(bin_min, (features[None], binned), x_train)
  np.maximum.at(bin_max, (features[None], binned), x_train)
  count = np.stack([np.bincount(binned[:, j], minlength=num_bins) for j in features]).astype(
      np.float64)
  # Bins are value ranges, so each is a run of this order (for refinement).
  order = np.argsort(x_train, axis=0, kind='stable').T.copy()
  bin_start = np.zeros((num_features, num_bins + 1), np.intp)
  bin_start[:, 1:] = np.cumsum(count, axis=1)
  # Only such bins have cuts inside them to search exactly.
  inner = bin_min < bin_max
  return BinnedData(binned.T.copy(), x_train.T.copy(), x_test.T.copy(),
                    count, bin_min, bin_max, order, bin_start, inner)
