"""The downstream-task metric: closed-form and brute-force cases of its classifiers and the whole
metric on a small procedural dSprites grid."""

import jax
import ml_collections
import numpy as np
import pytest

from tests.evaluation import test_sampled_scores as in_graph
from vae.evaluation import downstream_task
from vae.evaluation import metric


def _factors(rng, n, sizes=(3, 4, 5)):
  return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


def _one_hot(factors, sizes=(3, 4, 5)):
  """The factors one-hot, side by side: each value linearly separable from the others."""
  return np.concatenate([np.eye(s)[factors[:, i]] for i, s in enumerate(sizes)], axis=1)


@pytest.mark.parametrize('fit', downstream_task.CLASSIFIERS)
def test_a_code_of_the_factors_classifies_them_perfectly(fit):
  # disentanglement_lib's expectation: a code that is the factors reaches accuracy 1.
  rng = np.random.default_rng(0)
  train, test = _factors(rng, 1000), _factors(rng, 500)
  accuracies = downstream_task.test_accuracies(fit, _one_hot(train), train, _one_hot(test), test)
  np.testing.assert_array_equal(accuracies, 1.0)


@pytest.mark.parametrize('fit', downstream_task.CLASSIFIERS)
def test_a_constant_code_scores_the_majority_class_rate(fit):
  # Brute force: with nothing to read, both classifiers predict the training set's most frequent
  # value (the largest intercept / the log prior), right on that value's share of the test set.
  rng = np.random.default_rng(1)
  train, test = _factors(rng, 300), _factors(rng, 200)
  accuracies = downstream_task.test_accuracies(fit, np.zeros((300, 2)), train,
                                               np.zeros((200, 2)), test)
  majority = [np.mean(test[:, i] == np.bincount(train[:, i]).argmax()) for i in range(3)]
  np.testing.assert_allclose(accuracies, majority)


def test_the_gbt_agrees_with_sklearns():
  # sklearn's default GradientBoostingClassifier, the reference's, on one small case. One code
  # column: no two features can tie for a cut, so the trees must be sklearn's (`hist_gbt`).
  from sklearn import ensemble  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(2)
  train, test = _factors(rng, 200, (5,)), _factors(rng, 100, (5,))
  codes_train = train + rng.normal(0, 0.7, train.shape)
  codes_test = test + rng.normal(0, 0.7, test.shape)
  ours = downstream_task.test_accuracies('gbt', codes_train, train, codes_test, test)
  theirs = np.mean(ensemble.GradientBoostingClassifier(random_state=0).fit(
      codes_train, train[:, 0]).predict(codes_test) == test[:, 0])
  assert 0.3 < theirs < 0.9  # A case with errors to agree on.
  np.testing.assert_array_equal(ours, [theirs])


def _sizes(num_train):
  return ml_collections.ConfigDict({'downstream_num_train': num_train, 'downstream_num_test': 50})


def _inputs(sizes):
  keys = jax.random.split(jax.random.key(3), 8)
  noise_keys = jax.random.split(jax.random.key(4), 8)
  return metric.Inputs(in_graph._small_grid(), in_graph._encoder(), {'mean': None, 'sampled': None},
                       None, None, None, sizes, tuple(keys), tuple(noise_keys), 64)


def _check_scores(values):
  """Every key written, each efficiency the ratio of the reported accuracies it divides."""
  assert set(values) == set(downstream_task.METRIC.keys)
  for fit in downstream_task.CLASSIFIERS:
    assert values[f'downstream_{fit}_efficiency'] == pytest.approx(
        values[f'downstream_{fit}_n2_mean_accuracy'] / values[f'downstream_{fit}_n4_mean_accuracy'])
    for position in range(1, 5):
      low = values[f'downstream_{fit}_n{position}_min_accuracy']
      assert 0 <= low <= values[f'downstream_{fit}_n{position}_mean_accuracy'] <= 1


def test_ten_training_points_score_and_the_efficiency_is_the_ratio_of_the_accuracies():
  # At 10 points some values are missing from some folds, as at the study's smallest size.
  rng = np.random.default_rng(5)
  splits = []
  for n in (10, 20, 50, 100):
    train, test = _factors(rng, n), _factors(rng, 50)
    splits.append((train + rng.normal(0, 0.3, train.shape), train,
                   test + rng.normal(0, 0.3, test.shape), test))
  _check_scores(downstream_task.downstream_scores(splits))


# Four draws encoded and 16-dimensional pixel-count codes: over a minute on two cores.
@pytest.mark.slow
def test_the_metric_draws_its_points_from_ten_on():
  scores = downstream_task.METRIC.score(_inputs(_sizes('10,20,30,40')))
  for values in scores.values():
    _check_scores(values)


def test_observations_count_every_drawn_point():
  # Hand count: 10 + 20 + 30 + 40 training points and four test sets of 50.
  assert downstream_task.METRIC.observations(_sizes('10,20,30,40')) == 100 + 4 * 50
