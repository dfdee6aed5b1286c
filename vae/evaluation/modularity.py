"""Modularity and explicitness (Ridgeway & Zemel 2018), as in disentanglement_lib.

Modularity: for each code, the squared mutual informations with the factors
(``m_ij²``, codes discretized by a 20-bin histogram) are compared with the
ideal template that keeps only the largest,
``1 − Σ_{j≠best} m_ij² / (m_best² (num_factors − 1))``; a code with no
information about any factor scores 0; the score is the mean over codes.

Explicitness: per factor, a one-vs-rest L2 logistic regression (C = 1,
liblinear: the reference's ``LogisticRegression()`` defaults at publication)
on all standardized codes; the score is the ROC AUC averaged over classes,
then over factors. Classes absent from the evaluated split are skipped (their
AUC is undefined; a split holding one class only scores NaN). Factors with a
single training value are dropped.
"""

import numpy as np

from vae.evaluation import classifiers
from vae.evaluation import discretize
from vae.evaluation import information
from vae.evaluation import metric
from vae.evaluation import validation


def modularity(mutual_info):
  """Modularity score from a ``[num_codes, num_factors]`` mutual-information matrix."""
  squared = np.square(np.asarray(mutual_info, dtype=np.float64))
  best = squared.max(axis=1)
  num_factors = squared.shape[1]
  if num_factors == 1:
    # One factor: every informative code is trivially modular.
    return float(np.mean(best > 0))
  with np.errstate(divide='ignore', invalid='ignore'):
    deviation = (squared.sum(axis=1) - best) / (best * (num_factors - 1))
  return float(np.mean(np.where(best > 0, 1.0 - deviation, 0.0)))


def _standardize(train, test):
  """Scales both splits by the training mean and std (constant codes left at 0)."""
  mean, std = train.mean(axis=0), train.std(axis=0)
  std = np.where(std > 0, std, 1.0)
  return (train - mean) / std, (test - mean) / std


def _mean_auc(classes, probabilities, labels):
  """One-vs-rest ROC AUC averaged over the classes present in ``labels``."""
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  aucs = []
  for k, label in enumerate(classes):
    positive = labels == label
    if positive.any() and not positive.all():
      aucs.append(metrics.roc_auc_score(positive, probabilities[:, k]))
  return float(np.mean(aucs)) if aucs else float('nan')


def explicitness_per_factor(codes_train, factor_train, codes_test, factor_test):
  """``(train AUC, test AUC)`` of a one-vs-rest logistic regression for one factor."""
  model = classifiers.fit_quietly(
      classifiers.reference_logistic_regression(), codes_train, factor_train)
  return (_mean_auc(model.classes_, model.predict_proba(codes_train), factor_train),
          _mean_auc(model.classes_, model.predict_proba(codes_test), factor_test))


def modularity_explicitness(codes_train, factors_train, codes_test,
                            factors_test, num_bins=discretize.NUM_BINS):
  """Modularity and explicitness of codes ``[N, num_codes]`` w.r.t. factors ``[N, F]``.

  Returns ``modularity_score``, ``explicitness_score_train`` and
  ``explicitness_score_test``.
  """
  codes_train, factors_train, codes_test, factors_test = validation.train_test(
      codes_train, factors_train, codes_test, factors_test)
  validation.check_enough_samples(codes_train.shape[0], num_bins, 'codes_train')
  mutual_info = information.mutual_information_matrix(
      discretize.histogram_discretize(codes_train, num_bins), factors_train)
  train, test = _standardize(codes_train, codes_test)
  explicitness = np.array([
      explicitness_per_factor(train, factors_train[:, j], test, factors_test[:, j])
      for j in range(factors_train.shape[1])])
  return {
      'modularity_score': modularity(mutual_info),
      'explicitness_score_train': float(np.mean(explicitness[:, 0])),
      'explicitness_score_test': float(np.mean(explicitness[:, 1])),
  }


METRIC = metric.Metric(
    'modularity', ('modularity_score', 'explicitness_score_train', 'explicitness_score_test'),
    metric.of_split(modularity_explicitness),
    least=(metric.histogram('modularity', discretize.NUM_BINS),
           metric.Least('num_test', 2, 'the explicitness ROC AUC', 'needs two test points')))
