"""IRS against the reference library's unit expectation and a hand computation."""

import numpy as np
import pytest

from experiments.configs import default
from vae import settings
from vae.data import dsprites
from vae.errors import UserInputError
from vae.evaluation import irs
from vae.evaluation import registry


def test_an_identity_code_scores_at_least_0_9():
  # disentanglement_lib's irs_test: the factors themselves as the code score >= 0.9.
  rng = np.random.default_rng(0)
  factors = np.stack([rng.integers(0, size, 10_000) for size in dsprites.FACTOR_SIZES], axis=1)
  scores = irs.irs(factors.astype(np.float64), factors)
  assert scores['irs'] >= 0.9
  assert scores['irs_num_active_dims'] == 5


def test_a_hand_computed_code_and_the_count_of_active_dims():
  # One factor taking 0, 0, 1, 1. Latent a = 0, 0, 2, 2 follows it: largest deviation from its
  # mean 1 is 1; within each value it is constant, so IRS = 1 − 0/1 = 1. Latent b = 0, 2, 0, 2
  # ignores it: largest deviation 1; within each value |b − 1| = 1 at every quantile, so IRS =
  # 1 − 1/1 = 0. Latent c = 3 never varies and is dropped. Weighted by 1 and 1: 0.5.
  factors = np.array([[0], [0], [1], [1]])
  codes = np.array([[0, 0, 3], [0, 2, 3], [2, 0, 3], [2, 2, 3]], np.float64)
  scores = irs.irs(codes, factors)
  assert scores['irs'] == pytest.approx(0.5)
  assert scores['irs_num_active_dims'] == 2
  # The reference's `num_active_dims` is np.sum of the varying latents' values: here 8.
  assert np.sum(irs.active_codes(codes)) == 8


def test_the_quantile_and_a_constant_code():
  # Within value 0 the follower below deviates by 0, 0, 0.1 around its mean 1/30: the 0.99
  # quantile of |dev| sits just under the maximum (np.percentile's linear interpolation), the
  # 1.0 quantile is the maximum.
  factors = np.array([[0], [0], [0], [1], [1], [1]])
  codes = np.array([[0.0], [0.0], [0.1], [1.0], [1.0], [1.0]])
  strict, loose = (irs.irs_matrix(codes, factors, q)[0][0, 0] for q in (1.0, 0.99))
  largest = np.max(np.abs(codes - codes.mean()))
  within = np.abs(codes[:3, 0] - codes[:3, 0].mean())
  assert strict == pytest.approx(1 - within.max() / 2 / largest)
  assert loose == pytest.approx(1 - np.percentile(within, 99) / 2 / largest)
  assert irs.irs(np.ones((6, 2)), factors) == {'irs': 0.0, 'irs_num_active_dims': 0.0}


def test_irs_is_in_the_suite_and_its_quantile_is_checked():
  assert irs.METRIC in registry.METRICS
  sizes = default.disentanglement_config()
  assert sizes.irs_diff_quantile == irs.DIFF_QUANTILE
  sizes.irs_diff_quantile = 0.0
  with pytest.raises(UserInputError, match=r'^--config.disentanglement.irs_diff_quantile=0.0 '
                                           r'must be in \(0, 1\]$'):
    settings.check_disentanglement(sizes)
