"""The summary's aggregates against values worked out by hand."""

from vae import report

# Three seeds at β = 1 and two at β = 4, values chosen so every aggregate is easy to check.
ROWS = [
    {'beta': 1.0, 'seed': 0, 'recon': 100.0, 'kl': 20.0, 'discrete_mig': 0.10},
    {'beta': 1.0, 'seed': 1, 'recon': 110.0, 'kl': 22.0, 'discrete_mig': 0.30},
    {'beta': 1.0, 'seed': 2, 'recon': 90.0, 'kl': 24.0, 'discrete_mig': 0.20},
    {'beta': 4.0, 'seed': 0, 'recon': 150.0, 'kl': 10.0, 'discrete_mig': 0.40},
    {'beta': 4.0, 'seed': 1, 'recon': 170.0, 'kl': 12.0, 'discrete_mig': 0.60},
]


def test_per_beta_groups_seeds():
  assert report.per_beta(ROWS, 'recon') == {1.0: [100.0, 110.0, 90.0], 4.0: [150.0, 170.0]}


def test_markdown_cells_are_median_min_max():
  text = report.markdown(ROWS, ['beta', 'seed', 'recon', 'kl', 'discrete_mig'], {})
  # β = 1: median of (100, 110, 90) is 100; β = 4: median of (150, 170) is their mean, 160.
  assert '| recon | 100 [90, 110] | 160 [150, 170] |' in text
  assert '| kl | 22 [20, 24] | 11 [10, 12] |' in text


def test_best_beta_line_names_the_best_median_and_its_recon_cost():
  text = report.markdown(ROWS, ['beta', 'seed', 'recon', 'kl', 'discrete_mig'], {})
  # MIG medians: β = 1 → 0.2, β = 4 → 0.5; recon medians 100 and 160, so the cost is +60.
  assert ('- discrete_mig: best at β = 4 (0.500); recon there 160.0 nats vs 100.0 at β = 1'
          ' (+60.0).') in text


def test_excluded_runs_are_listed():
  text = report.markdown(ROWS, ['beta', 'seed', 'recon'], {'runs/beta_inf_seed_0': 'non-finite'})
  assert '- runs/beta_inf_seed_0: non-finite' in text
