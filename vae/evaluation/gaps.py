"""The top-two gap of a score matrix, shared by MIG and SAP."""

import numpy as np


def top_two_gap(scores):
  """Per column of ``scores [num_codes, num_factors]``: best minus second-best code.

  With a single code the second-best is taken as 0, so the gap is the score.
  """
  ordered = np.sort(scores, axis=0)[::-1]
  second = ordered[1] if ordered.shape[0] > 1 else np.zeros_like(ordered[0])
  return ordered[0] - second
