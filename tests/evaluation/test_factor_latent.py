"""The factor × latent matrices and verdicts on codes whose structure is known."""

import numpy as np
import pytest
from scipy import stats

from vae.evaluation import factor_latent


def _codes():
  """Factors (a, pos_x, pos_y); latents: a copy of a, position rotated by 45°, and noise."""
  rng = np.random.default_rng(0)
  factors = np.stack([rng.integers(0, 6, 2000), rng.integers(0, 32, 2000),
                      rng.integers(0, 32, 2000)], axis=1)
  x, y = factors[:, 1] - 15.5, factors[:, 2] - 15.5
  codes = np.stack([factors[:, 0] * 0.3, (x + y) / np.sqrt(2), (x - y) / np.sqrt(2),
                    rng.normal(size=2000)], axis=1)
  return codes, factors


def test_abs_spearman_equals_scipy_pair_by_pair():
  codes, factors = _codes()
  rho = factor_latent.abs_spearman(codes, factors)
  assert rho.shape == (3, 4)
  for k in range(3):
    for j in range(4):
      # Reference: scipy's Spearman ρ of the one pair.
      assert rho[k, j] == pytest.approx(abs(stats.spearmanr(factors[:, k], codes[:, j]).statistic))


def test_a_rotated_position_is_spread_and_a_copied_factor_is_one_latent():
  codes, factors = _codes()
  result = factor_latent.factor_latent(codes, factors, ('a', 'pos_x', 'pos_y'))
  encoding = result['encoding']
  assert encoding['a'] == {'verdict': 'one latent', 'latents': [0], 'top_rho': pytest.approx(1.0)}
  for factor in ('pos_x', 'pos_y'):
    assert encoding[factor]['verdict'] == 'spread'
    assert sorted(encoding[factor]['latents']) == [1, 2]
  rho = np.array(result['abs_spearman'])
  # x + y and x − y each correlate with x at about cos 45° = 0.71 (Pearson's value for
  # independent equal-variance factors; rank correlation stays within 0.05 of it).
  np.testing.assert_allclose(rho[1:, 1:3], np.sqrt(0.5), atol=0.05)
  assert np.all(rho[:, 3] < 0.1)  # The noise latent carries nothing.
  nmi = np.array(result['normalized_mutual_information'])
  assert nmi.shape == (3, 4) and nmi[0, 0] == pytest.approx(1.0)  # A copy holds all of H(a).
  text = factor_latent.markdown(result)
  assert '| pos_x | ' in text and 'spread (z' in text


def test_an_unencoded_factor_is_called_so():
  rng = np.random.default_rng(1)
  factors = rng.integers(0, 5, (500, 1))
  encoding = factor_latent.encoding(factor_latent.abs_spearman(rng.normal(size=(500, 3)), factors),
                                    ('shape',))
  assert encoding['shape'] == {'verdict': 'not encoded', 'latents': [],
                               'top_rho': pytest.approx(encoding['shape']['top_rho'])}
  assert encoding['shape']['top_rho'] < factor_latent.ENCODED
