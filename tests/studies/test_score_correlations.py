"""The scores' rank correlations against Spearman's formula on untied ranks."""

import csv
import os

import numpy as np
import pytest

from vae.studies import score_correlations


def _spearman_by_formula(a, b):
  """1 − 6 Σ d² / (n (n² − 1)), d the rank differences: Spearman's ρ when there are no ties."""
  ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
  n = len(a)
  return 1 - 6 * np.sum((ranks_a - ranks_b)**2) / (n * (n * n - 1))


def _rows():
  rng = np.random.default_rng(0)
  mig = rng.uniform(size=7)
  return [{'discrete_mig': float(m), 'recon': float(r), 'active_latents': 10.0,
           'dci': float(d), 'tc': None if i < 5 else 1.0}
          for i, (m, r, d) in enumerate(zip(mig, -mig + rng.normal(0, 0.3, 7),
                                            rng.uniform(size=7)))]


def test_rho_of_every_pair_and_what_is_left_out():
  rows = _rows()
  kept, rho = score_correlations.rank_correlations(
      rows, ['discrete_mig', 'recon', 'active_latents', 'dci', 'tc'])
  # A constant score has no rank order; one that 2 models have is too few.
  assert kept == ['discrete_mig', 'recon', 'dci']
  values = {n: np.array([r[n] for r in rows]) for n in kept}
  for i, a in enumerate(kept):
    for j, b in enumerate(kept):
      assert rho[i, j] == pytest.approx(_spearman_by_formula(values[a], values[b]))


def test_the_files(tmp_path):
  rows = _rows()
  score_correlations.write(str(tmp_path), rows, ['discrete_mig', 'recon', 'dci'])
  with open(tmp_path / 'score_correlations.csv') as f:
    table = list(csv.reader(f))
  assert table[0] == ['score', 'discrete_mig', 'recon', 'dci']
  assert [row[0] for row in table[1:]] == ['discrete_mig', 'recon', 'dci']
  assert float(table[1][1]) == 1.0
  assert os.path.getsize(tmp_path / 'figures' / 'score_correlations.png') > 0
  # One score with a rank order: no matrix, no files.
  other = tmp_path / 'other'
  score_correlations.write(str(other), rows, ['discrete_mig', 'active_latents'])
  assert not other.exists()
