"""The scores' rank correlations over the models of a sweep or a comparison (Locatello et al.
2019, Fig. 2: which metrics agree on which models are better).

    score_correlations.csv         Spearman's ρ of every pair of scores, over the models that
                                   have both
    figures/score_correlations.png the matrix as a heat map, each cell written

A score that takes one value over the models (an active-unit count that never moves) has no rank
order and is left out, as is one that fewer than 3 models have.
"""

import io
import csv
import os

import numpy as np
from scipy import stats

from vae import files
from vae import plotting

MIN_MODELS = 3  # Below this every ρ is ±1 or undefined.


def _values(rows, name):
  return np.array([np.nan if r.get(name) is None else float(r[name]) for r in rows])


def rank_correlations(rows, names):
  """(the scores kept, ρ [S, S]): Spearman's ρ of each pair over the rows that have both."""
  columns = {n: _values(rows, n) for n in names}
  kept = [n for n, v in columns.items()
          if np.isfinite(v).sum() >= MIN_MODELS and np.unique(v[np.isfinite(v)]).size > 1]
  rho = np.eye(len(kept))
  for i, a in enumerate(kept):
    for j in range(i + 1, len(kept)):
      b = kept[j]
      both = np.isfinite(columns[a]) & np.isfinite(columns[b])
      if both.sum() < MIN_MODELS:
        rho[i, j] = rho[j, i] = np.nan
        continue
      rho[i, j] = rho[j, i] = stats.spearmanr(columns[a][both], columns[b][both]).statistic
  return kept, rho


def write(workdir, rows, names):
  """score_correlations.csv and figures/score_correlations.png of `rows` over the scores
  `names`; nothing when fewer than two scores have a rank order."""
  kept, rho = rank_correlations(rows, names)
  if len(kept) < 2:
    return kept, rho
  text = io.StringIO()
  writer = csv.writer(text, lineterminator='\n')
  writer.writerow(['score', *kept])
  writer.writerows([[a, *(f'{v:.4f}' for v in row)] for a, row in zip(kept, rho)])
  files.write_atomic(os.path.join(workdir, 'score_correlations.csv'), text.getvalue())
  plotting.save_correlation_heatmap(os.path.join(workdir, 'figures', 'score_correlations.png'),
                                    kept, rho, f'Spearman ρ over {len(rows)} models')
  return kept, rho
