"""Histogram discretization of continuous codes, as the reference library does.

disentanglement_lib (Locatello et al. 2019) bins each code separately with
``np.histogram``'s equal-width edges over the code's own range and maps values
with ``np.digitize`` against all edges but the last, so bin labels run
``1 .. num_bins`` and the maximum falls in the top bin.
"""

import numpy as np

NUM_BINS = 20  # The reference's bins per code.


def histogram_discretize(codes, num_bins=NUM_BINS):
  """Integer bin labels ``1..num_bins`` for each column of ``codes [N, D]``."""
  codes = np.asarray(codes, dtype=np.float64)
  labels = np.empty(codes.shape, dtype=np.int64)
  for j in range(codes.shape[1]):
    edges = np.histogram(codes[:, j], bins=num_bins)[1]
    # Dropping the last edge keeps the maximum in bin num_bins, not num_bins+1.
    labels[:, j] = np.digitize(codes[:, j], edges[:-1])
  return labels
