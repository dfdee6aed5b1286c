"""Unfairness of predictions made from a representation (Locatello et al. 2019b), as
disentanglement_lib's `fairness` metric computes it.

Per target factor i, a gradient-boosted classifier (sklearn's default
`GradientBoostingClassifier()`, run by :mod:`hist_gbt`) learns factor i from the codes of
`fairness_num_train` random points. For every other (sensitive) factor j,
`fairness_num_test_points_per_class` factor tuples are drawn once; for each value c of factor j a
copy of them with factor j set to c is encoded and classified.
With counts[prediction, c], the total-variation distance between p(prediction | c) and
p(prediction) is reduced over c to its mean weighted by each value's count and to its maximum
(`inter_group_fairness`): matrices mean_fairness[i, j] and max_fairness[i, j]. Lower is fairer.

Keys: each matrix reduced over (target, sensitive) pairs i ≠ j, first over the sensitive factors
then over the targets, by a mean or a maximum: `fairness_{mean,max}_fairness_{mean,max}_pred_
{mean,max}_sens`. The study's score (the paper's Section 4) is
`fairness_mean_fairness_mean_pred_mean_sens`. The reference also writes the per-pair and
per-factor entries, whose number depends on the dataset (the suite's keys are fixed), and the
same reductions in the other order (`mean_sens:...`), of which `mean_sens:mean_pred` equals
`mean_pred:mean_sens` (both are the mean over all pairs): those are left out.

Differences from the reference: the intervened tuples of a sensitive factor are drawn once and
shared by every target (the reference draws them afresh per (target, sensitive) pair); each
pair's counts have the same distribution, the pairs of one sensitive factor are correlated, and a
model encodes Σ_j values_j × per_class observations instead of (F − 1) times as many (11,300
instead of 45,200 on dSprites). The distances are in float64 (the reference's are float32). A
factor with one value (which the reference's datasets never expose) is predicted as that value:
its distances are 0, where sklearn would refuse to fit. Defaults: the study's 10,000 training
points and 100 points per sensitive value.
"""

import jax
import numpy as np

from vae import preemption
from vae.evaluation import hist_gbt
from vae.evaluation import metric
from vae.evaluation import sampled_scores

NUM_TRAIN = 10_000  # The fairness study's defaults (fairness_study_v1/metric_configs/fairness.gin).
NUM_TEST_POINTS_PER_CLASS = 100
_REDUCTIONS = {'mean': np.mean, 'max': np.max}
_OWN_KEYS = tuple(f'{matrix}_fairness_{target}_pred_{sensitive}_sens'
                  for matrix in _REDUCTIONS for target in _REDUCTIONS for sensitive in _REDUCTIONS)


def inter_group_fairness(counts):
  """(mean weighted by each sensitive value's count, max) over the sensitive values (columns) of
  the total-variation distance between p(prediction | value) and p(prediction), from
  ``counts [predicted class, sensitive value]``."""
  counts = np.asarray(counts, np.float64)
  per_value = counts.sum(axis=0)
  overall = counts.sum(axis=1) / counts.sum()
  distances = np.abs(counts / per_value - overall[:, None]).sum(axis=0) / 2
  return float(np.sum(distances * per_value) / per_value.sum()), float(distances.max())


def prediction_counts(predictions, num_classes):
  """``counts [num_classes, V]`` of the predicted classes ``predictions [V, P]`` per value."""
  return np.stack([np.bincount(p, minlength=num_classes) for p in predictions], axis=1)


def reduced(matrix):
  """{f'{target}_pred_{sensitive}_sens'} of ``matrix [F, F]`` over its pairs i ≠ j."""
  off_diagonal = ~np.eye(matrix.shape[0], dtype=bool)
  rows = [matrix[i][off_diagonal[i]] for i in range(matrix.shape[0])]
  return {f'{target}_pred_{sensitive}_sens': float(outer([inner(row) for row in rows]))
          for target, outer in _REDUCTIONS.items() for sensitive, inner in _REDUCTIONS.items()}


def intervened_factors(data, key, num_points):
  """Per factor j, tuples ``[values_j, num_points, F]``: one draw, factor j set to each value."""
  out = []
  for j, size in enumerate(data.factor_sizes):
    tiled = np.repeat(np.asarray(data.sample_factors(jax.random.fold_in(key, j), num_points))[None],
                      size, axis=0)
    tiled[:, :, j] = np.arange(size)[:, None]
    out.append(tiled)
  return out


def _predictions(codes, labels, intervened, seed):
  """Labels predicted for the intervened codes (a list of ``[V, P, C]``) by a classifier of
  ``labels`` from ``codes``; a constant label needs no classifier."""
  shapes = [c.shape[:2] for c in intervened]
  x_test = np.concatenate([c.reshape(-1, c.shape[-1]) for c in intervened])
  if np.unique(labels).size < 2:
    flat = np.full(x_test.shape[0], labels[0])
  else:
    flat = hist_gbt.fit_predict(codes, labels, x_test, seed=seed)[2]
  pieces = np.split(flat, np.cumsum([v * p for v, p in shapes])[:-1])
  return [piece.reshape(shape) for piece, shape in zip(pieces, shapes)]


def fairness_matrices(codes, factors, intervened, factor_sizes, seed=0):
  """(mean_fairness, max_fairness) ``[F, F]`` (0 on the diagonal) of a classifier per target
  trained on ``codes [N, C]``, ``factors [N, F]``, scored on ``intervened[j] [V_j, P, C]``."""
  num_factors = len(factor_sizes)
  matrices = np.zeros((2, num_factors, num_factors))
  codes = np.asarray(codes, np.float64)
  for i in range(num_factors):
    preemption.stop_point('scoring fairness')
    others = [j for j in range(num_factors) if j != i]
    predicted = _predictions(codes, np.asarray(factors)[:, i],
                             [np.asarray(intervened[j], np.float64) for j in others], seed)
    for j, labels in zip(others, predicted):
      matrices[:, i, j] = inter_group_fairness(prediction_counts(labels, factor_sizes[i]))
  return matrices[0], matrices[1]


def fairness_scores(data, encoder, key, noise_key, num_train=NUM_TRAIN,
                    num_test_points_per_class=NUM_TEST_POINTS_PER_CLASS,
                    per_step=sampled_scores._OBSERVATIONS_PER_STEP):
  """{name: {key: value}} of every representation of a `sampled_scores.PureEncoder` (own keys,
  unprefixed); ``noise_key`` feeds the encoder's noise."""
  key_train, key_test = jax.random.split(key)
  noise_train, noise_test = jax.random.split(noise_key)
  codes, factors = sampled_scores.codes_and_factors(data, encoder, key_train, noise_train,
                                                    num_train, per_step)
  tuples = intervened_factors(data, key_test, num_test_points_per_class)
  # One program encodes every intervention of every sensitive factor.
  encoded = sampled_scores.codes_of_given_factors(
      data, encoder, np.concatenate([t.reshape(-1, t.shape[-1]) for t in tuples]), noise_test,
      per_step)
  splits = np.cumsum([t.shape[0] * t.shape[1] for t in tuples])[:-1]
  scores = {}
  for name, representation in codes.items():
    intervened = [c.reshape(t.shape[:2] + (-1,))
                  for c, t in zip(np.split(encoded[name], splits), tuples)]
    matrices = fairness_matrices(representation, factors, intervened, data.factor_sizes)
    scores[name] = {f'{matrix}_fairness_{key}': value
                    for matrix, values in zip(_REDUCTIONS, matrices)
                    for key, value in reduced(values).items()}
  return scores


def _score(inputs):
  sizes = inputs.sizes
  return metric.prefixed('fairness', fairness_scores(
      inputs.dataset, inputs.encoder, inputs.keys[METRIC.stream],
      inputs.noise_keys[METRIC.stream], sizes.fairness_num_train,
      sizes.fairness_num_test_points_per_class, inputs.per_step))


def _observations(sizes):
  """The training points; the interventions' Σ_j values_j × per_class depend on the dataset,
  which `observations(sizes)` does not see (11,300 on dSprites at the defaults)."""
  return sizes.fairness_num_train


METRIC = metric.Metric(
    'fairness', tuple(f'fairness_{key}' for key in _OWN_KEYS), _score, stream=6,
    least=(metric.Least('fairness_num_train', 2, 'the fairness classifiers',
                        'need two training points'),
           metric.Least('fairness_num_test_points_per_class', 1)),
    observations=_observations)
