"""UDR's pieces against the reference library's unit expectations, closed forms and loops."""

import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn import linear_model

from experiments.configs import default
from vae import settings
from vae.errors import UserInputError
from vae.evaluation import udr


@pytest.mark.parametrize('matrix,expected', [
    (np.eye(3), 1.0),  # disentanglement_lib udr_test: exactly 1.
    (np.zeros((3, 3)), 0.0),  # udr_test: exactly 0.
    ([[1, 1, 0], [1, 1, 0], [0, 0, 1]], 2 / 3),  # udr_test: in (0.6, 0.7); by hand ½(2/3 + 2/3).
    (np.ones((3, 3)), 1 / 3),  # udr_test: in (0.3, 0.4); by hand each max²/Σ = 1/3.
    (np.zeros((0, 3)), 0.0),  # A model without active latents shares nothing.
])
def test_relative_strength_reference_expectations(matrix, expected):
  assert udr.relative_strength_disentanglement(matrix) == pytest.approx(expected, abs=1e-12)


def _relative_strength_loop(matrix):
  """½ (mean over columns + mean over rows) of max² / Σ, entry by entry (0 where Σ = 0)."""
  rows, cols = len(matrix), len(matrix[0])
  column_terms, row_terms = [], []
  for j in range(cols):
    column = [matrix[i][j] for i in range(rows)]
    column_terms.append(max(column) ** 2 / sum(column) if sum(column) > 0 else 0.0)
  for i in range(rows):
    row_terms.append(max(matrix[i]) ** 2 / sum(matrix[i]) if sum(matrix[i]) > 0 else 0.0)
  return (sum(column_terms) / cols + sum(row_terms) / rows) / 2


def test_relative_strength_equals_a_direct_loop_on_a_random_matrix():
  matrix = np.abs(np.random.default_rng(0).normal(size=(5, 7)))
  matrix[2] = 0.0  # A zero row and a zero column count 0.
  matrix[:, 4] = 0.0
  assert udr.relative_strength_disentanglement(matrix) == pytest.approx(
      _relative_strength_loop(matrix.tolist()), rel=1e-12)


def _factorial(levels, latents):
  """Every combination of `levels` values per latent: columns exactly uncorrelated in value and
  in rank, so the closed forms below hold without sampling noise."""
  values = np.linspace(-1.0, 1.0, levels)
  return udr.standardised(np.array(list(itertools.product(values, repeat=latents))))


def test_lasso_matrix_is_soft_thresholding_on_an_orthonormal_design():
  x = _factorial(5, 3)
  weights = np.array([[0.5, 0.0], [-0.05, 2.0], [0.3, -0.7]])  # [x latents, y latents]
  y = x @ weights
  # Orthonormal columns (xᵀx / n = I): the Lasso's solution is sign(w) max(|w| − α, 0) per entry
  # (Tibshirani 1996), here |w| − α where |w| > α.
  expected = np.maximum(np.abs(weights) - 0.1, 0.0)
  np.testing.assert_allclose(udr.lasso_matrix(x, y, alpha=0.1), expected, atol=1e-6)


def test_spearman_matrix_equals_scipy_pair_by_pair():
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=(200, 3)), rng.normal(size=(200, 4))
  y[:, 1] = np.exp(x[:, 2])  # Monotone: |ρ| = 1.
  y[:, 3] = 5.0  # Constant: ρ undefined, counted as 0.
  expected = np.array([[abs(stats.spearmanr(x[:, i], y[:, j]).statistic) if j != 3 else 0.0
                        for j in range(4)] for i in range(3)])
  np.testing.assert_allclose(udr.spearman_matrix(x, y), expected, atol=1e-12)
  assert udr.spearman_matrix(x, y)[2, 1] == pytest.approx(1.0)


def test_permuted_and_sign_flipped_codes_score_one():
  x = _factorial(5, 4)  # 625 points.
  y = x[:, [2, 0, 3, 1]] * np.array([1.0, -1.0, -1.0, 1.0])
  result = udr.scores([x, y], [np.ones(4), np.ones(4)])
  # Spearman: each latent matches one of the other's with |ρ| = 1 and no other (ρ = 0 exactly on
  # a factorial design), so every max²/Σ is 1.
  np.testing.assert_allclose(result['udr_spearman'], [1.0, 1.0], atol=1e-12)
  # Lasso: the matched coefficient is soft-thresholded to 1 − α (the previous test), the others
  # are 0, so every max²/Σ is 1 − α: the reference's own test accepts (0.8, 1] for this case.
  np.testing.assert_allclose(result['udr'], [0.9, 0.9], atol=1e-6)
  np.testing.assert_allclose(udr.scores([x, y], [np.ones(4)] * 2, lasso_alpha=1e-6)['udr'],
                             [1.0, 1.0], atol=1e-5)


def test_inactive_latents_are_dropped():
  # The reference's test_metric_kl: one informative latent, the rest noise with KL 0.
  rng = np.random.default_rng(2)
  signal = rng.normal(size=(1000, 1))
  codes = [np.concatenate([signal, rng.normal(size=(1000, 3))], axis=1) for _ in range(2)]
  kls = [np.array([1.0, 0.0, 0.005, 0.01])] * 2  # KL ≤ 0.01 is inactive (the reference's `>`).
  kept = udr.scores(codes, kls)
  np.testing.assert_array_equal(kept['active_latents'], [1, 1])
  np.testing.assert_allclose(kept['udr_spearman'], [1.0, 1.0])  # One latent each, |ρ| = 1.
  np.testing.assert_allclose(kept['udr'], [0.9, 0.9], atol=1e-6)  # 1 − α, as above.
  # Unfiltered, the noise latents' sample correlations (~0.03) stay below α: the Lasso matrix is
  # 1 − α at [0, 0] and 0 elsewhere, so each side's mean is (1 − α)/4 (by hand).
  everything = udr.scores(codes, kls, kl_threshold=-1.0)
  np.testing.assert_allclose(everything['udr'], [0.9 / 4, 0.9 / 4], atol=1e-6)
  no_latent = udr.scores(codes, [np.zeros(4), kls[0]])
  np.testing.assert_array_equal(no_latent['udr'], [0.0, 0.0])


def test_model_score_is_the_median_over_the_pairs_that_predict_it():
  rng = np.random.default_rng(3)
  pairwise = rng.uniform(size=(5, 5))
  np.fill_diagonal(pairwise, np.nan)
  expected = [np.median([pairwise[j, i] for j in range(5) if j != i]) for i in range(5)]
  np.testing.assert_allclose(udr.model_scores(pairwise), expected)
  groups = [1, 1, 2, 2, 3]  # The paper's UDR: partners of the same hyperparameters only.
  np.testing.assert_allclose(udr.model_scores(pairwise, groups)[:4],
                             [pairwise[1, 0], pairwise[0, 1], pairwise[3, 2], pairwise[2, 3]])
  assert np.isnan(udr.model_scores(pairwise, groups)[4])  # No partner.


def test_pairwise_lasso_regresses_the_column_model_on_the_row_model():
  rng = np.random.default_rng(4)
  x = udr.standardised(rng.normal(size=(300, 3)))
  y = udr.standardised(x @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(300, 2)))
  pairwise = udr.pairwise_scores([x, y], 'lasso', alpha=0.1)
  fitted = np.abs(linear_model.Lasso(alpha=0.1).fit(x, y).coef_).T  # sklearn directly.
  assert pairwise[0, 1] == pytest.approx(udr.relative_strength_disentanglement(fitted))
  assert np.isnan(pairwise[0, 0]) and np.isnan(pairwise[1, 1])


@pytest.mark.parametrize('name,value,message', [
    ('num_points', 1, '--config.udr.num_points=1 must be an integer >= 2'),
    ('kl_threshold', -0.1, '--config.udr.kl_threshold=-0.1 must be a finite number >= 0'),
    ('lasso_alpha', 0.0, '--config.udr.lasso_alpha=0.0 must be a finite number > 0'),
    ('pairs', 'some', "unknown pairs 'some' (--config.udr.pairs); allowed: all, same_strength"),
])
def test_bad_udr_settings_are_one_line_errors(name, value, message):
  config = default.get_config()
  config.udr[name] = value
  with pytest.raises(UserInputError) as error:
    settings.check_udr(config.udr)
  assert str(error.value).startswith(message)
