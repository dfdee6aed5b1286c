"""The Interventional Robustness Score (Suter et al. 2019), as disentanglement_lib computes it.

On the suite's train points: the factors are histogram-discretized (20 bins, as the reference
does), latents that never vary are dropped. For latent j and factor i, the deviation of z_j
within the points that share one value of factor i, taken at the `diff_quantile` quantile of
|z_j − E[z_j | value]| and averaged over the values, is divided by the largest deviation of z_j
from its mean; IRS_ij = 1 − that ratio. A latent's score is its best factor's IRS_ij, and the
model's is their average weighted by each latent's largest deviation. `diff_quantile` is 0.99 by
default (`--config.disentanglement.irs_diff_quantile`; 1.0 is the paper's maximum).

`irs_num_active_dims` counts the latents that vary. disentanglement_lib's `num_active_dims` sums
the varying latents' values instead of counting them (`np.sum(active_mus)`), a number with no
meaning; BUILD_NOTES.md and the test show both.
"""

import numpy as np

from vae.evaluation import discretize
from vae.evaluation import metric

DIFF_QUANTILE = 0.99  # The reference's default.


def active_codes(codes):
  """The columns of `codes [N, D]` whose variance is above 0."""
  codes = np.asarray(codes, np.float64)
  return codes[:, codes.var(axis=0) > 0]


def irs_matrix(codes, factors, diff_quantile=DIFF_QUANTILE):
  """(IRS_ij [D, F], each latent's largest deviation from its mean [D]) of varying codes."""
  codes = np.asarray(codes, np.float64)
  largest = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
  deviation = np.zeros((codes.shape[1], factors.shape[1]))
  for i in range(factors.shape[1]):
    values = np.unique(factors[:, i])
    for value in values:
      within = codes[factors[:, i] == value]
      spread = np.abs(within - within.mean(axis=0))
      deviation[:, i] += np.percentile(spread, diff_quantile * 100, axis=0)
    deviation[:, i] /= len(values)
  return 1.0 - deviation / largest[:, None], largest


def irs(codes, factors, diff_quantile=DIFF_QUANTILE):
  """{'irs', 'irs_num_active_dims'} of codes [N, D] against integer factors [N, F]."""
  active = active_codes(codes)
  if active.shape[1] == 0:
    return {'irs': 0.0, 'irs_num_active_dims': 0.0}
  matrix, largest = irs_matrix(active, discretize.histogram_discretize(factors), diff_quantile)
  # Every kept latent varies, so each weight is above 0.
  score = float(np.average(matrix.max(axis=1), weights=largest))
  return {'irs': score, 'irs_num_active_dims': float(active.shape[1])}


def _score(inputs):
  quantile = inputs.sizes.get('irs_diff_quantile', DIFF_QUANTILE)
  return {name: irs(codes, inputs.factors_train, quantile)
          for name, codes in inputs.codes_train.items()}


METRIC = metric.Metric('irs', ('irs', 'irs_num_active_dims'), _score)
