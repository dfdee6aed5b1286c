"""DCI-ES: explicitness and size (Eastwood, Nicolicioiu, von Kügelgen, Kekić, Träuble, Dittadi
and Schölkopf, ICLR 2023), as the authors' code (andreinicolicioiu/DCI-ES) computes them.

Explicitness asks how much capacity a probe needs to read a factor from the codes. Per factor
``j``, random forests of growing maximum depth κ (the capacity) predict the factor from all codes;
their test errors ``ℓ(κ)``, each replaced by the lowest error up to its capacity, form the
loss-capacity curve. With ``ℓ*`` the curve's lowest loss and ``ℓ^b`` a baseline loss,

* ``AULCC_j`` = trapezoid area between the curve and ``ℓ*`` over the capacities;
* ``E_j = 1 − AULCC_j / Z_j`` with ``Z_j = ½ (κ_max − κ_1) ℓ^b``, the triangle from
  ``(κ_1, ℓ^b)`` down to ``(κ_max, 0)``: the authors' normalizer, which takes the paper's
  ``ℓ* = 0`` there ("we assume l* = 0"), while the area is measured above the curve's own lowest
  loss (``metrics/explitcitness.py``);
* explicitness ``E`` = mean of ``E_j`` over factors. ``E_j = 1`` when the lowest loss is
  reached at the smallest capacity, whatever that loss is: a code that holds nothing about a
  factor (a flat curve at the baseline) also scores 1, so read E beside the informativeness.

Informativeness (the authors' I of the same probes): the best mean test accuracy over factors
at any one capacity. Size ``S = num_factors / num_codes`` (the paper's size; the authors' code
does not compute it): 1 for a code with one dimension per factor, smaller for larger codes.

The probes are the authors': ``RandomForestClassifier(n_estimators=100, max_depth=κ)`` for κ in
their depths 1 … 32, the loss 1 − test accuracy, the depth as a linear capacity axis.
Differences: (1) one forest of the largest depth is fitted per factor and each smaller capacity
reads its trees cut at depth κ (every node keeps its class fractions, so a cut tree predicts as a
tree grown to depth κ on the same bootstrap sample would, with the same distribution: only the
random feature draws past the first cut node differ), which costs one fit instead of twelve;
``refit=True`` fits every depth as the authors do. (2) The baseline loss is the error of predicting the training split's most frequent
value, ``1 − (largest class share)``; the authors hard-code ``1 − 1/K`` per dataset, the same
for balanced factors. Factors constant in the training split are dropped (as in :mod:`dci`) and
not counted in S.
"""

import numpy as np

from vae import preemption
from vae.errors import UserInputError
from vae.evaluation import metric
from vae.evaluation import validation

# The authors' tree probes (configs/random_forest/config.yaml and default.yaml).
DEPTHS = (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32)
NUM_TREES = 100


def check_capacities(capacities, name='depths'):
  """``capacities`` as a float64 vector of at least two strictly increasing values."""
  values = np.asarray(capacities, dtype=np.float64)
  if values.ndim != 1 or values.size < 2:
    raise UserInputError(f'{name} must list at least two capacities, got {capacities!r}')
  if not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
    raise UserInputError(f'{name} must be finite and strictly increasing, got {capacities!r}')
  return values


def _check_depths(depths):
  """The forests' maximum depths: strictly increasing positive integers."""
  values = check_capacities(depths)
  if values[0] < 1 or not np.array_equal(values, np.round(values)):
    raise UserInputError(f'depths must be positive integers, got {depths!r}')
  return tuple(int(d) for d in values)


def baseline_loss(labels_train):
  """The error rate of always predicting the training split's most frequent value."""
  _, counts = np.unique(labels_train, return_counts=True)
  return 1.0 - counts.max() / counts.sum()


def explicitness_of_curve(capacities, losses, baseline):
  """``E_j`` of one loss-capacity curve (see the module docstring); ``baseline`` is ``ℓ^b``."""
  capacities = check_capacities(capacities, 'capacities')
  losses = np.asarray(losses, dtype=np.float64)
  if losses.shape != capacities.shape or not np.all(np.isfinite(losses)):
    raise UserInputError(f'losses must be {capacities.size} finite values, one per capacity, '
                         f'got shape {losses.shape}')
  if not baseline > 0:
    raise UserInputError(f'the baseline loss must be positive, got {baseline!r}')
  # A larger probe can always do what a smaller one did: the curve is the lowest loss so far.
  above = np.minimum.accumulate(losses)
  above = above - above.min()
  area = np.sum(0.5 * (above[:-1] + above[1:]) * np.diff(capacities))
  return float(1.0 - area / (0.5 * (capacities[-1] - capacities[0]) * baseline))


def size(num_factors, num_codes):
  """The paper's size ``S = num_factors / num_codes``."""
  return num_factors / num_codes


def _forest(x_train, y_train, max_depth, num_trees, seed):
  """The authors' probe: a random forest of ``num_trees`` trees of at most ``max_depth``."""
  from sklearn import ensemble  # pylint: disable=g-import-not-at-top
  return ensemble.RandomForestClassifier(n_estimators=num_trees, max_depth=max_depth,
                                         random_state=seed, n_jobs=-1).fit(x_train, y_train)


def _node_depths(tree):
  """The depth of every node of a fitted sklearn ``tree_`` (the root's is 0)."""
  depth = np.zeros(tree.node_count, dtype=np.int64)
  frontier, level = np.array([0]), 0
  while frontier.size:
    children = np.concatenate([tree.children_left[frontier], tree.children_right[frontier]])
    frontier, level = children[children >= 0], level + 1
    depth[frontier] = level
  return depth


def _parents(tree):
  """The parent of every node of a fitted sklearn ``tree_`` (-1 for the root)."""
  parent = np.full(tree.node_count, -1, dtype=np.int64)
  inner = np.flatnonzero(tree.children_left >= 0)
  parent[tree.children_left[inner]] = inner
  parent[tree.children_right[inner]] = inner
  return parent


def cut_probabilities(forest, x, depths):
  """``[len(depths), N, K]`` class probabilities of ``forest`` on ``x`` with every tree cut at
  each of the increasing ``depths``: sklearn's ``predict_proba`` of the cut trees, in order."""
  leaves = forest.apply(x)
  proba = np.zeros((len(depths), x.shape[0], forest.n_classes_))
  for t, estimator in enumerate(forest.estimators_):
    tree = estimator.tree_
    depth, parent = _node_depths(tree), _parents(tree)
    values = tree.value[:, 0, :]
    total = values.sum(axis=1, keepdims=True)
    values = values / np.where(total == 0.0, 1.0, total)
    node = leaves[:, t]
    for i in reversed(range(len(depths))):
      # Climb from the node of the next deeper cut to its ancestor at this depth.
      deep = depth[node] > depths[i]
      while deep.any():
        node = np.where(deep, parent[node], node)
        deep = depth[node] > depths[i]
      proba[i] += values[node]
  return proba / len(forest.estimators_)


def _errors(forest, x_test, y_test, depths):
  """Test error rates of ``forest`` cut at each depth."""
  predicted = forest.classes_[np.argmax(cut_probabilities(forest, x_test, depths), axis=2)]
  return 1.0 - np.mean(predicted == y_test, axis=1)


def depth_losses(x_train, y_train, x_test, y_test, depths=DEPTHS, num_trees=NUM_TREES, seed=0,
                 refit=False):
  """Test error rates ``[len(depths)]`` of the forest probes of each maximum depth: one forest of
  the largest depth read at every cut, or with ``refit`` one forest fitted per depth."""
  if refit:
    return np.concatenate([_errors(_forest(x_train, y_train, d, num_trees, seed), x_test, y_test,
                                   (d,)) for d in depths])
  return _errors(_forest(x_train, y_train, depths[-1], num_trees, seed), x_test, y_test, depths)


def loss_curves(codes_train, factors_train, codes_test, factors_test, depths=DEPTHS,
                num_trees=NUM_TREES, seed=0, refit=False):
  """``(losses [F, len(depths)], baselines [F])`` of validated inputs, one row per factor."""
  losses = []
  for j in range(factors_train.shape[1]):
    preemption.stop_point('scoring dci_es')
    losses.append(depth_losses(codes_train, factors_train[:, j], codes_test, factors_test[:, j],
                               depths, num_trees, seed, refit))
  baselines = np.array([baseline_loss(factors_train[:, j])
                        for j in range(factors_train.shape[1])])
  return np.array(losses), baselines


def dci_es(codes_train, factors_train, codes_test, factors_test, depths=DEPTHS,
           num_trees=NUM_TREES, seed=0, refit=False):
  """DCI-ES explicitness, informativeness and size of codes ``[N, num_codes]`` w.r.t. integer
  factors ``[N, F]``: ``dci_es_explicitness``, ``dci_es_informativeness``, ``dci_es_size``.

  ``depths`` are the probes' capacities, ``num_trees`` their size, ``seed`` their randomness
  (the same for every factor, as the authors'); ``refit`` fits one forest per depth.
  """
  depths = _check_depths(depths)
  if isinstance(num_trees, bool) or not isinstance(num_trees, (int, np.integer)) or num_trees < 1:
    raise UserInputError(f'num_trees must be a positive integer, got {num_trees!r}')
  train, kept_train, test, kept_test = validation.train_test(
      codes_train, factors_train, codes_test, factors_test)
  losses, baselines = loss_curves(train, kept_train, test, kept_test, depths, num_trees, seed,
                                  refit)
  per_factor = [explicitness_of_curve(depths, curve, b) for curve, b in zip(losses, baselines)]
  return {'dci_es_explicitness': float(np.mean(per_factor)),
          'dci_es_informativeness': float(np.max(1.0 - losses.mean(axis=0))),
          'dci_es_size': size(kept_train.shape[1], train.shape[1])}


METRIC = metric.Metric(
    'dci_es', ('dci_es_explicitness', 'dci_es_informativeness', 'dci_es_size'),
    metric.of_split(dci_es),
    least=(metric.Least('num_train', 2, 'the DCI-ES probes', 'need two training points'),
           metric.Least('num_test', 1)))
