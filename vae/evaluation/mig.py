"""Mutual Information Gap (Chen et al. 2018), as in disentanglement_lib.

For each factor: the mutual information of its best code minus that of its
second-best code, divided by the factor's entropy; averaged over factors.
Codes are discretized with a per-code 20-bin histogram (the reference
default). Factors with a single value (entropy 0) are excluded from the
average, since the normalization is undefined for them.
"""

import numpy as np

from vae.evaluation import discretize
from vae.evaluation import gaps
from vae.evaluation import information
from vae.evaluation import metric
from vae.evaluation import validation


def mig_from_information(mi, factor_entropies):
  """MIG from a ``[num_codes, num_factors]`` MI matrix and the factor entropies."""
  return float(np.mean(gaps.top_two_gap(mi) / factor_entropies))


def mig(codes, factors, num_bins=discretize.NUM_BINS):
  """Mutual Information Gap of ``codes [N, C]`` w.r.t. ``factors [N, F]``.

  Returns ``{'discrete_mig': score}``; see the module docstring.
  """
  codes, factors = validation.codes_and_factors(codes, factors)
  validation.check_enough_samples(codes.shape[0], num_bins)
  (factors,) = validation.keep_varying(factors)
  mi = information.mutual_information_matrix(
      discretize.histogram_discretize(codes, num_bins), factors)
  return {'discrete_mig': mig_from_information(mi, information.entropies(factors))}


METRIC = metric.Metric('mig', ('discrete_mig',), metric.of_train(mig),
                       least=(metric.histogram('MIG', discretize.NUM_BINS),))
