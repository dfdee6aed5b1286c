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


def fit_quietly(model, x, y):
  """Fits ``model``, silencing sklearn's ConvergenceWarning; returns the model."""
  from sklearn import exceptions  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    # liblinear can stop at max_iter on inputs that do not separate the
    # classes (e.g. an uninformative code); the reference scores the model
    # as fitted, and so do we.
    warnings.simplefilter('ignore', exceptions.ConvergenceWarning)
    return model.fit(x, y)


def seed_from_key(key):
  """A numpy/sklearn seed derived from a JAX key (for sklearn's own randomness)."""
  return int(np.asarray(jax.random.randint(key, (), 0, 2 ** 31 - 1)))
