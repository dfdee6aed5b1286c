"""Entropy and mutual information of discrete variables, in nats.

Computed from contingency tables; equal to ``sklearn.metrics.mutual_info_score``
(which the reference library calls) without its input checks, so a
``[num_codes, num_factors]`` matrix costs one ``bincount`` per pair.
"""

import numpy as np


def _labels(values):
  """Dense labels ``0..k-1`` and their count ``k``."""
  uniques, inverse = np.unique(values, return_inverse=True)
  return inverse.ravel(), uniques.size


def mutual_information(a, b):
  """Mutual information ``I(a; b)`` in nats of two label vectors of equal length.

  A single-valued variable carries none: exactly 0, as sklearn returns. The formula would leave
  rounding there (the marginal of one value sums to 1 - 1e-16 for some counts, so ~2e-16), and
  modularity would take such a code as informative.
  """
  a, num_a = _labels(a)
  b, num_b = _labels(b)
  if num_a == 1 or num_b == 1:
    return 0.0
  joint = np.bincount(a * num_b + b, minlength=num_a * num_b)
  joint = joint.reshape(num_a, num_b) / a.size
  pa, pb = joint.sum(axis=1), joint.sum(axis=0)
  nz = joint > 0
  mi = np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz]))
  # Rounding can leave -1e-16 for independent variables; MI is non-negative.
  return max(float(mi), 0.0)


def entropy(labels):
  """Entropy ``H(labels)`` in nats of one label vector."""
  _, counts = np.unique(labels, return_counts=True)
  p = counts / counts.sum()
  return float(-np.sum(p * np.log(p)))


def mutual_information_matrix(a, b):
  """``m[i, j] = I(a[:, i]; b[:, j])`` for label matrices ``a [N, I]``, ``b [N, J]``."""
  return np.array([[mutual_information(a[:, i], b[:, j])
                    for j in range(b.shape[1])] for i in range(a.shape[1])])


def entropies(labels):
  """Entropy of each column of ``labels [N, J]``."""
  return np.array([entropy(labels[:, j]) for j in range(labels.shape[1])])
