"""Downstream classification accuracy (Locatello et al. 2019), as disentanglement_lib computes it.

For each of four training sizes (`--config.disentanglement.downstream_num_train`, the study's
10,100,1000,10000) the metric draws a fresh training set and a fresh test set of
`downstream_num_test` points (the study's 5,000) and fits, per factor, a classifier of the
factor's value from the code: a 5-fold cross-validated logistic regression
(`classifiers.reference_logistic_regression_cv`) and a default gradient-boosted tree
(`hist_gbt`). Each reports the mean and the minimum test accuracy over the factors that vary, and
its statistical efficiency: the accuracy at the second size over that at the largest (the study's
100 / 10,000).

The keys name the sizes by position (`downstream_logreg_n1_mean_accuracy` is the first size's),
because the suite checks a fixed set of keys while the sizes are settings; at the published sizes
n1..n4 are 10, 100, 1,000 and 10,000. The reference scores one classifier per run (a gin choice)
and also writes train and per-factor accuracies; here both classifiers run and the keys are the
study's summaries.
"""

import jax
import numpy as np

from vae import preemption
from vae.evaluation import classifiers
from vae.evaluation import hist_gbt
from vae.evaluation import metric
from vae.evaluation import sampled_scores
from vae.evaluation import validation

NUM_TRAIN = '10,100,1000,10000'  # The study's training sizes.
NUM_TEST = 5_000
NUM_SIZES = 4
CLASSIFIERS = ('logreg', 'gbt')


def train_sizes(sizes):
  """The training sizes of `config.disentanglement` as integers."""
  return [int(n) for n in sizes.get('downstream_num_train', NUM_TRAIN).split(',')]


def valid_train_sizes(value):
  """Whether `value` is a comma list of `NUM_SIZES` increasing integers, the first at least 5
  (the logistic regression's 5 folds)."""
  if not isinstance(value, str):
    return False
  parts = value.split(',')
  if len(parts) != NUM_SIZES or not all(p.strip().isdigit() for p in parts):
    return False
  numbers = [int(p) for p in parts]
  return numbers[0] >= 5 and all(a < b for a, b in zip(numbers, numbers[1:]))


def _logreg_accuracy(x_train, y_train, x_test, y_test, seed):
  del seed  # Unshuffled folds and lbfgs: nothing random.
  model = classifiers.fit_quietly(classifiers.reference_logistic_regression_cv(), x_train, y_train)
  return float(np.mean(model.predict(x_test) == y_test))


def _gbt_accuracy(x_train, y_train, x_test, y_test, seed):
  return hist_gbt.fit_importance(x_train, y_train, x_test, y_test, seed=seed)[2]


_FITS = {'logreg': _logreg_accuracy, 'gbt': _gbt_accuracy}


def test_accuracies(fit, codes_train, factors_train, codes_test, factors_test, seed=0):
  """Test accuracy per factor that varies in `factors_train` of `fit`'s classifiers."""
  codes_train, factors_train, codes_test, factors_test = validation.train_test(
      codes_train, factors_train, codes_test, factors_test)
  accuracies = []
  for i in range(factors_train.shape[1]):
    preemption.stop_point(f'scoring the downstream task ({fit})')
    accuracies.append(_FITS[fit](codes_train, factors_train[:, i], codes_test,
                                 factors_test[:, i], seed))
  return np.array(accuracies)


def downstream_scores(splits, seed=0):
  """Every key of the metric from `splits`: one (codes_train, factors_train, codes_test,
  factors_test) per training size, smallest first."""
  scores = {}
  for fit in CLASSIFIERS:
    means = []
    for position, split in enumerate(splits, 1):
      accuracies = test_accuracies(fit, *split, seed=seed)
      means.append(accuracies.mean())
      scores[f'downstream_{fit}_n{position}_mean_accuracy'] = float(means[-1])
      scores[f'downstream_{fit}_n{position}_min_accuracy'] = float(accuracies.min())
    scores[f'downstream_{fit}_efficiency'] = float(means[1] / means[-1])
  return scores


def _drawn(inputs, key, noise_key, num_points):
  """({representation: codes}, factors) of `num_points` fresh points of the stream."""
  return sampled_scores.codes_and_factors(inputs.dataset, inputs.encoder, key, noise_key,
                                          num_points, inputs.per_step)


def _score(inputs):
  key, noise_key = inputs.keys[METRIC.stream], inputs.noise_keys[METRIC.stream]
  num_test = inputs.sizes.get('downstream_num_test', NUM_TEST)
  draws = []
  for position, n in enumerate(train_sizes(inputs.sizes)):
    keys = jax.random.split(jax.random.fold_in(key, position), 2)
    noise_keys = jax.random.split(jax.random.fold_in(noise_key, position), 2)
    draws.append((_drawn(inputs, keys[0], noise_keys[0], n),
                  _drawn(inputs, keys[1], noise_keys[1], num_test)))
  seed = classifiers.seed_from_key(key)
  return {name: downstream_scores([(train[0][name], train[1], test[0][name], test[1])
                                   for train, test in draws], seed)
          for name in inputs.codes_train}


def _observations(sizes):
  return sum(train_sizes(sizes)) + NUM_SIZES * sizes.get('downstream_num_test', NUM_TEST)


METRIC = metric.Metric(
    'downstream_task',
    tuple(f'downstream_{fit}_{key}' for fit in CLASSIFIERS
          for key in [f'n{p}_{s}_accuracy' for p in range(1, NUM_SIZES + 1)
                      for s in ('mean', 'min')] + ['efficiency']),
    _score, least=(metric.Least('downstream_num_test', 1),), stream=5, observations=_observations)
