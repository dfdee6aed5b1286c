"""Which latents carry which factor: the factor × latent matrices behind a low score.

MIG, DCI and SAP say *that* a code is entangled; this says *how*. For each factor it gives
|Spearman ρ| between the factor's value and each latent's code (rank-based, so any monotone
encoding counts; a categorical factor's ρ depends on the arbitrary order of its values), and the
mutual information of the histogram-discretized code with the factor over the factor's entropy
(the matrix the reference library's MIG takes its gaps from). Each factor is then called:
  'one latent'   its largest |ρ| is at least twice its second largest;
  'spread'       several latents hold at least half the largest |ρ| (e.g. position encoded in
                 its plane but rotated against the axes: two latents each correlate with pos_x
                 and with pos_y);
  'not encoded'  no latent reaches |ρ| = 0.2.
"""

import numpy as np
from scipy import stats

from vae.evaluation import discretize
from vae.evaluation import information
from vae.evaluation import validation

ENCODED = 0.2  # |ρ| below which no latent is said to encode the factor.
SHARE = 0.5  # Latents at or above this fraction of the largest |ρ| share the factor.


def abs_spearman(codes, factors):
  """|ρ| [factors, latents] of each factor against each code; 0 where either is constant."""
  codes, factors = validation.codes_and_factors(codes, factors)
  latents = codes.shape[1]
  with np.errstate(invalid='ignore', divide='ignore'):  # A constant column: ρ is NaN, read as 0.
    rho = stats.spearmanr(np.concatenate([codes, factors], axis=1)).statistic
  rho = np.atleast_2d(rho)[latents:, :latents]
  return np.nan_to_num(np.abs(rho), nan=0.0)


def normalized_information(codes, factors, num_bins=20):
  """I(discretized z_j; v_k) / H(v_k) [factors, latents]; 0 for a constant factor."""
  codes, factors = validation.codes_and_factors(codes, factors)
  mi = information.mutual_information_matrix(
      discretize.histogram_discretize(codes, num_bins), factors).T
  entropy = information.entropies(factors)
  return np.divide(mi, entropy[:, None], out=np.zeros_like(mi), where=entropy[:, None] > 0)


def encoding(rho, factor_names):
  """{factor: {'verdict', 'latents': those sharing it (largest first), 'top_rho'}} of |ρ|."""
  result = {}
  for name, row in zip(factor_names, np.asarray(rho)):
    order = np.argsort(-row, kind='stable')
    top = float(row[order[0]])
    sharing = [int(j) for j in order if row[j] >= SHARE * top]
    if top < ENCODED:
      verdict, sharing = 'not encoded', []
    elif len(sharing) == 1:
      verdict = 'one latent'
    else:
      verdict = 'spread'
    result[name] = {'verdict': verdict, 'latents': sharing, 'top_rho': top}
  return result


def factor_latent(codes, factors, factor_names):
  """The matrices and each factor's verdict, as written to eval_disentanglement.json."""
  rho = abs_spearman(codes, factors)
  return {'factors': list(factor_names), 'abs_spearman': rho.tolist(),
          'normalized_mutual_information': normalized_information(codes, factors).tolist(),
          'encoding': encoding(rho, factor_names)}


def markdown(result):
  """The table of |ρ| and the verdicts, for a model's factor_latent.md."""
  rho = np.asarray(result['abs_spearman'])
  lines = ['# Which latents carry which factor', '',
           '|Spearman ρ| of each latent\'s mean code against each factor (the suite\'s train '
           'points); NMI is I(z_j; v_k)/H(v_k) of the 20-bin discretized code.', '',
           '| factor | ' + ' | '.join(f'z{j}' for j in range(rho.shape[1])) + ' | verdict |',
           '|---|' + '---|' * (rho.shape[1] + 1)]
  for name, row in zip(result['factors'], rho):
    summary = result['encoding'][name]
    where = ', '.join(f'z{j}' for j in summary['latents'])
    verdict = summary['verdict'] + (f' ({where})' if where else '')
    lines.append(f'| {name} | ' + ' | '.join(f'{v:.2f}' for v in row) + f' | {verdict} |')
  return '\n'.join(lines) + '\n'
