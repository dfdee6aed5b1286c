"""DCI: Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018).

As in disentanglement_lib: one gradient-boosted tree classifier per factor
predicts the factor from all codes; its impurity-based feature importances
form column ``j`` of the importance matrix ``R [num_codes, num_factors]``.

* disentanglement ``D = Σ_i ρ_i (1 − H_F(R_i·))`` with ``H_F`` the entropy
  (log base num_factors) of code ``i``'s normalized row and ``ρ_i`` the code's
  share of the total importance (the paper's weighting);
* completeness ``C = Σ_j ρ_j (1 − H_C(R_·j))`` with ``H_C`` in log base
  num_codes over factor ``j``'s normalized column, weighted by the factor's
  share of importance as the reference does (each column of sklearn's
  normalized importances sums to 1, so this is the plain mean over factors);
* informativeness = mean classifier accuracy, train and test (the reference's
  choice; the paper reports prediction error).

Backends for the classifier: ``'hist_gbt'`` (default) runs sklearn's
``GradientBoostingClassifier()`` algorithm and defaults on histograms
(:mod:`vae.evaluation.hist_gbt`, about 10x faster); ``'sklearn_gbt'`` is the
reference itself. Factors with a single training value are dropped.
"""

import concurrent.futures
import os

import numpy as np

from vae import preemption
from vae.errors import UserInputError
from vae.evaluation import hist_gbt
from vae.evaluation import metric
from vae.evaluation import validation

# The reference adds 1e-11 inside the entropy so an all-zero row is uniform.
_SMOOTHING = 1e-11


def _sklearn_gbt(x_train, y_train, x_test, y_test, seed):
  """The reference: GradientBoostingClassifier() importances and accuracies."""
  from sklearn import ensemble  # pylint: disable=g-import-not-at-top
  model = ensemble.GradientBoostingClassifier(random_state=seed)
  model.fit(x_train, y_train)
  return (np.abs(model.feature_importances_),
          float(np.mean(model.predict(x_train) == y_train)),
          float(np.mean(model.predict(x_test) == y_test)))


def _hist_gbt(x_train, y_train, x_test, y_test, seed):
  """The histogram re-implementation of the same classifier."""
  return hist_gbt.fit_importance(x_train, y_train, x_test, y_test, seed=seed)


BACKENDS = {'hist_gbt': _hist_gbt, 'sklearn_gbt': _sklearn_gbt}


def importance_matrices(code_sets, factors_train, factors_test, backend='hist_gbt', seed=0):
  """``{name: (R [num_codes, F], train accuracies [F], test accuracies [F])}`` of each
  representation's ``(codes_train, codes_test)`` in ``code_sets``, against the same factors.

  Inputs must already be validated (see :func:`dci_of_each`).
  """
  if backend not in BACKENDS:
    raise UserInputError(
        f'backend must be one of {sorted(BACKENDS)}, got {backend!r}')
  fit = BACKENDS[backend]
  num_factors = factors_train.shape[1]

  def fit_factor(task):
    preemption.stop_point('scoring dci')  # In a worker: raised where the fits are gathered.
    name, j = task
    codes_train, codes_test = code_sets[name]
    return fit(codes_train, factors_train[:, j], codes_test, factors_test[:, j], seed + j)

  # Every fit of every representation is independent, and they spend most of their time in
  # numpy/scipy kernels that release the GIL, so one pool runs them all. A fit costs about its
  # factor's number of classes (one tree per class per stage): longest first, the workers finish
  # together. Each fit seeds its own generator: results do not depend on the scheduling.
  tasks = sorted(((name, j) for name in code_sets for j in range(num_factors)),
                 key=lambda task: -np.unique(factors_train[:, task[1]]).size)
  workers = min(len(tasks), os.cpu_count() or 1)
  if workers > 1:
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      fitted = dict(zip(tasks, pool.map(fit_factor, tasks)))
  else:
    fitted = {task: fit_factor(task) for task in tasks}
  matrices = {}
  for name in code_sets:
    columns = [fitted[name, j] for j in range(num_factors)]
    matrices[name] = (np.stack([c[0] for c in columns], axis=1),
                      np.array([c[1] for c in columns]), np.array([c[2] for c in columns]))
  return matrices


def importance_matrix(codes_train, factors_train, codes_test, factors_test,
                      backend='hist_gbt', seed=0):
  """``(R [num_codes, num_factors], train accuracies [F], test accuracies [F])``.

  Inputs must already be validated (see :func:`dci`).
  """
  return importance_matrices({None: (codes_train, codes_test)}, factors_train, factors_test,
                             backend, seed)[None]


def _normalized_entropy(probabilities, axis):
  """Entropy along ``axis`` in log base (length of that axis)."""
  p = probabilities + _SMOOTHING
  p = p / p.sum(axis=axis, keepdims=True)
  num = probabilities.shape[axis]
  if num == 1:
    # A single code (or factor) has nothing to be spread over.
    return np.zeros(p.shape[1 - axis])
  return -np.sum(p * np.log(p), axis=axis) / np.log(num)


def _weights(importance, axis):
  """Each row's (axis=1) or column's (axis=0) share of the total importance."""
  if importance.sum() == 0:
    # The reference's convention when nothing is important: equal weights.
    importance = np.ones_like(importance)
  return importance.sum(axis=axis) / importance.sum()


def disentanglement(importance):
  """D from an importance matrix ``[num_codes, num_factors]``."""
  importance = np.asarray(importance, dtype=np.float64)
  per_code = 1.0 - _normalized_entropy(importance, axis=1)
  return float(np.sum(per_code * _weights(importance, axis=1)))


def completeness(importance):
  """C from an importance matrix ``[num_codes, num_factors]``."""
  importance = np.asarray(importance, dtype=np.float64)
  per_factor = 1.0 - _normalized_entropy(importance, axis=0)
  return float(np.sum(per_factor * _weights(importance, axis=0)))


def dci_of_each(codes_train, factors_train, codes_test, factors_test, backend='hist_gbt',
                seed=0):
  """`dci` of each representation ``{name: codes [N, num_codes]}`` on the same factors:
  ``{name: scores}``, every classifier fitted in one pool."""
  code_sets = {}
  for name in codes_train:
    train, kept_train, test, kept_test = validation.train_test(
        codes_train[name], factors_train, codes_test[name], factors_test)
    code_sets[name] = (train, test)
  matrices = importance_matrices(code_sets, kept_train, kept_test, backend, seed)
  return {name: {'disentanglement': disentanglement(importance),
                 'completeness': completeness(importance),
                 'informativeness_train': float(np.mean(train_acc)),
                 'informativeness_test': float(np.mean(test_acc))}
          for name, (importance, train_acc, test_acc) in matrices.items()}


def dci(codes_train, factors_train, codes_test, factors_test,
        backend='hist_gbt', seed=0):
  """DCI scores of codes ``[N, num_codes]`` w.r.t. integer factors ``[N, F]``.

  Returns ``disentanglement``, ``completeness``, ``informativeness_train``
  and ``informativeness_test``. ``backend`` picks the classifier
  (``'hist_gbt'`` or the reference ``'sklearn_gbt'``); ``seed`` fixes the
  classifiers' tie-breaking.
  """
  return dci_of_each({None: codes_train}, factors_train, {None: codes_test}, factors_test,
                     backend, seed)[None]


METRIC = metric.Metric(
    'dci', ('disentanglement', 'completeness', 'informativeness_train', 'informativeness_test'),
    lambda inputs: dci_of_each(inputs.codes_train, inputs.factors_train, inputs.codes_test,
                               inputs.factors_test))
