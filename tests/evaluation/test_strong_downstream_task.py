"""The strong downstream task: its interventions, closed-form cases of its scores and a run
through the score function on a small synthetic ground-truth dataset."""

import dataclasses
import functools

import jax
import numpy as np

from tests.evaluation import test_fairness
from vae.data import dsprites
from vae.data import ground_truth
from vae.evaluation import strong_downstream_task

_SIZES = (3, 1, 4, 5)


def _factors(rng, n, sizes=_SIZES):
  return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


def test_an_intervention_holds_another_varying_factor_in_training_and_avoids_its_value_in_test():
  # The reference's own check (its test_intervene), and what it leaves implicit: the target and
  # the other factors keep their values, a one-valued factor is never chosen, and the test set
  # takes every other value of the intervened factor.
  rng = np.random.default_rng(0)
  train, test = _factors(rng, 200), _factors(rng, 400)
  chosen = set()
  for target in (0, 2, 3):
    for _ in range(20):
      train_int, test_int = strong_downstream_task.intervened(train, test, target, _SIZES, rng)
      changed = [j for j in range(4) if (train_int[:, j] != train[:, j]).any()
                 or (test_int[:, j] != test[:, j]).any()]
      assert len(changed) == 1 and changed[0] not in (target, 1)
      k = changed[0]
      chosen.add(k)
      held = train_int[0, k]
      assert (train_int[:, k] == held).all()
      assert set(test_int[:, k]) == set(range(_SIZES[k])) - {held}
  assert chosen == {0, 2, 3}


def _one_hot(factors):
  return np.concatenate([np.eye(s)[factors[:, i]] for i, s in enumerate(_SIZES)], axis=1)


def _experiments(rng, code, num_experiments=3):
  """The metric's (plain, shifted) inputs for `code(factors)`, as `strong_downstream_scores`
  builds them from encoded tuples."""
  train, test = _factors(rng, 300), _factors(rng, 200)
  shifted = []
  for target in (0, 2, 3):
    for _ in range(num_experiments):
      train_int, test_int = strong_downstream_task.intervened(train, test, target, _SIZES, rng)
      shifted.append((target, code(train_int), train_int, code(test_int), test_int))
  return (code(train), train, code(test), test), shifted


def test_a_code_of_the_factors_generalises_with_no_gap():
  # Each factor is its own one-hot block: a classifier reads the target off its block whatever
  # the held factor, so every accuracy is 1 and the gap 1 − 1/1 is 0.
  plain, shifted = _experiments(np.random.default_rng(1), _one_hot)
  scores = strong_downstream_task.scores_of(plain, shifted)
  assert scores == {'mean_train_accuracy': 1.0, 'mean_test_accuracy': 1.0,
                    'mean_strong_train_accuracy': 1.0, 'mean_strong_test_accuracy': 1.0,
                    'generalization_gap': 0.0}


def test_a_code_that_mixes_the_target_with_the_shifted_factor_fails_every_test_point():
  # Two binary factors seen only through their parity x = (a + b) mod 2. With b held at v the
  # training set is a = x − v exactly (strong train accuracy 1); every test point has b = 1 − v,
  # so the learnt rule is wrong on each one: strong test accuracy 0 and a gap of exactly 1.
  sizes = (2, 2)
  rng = np.random.default_rng(2)
  parity = lambda f: (f.sum(axis=1, keepdims=True) % 2).astype(np.float64)
  train, test = _factors(rng, 300, sizes), _factors(rng, 200, sizes)
  shifted = []
  for target in (0, 1):
    train_int, test_int = strong_downstream_task.intervened(train, test, target, sizes, rng)
    shifted.append((target, parity(train_int), train_int, parity(test_int), test_int))
  scores = strong_downstream_task.scores_of((parity(train), train, parity(test), test), shifted)
  assert scores['mean_strong_train_accuracy'] == 1.0
  assert scores['mean_strong_test_accuracy'] == 0.0
  assert scores['generalization_gap'] == 1.0
  # Without the shift the parity says nothing of one factor: near the chance rate of 1/2.
  assert 0.35 < scores['mean_test_accuracy'] < 0.65


def test_noise_codes_score_chance():
  # The reference's test_task: codes independent of the factors (its DummyData) give a strong
  # test accuracy in [0, 0.3] for five-valued factors (chance is 0.2).
  sizes = (5, 5, 5)
  rng = np.random.default_rng(3)
  noise = lambda f: rng.random((len(f), 10))
  train, test = _factors(rng, 300, sizes), _factors(rng, 300, sizes)
  shifted = []
  for target in range(3):
    for _ in range(2):
      train_int, test_int = strong_downstream_task.intervened(train, test, target, sizes, rng)
      shifted.append((target, noise(train_int), train_int, noise(test_int), test_int))
  scores = strong_downstream_task.scores_of((noise(train), train, noise(test), test), shifted)
  assert 0.0 <= scores['mean_strong_test_accuracy'] <= 0.3


def test_scores_of_a_small_dataset_are_accuracies_and_their_gap_and_repeat_under_a_key():
  # The codes are pixel mass and centroids (scale and position): the gap is 1 − the ratio of
  # the two test accuracies by definition, and one key gives the same interventions and scores.
  sizes = (3, 2, 4, 8, 8)
  data = dataclasses.replace(dsprites.dataset(), factor_sizes=sizes,
                             sample_factors=functools.partial(ground_truth.uniform_factors, sizes))
  run = lambda key: strong_downstream_task.strong_downstream_scores(
      data, test_fairness._factor_encoder(), key, jax.random.key(1), num_train=200, num_test=100,
      num_experiments=2, per_step=64)
  scores = run(jax.random.key(0))
  assert set(scores) == {'mean', 'sampled'}
  for values in scores.values():
    assert set(values) == set(strong_downstream_task._OWN_KEYS)
    assert all(0.0 <= values[k] <= 1.0 for k in strong_downstream_task._OWN_KEYS[:4])
    assert values['generalization_gap'] == (
        1 - values['mean_strong_test_accuracy'] / values['mean_test_accuracy'])
  assert run(jax.random.key(0)) == scores
