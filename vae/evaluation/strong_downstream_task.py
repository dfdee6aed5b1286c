"""Strong generalisation of downstream classifiers under a covariate shift, as disentanglement_lib's
`strong_downstream_task` computes it.

A gradient-boosted classifier (`hist_gbt`, sklearn's default `GradientBoostingClassifier()`)
learns each factor that varies from the codes of `strong_downstream_num_train` random points and
is tested on `strong_downstream_num_test` fresh ones: the mean train and test accuracies over the
factors. Then, `strong_downstream_num_experiments` times per target factor, an intervention holds
a second factor k (drawn among the others) at one value v in a copy of the training tuples and
sets k to values other than v, drawn uniformly, in a copy of the test tuples; a classifier of the
target trained on the first is tested on the second: the mean strong train and test accuracies
over every (target, experiment). The study's score is the generalisation gap
1 − strong test accuracy / test accuracy: what a classifier loses on values of a nuisance factor
it never saw. Lower is better.

Differences from the reference: its interventions come from numpy's global RNG (a run is not
reproducible); here a generator seeded from the metric's stream key draws them. The intervened
factor is drawn among the factors with two or more values (the reference's datasets have no
other). The reference runs one entry per training size of a list and names keys `<size>:...`;
the suite's keys are fixed, so one training size is a setting and the keys carry no size. Every
intervened tuple of one model is encoded in one call. Defaults: the reference's unit-test sizes of
1,000 training and 1,000 test points, and its function's 10 experiments per target.
"""

import jax
import numpy as np

from vae import preemption
from vae.evaluation import classifiers
from vae.evaluation import hist_gbt
from vae.evaluation import metric
from vae.evaluation import sampled_scores

NUM_TRAIN = 1_000
NUM_TEST = 1_000
NUM_EXPERIMENTS = 10
_OWN_KEYS = ('mean_train_accuracy', 'mean_test_accuracy', 'mean_strong_train_accuracy',
             'mean_strong_test_accuracy', 'generalization_gap')


def intervened(factors_train, factors_test, target, factor_sizes, rng):
  """Copies of the tuples with a factor k ≠ `target` (drawn by `rng` among those with two or more
  values) held at one value v in ``factors_train`` and drawn uniformly from k's other values in
  ``factors_test``."""
  candidates = [j for j, size in enumerate(factor_sizes) if j != target and size > 1]
  k = candidates[rng.integers(len(candidates))]
  held = rng.integers(factor_sizes[k])
  others = np.delete(np.arange(factor_sizes[k]), held)
  train, test = np.array(factors_train), np.array(factors_test)
  train[:, k] = held
  test[:, k] = others[rng.integers(len(others), size=len(test))]
  return train, test


def accuracies(x_train, y_train, x_test, y_test, seed):
  """(train, test) accuracy of a classifier of ``y_train`` from ``x_train``; a constant label
  needs none: it is predicted everywhere."""
  preemption.stop_point('scoring the strong downstream task')
  if np.unique(y_train).size < 2:
    train_labels, test_labels = np.full(len(y_train), y_train[0]), np.full(len(y_test), y_train[0])
  else:
    _, train_labels, test_labels = hist_gbt.fit_predict(
        np.asarray(x_train, np.float64), y_train, np.asarray(x_test, np.float64), seed=seed)
  return float(np.mean(train_labels == y_train)), float(np.mean(test_labels == y_test))


def scores_of(plain, shifted, seed=0):
  """The metric's own keys from ``plain`` = (codes_train, factors_train, codes_test,
  factors_test) and ``shifted``, a list of (target, codes_train, factors_train, codes_test,
  factors_test) of the intervened experiments."""
  codes_train, factors_train, codes_test, factors_test = plain
  varying = [i for i in range(factors_train.shape[1]) if np.unique(factors_train[:, i]).size > 1]
  fits = np.array([accuracies(codes_train, factors_train[:, i], codes_test, factors_test[:, i],
                              seed) for i in varying])
  strong = np.array([accuracies(x_train, y_train[:, target], x_test, y_test[:, target], seed)
                     for target, x_train, y_train, x_test, y_test in shifted])
  train, test = fits.mean(axis=0)
  strong_train, strong_test = strong.mean(axis=0)
  return dict(zip(_OWN_KEYS, (train, test, strong_train, strong_test, 1 - strong_test / test)))


def strong_downstream_scores(data, encoder, key, noise_key, num_train=NUM_TRAIN,
                             num_test=NUM_TEST, num_experiments=NUM_EXPERIMENTS,
                             per_step=sampled_scores._OBSERVATIONS_PER_STEP):
  """{name: {own key: value}} of every representation of a `sampled_scores.PureEncoder`;
  ``noise_key`` feeds the encoder's noise."""
  key_train, key_test, key_interventions = jax.random.split(key, 3)
  noise_train, noise_test, noise_shifted = jax.random.split(noise_key, 3)
  codes_train, factors_train = sampled_scores.codes_and_factors(
      data, encoder, key_train, noise_train, num_train, per_step)
  codes_test, factors_test = sampled_scores.codes_and_factors(
      data, encoder, key_test, noise_test, num_test, per_step)
  factors_train, factors_test = np.asarray(factors_train), np.asarray(factors_test)
  rng = np.random.default_rng(classifiers.seed_from_key(key_interventions))
  targets = [i for i, size in enumerate(data.factor_sizes) if size > 1]
  experiments = [(target, *intervened(factors_train, factors_test, target, data.factor_sizes, rng))
                 for target in targets for _ in range(num_experiments)]
  # One program encodes every experiment's training and test tuples.
  encoded = sampled_scores.codes_of_given_factors(
      data, encoder, np.concatenate([t for _, train, test in experiments for t in (train, test)]),
      noise_shifted, per_step)
  seed = classifiers.seed_from_key(key)
  scores = {}
  for name in codes_train:
    pieces = np.split(np.asarray(encoded[name]),
                      np.cumsum([num_train, num_test] * len(experiments))[:-1])
    shifted = [(target, pieces[2 * e], train, pieces[2 * e + 1], test)
               for e, (target, train, test) in enumerate(experiments)]
    scores[name] = scores_of((codes_train[name], factors_train, codes_test[name], factors_test),
                             shifted, seed)
  return scores


def _score(inputs):
  sizes = inputs.sizes
  return metric.prefixed('strong_downstream', strong_downstream_scores(
      inputs.dataset, inputs.encoder, inputs.keys[METRIC.stream],
      inputs.noise_keys[METRIC.stream], sizes.strong_downstream_num_train,
      sizes.strong_downstream_num_test, sizes.strong_downstream_num_experiments, inputs.per_step))


def _observations(sizes):
  """The plain points; the interventions' (train + test) × experiments × targets depend on the
  dataset's factors, which `observations(sizes)` does not see."""
  return sizes.strong_downstream_num_train + sizes.strong_downstream_num_test


METRIC = metric.Metric(
    'strong_downstream_task', tuple(f'strong_downstream_{key}' for key in _OWN_KEYS), _score,
    stream=7,
    least=(metric.Least('strong_downstream_num_train', 2, 'the classifiers',
                        'need two training points'),
           metric.Least('strong_downstream_num_test', 1),
           metric.Least('strong_downstream_num_experiments', 1)),
    observations=_observations)
