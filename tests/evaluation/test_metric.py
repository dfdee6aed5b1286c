"""The checks every registry of metrics passes, and the least sizes derived from declarations."""

import pytest

from vae.evaluation import metric


def _metric(name, keys, stream=None, least=()):
  return metric.Metric(name, keys, lambda inputs: {}, least=least, stream=stream)


def test_two_metrics_writing_one_key_are_refused():
  with pytest.raises(ValueError, match="metrics 'a' and 'b' share the key 'train_accuracy'"):
    metric.registry((_metric('a', ('train_accuracy', 'x')), _metric('b', ('train_accuracy',))))


def test_two_metrics_of_one_name_or_stream_are_refused():
  with pytest.raises(ValueError, match="share the name 'a'"):
    metric.registry((_metric('a', ('x',)), _metric('a', ('y',))))
  with pytest.raises(ValueError, match="share the stream 2"):
    metric.registry((_metric('a', ('x',), stream=2), _metric('b', ('y',), stream=2)))


def test_distinct_metrics_keep_their_order():
  metrics = (_metric('b', ('y',), stream=3), _metric('a', ('x',), stream=2), _metric('c', ('z',)))
  assert metric.registry(metrics) == metrics


def test_each_size_takes_its_largest_least_value_and_names_who_needs_it():
  declared = [metric.histogram('MIG', 20), metric.Least('num_test', 2, 'AUC', 'needs two'),
              metric.histogram('modularity', 20), metric.Least('num_train', 5, 'other', 'why not'),
              metric.histogram('the unsupervised scores', 20), metric.Least('num_eval', 1),
              metric.Least('num_eval', 1)]
  assert metric.least_sizes(declared) == {
      'num_train': (20, 'MIG, modularity and the unsupervised scores histogram the codes into '
                        '20 bins'),
      'num_test': (2, 'AUC needs two'),
      'num_eval': (1, '')}


def test_prefixed_names_each_representations_keys():
  scores = {'mean': {'train_accuracy': 1.0}, 'sampled': {'train_accuracy': 0.5}}
  assert metric.prefixed('beta_vae', scores) == {'mean': {'beta_vae_train_accuracy': 1.0},
                                                 'sampled': {'beta_vae_train_accuracy': 0.5}}
