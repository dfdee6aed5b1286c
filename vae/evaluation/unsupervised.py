"""Unsupervised scores of a representation, as in disentanglement_lib.

From the covariance ``Σ`` of the codes (Locatello et al. 2019, section 3 and
appendix): how far the Gaussian ``N(0, Σ)`` is from the product of its
marginals ``N(0, diag Σ)``,

* ``gaussian_total_correlation``: ``KL(N(0, Σ) ‖ N(0, diag Σ))
  = ½ (Σ_i log Σ_ii − log det Σ)``;
* ``gaussian_wasserstein_correlation``: the squared 2-Wasserstein distance
  ``tr Σ + tr D − 2 tr (D^½ Σ D^½)^½`` with ``D = diag Σ``, i.e.
  ``2 tr Σ − 2 tr (D^½ Σ D^½)^½``; ``_norm`` divides it by ``tr Σ``;

and ``mutual_info_score``: the mean discrete mutual information between
pairs of distinct codes (20-bin histograms).

Constant codes are independent of everything: they are left out of the total
correlation (whose formula needs ``Σ_ii > 0``) and contribute 0 elsewhere.
A singular covariance among the remaining codes (e.g. duplicated codes) has
infinite total correlation, reported as ``inf``.
"""

import numpy as np

from vae.evaluation import discretize
from vae.evaluation import information
from vae.evaluation import metric
from vae.evaluation import validation


def gaussian_total_correlation(cov):
  """Total correlation in nats of ``N(0, cov)``; constant dimensions are skipped."""
  cov = np.asarray(cov, dtype=np.float64)
  keep = np.diag(cov) > 0
  cov = cov[np.ix_(keep, keep)]
  if cov.size == 0:
    return 0.0
  sign, logdet = np.linalg.slogdet(cov)
  if sign <= 0:
    return float('inf')
  return float(0.5 * (np.sum(np.log(np.diag(cov))) - logdet))


def gaussian_wasserstein_correlation(cov):
  """Squared 2-Wasserstein distance between ``N(0, cov)`` and ``N(0, diag cov)``."""
  cov = np.asarray(cov, dtype=np.float64)
  root_diag = np.sqrt(np.diag(cov))
  # D^½ Σ D^½ is symmetric PSD, so its square root's trace is the sum of the
  # square roots of its eigenvalues (clipped: rounding can make them -1e-17).
  eigenvalues = np.linalg.eigvalsh(root_diag[:, None] * cov * root_diag[None, :])
  root_trace = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
  return float(2.0 * np.trace(cov) - 2.0 * root_trace)


def mean_pairwise_information(discrete_codes):
  """Mean mutual information over ordered pairs of distinct codes."""
  num_codes = discrete_codes.shape[1]
  if num_codes < 2:
    return 0.0
  mi = information.mutual_information_matrix(discrete_codes, discrete_codes)
  np.fill_diagonal(mi, 0.0)
  return float(mi.sum() / (num_codes ** 2 - num_codes))


def unsupervised(codes, num_bins=discretize.NUM_BINS):
  """Unsupervised scores of codes ``[N, num_codes]``; see the module docstring."""
  codes = validation.as_matrix(codes, 'codes')
  validation.check_enough_samples(codes.shape[0], num_bins)
  cov = np.atleast_2d(np.cov(codes, rowvar=False))
  wasserstein = gaussian_wasserstein_correlation(cov)
  trace = np.trace(cov)
  return {
      'gaussian_total_correlation': gaussian_total_correlation(cov),
      'gaussian_wasserstein_correlation': wasserstein,
      'gaussian_wasserstein_correlation_norm':
          wasserstein / trace if trace > 0 else 0.0,
      'mutual_info_score': mean_pairwise_information(
          discretize.histogram_discretize(codes, num_bins)),
  }


METRIC = metric.Metric(
    'unsupervised', ('gaussian_total_correlation', 'gaussian_wasserstein_correlation',
                     'gaussian_wasserstein_correlation_norm', 'mutual_info_score'),
    metric.of_codes(unsupervised),
    least=(metric.histogram('the unsupervised scores', discretize.NUM_BINS),))
