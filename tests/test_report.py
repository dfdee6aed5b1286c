"""The summary's aggregates against values worked out by hand."""

from vae import report

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


def test_markdown_cells_are_median_min_max():
  text = report.markdown(ROWS, ['method', 'strength', 'beta', 'seed', 'recon', 'kl', 'discrete_mig'], {})
  # β = 1: median of (100, 110, 90) is 100; β = 4: median of (150, 170) is their mean, 160.
  assert '| recon | 100 [90, 110] | 160 [150, 170] |' in text
  assert '| kl | 22 [20, 24] | 11 [10, 12] |' in text


def test_best_beta_line_names_the_best_median_and_its_recon_cost():
  text = report.markdown(ROWS, ['method', 'strength', 'beta', 'seed', 'recon', 'kl', 'discrete_mig'], {})
  # MIG medians: β = 1 → 0.2, β = 4 → 0.5; recon medians 100 and 160, so the cost is +60.
  assert ('- discrete_mig: best at β = 4 (0.500); recon there 160.0 nats vs 100.0 at β = 1'
          ' (+60.0).') in text


def test_excluded_runs_are_listed():
  text = report.markdown(ROWS, ['method', 'strength', 'beta', 'seed', 'recon'], {'runs/beta_vae_inf_seed_0': 'non-finite'})
  assert '- runs/beta_vae_inf_seed_0: non-finite' in text


def test_another_methods_sweep_is_labelled_with_its_strength():
  rows = [{**r, 'method': 'factor_vae', 'strength': 10 * r['strength']} for r in ROWS]
  for r in rows:
    del r['beta']
  text = report.markdown(rows, ['method', 'strength', 'seed', 'recon', 'discrete_mig'], {})
  assert text.startswith('# factor_vae sweep summary (γ)')
  assert '| recon | 100 [90, 110] | 160 [150, 170] |' in text
  assert '- discrete_mig: best at γ = 40 (0.500)' in text
