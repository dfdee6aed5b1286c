"""A histogram-based re-implementation of sklearn's GradientBoostingClassifier.

DCI (Eastwood & Williams 2018) as run by disentanglement_lib reads the
impurity-based ``feature_importances_`` of ``GradientBoostingClassifier()``
with its defaults, which takes minutes on 10,000 points. This module runs the
same algorithm with the same defaults:

* log-loss; the initial raw score is the log class prior;
* per stage, one regression tree per class (one for two classes) fitted to the
  negative gradient ``y - p``, all from the same stage-start probabilities;
* depth-3 trees grown to full depth; a node is split by the largest
  squared-error decrease ``G_L²/n_L + G_R²/n_R − G²/n``; a node with fewer
  than 2 samples, variance ≤ machine epsilon or no valid split stays a leaf;
  exact ties between features are broken at random, as sklearn's random
  feature order does;
* leaf values are sklearn's Newton step ``(K−1)/K · Σ(y−p) / Σ p(1−p)``
  (no ``(K−1)/K`` for two classes), shrunk by the learning rate 0.1;
  100 stages;
* importance of a feature = its summed squared-error decrease over all
  splits of all trees, normalized to sum 1 (sklearn averages per-tree
  decreases over trees that split, then normalizes: the same vector).

How splits are searched is the difference. sklearn sorts every node's values
and tries every cut; here histograms over bins (:mod:`gbt_bins`) give every
cut between bins at once, for all trees of a stage together (the histograms,
the boundary search and the bound below are numba kernels: one pass each). A
feature with at most ``max_bins`` distinct values has one value per bin: the
same cuts as sklearn. With more, cuts inside a bin are searched sample by sample wherever
they could beat the node's best bin-boundary cut: a cut inside a bin has its
left sum within the bin's negative and positive residual sums (histograms of
``|y − p|`` give both) and its left count within the bin's, and the gain is
convex in the two, so the box's corners bound it. The search is therefore
exact, and the threshold is sklearn's (the midpoint of the nearest values on
either side). An earlier version searched only the bins next to each
feature's best boundary; its missed cuts left signal for noise codes to pick
up, so D and C sat 0.004-0.015 below sklearn's on continuous codes.

What remains are ties: two features that cut a node into the same samples
have the same gain up to float rounding, which decides them in sklearn and
here alike, but not the same way. A different choice makes later trees drift;
on 1,000 points it moves D or C by up to about 0.003, with no sign preferred
(``tests/evaluation/test_dci_agreement.py``).
"""

import numba
import numpy as np
import scipy.special

from vae.evaluation import gbt_bins

_EPSILON = np.finfo(np.float64).eps


@numba.njit(cache=True, nogil=True)
def _node_sums(bins, slot, residual, num_slots, num_bins):
  """Residual, |residual| and count sums ``[T, 3, slots, F, B]`` per (tree, slot, feature,
  bin) of the samples with ``slot [T, N] >= 0``; ``bins [F, N]`` is each sample's bin.

  Samples are added in index order, so every sum is the same float as a product with a one-hot
  matrix of the samples would give.
  """
  num_trees, num_samples = slot.shape
  num_features = bins.shape[0]
  sums = np.zeros((num_trees, 3, num_slots, num_features, num_bins))
  for t in range(num_trees):
    for n in range(num_samples):
      s = slot[t, n]
      if s < 0:
        continue
      r = residual[t, n]
      for f in range(num_features):
        b = bins[f, n]
        sums[t, 0, s, f, b] += r
        sums[t, 1, s, f, b] += abs(r)
        sums[t, 2, s, f, b] += 1.0
  return sums


def _root_histograms(data, residual):
  """Gradient sums, absolute-gradient sums and counts ``[T, 1, F, B]`` of the roots."""
  sums = _node_sums(data.train, np.zeros(residual.shape, np.intp), residual, 1,
                    data.count.shape[1])
  return sums[:, 0], sums[:, 1], sums[:, 2]


def _child_histograms(grad, absolute, count, node, residual, data):
  """Histograms of every node's children: left by summing, right by subtraction."""
  num_trees, num_parents = grad.shape[:2]
  # Node 2p is the left child of parent p: only left children are summed.
  left_of = np.where(node % 2 == 0, node // 2, -1)
  sums = _node_sums(data.train, left_of, residual, num_parents, data.count.shape[1])
  return (_with_right(sums[:, 0], grad, num_trees),
          _with_right(sums[:, 1], absolute, num_trees),
          _with_right(sums[:, 2], count, num_trees))


def _with_right(left, parent, num_trees):
  """Interleaves left children with their right siblings ``parent − left``."""
  return np.stack([left, parent - left], axis=2).reshape(
      (num_trees, -1) + left.shape[2:])


def _cut_gains(g_left, n_left, g_all, n_all, valid):
  """Squared-error decrease of cuts given left sums; -inf where not ``valid``."""
  with np.errstate(divide='ignore', invalid='ignore'):
    gains = (g_left ** 2 / n_left + (g_all - g_left) ** 2 / (n_all - n_left)
             - g_all ** 2 / n_all)
  return np.where(valid, gains, -np.inf)


@numba.njit(cache=True, nogil=True)
def _best_boundaries(g_cum, n_cum, splittable):
  """Best bin-boundary cut of every (tree, node, feature) from cumulative histograms
  ``[T, nodes, F, B]``: ``(gain, bin) [T, nodes, F]``, the first bin among equal gains and
  ``(-inf, 0)`` where no cut is valid or the node is not ``splittable [T, nodes]``.

  A cut after bin b is valid when both sides keep samples; its gain is `_cut_gains`'s, in the
  same floating-point operations.
  """
  num_trees, num_nodes, num_features, num_bins = g_cum.shape
  gain = np.full((num_trees, num_nodes, num_features), -np.inf)
  best_bin = np.zeros((num_trees, num_nodes, num_features), dtype=np.int64)
  for t in range(num_trees):
    for m in range(num_nodes):
      if not splittable[t, m]:
        continue
      for f in range(num_features):
        g_all, n_all = g_cum[t, m, f, num_bins - 1], n_cum[t, m, f, num_bins - 1]
        for b in range(num_bins - 1):
          g_left, n_left = g_cum[t, m, f, b], n_cum[t, m, f, b]
          if n_left > 0 and n_left < n_all:
            cut = (g_left ** 2 / n_left + (g_all - g_left) ** 2 / (n_all - n_left)
                   - g_all ** 2 / n_all)
            if cut > gain[t, m, f]:
              gain[t, m, f], best_bin[t, m, f] = cut, b
  return gain, best_bin


@numba.njit(cache=True, nogil=True)
def _corner_bounds(grad, absolute, count, g_cum, n_cum, inner, reach):
  """`_inner_bounds`'s test, one pass over ``[T, nodes, F, B]`` (numpy would make ~30)."""
  num_trees, num_nodes, num_features, num_bins = grad.shape
  out = np.zeros(grad.shape, dtype=np.bool_)
  for t in range(num_trees):
    for m in range(num_nodes):
      for f in range(num_features):
        g_all, n_all = g_cum[t, m, f, num_bins - 1], n_cum[t, m, f, num_bins - 1]
        for b in range(num_bins):
          n_bin = count[t, m, f, b]
          if not inner[f, b] or n_bin < 2:
            continue
          middle = g_cum[t, m, f, b] - grad[t, m, f, b] / 2
          n_low, n_high = n_cum[t, m, f, b] - n_bin + 1, n_cum[t, m, f, b] - 1
          inv_low, inv_high = 1 / n_low, 1 / n_high
          inv_rest_low, inv_rest_high = 1 / (n_all - n_low), 1 / (n_all - n_high)
          best = -np.inf
          for g in (middle - absolute[t, m, f, b] / 2, middle + absolute[t, m, f, b] / 2):
            square, rest = g * g, (g_all - g) ** 2
            best = max(best, square * inv_low + rest * inv_rest_low,
                       square * inv_high + rest * inv_rest_high)
          out[t, m, f, b] = best >= reach[t, m]
  return out


def _inner_bounds(grad, absolute, count, g_cum, n_cum, inner, floor):
  """Bins ``[T, nodes, F, B]`` where a cut inside could reach gain ``floor [T, nodes]``.

  A cut after the first k of a bin's samples has a left sum between the sums
  of the bin's negative and positive residuals (added to the sums below the
  bin) and a left count between the bin's first and last inner cut. The gain
  is jointly convex in (sum, count), so its maximum over that box is at one
  of the four corners: no bin outside the result can hold a better cut.
  Only bins with ≥ 2 distinct values (``inner``) and ≥ 2 samples qualify.
  """
  # Corner gains g²/m + (G − g)²/(n − m); the constant G²/n moves to floor.
  with np.errstate(divide='ignore', invalid='ignore'):  # Empty nodes: never splittable.
    reach = floor + g_cum[..., 0, -1] ** 2 / n_cum[..., 0, -1]
  return _corner_bounds(grad, absolute, count, g_cum, n_cum, inner, reach)


def _choose_feature(gain, rng):
  """Best feature per node from gains ``[T, nodes, F]``; exact ties broken at random."""
  best = gain.max(axis=-1, keepdims=True)
  priority = np.where(gain == best, rng.random(gain.shape), -1.0)
  return priority.argmax(axis=-1)


def _splittable(grad, count, node, residual, active):
  """Nodes that sklearn would try to split: ≥ 2 samples and variance > eps."""
  num_trees, num_nodes = grad.shape[:2]
  n = count[:, :, 0].sum(axis=-1)
  mean = grad[:, :, 0].sum(axis=-1) / np.maximum(n, 1)
  index = (np.arange(num_trees)[:, None] * num_nodes + node).ravel()
  squares = np.bincount(index, residual.ravel() ** 2, num_trees * num_nodes)
  # The same cancellation-prone formula as sklearn's node impurity.
  variance = squares.reshape(num_trees, num_nodes) / np.maximum(n, 1) - mean ** 2
  return active & (n >= 2) & (variance > _EPSILON)


def _chosen_values(columns, node, feature):
  """``columns[feature[t, node[t, n]], n]`` for ``columns [F, N]``: ``[T, N]``."""
  num_trees, num_samples = node.shape
  slot = np.arange(num_trees)[:, None] * feature.shape[1] + node
  # Flat 1-D takes are much faster than 2-D fancy indexing here.
  flat = np.take(feature, slot) * num_samples + np.arange(num_samples)
  return np.take(columns, flat), slot


def _route(node, columns, feature, threshold):
  """Child of each sample: right when its value exceeds the node's threshold.

  Nodes that do not split have threshold +inf: all their samples go left.
  """
  values, slot = _chosen_values(columns, node, feature)
  return 2 * node + (values > np.take(threshold, slot)), values


def _midpoints(child, values, num_children):
  """sklearn's threshold of each split ``[T, parents]`` from where samples went.

  The midpoint of the largest value sent left and the smallest sent right
  (the left one when the midpoint rounds up to the right one, as sklearn).
  """
  num_trees = child.shape[0]
  index = (np.arange(num_trees)[:, None] * num_children + child).ravel()
  largest = np.full(num_trees * num_children, -np.inf)
  smallest = np.full(num_trees * num_children, np.inf)
  np.maximum.at(largest, index, values.ravel())
  np.minimum.at(smallest, index, values.ravel())
  left = largest.reshape(num_trees, -1)[:, 0::2]
  right = smallest.reshape(num_trees, -1)[:, 1::2]
  with np.errstate(invalid='ignore'):  # -inf + inf where a node did not split
    middle = left / 2.0 + right / 2.0
  return np.where(middle == right, left, middle)


def _refine(g_cum, n_cum, node, residual, data, candidates):
  """Exact best inner cut of each candidate (tree, node, feature, bin).

  Returns flat ``(tree, node, feature)`` indices, exact gains and cut values
  (the largest value that goes left).
  """
  indices = np.flatnonzero(candidates)
  if not indices.size:
    return indices, np.zeros(0), np.zeros(0)
  tree, parent, f, b = np.unravel_index(indices, candidates.shape)
  start, stop = data.bin_start[f, b], data.bin_start[f, b + 1]
  num_samples = node.shape[1]
  position = np.minimum(start[:, None] + np.arange((stop - start).max()),
                        num_samples - 1)
  # Flat 1-D takes are much faster than 2-D fancy indexing here.
  sample = np.take(data.order, f[:, None] * num_samples + position)
  of_tree = tree[:, None] * num_samples + sample
  inside = ((position < stop[:, None])
            & (np.take(node, of_tree) == parent[:, None]))
  value = np.where(
      inside, np.take(data.x_train, f[:, None] * num_samples + sample), np.inf)
  # Sums below the bin come from the node's histogram.
  rows = np.arange(indices.size)
  g_cum, n_cum = g_cum[tree, parent, f], n_cum[tree, parent, f]
  g_below = np.where(b > 0, g_cum[rows, b - 1], 0.0)
  n_below = np.where(b > 0, n_cum[rows, b - 1], 0.0)
  g_left = g_below[:, None] + np.cumsum(
      np.where(inside, np.take(residual, of_tree), 0.0), axis=1)
  n_left = n_below[:, None] + np.cumsum(inside, axis=1)
  # A cut after a sample needs a larger value next in the node and bin (the
  # cut after the bin's last value is the bin boundary, already scored).
  following = np.minimum.accumulate(value[:, ::-1], axis=1)[:, ::-1]
  following = np.concatenate(
      [following[:, 1:], np.full((indices.size, 1), np.inf)], axis=1)
  gains = _cut_gains(g_left, n_left, g_cum[:, -1:], n_cum[:, -1:],
                     inside & (following > value) & np.isfinite(following))
  best = np.argmax(gains, axis=1)
  flat = np.ravel_multi_index((tree, parent, f), candidates.shape[:3])
  return flat, gains[rows, best], value[rows, best]


def _best_splits(grad, absolute, count, node, residual, data, splittable, rng):
  """``(gain, feature, cut)`` of the best cut of every node, ``[T, nodes]``.

  Cuts at bin boundaries are scored from histograms; a bin is searched
  exactly, sample by sample, only where a bound says a cut inside it could
  beat the best boundary cut of its node, so the result is sklearn's exact
  search. ``cut`` is the largest training value that goes left.
  """
  g_cum, n_cum = np.cumsum(grad, axis=-1), np.cumsum(count, axis=-1)
  feature_gain, feature_bin = _best_boundaries(g_cum, n_cum, splittable)
  feature_cut = np.take_along_axis(
      np.broadcast_to(data.bin_max, feature_bin.shape[:2] + data.bin_max.shape),
      feature_bin[..., None], axis=-1)[..., 0]
  node_best = feature_gain.max(axis=-1)
  # The slack keeps inner cuts that tie the best boundary within rounding.
  floor = node_best - 1e-9 * np.abs(node_best)
  candidates = splittable[..., None, None] & _inner_bounds(
      grad, absolute, count, g_cum, n_cum, data.inner, floor)
  flat, inner_gain, inner_cut = _refine(g_cum, n_cum, node, residual, data,
                                        candidates)
  # The best inner cut per (tree, node, feature), where it beats the boundary.
  order = np.lexsort((inner_gain, flat))
  flat, inner_gain, inner_cut = flat[order], inner_gain[order], inner_cut[order]
  last = np.append(flat[1:] != flat[:-1], True)[:flat.size]
  flat, inner_gain, inner_cut = flat[last], inner_gain[last], inner_cut[last]
  better = inner_gain > feature_gain.flat[flat]
  feature_gain.flat[flat[better]] = inner_gain[better]
  feature_cut.flat[flat[better]] = inner_cut[better]
  feature = _choose_feature(feature_gain, rng)
  pick = lambda a: np.take_along_axis(a, feature[..., None], axis=-1)[..., 0]
  return pick(feature_gain), feature, pick(feature_cut)


def _grow_stage(data, residual, max_depth, rng):
  """Grows a stage's trees together.

  Returns the leaf of each training and test sample ``[T, N]``, the summed
  split gains per feature, and whether each tree's root split.
  """
  num_trees = residual.shape[0]
  node = np.zeros(residual.shape, dtype=np.intp)
  node_test = np.zeros((num_trees, data.x_test.shape[1]), dtype=np.intp)
  active = np.ones((num_trees, 1), dtype=bool)
  decrease = np.zeros(data.train.shape[0])
  grad, absolute, count = _root_histograms(data, residual)
  for depth in range(max_depth):
    splittable = _splittable(grad, count, node, residual, active)
    gain, feature, cut = _best_splits(
        grad, absolute, count, node, residual, data, splittable, rng)
    split = splittable & np.isfinite(gain)
    if depth == 0:
      root_split = split[:, 0]
    np.add.at(decrease, feature[split], gain[split])
    node, values = _route(node, data.x_train, feature, np.where(split, cut, np.inf))
    threshold = np.where(split, _midpoints(node, values, 2 * split.shape[1]),
                         np.inf)
    node_test = _route(node_test, data.x_test, feature, threshold)[0]
    active = np.repeat(split, 2, axis=1)
    if depth + 1 < max_depth:
      grad, absolute, count = _child_histograms(grad, absolute, count, node,
                                                residual, data)
  return node, node_test, decrease, root_split


def _leaf_values(node, residual, hessian, num_leaves, num_classes):
  """sklearn's one Newton step per leaf, ``[T, num_leaves]``."""
  index = (np.arange(node.shape[0])[:, None] * num_leaves + node).ravel()
  size = node.shape[0] * num_leaves
  numerator = np.bincount(index, weights=residual.ravel(), minlength=size)
  denominator = np.bincount(index, weights=hessian.ravel(), minlength=size)
  if num_classes > 2:
    numerator *= (num_classes - 1) / num_classes
  count = np.maximum(np.bincount(index, minlength=size), 1)
  # sklearn compares the *mean* hessian with 1e-150 before dividing.
  tiny = np.abs(denominator / count) < 1e-150
  values = np.where(tiny, 0.0, numerator / np.where(tiny, 1.0, denominator))
  return values.reshape(node.shape[0], num_leaves)


def _probabilities(raw):
  """Class probabilities ``[T, N]`` from raw scores (sigmoid for one tree)."""
  if raw.shape[0] == 1:
    return scipy.special.expit(raw)
  return scipy.special.softmax(raw, axis=0)


def _initial_raw(onehot):
  """Log class prior (log-odds for two classes), sklearn's default init."""
  prior = np.clip(onehot.mean(axis=1), _EPSILON, 1 - _EPSILON)
  if onehot.shape[0] == 2:
    return np.log(prior[1:] / prior[:1])[:, None]
  return np.log(prior)[:, None]


def _predict(raw, classes):
  """Class labels from raw scores ``[T, N]``."""
  if raw.shape[0] == 1:
    return classes[(raw[0] > 0).astype(np.int64)]
  return classes[raw.argmax(axis=0)]


def fit_predict(x_train, y_train, x_test, *, seed=0, n_estimators=100, learning_rate=0.1,
                max_depth=3, max_bins=256):
  """Boosts on ``x_train [N, F]`` → ``(importances [F], train labels [N], test labels [M])``.

  ``y_train`` needs at least two classes. Importances sum to 1 unless no
  tree ever split, when they are all 0 (as sklearn's).
  """
  rng = np.random.default_rng(seed)
  classes, labels = np.unique(y_train, return_inverse=True)
  num_classes = classes.size
  data = gbt_bins.prepare(x_train, x_test, max_bins)
  onehot = np.eye(num_classes)[labels].T                # [K, N]
  target = onehot[1:] if num_classes == 2 else onehot   # [T, N]
  raw = np.repeat(_initial_raw(onehot), x_train.shape[0], axis=1)
  raw_test = np.repeat(raw[:, :1], x_test.shape[0], axis=1)
  decrease = np.zeros(x_train.shape[1])
  any_split = False
  for _ in range(n_estimators):
    prob = _probabilities(raw)
    residual = target - prob
    node, node_test, stage_decrease, root_split = _grow_stage(
        data, residual, max_depth, rng)
    decrease += stage_decrease
    any_split |= bool(root_split.any())
    leaves = _leaf_values(node, residual, prob * (1 - prob), 2 ** max_depth,
                          num_classes)
    rows = np.arange(raw.shape[0])[:, None]
    raw += learning_rate * leaves[rows, node]
    raw_test += learning_rate * leaves[rows, node_test]
  total = decrease.sum()
  importance = decrease / total if any_split and total > 0 else 0.0 * decrease
  return importance, _predict(raw, classes), _predict(raw_test, classes)


def fit_importance(x_train, y_train, x_test, y_test, **options):
  """`fit_predict`'s ``(importances [F], train_acc, test_acc)``."""
  importance, train_labels, test_labels = fit_predict(x_train, y_train, x_test, **options)
  return (importance, float(np.mean(train_labels == y_train)),
          float(np.mean(test_labels == y_test)))
