"""The sklearn classifiers the reference library uses, with its era's defaults.

disentanglement_lib (2019) called ``LogisticRegression()`` under sklearn 0.20,
whose defaults were ``solver='liblinear', multi_class='ovr', C=1``; current
sklearn defaults to a multinomial lbfgs model instead, so the old behaviour is
spelled out here once for every metric that uses it.
"""

import warnings

import jax
import numpy as np


def reference_logistic_regression(seed=0):
  """One-vs-rest L2 logistic regression, C = 1, liblinear (sklearn 0.20 defaults)."""
  from sklearn import linear_model, multiclass  # pylint: disable=g-import-not-at-top
  return multiclass.OneVsRestClassifier(
      linear_model.LogisticRegression(C=1.0, solver='liblinear',
                                      random_state=seed))


def reference_logistic_regression_cv():
  """One-vs-rest L2 logistic regression, C among 10 values chosen by accuracy over KFold(5)
  unshuffled folds, lbfgs (``LogisticRegressionCV(Cs=10, cv=KFold(5))`` under sklearn 0.20).

  Each binary problem sees every point, so a fold whose training part lacks a class still fits
  (on one label), as 0.20's built-in one-vs-rest did at 10 points."""
  # pylint: disable-next=g-import-not-at-top
  from sklearn import linear_model, model_selection, multiclass
  return multiclass.OneVsRestClassifier(
      # Accuracy selects C, as 0.20's default scoring did; l1_ratios=(0,) is the plain L2 penalty
      # (sklearn 1.9 warns on its None default).
      linear_model.LogisticRegressionCV(Cs=10, cv=model_selection.KFold(n_splits=5),
                                        scoring='accuracy', l1_ratios=(0.0,),
                                        use_legacy_attributes=False))


def fit_quietly(model, x, y):
  """Fits ``model``, silencing sklearn's ConvergenceWarning; returns the model."""
  from sklearn import exceptions  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    # liblinear can stop at max_iter on inputs that do not separate the
    # classes (e.g. an uninformative code); the reference scores the model
    # as fitted, and so do we.
    warnings.simplefilter('ignore', exceptions.ConvergenceWarning)
    # A fold of few points may hold one class only; the reference fitted it all the same.
    warnings.simplefilter('ignore', UserWarning)
    return model.fit(x, y)


def seed_from_key(key):
  """A numpy/sklearn seed derived from a JAX key (for sklearn's own randomness)."""
  return int(np.asarray(jax.random.randint(key, (), 0, 2 ** 31 - 1)))
