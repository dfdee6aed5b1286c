"""Correlated training factors (vae/data/correlated.py): the joint distribution of the draws, the
setting's parsing and its one-line errors, and what stays uniform."""

import jax
import numpy as np
import pytest
import scipy.stats

from vae.data import correlated
from vae.data import dsprites
from vae.errors import UserInputError

NAMES, SIZES = dsprites.FACTOR_NAMES, dsprites.FACTOR_SIZES


def test_presets_and_pairs_parse_to_factor_indices():
  assert correlated.parse('', NAMES) == ()
  assert correlated.parse('single_1_01', NAMES) == ((0, 1, 0.1),)
  assert correlated.parse('double_2_004', NAMES) == ((0, 1, 0.04), (3, 4, 0.04))
  assert correlated.parse('pos_x:pos_y:0.5, shape:scale:2', NAMES) == ((3, 4, 0.5), (0, 1, 2.0))
  # A confounder: one factor coupled with every other one.
  assert correlated.parse('conf_2_02', NAMES) == tuple((3, b, 0.2) for b in (0, 1, 2, 4))


@pytest.mark.parametrize('spec, message', [
    ('shape:size:0.1', "no factor 'size'; this source's factors: shape, scale, orientation"),
    ('shape:scale', 'expected a preset'),
    ('shape:scale:0', 'expected a preset'),
    ('shape:scale:nan', 'expected a preset'),
    ('shape:shape:0.1', 'a pair couples two different factors'),
    ('triple_1_01', 'expected a preset'),
])
def test_a_bad_setting_is_one_line(spec, message):
  with pytest.raises(UserInputError, match=message) as error:
    correlated.parse(spec, NAMES)
  assert str(error.value).startswith(f'--config.correlated_factors={spec!r}: ')
  assert '\n' not in str(error.value)


def test_log_weights_by_hand():
  # shape 2 of 0..2 is value 1.0, scale 1 of 0..5 is 0.2: −(0.8)² / (2 · 0.1²) = −32.
  assert correlated.log_weights([[2, 1, 0, 0, 0]], SIZES, ((0, 1, 0.1),)) == pytest.approx(-32)


def test_the_draws_follow_the_coupled_joint_and_leave_the_others_uniform():
  pairs = correlated.parse('single_1_01', NAMES)
  n = 120_000
  factors = np.asarray(jax.jit(correlated.sampler(SIZES, pairs), static_argnums=1)(
      jax.random.key(0), n))
  assert factors.shape == (n, 5) and factors.dtype == np.int32
  # The (shape, scale) joint against w ∝ exp(−(shape/2 − scale/5)² / (2 · 0.1²)), by hand.
  shape, scale = np.meshgrid(np.arange(3), np.arange(6), indexing='ij')
  expected = np.exp(-np.square(shape / 2 - scale / 5) / (2 * 0.1 ** 2))
  expected = (expected / expected.sum()).ravel()
  observed = np.bincount(factors[:, 0] * 6 + factors[:, 1], minlength=18)
  kept = expected * n >= 5  # Chi-square's rule; the rest hold 1e-9 of the mass together.
  assert observed[~kept].sum() <= 2
  chi2 = scipy.stats.chisquare(observed[kept], expected[kept] / expected[kept].sum()
                               * observed[kept].sum())
  assert chi2.pvalue > 1e-3, chi2
  # Orientation and the positions: uniform, and independent of the coupled shape.
  for f in (2, 3, 4):
    counts = np.bincount(factors[:, f], minlength=SIZES[f])
    assert scipy.stats.chisquare(counts).pvalue > 1e-3, f
  table = np.zeros((3, 32))
  np.add.at(table, (factors[:, 0], factors[:, 3]), 1)
  assert scipy.stats.chi2_contingency(table).pvalue > 1e-3


def test_only_the_training_draws_are_correlated():
  base = dsprites.dataset()
  coupled = correlated.apply(base, 'pos_x:pos_y:0.04')
  key = jax.random.key(3)
  # The evaluation's draws are the uniform ones, key for key.
  np.testing.assert_array_equal(coupled.sample_factors(key, 64), base.sample_factors(key, 64))
  np.testing.assert_array_equal(coupled.sample(key, 8), base.sample(key, 8))
  factors = np.asarray(coupled.train_factors(key, 4000))
  gap = np.abs(factors[:, 3] / 31 - factors[:, 4] / 31)
  assert np.quantile(gap, 0.99) < 0.15  # σ = 0.04: |pos_x − pos_y| stays within ~3σ.
  images = coupled.sample_train(key, 4)
  np.testing.assert_array_equal(images, base.observations_from_factors(
      coupled.train_factors(key, 4)))
  assert correlated.apply(base, '') is base


def test_the_binary_search_counts_like_searchsorted():
  rng = np.random.default_rng(0)
  for size in (1, 2, 5, 18, 1000):
    values = np.sort(rng.random(size)).astype(np.float32)
    queries = np.concatenate([rng.random(50), values[:3], [0.0, 1.0]]).astype(np.float32)
    np.testing.assert_array_equal(
        correlated._count_at_most(jax.numpy.asarray(values), jax.numpy.asarray(queries)),
        np.searchsorted(values, queries, side='right'))
