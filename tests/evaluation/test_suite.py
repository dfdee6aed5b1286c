"""The disentanglement suite on a trained model, through its entry point."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import ml_collections
import pytest

from experiments.configs import default
from tests import ROOT
from tests.evaluation import test_sampled_scores as in_graph
from vae.evaluation import beta_vae_score
from vae.evaluation import sampled_scores
from vae.evaluation import sap
from vae.evaluation import suite
from vae.training import loop


# Each score's valid range: accuracies, MIG, DCI, SAP, modularity and explicitness are fractions
# (their definitions); active counts are bounded by the latents; the rest are non-negative
# (total correlation and mutual information are KL divergences, the Wasserstein score a sum of
# variances).
_UNIT_INTERVAL = ('beta_vae_train_accuracy', 'beta_vae_eval_accuracy', 'factor_vae_train_accuracy',
                  'factor_vae_eval_accuracy', 'discrete_mig', 'disentanglement', 'completeness',
                  'informativeness_train', 'informativeness_test', 'sap_score', 'modularity_score',
                  'explicitness_score_train', 'explicitness_score_test',
                  'fairness_mean_fairness_mean_pred_mean_sens',
                  'fairness_max_fairness_max_pred_max_sens',
                  *(f'downstream_{fit}_n{p}_{s}_accuracy' for fit in ('logreg', 'gbt')
                    for p in range(1, 5) for s in ('mean', 'min')),
                  *(f'strong_downstream_mean_{s}accuracy' for s in
                    ('train_', 'test_', 'strong_train_', 'strong_test_')),
                  # Ratios of informations (Carbonneau et al.'s normalizations; InfoMEC's paper).
                  'mig_sup', 'dcimig', 'jemmig', 'infom', 'infoe', 'infoc',
                  'dci_es_informativeness')
_NON_NEGATIVE = ('gaussian_total_correlation', 'gaussian_wasserstein_correlation',
                 'gaussian_wasserstein_correlation_norm', 'mutual_info_score')


def _evaluate(workdir, *flags):
  return subprocess.run([sys.executable, '-m', 'experiments.evaluate', f'--workdir={workdir}',
                         *flags], cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # The exact DCI fits make it long; `.ci/run` runs it.
def test_every_score_in_its_valid_range(config, tmp_path):
  config.disentanglement.skip_metrics = ''
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(config, workdir)
  result = _evaluate(workdir)
  assert result.returncode == 0, result.stderr
  with open(os.path.join(workdir, 'eval_disentanglement.json')) as f:
    scores = json.load(f)
  assert scores['step'] == config.num_train_steps
  for representation in ('mean', 'sampled'):
    values = scores[representation]
    assert set(_UNIT_INTERVAL + _NON_NEGATIVE) < set(values)
    for name in _UNIT_INTERVAL:
      assert 0.0 <= values[name] <= 1.0, (representation, name, values[name])
    for name in _NON_NEGATIVE:
      assert values[name] >= 0.0, (representation, name, values[name])
    assert values['irs'] <= 1.0  # 1 − a ratio of deviations; below 0 only for a pathological code.
    # 1 − an area over the baseline's triangle: below 0 only when a probe is worse than guessing.
    assert values['dci_es_explicitness'] <= 1.0
    # Factors over codes: dSprites' five factors (shape, scale, orientation, x, y) over 4 latents.
    assert values['dci_es_size'] == 5 / config.latents
    for name in ('active_latents', 'factor_vae_num_active_dims', 'irs_num_active_dims'):
      assert 0 <= values[name] <= config.latents
  # Every metric is timed (the suite benchmark reports their shares).
  assert set(scores['stage_seconds']) == {
      'encoding', 'active_units', 'mig', 'dci', 'sap', 'modularity', 'unsupervised', 'beta_vae',
      'factor_vae', 'irs', 'factor_latent', 'fairness', 'downstream_task',
      'strong_downstream_task', 'mig_variants', 'infomec', 'dci_es'}


@pytest.mark.slow  # The whole 737,280-image grid is rendered and encoded.
def test_chen_quantities_are_added_to_a_finished_run(config, tmp_path):
  config.model, config.hidden = 'mlp', 32  # The grid's encoder pass in seconds, not minutes.
  config.disentanglement.representations = 'mean'
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(config, workdir)
  result = _evaluate(workdir, '--chen_mig', '--elbo_decomposition', '--aggregate_samples=64')
  assert result.returncode == 0, result.stderr
  with open(os.path.join(workdir, 'eval_disentanglement.json')) as f:
    scores = json.load(f)
  terms = scores['aggregate_posterior']
  assert 0.0 <= terms['chen_mig'] <= 1.0
  assert terms['dataset_mi'] + terms['dataset_tc'] + terms['dataset_dim_kl'] == pytest.approx(
      terms['dataset_kl'], abs=1e-3)
  assert scores['grid_tabulated']  # The grid's table serves the other scores too.
  assert 'chen_mig' in result.stderr  # The entry point logs every scalar it wrote.
  assert os.path.exists(os.path.join(workdir, suite.FACTOR_LATENT_FILE))


@pytest.mark.parametrize('make', ['missing', 'untrained'])
def test_no_model_is_a_one_line_error(tmp_path, make):
  workdir = tmp_path / 'run'
  if make == 'untrained':
    workdir.mkdir()
  result = _evaluate(workdir)
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1] == (
      f'error: --workdir={workdir} holds no trained model (no config.json)')
  assert not (workdir / 'eval_disentanglement.json').exists()


def test_observations_to_encode_at_the_published_sizes():
  # Hand count: 10,000 + 5,000 points, BetaVAE 15,000 points × 64 pairs × 2, FactorVAE 15,000
  # points × 64 and 10,000 for the variance estimate: the ~2.9 M of issue 11. Fairness: its
  # 10,000 training points (its interventions depend on the dataset, not counted). Downstream
  # task: 10 + 100 + 1,000 + 10,000 training points and 5,000 test points for each. Strong
  # downstream task: its 1,000 training and 1,000 test points (its interventions depend on the
  # dataset, not counted).
  sizes = default.disentanglement_config()
  assert (suite.observations_to_encode(sizes)
          == 15_000 + 15_000 * 64 * 3 + 10_000 + 10_000 + 11_110 + 4 * 5_000 + 2_000
          == 2_948_110)


def _small_sizes(points):
  return ml_collections.ConfigDict({
      'num_train': 100, 'num_test': 50, 'encode_batch_size': 64, 'sampled_batch_size': 8,
      'sampled_num_train': points, 'sampled_num_eval': points // 2,
      'num_variance_estimate': 100, 'fairness_num_train': 50,
      'fairness_num_test_points_per_class': 2, 'strong_downstream_num_train': 30,
      'strong_downstream_num_test': 20, 'strong_downstream_num_experiments': 1,
      # Minutes of cross-validated fits on 16 pixel-count codes, and nothing tabulation changes.
      'skip_metrics': 'downstream_task'})


@pytest.mark.parametrize('points, tabulates', [(40, True),  # 10 s each: one in the slow pass.
                                               pytest.param(20, False, marks=pytest.mark.slow)])
def test_the_grid_is_tabulated_only_where_that_encodes_fewer(monkeypatch, points, tabulates):
  # 1,690 observations to encode against the 1,536-tuple grid: tabulated; 970: not. The encoder
  # gives whole pixel counts, exact under any batching, so the mean representation's scores must
  # be equal, not close, with the table and without it.
  data, sizes = in_graph._small_grid(), _small_sizes(points)
  assert (suite.observations_to_encode(sizes) > data.num_combinations) == tabulates
  assert suite.tabulates(data, sizes) == tabulates
  calls = []
  tabulated = sampled_scores.tabulated
  monkeypatch.setattr(sampled_scores, 'tabulated',
                      lambda *args, **kwargs: calls.append(1) or tabulated(*args, **kwargs))
  run = lambda: suite.evaluate_representations(data, in_graph._encoder(), jax.random.key(0),
                                               jax.random.key(1), sizes)
  scores = run()
  assert len(calls) == int(tabulates)
  monkeypatch.setattr(sampled_scores, 'can_tabulate', lambda _: False)
  assert run()['mean'] == scores['mean']


def _gaussian_statistics(params, x):
  """The block-count encoder as a Gaussian posterior: mean counts/64, variance 0.01."""
  return (in_graph._block_counts(params, x) / 64.0, jnp.full((x.shape[0], 16), jnp.log(0.01)))


def _mean_only(statistics, key):
  del key
  return {'mean': statistics[0]}


def test_whole_grid_quantities_join_the_suite_without_changing_the_other_scores():
  data, sizes = in_graph._small_grid(), _small_sizes(20)
  sizes.representations = 'mean'
  encoder = sampled_scores.PureEncoder(_gaussian_statistics, _mean_only, jnp.float32(1.0))
  run = lambda s: suite.evaluate_representations(data, encoder, jax.random.key(0),
                                                 jax.random.key(1), s)
  plain = run(sizes)
  assert 'aggregate_posterior' not in plain
  sizes.update({'chen_mig': True, 'elbo_decomposition': True, 'aggregate_samples': 500})
  assert suite.tabulates(data, sizes)
  whole = run(sizes)
  assert whole['mean'] == plain['mean']  # Exact counts: the table's lookups give equal codes.
  terms = whole['aggregate_posterior']
  assert 0.0 <= terms['chen_mig'] <= 1.0
  assert terms['chen_factors'] == ['scale', 'orientation', 'pos_x', 'pos_y']  # Shape left out.
  assert terms['dataset_mi'] + terms['dataset_tc'] + terms['dataset_dim_kl'] == pytest.approx(
      terms['dataset_kl'], abs=1e-3)
  # I(x; z) ≤ H(x) = log 1,536 for the grid's equally likely images.
  assert 0.0 < terms['dataset_mi'] <= np.log(data.num_combinations) + 0.05
  assert set(whole['factor_latent']['encoding']) == set(data.factor_names)


def test_skipped_metrics_are_left_out_and_the_others_unchanged():
  # Reference: the same suite without the option; the block counts are exact, so the remaining
  # scores must be equal, not close.
  data, sizes = in_graph._small_grid(), _small_sizes(20)
  run = lambda s: suite.evaluate_representations(data, in_graph._encoder(), jax.random.key(0),
                                                 jax.random.key(1), s)
  everything = run(sizes)
  sizes.skip_metrics = 'sap,beta_vae,downstream_task'
  assert suite.skipped(sizes) == ('sap', 'beta_vae', 'downstream_task')  # Registry order.
  assert suite.observations_to_encode(sizes) == (
      suite.observations_to_encode(_small_sizes(20)) - beta_vae_score.METRIC.observations(sizes))
  timed = suite._Stopwatch()
  fewer = suite.evaluate_representations(data, in_graph._encoder(), jax.random.key(0),
                                         jax.random.key(1), sizes, timed)
  left_out = set(sap.METRIC.keys) | set(beta_vae_score.METRIC.keys)
  for name in ('mean', 'sampled'):
    assert fewer[name] == {k: v for k, v in everything[name].items() if k not in left_out}
  assert not {'sap', 'beta_vae'} & set(timed.seconds)
