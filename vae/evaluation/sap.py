"""Separated Attribute Predictability (Kumar et al. 2018), as in disentanglement_lib.

Score matrix ``S [num_codes, num_factors]``: for discrete factors, the test
accuracy of a linear SVM (``LinearSVC(C=0.01, class_weight='balanced')``,
the reference's settings) that predicts factor ``j`` from code ``i`` alone;
for continuous factors, the R² of a linear fit of the factor on the code
(squared correlation, 0 when the code is constant). SAP is the mean over
factors of the gap between the two best codes. Factors with a single
training value are dropped.
"""

import numpy as np

from vae.evaluation import classifiers
from vae.evaluation import gaps
from vae.evaluation import metric
from vae.evaluation import validation

# Below this variance a code is treated as constant (the reference's 1e-12).
_MIN_VARIANCE = 1e-12


def _r_squared(code, factor):
  """Squared correlation of one code with one factor; 0 for a constant code."""
  cov = np.cov(code, factor, ddof=1)
  if cov[0, 0] <= _MIN_VARIANCE:
    return 0.0
  return float(cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]))


def _svm_accuracy(code_train, factor_train, code_test, factor_test):
  """Test accuracy of a linear SVM on one code, the reference's settings."""
  from sklearn import svm  # pylint: disable=g-import-not-at-top
  model = classifiers.fit_quietly(
      svm.LinearSVC(C=0.01, class_weight='balanced'), code_train[:, None],
      factor_train)
  return float(np.mean(model.predict(code_test[:, None]) == factor_test))


def sap_score_matrix(codes_train, factors_train, codes_test, factors_test,
                     continuous_factors=False):
  """``S[i, j]``: how well code ``i`` alone predicts factor ``j``."""
  num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
  scores = np.zeros((num_codes, num_factors))
  for i in range(num_codes):
    for j in range(num_factors):
      if continuous_factors:
        scores[i, j] = _r_squared(codes_train[:, i], factors_train[:, j])
      else:
        scores[i, j] = _svm_accuracy(codes_train[:, i], factors_train[:, j],
                                     codes_test[:, i], factors_test[:, j])
  return scores


def sap(codes_train, factors_train, codes_test, factors_test,
        continuous_factors=False):
  """SAP score of codes ``[N, num_codes]`` w.r.t. factors ``[N, F]``.

  Returns ``{'sap_score': ...}``. With ``continuous_factors=True`` only the
  training arrays are used (R² needs no held-out set), as in the reference.
  """
  codes_train, factors_train, codes_test, factors_test = validation.train_test(
      codes_train, factors_train, codes_test, factors_test,
      discrete=not continuous_factors)
  scores = sap_score_matrix(codes_train, factors_train, codes_test,
                            factors_test, continuous_factors)
  return {'sap_score': float(np.mean(gaps.top_two_gap(scores)))}


METRIC = metric.Metric('sap', ('sap_score',), metric.of_split(sap))
