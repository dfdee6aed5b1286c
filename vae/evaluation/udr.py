"""UDR, the Unsupervised Disentanglement Ranking (Duan et al. 2020): a sweep-level score that
ranks models without ground-truth factors.

The idea: models that disentangle a data set well find the same latents up to permutation and
sign, while entangled models each mix the factors their own way. Every model encodes the same
inputs; its posterior means are standardised and its latents with KL ≤ `kl_threshold` (averaged
over the inputs) are inactive. For an ordered pair (i, j) a similarity matrix R [latents of i,
latents of j] is |the Lasso coefficients| of j's codes regressed on i's (α = `lasso_alpha`), or
|Spearman ρ| of each pair of latents; over the active latents of both,

    relative strength = ½ [mean over columns of max² / Σ  +  mean over rows of max² / Σ],

1 for a permutation (with any signs) and lower the more each latent spreads over several; a row
or column of zeros counts 0. Model i's UDR is the median over the other models j of the pair
(j, i): i's codes are the ones predicted. Nothing here needs factors: it runs on any source.

Defaults (disentanglement_lib's `evaluation/udr` configs, udr.gin): 1,000 inputs, KL threshold
0.01, α = 0.1, the Lasso matrix as the headline `udr` (`udr_spearman` beside it). Pairs: every
ordered pair of the sweep's models, as the issue asks and as the reference does with the models
it is given (the paper's UDR_A2A); `pairs='same_strength'` keeps the paper's UDR, which pairs only
models of the same hyperparameters (it needs two seeds per strength).

Differences from disentanglement_lib, all where its result is degenerate:
- it zeroes latents at a hard-coded KL of 0.01 and masks them at its `kl_filter_threshold`; one
  threshold does both here (the same at the defaults).
- a latent that is constant on the inputs has an undefined Spearman ρ; the reference's NaN then
  zeroes every column's relative strength, here such a latent correlates with nothing (ρ = 0).
- a pair in which a model has no active latent scores 0 (nothing in common); the reference
  raises on the empty matrix.
"""

import numpy as np
from scipy import stats

from vae import distributions
from vae.evaluation import classifiers
from vae.evaluation import sampled_scores
from vae.evaluation import suite

RESULT_FILE = 'udr.json'  # A sweep's, beside its runs/ (`vae.studies.sweep.write_udr`).
PAIRS = ('all', 'same_strength')
# The score each correlation gives: the reference's default is the headline.
SCORE_NAMES = {'lasso': 'udr', 'spearman': 'udr_spearman'}


def relative_strength_disentanglement(matrix):
  """½ (mean over columns + mean over rows) of max² / Σ of a non-negative matrix; a zero row or
  column counts 0, and so does an empty matrix (a model without active latents)."""
  matrix = np.asarray(matrix, dtype=np.float64)
  if matrix.size == 0:
    return 0.0

  def side(axis):
    total = matrix.sum(axis=axis)
    strength = np.square(matrix.max(axis=axis)) / np.where(total > 0, total, 1.0)
    return np.mean(np.where(total > 0, strength, 0.0))

  return float((side(0) + side(1)) / 2)


def standardised(codes):
  """Each column at mean 0 and standard deviation 1 (a constant column at 0, as sklearn's
  StandardScaler)."""
  codes = np.asarray(codes, dtype=np.float64)
  std = codes.std(axis=0)
  return (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0)


def lasso_matrix(x, y, alpha=0.1):
  """|Lasso coefficients| [x's latents, y's latents] of y's codes regressed on x's."""
  from sklearn import linear_model  # pylint: disable=g-import-not-at-top
  model = classifiers.fit_quietly(linear_model.Lasso(alpha=alpha), x, y)
  return np.abs(np.asarray(model.coef_).reshape(y.shape[1], x.shape[1])).T


def spearman_matrix(x, y):
  """|Spearman ρ| [x's latents, y's latents]; a constant latent correlates with nothing."""
  with np.errstate(invalid='ignore', divide='ignore'):
    rho = np.corrcoef(stats.rankdata(x, axis=0), stats.rankdata(y, axis=0), rowvar=False)
  return np.nan_to_num(np.abs(rho[:x.shape[1], x.shape[1]:]), nan=0.0)


def similarity(x, y, correlation, alpha=0.1):
  """The similarity matrix of two models' active, standardised codes."""
  if x.shape[1] == 0 or y.shape[1] == 0:
    return np.zeros((x.shape[1], y.shape[1]))
  return lasso_matrix(x, y, alpha) if correlation == 'lasso' else spearman_matrix(x, y)


def pairwise_scores(codes, correlation, alpha=0.1):
  """[M, M] relative strengths of every ordered pair (i, j) of the models' active, standardised
  `codes` (a list of [n, active latents]); NaN on the diagonal."""
  scores = np.full((len(codes), len(codes)), np.nan)
  for i, x in enumerate(codes):
    for j, y in enumerate(codes):
      if i != j:
        scores[i, j] = relative_strength_disentanglement(similarity(x, y, correlation, alpha))
  return scores


def model_scores(pairwise, groups=None):
  """[M] each model i's median of `pairwise[j, i]` over the other models j (of its own group
  where `groups` is given); NaN for a model without a partner."""
  count = len(pairwise)
  groups = np.zeros(count) if groups is None else np.asarray(groups)
  scores = np.full(count, np.nan)
  for i in range(count):
    partners = (groups == groups[i]) & (np.arange(count) != i)
    if partners.any():
      scores[i] = np.median(pairwise[partners, i])
  return scores


def kl_per_latent(mean, logvar):
  """[latents] KL(q(z|x) ‖ N(0, I)) of each latent, averaged over the inputs (nats)."""
  return np.asarray(distributions.gaussian_kl_per_dim(mean, logvar)).mean(axis=0)


def scores(codes, kls, kl_threshold=0.01, lasso_alpha=0.1, groups=None):
  """Each model's UDR from its posterior means [n, latents] of the same inputs and its KL per
  latent: {'udr', 'udr_spearman': [M], 'active_latents': [M], 'pairwise': {score: [M, M]}}."""
  active = [np.asarray(kl) > kl_threshold for kl in kls]
  kept = [standardised(c)[:, a] for c, a in zip(codes, active)]
  result = {'active_latents': np.array([int(a.sum()) for a in active]), 'pairwise': {}}
  for correlation, name in SCORE_NAMES.items():
    pairwise = pairwise_scores(kept, correlation, lasso_alpha)
    result['pairwise'][name] = pairwise
    result[name] = model_scores(pairwise, groups)
  return result


def _mean_and_logvar(posterior, key):
  """The representation UDR reads: the posterior's statistics themselves."""
  del key  # Nothing is sampled.
  mean, logvar = posterior
  return {'mean': mean, 'logvar': logvar}


def encode(state, dataset, key, num_points):
  """(posterior means [n, latents], KL per latent averaged over them), numpy, of `num_points`
  inputs drawn with `key`."""
  posterior = suite._Posterior(state.model)  # pylint: disable=protected-access
  encoder = sampled_scores.PureEncoder(posterior, _mean_and_logvar, state.params)
  codes, _ = sampled_scores.codes_and_factors(dataset, encoder, key, key, num_points)
  return codes['mean'], kl_per_latent(codes['mean'], codes['logvar'])
