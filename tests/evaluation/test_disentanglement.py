"""Tests for vae.evaluation, the disentanglement metrics.

Each expected value names its source in a comment: disentanglement_lib's
published unit tests (Locatello et al. 2019; identity, zero, row-permuted and
duplicated representations of IdentityObservationsData, 10 factors of 10
values each, observation = factors), a closed form worked out here, or an
independent implementation (sklearn.metrics.mutual_info_score,
scipy.stats.entropy, sklearn's GradientBoostingClassifier).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import sklearn.metrics

from tests.evaluation import host_reference
from vae.data.ground_truth import GroundTruthDataset
from vae.errors import UserInputError
from vae.evaluation import dci
from vae.evaluation import discretize
from vae.evaluation import hist_gbt
from vae.evaluation import information
from vae.evaluation import mig
from vae.evaluation import modularity
from vae.evaluation import sap
from vae.evaluation import unsupervised

NUM_FACTORS, NUM_VALUES = 10, 10
LN2_OVER_LN10 = math.log(2) / math.log(10)


def identity_dataset(factor_sizes=(NUM_VALUES,) * NUM_FACTORS):
  """disentanglement_lib's IdentityObservationsData: the observation is the factors."""

  def sample(key, n):
    # A host-side sampler seeded by the key: no JAX compilation per shape,
    # which keeps these tests fast on a CPU.
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
    return rng.integers(0, factor_sizes, (n, len(factor_sizes)))

  return GroundTruthDataset(
      name='identity',
      factor_names=tuple(f'f{i}' for i in range(len(factor_sizes))),
      factor_sizes=tuple(factor_sizes),
      observation_shape=(len(factor_sizes),),
      sample_factors=sample,
      observations_from_factors=lambda f: np.asarray(f, np.float32),
      jittable=False)


def sample_factors(n, seed):
  return np.random.default_rng(seed).integers(0, NUM_VALUES, (n, NUM_FACTORS))


def identity(factors):
  return factors.astype(np.float64)


def zeros(factors):
  return np.zeros(factors.shape)


def permuted_rows(factors, seed=0):
  """The reference's 'bad' representation: each row's entries shuffled."""
  rng = np.random.default_rng(seed)
  return np.stack([rng.permutation(row) for row in identity(factors)])


def duplicated(factors):
  return np.hstack([identity(factors), identity(factors)])


def train_test(representation, n_train, n_test):
  f_train, f_test = sample_factors(n_train, 1), sample_factors(n_test, 2)
  return representation(f_train), f_train, representation(f_test), f_test


# --- Building blocks against exact values and independent references. --------


def test_histogram_discretize_three_bins():
  # np.histogram edges of [.1, .6] in 3 bins are .1, .2667, .4333, .6;
  # digitizing against all but the last gives these labels (worked by hand).
  codes = np.array([[.1], [.2], [.3], [.4], [.5], [.6]])
  np.testing.assert_array_equal(
      discretize.histogram_discretize(codes, num_bins=3)[:, 0], [1, 1, 2, 2, 3, 3])


def test_mutual_information_matches_sklearn():
  rng = np.random.default_rng(0)
  a = rng.integers(0, 5, 500)
  b = (a + rng.integers(0, 3, 500)) % 7
  for x, y in [(a, b), (b, a), (a, a), (a, rng.integers(0, 4, 500))]:
    # Independent reference: sklearn.metrics.mutual_info_score (nats).
    np.testing.assert_allclose(information.mutual_information(x, y),
                               sklearn.metrics.mutual_info_score(x, y),
                               rtol=1e-12, atol=1e-15)


def test_entropy_matches_scipy():
  labels = np.random.default_rng(0).integers(0, 6, 1000)
  counts = np.bincount(labels)
  # Independent reference: scipy.stats.entropy of the counts (nats).
  np.testing.assert_allclose(information.entropy(labels),
                             scipy.stats.entropy(counts), rtol=1e-12)
  np.testing.assert_allclose(information.entropy(labels),
                             information.mutual_information(labels, labels),
                             rtol=1e-12)


def test_dci_from_hand_built_importance():
  # Closed forms of D = Σ_i ρ_i (1 − H_F(row_i)), C = Σ_j ρ_j (1 − H_C(col_j)).
  diagonal = np.diag(np.full(5, 5.0))
  assert dci.disentanglement(diagonal) == pytest.approx(1.0, abs=1e-8)
  assert dci.completeness(diagonal) == pytest.approx(1.0, abs=1e-8)
  # Each of 10 codes covers two of 10 factors equally (and vice versa):
  # every row and column has entropy ln2 in base ln10.
  circulant = np.eye(10) + np.roll(np.eye(10), 1, axis=1)
  assert dci.disentanglement(circulant) == pytest.approx(1 - LN2_OVER_LN10, abs=1e-8)
  assert dci.completeness(circulant) == pytest.approx(1 - LN2_OVER_LN10, abs=1e-8)
  # Code 0 also covers factor 1: it carries 10 of 30 units of importance and
  # has D_0 = 1 − ln2/ln5; the others have D_i = 1. Same for factor 1 and C.
  one_shared = diagonal.copy()
  one_shared[0, 1] = 5.0
  expected = 1 - math.log(2) / (3 * math.log(5))
  assert dci.disentanglement(one_shared) == pytest.approx(expected, abs=1e-8)
  assert dci.completeness(one_shared) == pytest.approx(expected, abs=1e-8)
  # Duplicated codes [I; I]: each factor split over 2 of 20 codes.
  stacked = np.vstack([np.eye(10), np.eye(10)])
  assert dci.disentanglement(stacked) == pytest.approx(1.0, abs=1e-8)
  assert dci.completeness(stacked) == pytest.approx(
      1 - math.log(2) / math.log(20), abs=1e-8)
  # No importance at all: the reference's uniform convention gives 0.
  assert dci.disentanglement(np.zeros((4, 3))) == pytest.approx(0.0, abs=1e-8)
  assert dci.completeness(np.zeros((4, 3))) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize('mutual_info, expected', [
    # disentanglement_lib's modularity_explicitness_test cases (closed forms).
    (np.diag(np.full(5, 5.0)), 1.0),
    (np.array([[1., 0.], [0., 1.], [0., 0.]]), 2.0 / 3.0),  # empty code → 0
    (np.zeros((10, 10)), 0.0),
    (np.vstack([np.diag(np.full(5, 5.0))] * 2), 1.0),       # redundant codes
    (np.diag(np.full(5, 5.0))[:2], 1.0),                    # missed factors
    # Each code informs 2 of 10 factors equally: 1 − 1/(10 − 1).
    (np.hstack([np.diag(np.full(5, 5.0))] * 2), 1.0 - 1.0 / 9.0),
])
def test_modularity_from_hand_built_information(mutual_info, expected):
  assert modularity.modularity(mutual_info) == pytest.approx(expected, abs=1e-12)


def test_a_constant_code_carries_no_information_and_scores_no_modularity():
  """Two exactly constant codes among five, 309 points: the count at which the formula's
  marginal of the one value rounds below 1 (2.2e-16 of MI was left, and the modularity read
  0.9403)."""
  rng = np.random.default_rng(2026)
  n = 309
  factors = np.stack([rng.integers(0, s, n) for s in (3, 6, 4)], axis=1)
  codes = np.zeros((n, 5))
  codes[:, 0] = factors[:, 0] + 0.3 * rng.normal(size=n)
  codes[:, 1] = factors[:, 1] + 0.5 * factors[:, 2] + 0.3 * rng.normal(size=n)
  codes[:, 2] = rng.normal(size=n)
  codes[:, 3], codes[:, 4] = 0.0, -1.25
  assert information.mutual_information(np.zeros(n), factors[:, 1]) == 0.0
  mutual_info = information.mutual_information_matrix(
      discretize.histogram_discretize(codes, 20), factors)
  np.testing.assert_array_equal(mutual_info[3:], 0.0)
  # disentanglement_lib 86a644d4ed35c771560dc3360756363d35477357,
  # evaluation/metrics/modularity_explicitness.py `modularity` of utils.discrete_mutual_info of
  # utils._histogram_discretize(codes.T, 20), run once on these inputs (numpy 2.4.6, sklearn
  # 1.9.1; gin stubbed): 0.540290303341876.
  assert modularity.modularity(mutual_info) == pytest.approx(0.540290303341876, abs=1e-12)


def test_gaussian_total_correlation_and_wasserstein_closed_forms():
  rho = 0.6
  cov = np.array([[1.0, rho], [rho, 1.0]])
  # KL(N(0, Σ) ‖ N(0, I)), unit variances: −½ log det Σ = −½ log(1 − ρ²).
  assert unsupervised.gaussian_total_correlation(cov) == pytest.approx(
      -0.5 * math.log(1 - rho ** 2), rel=1e-12)
  # W2² = tr Σ + tr D − 2 tr (D^½ Σ D^½)^½, here with scipy's sqrtm.
  cov = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, -0.3], [0.1, -0.3, 0.5]])
  root_d = np.diag(np.sqrt(np.diag(cov)))
  expected = 2 * np.trace(cov) - 2 * np.trace(
      scipy.linalg.sqrtm(root_d @ cov @ root_d)).real
  assert unsupervised.gaussian_wasserstein_correlation(cov) == pytest.approx(
      expected, rel=1e-9)
  diagonal = np.diag([1.0, 2.0, 3.0])
  assert unsupervised.gaussian_total_correlation(diagonal) == pytest.approx(0.0)
  assert unsupervised.gaussian_wasserstein_correlation(diagonal) == pytest.approx(
      0.0, abs=1e-12)


def test_hist_backend_matches_sklearn_gradient_boosting():
  # Independent reference: sklearn's GradientBoostingClassifier() itself. With
  # < 256 distinct code values the histogram booster tries the same splits, so
  # the importances differ only where two splits tie (rounding decides).
  rng = np.random.default_rng(1)
  f_train, f_test = rng.integers(0, 3, (250, 2)), rng.integers(0, 3, (250, 2))
  noisy = lambda f: np.hstack([f + 0.8 * rng.normal(size=f.shape),
                               rng.normal(size=(f.shape[0], 2))])
  args = (noisy(f_train), f_train, noisy(f_test), f_test)
  fast, acc_fast, _ = dci.importance_matrix(*args, backend='hist_gbt')
  ref, acc_ref, _ = dci.importance_matrix(*args, backend='sklearn_gbt')
  np.testing.assert_allclose(fast, ref, atol=0.02)
  np.testing.assert_allclose(acc_fast, acc_ref, atol=0.02)


def test_coarse_bins_stay_close_to_exact_bins():
  # 900 distinct values in 32 bins take the refined path; with a bin per
  # distinct value the booster is sklearn's exact search (test above). The
  # two differ by near-miss cuts only: importances within 0.01.
  rng = np.random.default_rng(0)
  def sample(n):
    y = rng.integers(0, 4, n)
    x = np.stack([y + rng.uniform(-0.7, 0.7, n),
                  np.sin(2 * y) + 0.5 * rng.normal(size=n), rng.normal(size=n)], 1)
    return x, y
  args = (*sample(900), *sample(900))
  coarse = hist_gbt.fit_importance(*args, max_bins=32)
  exact = hist_gbt.fit_importance(*args, max_bins=10 ** 6)
  np.testing.assert_allclose(coarse[0], exact[0], atol=0.01)
  np.testing.assert_allclose(coarse[2], exact[2], atol=0.02)


@pytest.mark.slow  # 14 s of gradient-boosted trees.
def test_dci_of_each_representation_equals_dci_of_each_alone():
  # One pool for every fit of both representations: the same seeds, so the same numbers.
  f_train, f_test = sample_factors(400, 1), sample_factors(200, 2)
  noisy = lambda f: identity(f) + np.random.default_rng(f.shape[0]).normal(size=f.shape)
  codes_train = {'identity': identity(f_train), 'noisy': noisy(f_train)}
  codes_test = {'identity': identity(f_test), 'noisy': noisy(f_test)}
  together = dci.dci_of_each(codes_train, f_train, codes_test, f_test)
  assert together == {name: dci.dci(codes_train[name], f_train, codes_test[name], f_test)
                      for name in codes_train}


# --- The reference library's published expectations. -------------------------


def test_identity_representation_scores_high():
  # disentanglement_lib mig/dci/sap/modularity tests: identity in [0.9, 1].
  codes, factors = identity(sample_factors(3000, 0)), sample_factors(3000, 0)
  assert 0.9 <= mig.mig(codes, factors)['discrete_mig'] <= 1.0
  scores = dci.dci(*train_test(identity, 1000, 500))
  assert 0.9 <= scores['disentanglement'] <= 1.0
  assert 0.9 <= scores['completeness'] <= 1.0
  assert scores['informativeness_test'] > 0.9
  sap_score = sap.sap(*train_test(identity, 3000, 3000), continuous_factors=True)
  assert 0.9 <= sap_score['sap_score'] <= 1.0
  mod = modularity.modularity_explicitness(*train_test(identity, 3000, 3000))
  assert 0.9 <= mod['modularity_score'] <= 1.0
  assert mod['explicitness_score_test'] > 0.9


def test_zero_representation_scores_low():
  # disentanglement_lib mig/sap/factor_vae tests: zeros in [0, 0.2].
  factors = sample_factors(3000, 0)
  assert 0.0 <= mig.mig(zeros(factors), factors)['discrete_mig'] <= 0.2
  sap_score = sap.sap(*train_test(zeros, 3000, 3000), continuous_factors=True)
  assert 0.0 <= sap_score['sap_score'] <= 0.2
  scores = host_reference.factor_vae_score(
      identity_dataset(), np.zeros_like, jax.random.key(0),
      batch_size=5, num_train=300, num_eval=300, num_variance_estimate=500)
  assert 0.0 <= scores['eval_accuracy'] <= 0.2
  assert scores['num_active_dims'] == 0


@pytest.mark.slow  # The exact DCI fits make it long; `.ci/run` runs it.
def test_permuted_rows_representation_scores_low():
  # disentanglement_lib dci/modularity tests ("bad metric"): in [0, 0.2].
  scores = dci.dci(*train_test(permuted_rows, 1000, 500))
  assert 0.0 <= scores['disentanglement'] <= 0.2
  assert 0.0 <= scores['completeness'] <= 0.2
  # The reference uses 20,000 points: fewer inflate the largest MI estimate.
  mod = modularity.modularity_explicitness(*train_test(permuted_rows, 20000, 1000))
  assert 0.0 <= mod['modularity_score'] <= 0.2


def test_duplicated_codes():
  # disentanglement_lib tests of the duplicated latent space [x, x].
  factors = sample_factors(3000, 0)
  assert 0.0 <= mig.mig(duplicated(factors), factors)['discrete_mig'] <= 0.1
  sap_score = sap.sap(*train_test(duplicated, 3000, 3000), continuous_factors=True)
  assert 0.0 <= sap_score['sap_score'] <= 0.2
  scores = dci.dci(*train_test(duplicated, 1000, 500))
  assert 0.9 <= scores['disentanglement'] <= 1.0
  # Published target 1 − ln2/ln10 ± 0.1 (ties between the copies split the
  # importance; the exact split gives 1 − ln2/ln20 = 0.77, inside the band).
  assert scores['completeness'] == pytest.approx(1 - LN2_OVER_LN10, abs=0.1)
  mod = modularity.modularity_explicitness(*train_test(duplicated, 3000, 3000))
  assert 0.9 <= mod['modularity_score'] <= 1.0


def test_sampled_scores_of_identity_encoder():
  # disentanglement_lib beta_vae/factor_vae tests: identity in [0.9, 1].
  data, key = identity_dataset(), jax.random.key(0)
  # Equal train/eval sizes: fewer shapes for JAX's sampler to compile.
  beta = host_reference.beta_vae_score(data, lambda x: x, key, batch_size=16,
                                       num_train=400, num_eval=400)
  assert 0.9 <= beta['train_accuracy'] <= 1.0
  assert 0.9 <= beta['eval_accuracy'] <= 1.0
  factor = host_reference.factor_vae_score(
      data, lambda x: x, key, batch_size=5, num_train=300, num_eval=300,
      num_variance_estimate=500)
  assert 0.9 <= factor['train_accuracy'] <= 1.0
  assert 0.9 <= factor['eval_accuracy'] <= 1.0
  assert factor['num_active_dims'] == NUM_FACTORS


def test_sampled_scores_are_deterministic_in_the_key():
  data = identity_dataset()
  run = lambda key: host_reference.factor_vae_score(
      data, lambda x: x + 0.5 * np.sin(7 * x[:, ::-1]), key, batch_size=4,
      num_train=100, num_eval=100, num_variance_estimate=200)
  assert run(jax.random.key(3)) == run(jax.random.key(3))


def test_sap_discrete_on_binary_factors():
  # LinearSVC separates a binary factor from its own code (accuracy 1) and is
  # at chance (0.5, balanced classes) on the others: gap 0.5.
  rng = np.random.default_rng(0)
  f_train, f_test = rng.integers(0, 2, (1000, 3)), rng.integers(0, 2, (1000, 3))
  score = sap.sap(identity(f_train), f_train, identity(f_test), f_test)
  assert score['sap_score'] == pytest.approx(0.5, abs=0.1)


def test_unsupervised_scores():
  factors = sample_factors(2000, 0)
  independent = unsupervised.unsupervised(identity(factors))
  # Independent codes: near-zero correlation and pairwise information.
  assert 0.0 <= independent['gaussian_total_correlation'] < 0.02
  assert 0.0 <= independent['gaussian_wasserstein_correlation_norm'] < 0.02
  assert 0.0 <= independent['mutual_info_score'] < 0.05
  # A copy of a code shares all its information (ln 10 nats per pair).
  mixed = identity(factors)[:, :2] @ np.array([[1.0, 1.0], [0.0, 0.5]])
  scores = unsupervised.unsupervised(mixed)
  assert scores['gaussian_total_correlation'] > 0.1
  assert scores['mutual_info_score'] > 0.1
  constant = unsupervised.unsupervised(np.zeros((100, 3)))
  assert constant == {'gaussian_total_correlation': 0.0,
                      'gaussian_wasserstein_correlation': 0.0,
                      'gaussian_wasserstein_correlation_norm': 0.0,
                      'mutual_info_score': 0.0}


def test_accepts_jax_arrays():
  factors = sample_factors(500, 0)
  expected = mig.mig(identity(factors), factors)
  assert mig.mig(jnp.asarray(identity(factors)), jnp.asarray(factors)) == expected


# --- Bad input. --------------------------------------------------------------


def _array_metrics():
  """Each array-level metric as ``(codes, factors) -> dict``."""
  return {
      'mig': mig.mig,
      'dci': lambda c, f: dci.dci(c, f, c, f),
      'sap': lambda c, f: sap.sap(c, f, c, f),
      'modularity': lambda c, f: modularity.modularity_explicitness(c, f, c, f),
  }


@pytest.mark.parametrize('name', sorted(_array_metrics()))
def test_mismatched_lengths_raise(name):
  factors = sample_factors(100, 0)
  with pytest.raises(UserInputError, match='samples'):
    _array_metrics()[name](identity(factors)[:99], factors)


@pytest.mark.parametrize('name', sorted(_array_metrics()) + ['unsupervised'])
def test_nan_codes_raise(name):
  factors = sample_factors(100, 0)
  codes = identity(factors)
  codes[3, 2] = np.nan
  metric = _array_metrics().get(name, lambda c, f: unsupervised.unsupervised(c))
  with pytest.raises(UserInputError, match='NaN'):
    metric(codes, factors)


def test_fewer_samples_than_bins_raise():
  factors = sample_factors(15, 0)
  for metric in (lambda: mig.mig(identity(factors), factors),
                 lambda: unsupervised.unsupervised(identity(factors)),
                 lambda: modularity.modularity_explicitness(
                     identity(factors), factors, identity(factors), factors)):
    with pytest.raises(UserInputError, match='fewer than num_bins=20'):
      metric()


def test_other_bad_settings_raise():
  codes, factors = identity(sample_factors(100, 0)), sample_factors(100, 0)
  with pytest.raises(UserInputError, match='backend'):
    dci.dci(codes, factors, codes, factors, backend='xgboost')
  with pytest.raises(UserInputError, match='codes_test has 9'):
    sap.sap(codes, factors, codes[:, 1:], factors)
  with pytest.raises(UserInputError, match='2-D'):
    mig.mig(codes[:, 0], factors)
  with pytest.raises(UserInputError, match='integer-valued'):
    dci.dci(codes, factors + 0.5, codes, factors)
  # Continuous factors are what SAP's continuous mode is for.
  assert sap.sap(codes, factors + 0.5, codes, factors + 0.5,
                 continuous_factors=True)['sap_score'] > 0.9


@pytest.mark.slow  # The exact DCI fits make it long; `.ci/run` runs it.
def test_constant_factor_is_dropped():
  # A factor with one value has nothing to capture (and H = 0 for MIG): every
  # metric scores the remaining factors, as if it were absent.
  factors = sample_factors(1000, 0)
  codes = identity(factors)[:, :3] + 0.1 * np.random.default_rng(0).normal(
      size=(1000, 3))
  with_constant = np.hstack([factors[:, :3], np.full((1000, 1), 7)])
  for metric in _array_metrics().values():
    assert metric(codes, with_constant) == metric(codes, factors[:, :3])
  with pytest.raises(UserInputError, match='single value'):
    mig.mig(codes, np.full((1000, 2), 7))


def test_sampled_scores_skip_single_valued_factors():
  # The fixed factor is drawn among factors with more than one value.
  data = identity_dataset(factor_sizes=(10, 1, 10))
  scores = host_reference.factor_vae_score(
      data, lambda x: x, jax.random.key(0), batch_size=5, num_train=200,
      num_eval=200, num_variance_estimate=300)
  assert scores['eval_accuracy'] == 1.0
  assert scores['num_active_dims'] == 2  # the constant code is pruned
  beta = host_reference.beta_vae_score(data, lambda x: x, jax.random.key(0),
                                       batch_size=8, num_train=200, num_eval=200)
  assert beta['eval_accuracy'] >= 0.9


def test_dataset_without_factor_grid_raises():
  data = GroundTruthDataset(
      name='labels_only', factor_names=('label',), factor_sizes=(10,),
      observation_shape=(2,), sample_factors=None,
      observations_from_factors=None, jittable=False,
      draw=lambda key, n: (np.zeros((n, 2)), np.zeros((n, 1), int)))
  with pytest.raises(UserInputError, match='cannot render'):
    host_reference.beta_vae_score(data, lambda x: x, jax.random.key(0))
