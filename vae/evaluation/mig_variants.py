"""Three variants of the Mutual Information Gap: MIG-sup, DCIMIG and JEMMIG.

They are the MIG relatives reviewed by Carbonneau et al. 2022 ("Measuring disentanglement: a
review of metrics"), scored as their reference code (ubisoft-laforge-disentanglement-metrics)
does, on the same mutual information matrix as the library's MIG: codes discretized into 20
equal-width bins each, factors taken as labels, information in nats (every score is a ratio
of informations, so the base cancels).

- MIG-sup (Li et al. 2020) looks from the codes' side: for each code, the gap between the
  information it holds about its best and its second-best factor, divided by the code's own
  entropy; averaged over codes. It is 1 when every code holds one factor and nothing else.
  (Li et al.'s own code divides each information by the factor's entropy, as MIG does, and
  averages over the codes whose mean varies; the normalization here is Carbonneau et al.'s.)
- DCIMIG (Sepliarskaia et al. 2019) gives each code's gap to the factor it holds most about,
  keeps each factor's largest gap (0 if no code chose it) and divides their sum by the sum of
  the factors' entropies, so a factor captured by no code pulls the score down.
- JEMMIG (Do & Tran 2020) charges each factor the joint entropy of the factor and its best
  code minus their information, plus the information its second-best code holds:
  ``H(f, z*) - I(f; z*) + I(f; z°)``, which is 0 for a perfect code. Divided by its bound
  ``H(f) + log(num_bins)`` and subtracted from 1, as Carbonneau et al. report it, it is a score
  in [0, 1] where higher is better; the module reports the mean over factors.

Factors with a single value are dropped (as in MIG). A code that the discretization leaves
single-valued (a collapsed latent) has entropy 0: MIG-sup leaves it out of its average, where
the reference divides 0 by 0 and returns NaN; it adds nothing to DCIMIG or JEMMIG.
"""

import numpy as np

from vae.evaluation import discretize
from vae.evaluation import gaps
from vae.evaluation import information
from vae.evaluation import metric
from vae.evaluation import validation


def mig_sup_from_information(mi, code_entropies):
  """MIG-sup from ``mi [num_codes, num_factors]`` and each code's entropy.

  Codes of entropy 0 are left out (their normalized gap is 0/0); with none left it is 0.
  """
  kept = code_entropies > 0
  if not kept.any():
    return 0.0
  code_gaps = gaps.top_two_gap(mi.T)  # Per code: best minus second-best factor.
  return float(np.mean(code_gaps[kept] / code_entropies[kept]))


def dcimig_from_information(mi, factor_entropies):
  """DCIMIG from ``mi [num_codes, num_factors]`` and each factor's entropy."""
  code_gaps = gaps.top_two_gap(mi.T)
  owners = np.argmax(mi, axis=1)  # The factor each code holds most about.
  best = np.zeros(mi.shape[1])
  # A tie at the top gives a gap of 0, so which tied factor owns it does not matter.
  np.maximum.at(best, owners, code_gaps)
  return float(np.sum(best) / np.sum(factor_entropies))


def jemmig_terms(mi, code_entropies, factor_entropies):
  """Per factor, ``H(f, z*) - I(f; z*) + I(f; z°)`` in the units of ``mi``.

  ``z*`` is the code with the most information about the factor (the first on a tie) and
  ``z°`` the second (information 0 with a single code). ``H(f, z*)`` comes from the identity
  ``H(f) + H(z*) - I(f; z*)``.
  """
  columns = np.arange(mi.shape[1])
  top = np.argmax(mi, axis=0)
  top_information = mi[top, columns]
  joint = factor_entropies + code_entropies[top] - top_information
  return joint - gaps.top_two_gap(mi)


def jemmig_from_information(mi, code_entropies, factor_entropies, num_bins):
  """Normalized JEMMIG, ``1 - mean_f terms_f / (H(f) + log(num_bins))``, in [0, 1]."""
  terms = jemmig_terms(mi, code_entropies, factor_entropies)
  return float(np.mean(1.0 - terms / (factor_entropies + np.log(num_bins))))


def information_of(codes, factors, num_bins=discretize.NUM_BINS):
  """``(mi [C, F], code entropies, factor entropies)`` of validated, discretized inputs."""
  codes, factors = validation.codes_and_factors(codes, factors)
  validation.check_enough_samples(codes.shape[0], num_bins)
  (factors,) = validation.keep_varying(factors)
  labels = discretize.histogram_discretize(codes, num_bins)
  mi = information.mutual_information_matrix(labels, factors)
  return mi, information.entropies(labels), information.entropies(factors)


def mig_variants(codes, factors, num_bins=discretize.NUM_BINS):
  """MIG-sup, DCIMIG and normalized JEMMIG of ``codes [N, C]`` w.r.t. ``factors [N, F]``.

  Returns ``{'mig_sup': ..., 'dcimig': ..., 'jemmig': ...}``, each in [0, 1] with 1 for a
  code that holds each factor in one latent and nothing else; see the module docstring.
  """
  mi, code_entropies, factor_entropies = information_of(codes, factors, num_bins)
  return {
      'mig_sup': mig_sup_from_information(mi, code_entropies),
      'dcimig': dcimig_from_information(mi, factor_entropies),
      'jemmig': jemmig_from_information(mi, code_entropies, factor_entropies, num_bins),
  }


METRIC = metric.Metric('mig_variants', ('mig_sup', 'dcimig', 'jemmig'),
                       metric.of_train(mig_variants),
                       least=(metric.histogram('the MIG variants', discretize.NUM_BINS),))
