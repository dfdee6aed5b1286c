"""The suite's registry: the keys of eval_disentanglement.json and the sizes the settings check."""

import jax
import ml_collections
import pytest

from tests.evaluation import test_sampled_scores as in_graph
from vae.evaluation import metric
from vae.evaluation import registry
from vae.evaluation import suite

# Each representation's scores in eval_disentanglement.json, in order: the summaries read them. A
# new metric adds its keys after these.
_KEYS = ('active_latents', 'discrete_mig', 'sap_score', 'modularity_score',
         'explicitness_score_train', 'explicitness_score_test', 'gaussian_total_correlation',
         'gaussian_wasserstein_correlation', 'gaussian_wasserstein_correlation_norm',
         'mutual_info_score', 'disentanglement', 'completeness', 'informativeness_train',
         'informativeness_test', 'beta_vae_train_accuracy', 'beta_vae_eval_accuracy',
         'factor_vae_train_accuracy', 'factor_vae_eval_accuracy', 'factor_vae_num_active_dims')


def test_the_metrics_write_the_result_files_keys_in_order():
  assert tuple(key for m in registry.METRICS for key in m.keys)[:len(_KEYS)] == _KEYS
  assert [m.name for m in registry.METRICS][:8] == [
      'active_units', 'mig', 'sap', 'modularity', 'unsupervised', 'dci', 'beta_vae',
      'factor_vae']


def _sizes():
  return ml_collections.ConfigDict({
      'num_train': 100, 'num_test': 50, 'encode_batch_size': 64, 'sampled_batch_size': 8,
      'sampled_num_train': 20, 'sampled_num_eval': 10, 'num_variance_estimate': 100,
      'fairness_num_train': 50, 'fairness_num_test_points_per_class': 3,
      'downstream_num_train': '10,20,30,40', 'downstream_num_test': 20,
      'strong_downstream_num_train': 30, 'strong_downstream_num_test': 20,
      'strong_downstream_num_experiments': 1})


@pytest.mark.slow  # 33 s: the whole suite, downstream tasks included, on two representations.
def test_each_metric_writes_its_declared_keys_for_each_representation():
  results = suite.evaluate_representations(in_graph._small_grid(), in_graph._encoder(),
                                           jax.random.key(0), jax.random.key(1), _sizes())
  for name in ('mean', 'sampled'):
    assert tuple(results[name]) == tuple(key for m in registry.METRICS for key in m.keys)


def test_the_least_sizes_are_what_each_metric_declares():
  # The settings check each (tests/test_settings.py holds their messages).
  expected = {
      'num_train': (20, 'MIG, modularity, the unsupervised scores and the MIG variants histogram '
                        'the codes into 20 bins'),
      'num_test': (2, 'the explicitness ROC AUC needs two test points'),
      'sampled_batch_size': (2, 'BetaVAE pairs and FactorVAE variances need two per batch'),
      'sampled_num_train': (1, ''),
      'sampled_num_eval': (1, ''),
      'num_variance_estimate': (2, 'the FactorVAE global variance needs two points'),
      'encode_batch_size': (1, ''),
      'fairness_num_train': (2, 'the fairness classifiers need two training points'),
      'fairness_num_test_points_per_class': (1, ''),
      'strong_downstream_num_train': (2, 'the classifiers need two training points'),
      'strong_downstream_num_experiments': (1, ''),
      'aggregate_samples': (1, '')}
  assert {size: registry.LEAST_SIZES[size] for size in expected} == expected


def test_a_metric_writing_other_keys_than_it_declares_is_an_error():
  wrong = metric.Metric('wrong', ('declared',),
                        lambda inputs: {name: {'written': 0.0} for name in inputs.codes_train})
  with pytest.raises(RuntimeError, match="metric 'wrong' wrote"):
    suite.evaluate_representations(in_graph._small_grid(), in_graph._encoder(),
                                   jax.random.key(0), jax.random.key(1), _sizes(),
                                   metrics=(wrong,))
