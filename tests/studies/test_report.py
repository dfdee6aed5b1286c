"""The summary's aggregates against values worked out by hand."""

from vae.studies import report
from vae.studies import score_families

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
  return report.markdown(rows, names, excluded or {}, report.score_statistics(rows, names), '.')


NAMES = ['method', 'strength', 'beta', 'seed', 'recon', 'kl', 'discrete_mig']


def test_markdown_cells_are_median_and_quartiles():
  text = _markdown(ROWS, NAMES)
  # β = 1: (90, 100, 110) has median 100 and linear quartiles 95, 105; β = 4: (150, 170) has
  # median 160 and quartiles 155, 165.
  assert '| recon | 100 [95, 105] | 160 [155, 165] |' in text
  assert '| KL | 22 [21, 23] | 11 [10.5, 11.5] |' in text  # The headline table's name.
  assert '| kl | 22 [21, 23] | 11 [10.5, 11.5] |' in text  # The full table's column.


def test_best_beta_line_says_two_seeds_cannot_separate_the_strengths():
  text = _markdown(ROWS, NAMES)
  # MIG at β = 4 (0.4, 0.6) lies wholly above β = 1 (0.1, 0.2, 0.3), yet of the C(5, 2) = 10
  # splits of five seeds into 3 + 2, two separate them wholly: p = 0.2, the least possible.
  assert ('- MIG: no β is distinguishable at n = 2 seeds (highest median 0.500 at β = 4, '
          'runner-up β = 1, p = 0.2; at this n no table can reach p < 0.2); recon 160.0 nats '
          'there vs 100.0 at β = 1 (+60.0)') in text


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
  assert text.startswith('# factor_vae sweep: which γ disentangles best')
  assert '| | γ = 10 (n=3) | γ = 40 (n=2) |' in text
  assert '| recon | 100 [95, 105] | 160 [155, 165] |' in text
  assert '- MIG: no γ is distinguishable at n = 2 seeds (highest median 0.500 at γ = 40' in text


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
  assert 'MIG: no β is distinguishable at n = 3 seeds' in noise
  assert 'no table can reach p < 0.1' in noise  # 2 / C(6, 3): three seeds can never show it.
  clear = _summary({1.0: [0.01, 0.02, 0.03, 0.04, 0.05], 16.0: [0.3, 0.31, 0.32, 0.33, 0.34]})
  assert 'MIG: best at β = 16 (median 0.320), beyond seed noise against β = 1' in clear
  # recon is 100 + β: 116 at β = 16 against 101 at β = 1.
  assert 'recon 116.0 nats there vs 101.0 at β = 1 (+15.0)' in clear
  assert 'p = 0.00794' in clear
  assert '0.32 [0.31, 0.33]' in clear  # Median [q25, q75] cells.


def _encoded(verdicts):
  return {'factors': list(verdicts),
          'encoding': {factor: {'verdict': v, 'latents': [0] if v == 'one latent' else [],
                                'top_rho': 0.9} for factor, v in verdicts.items()}}


def test_latents_are_one_line_per_strength_with_each_model_linked():
  rows = [{**r, 'run_dir': f'./runs/beta_vae_{r["strength"]:g}_seed_{r["seed"]}',
           'factor_latent': _encoded({'shape': 'not encoded',
                                        'pos_x': 'one latent' if r['seed'] else 'spread'})}
          for r in ROWS]
  text = _markdown(rows, NAMES)
  assert ('- β = 1: shape not encoded 3/3; pos_x one latent 2/3, spread 1/3. Per model: '
          '[seed 0](runs/beta_vae_1_seed_0/factor_latent.md), '
          '[seed 1](runs/beta_vae_1_seed_1/factor_latent.md), '
          '[seed 2](runs/beta_vae_1_seed_2/factor_latent.md).') in text
  assert '- β = 4: shape not encoded 2/2; pos_x one latent 1/2, spread 1/2.' in text


def test_the_answer_comes_first_and_every_column_once_in_its_family():
  scores = [name for name, _ in score_families.HEADLINE]
  rows = [{'method': 'beta_vae', 'strength': b, 'beta': b, 'seed': s, 'run_dir': f'r{b}{s}',
           'recon': 100.0 + b + s, 'kl': 10.0 - s, 'elbo': -110.0, 'log_px': -105.0,
           'elbo_gap': 5.0, 'active_latents': 4, 'fairness_mean_fairness_mean_pred_mean_sens': 0.1,
           'new_score': 1.0, **{n: 0.1 * b + 0.01 * s for n in scores}}
          for b in (1.0, 8.0) for s in range(4)]
  names = report.columns(rows)
  lines = _markdown(rows, names).splitlines()
  # Every headline score's verdict lies in the first screen, each one line.
  for title in dict(score_families.HEADLINE).values():
    assert any(line.startswith(f'- {title}: best at β = 8') for line in lines[:25]), title
  headline = lines.index('## Headline scores')
  assert lines[headline + 4:headline + 6] == ['| | β = 1 (n=4) | β = 8 (n=4) |', '|---|---|---|']
  # recon at β = 1 is 101, 102, 103, 104: median 102.5, linear quartiles 101.75 and 103.25.
  assert lines[headline + 6] == '| recon | 102.5 [101.8, 103.2] | 109.5 [108.8, 110.2] |'
  # Below, each measured column lies in exactly one family's table; the unknown one in 'Other'.
  full = lines[lines.index('## Every score, by family'):]
  for name in report.metric_names(names):
    assert sum(line.startswith(f'| {name} |') for line in full) == 1, name
  assert '### Fairness' in full and '### Other' in full


def test_a_score_a_model_leaves_undefined_is_not_among_its_strength_s_seeds():
  rows = [{'strength': 1.0, 'infoc': 0.2}, {'strength': 1.0, 'infoc': float('nan')},
          {'strength': 4.0, 'infoc': None}, {'strength': 4.0, 'infoc': 0.5}]
  assert report.per_strength(rows, 'infoc') == {1.0: [0.2], 4.0: [0.5]}


def test_a_summary_cell_names_its_seeds_when_a_model_left_the_score_undefined():
  rows = [{'strength': 1.0, 'seed': s, 'infoc': v} for s, v in enumerate([0.2, float('nan'), 0.4])]
  table = '\n'.join(report._table(rows, ['infoc'], [1.0], 'β'))
  # The header counts the strength's 3 models; the cell's median is of the 2 defined values.
  assert '| | β = 1 (n=3) |' in table and '| infoc | 0.3 [0.25, 0.35] (n=2) |' in table
  rows[1]['infoc'] = 0.3
  assert '| infoc | 0.3 [0.25, 0.35] |' in '\n'.join(report._table(rows, ['infoc'], [1.0], 'β'))
