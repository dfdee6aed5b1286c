"""The summary's aggregates against values worked out by hand."""

from vae.studies import report

# Three seeds at β = 1 and two at β = 4, values chosen so every aggregate is easy to check.
ROWS = [
    {'method': 'beta_vae', 'strength': 1.0, 'beta': 1.0, 'seed': 0, 'recon': 100.0, 'kl': 20.0, 'discrete_mig': 0.10},
    {'method': 'beta_vae', 'strength': 1.0, 'beta': 1.0, 'seed': 1, 'recon': 110.0, 'kl': 22.0, 'discrete_mig': 0.30},
    {'method': 'beta_vae', 'strength': 1.0, 'beta': 1.0, 'seed': 2, 'recon': 90.0, 'kl': 24.0, 'discrete_mig': 0.20},
    {'method': 'beta_vae', 'strength': 4.0, 'beta': 4.0, 'seed': 0, 'recon': 150.0, 'kl': 10.0, 'discrete_mig': 0.40},
    {'method': 'beta_vae', 'strength': 4.0, 'beta': 4.0, 'seed': 1, 'recon': 170.0, 'kl': 12.0, 'discrete_mig': 0.60},
]


def test_per_strength_groups_seeds():
  assert report.per_strength(ROWS, 'recon') == {1.0: [100.0, 110.0, 90.0], 4.0: [150.0, 170.0]}


def _markdown(rows, names, excluded=None):
  return report.markdown(rows, names, excluded or {}, report.score_statistics(rows, names))


NAMES = ['method', 'strength', 'beta', 'seed', 'recon', 'kl', 'discrete_mig']


def test_markdown_cells_are_median_and_quartiles():
  text = _markdown(ROWS, NAMES)
  # β = 1: (90, 100, 110) has median 100 and linear quartiles 95, 105; β = 4: (150, 170) has
  # median 160 and quartiles 155, 165.
  assert '| recon | 100 [95, 105] | 160 [155, 165] |' in text
  assert '| kl | 22 [21, 23] | 11 [10.5, 11.5] |' in text


def test_best_beta_line_says_two_seeds_cannot_separate_the_strengths():
  text = _markdown(ROWS, NAMES)
  # MIG at β = 4 (0.4, 0.6) lies wholly above β = 1 (0.1, 0.2, 0.3), yet of the C(5, 2) = 10
  # splits of five seeds into 3 + 2, two separate them wholly: p = 0.2, the least possible.
  assert ('- discrete_mig: no β is distinguishable at n = 2 seeds (highest median 0.500 at '
          'β = 4, runner-up β = 1, p = 0.2; at this n no table can reach p < 0.2)') in text


def test_excluded_runs_are_listed():
  text = _markdown(ROWS, ['method', 'strength', 'beta', 'seed', 'recon'],
                   {'runs/beta_vae_inf_seed_0': 'non-finite'})
  assert '- runs/beta_vae_inf_seed_0: non-finite' in text


def test_skipped_metrics_are_named_once():
  rows = [{**r, 'skipped_metrics': ['fairness', 'downstream_task'][:1 + r['seed'] % 2]}
          for r in ROWS]
  text = _markdown(rows, NAMES)
  assert ('Not computed (`--config.disentanglement.skip_metrics`, for time): fairness, '
          'downstream_task.') in text
  assert 'Not computed' not in _markdown(ROWS, NAMES)


def test_another_methods_sweep_is_labelled_with_its_strength():
  rows = [{**r, 'method': 'factor_vae', 'strength': 10 * r['strength']} for r in ROWS]
  for r in rows:
    del r['beta']
  text = _markdown(rows, ['method', 'strength', 'seed', 'recon', 'discrete_mig'])
  assert text.startswith('# factor_vae sweep summary (γ)')
  assert '| recon | 100 [95, 105] | 160 [155, 165] |' in text
  assert '- discrete_mig: no γ is distinguishable at n = 2 seeds (highest median 0.500 at γ = 40' \
      in text


def _rows(values_by_strength):
  return [{'method': 'beta_vae', 'strength': b, 'beta': b, 'seed': s, 'run_dir': f'r{b}{s}',
           'recon': 100.0 + b, 'discrete_mig': v}
          for b, values in values_by_strength.items() for s, v in enumerate(values)]


def _summary(values_by_strength):
  rows = _rows(values_by_strength)
  return _markdown(rows, report.columns(rows))


def test_summary_with_one_seed_says_no_comparison_can_be_made():
  text = _summary({1.0: [0.02], 4.0: [0.03], 16.0: [0.01]})
  assert 'no comparison between strengths can be made' in text
  assert 'best at' not in text


def test_summary_names_a_best_strength_only_beyond_seed_noise():
  noise = _summary({1.0: [0.02, 0.05, 0.03], 16.0: [0.04, 0.01, 0.06]})
  assert 'discrete_mig: no β is distinguishable at n = 3 seeds' in noise
  assert 'no table can reach p < 0.1' in noise  # 2 / C(6, 3): three seeds can never show it.
  clear = _summary({1.0: [0.01, 0.02, 0.03, 0.04, 0.05], 16.0: [0.3, 0.31, 0.32, 0.33, 0.34]})
  assert 'discrete_mig: best at β = 16 (median 0.320), beyond seed noise against β = 1' in clear
  assert 'p = 0.00794' in clear
  assert '0.32 [0.31, 0.33]' in clear  # Median [q25, q75] cells.
