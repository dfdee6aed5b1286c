"""InfoMEC against the authors' own code, closed forms, and its one-line input errors.

Reference: github.com/kylehkhsu/latent_quantization, disentangle/metrics/infomec.py
(`compute_infomec(sources, latents, discrete_latents)`), commit
9a420a33505e03914f9b4fbfcafd221d25b8162f, run once in a scratch venv (python 3.11, numpy 1.26.4,
scipy 1.11.4, scikit-learn 1.3.2) on the cases built by the numpy-only functions below, read
from this file:

  python3 -m venv /tmp/ref_infomec/venv
  /tmp/ref_infomec/venv/bin/pip install numpy==1.26.4 scipy==1.11.4 scikit-learn==1.3.2
  git --git-dir=<mirror> archive HEAD disentangle/metrics/infomec.py \
      | tar -x -C /tmp/ref_infomec/src
  /tmp/ref_infomec/venv/bin/python /tmp/ref_infomec/run_reference.py \
      tests/evaluation/test_infomec.py

run_reference.py execs `grid` and the case functions of this file, then for each case calls
`np.random.seed(0)` (the KSG jitter; `infomec(seed=0)` draws the same) and
`compute_infomec(factors, codes, discrete)`, printing repr() of its outputs.
"""

import math
import types

import numpy as np
import pytest

from vae.errors import UserInputError
from vae.evaluation import infomec
from vae.evaluation import metric
from vae.evaluation import registry


def grid(sizes, copies):
  """Every combination of factor values, in C order, ``copies`` times over: ``[N, F]`` ints."""
  axes = np.meshgrid(*[np.arange(s) for s in sizes], indexing='ij')
  return np.tile(np.stack(axes, -1).reshape(-1, len(sizes)), (copies, 1))


def disentangled():
  """Each code a rescaled copy of one factor, on the full (3, 4, 5) grid twice (120 points)."""
  factors = grid((3, 4, 5), 2)
  return factors * np.array([1.0, 2.0, 0.5]), factors


def two_factors_in_one():
  """Code 0 holds factors 0 and 1 (4 f0 + f1), code 1 is factor 2; same grid."""
  factors = grid((3, 4, 5), 2)
  return np.stack([4.0 * factors[:, 0] + factors[:, 1], 1.0 * factors[:, 2]], 1), factors


def noisy_mixture():
  """300 seeded points: 3 factors of 3, 4 and 5 values mixed linearly into 4 noisy codes."""
  rng = np.random.default_rng(0)
  factors = rng.integers(0, (3, 4, 5), size=(300, 3))
  codes = factors @ rng.normal(size=(3, 4)) + 0.5 * rng.normal(size=(300, 4))
  return codes, factors


def collapsed():
  """The noisy mixture with a constant code and one of range below 1/20 of the largest."""
  codes, factors = noisy_mixture()
  small = 0.01 * np.random.default_rng(1).normal(size=(300, 1))
  return np.concatenate([codes, np.full((300, 1), 2.0), small], 1), factors


def uninformative():
  """The disentangled codes plus an active code that tells which copy of the grid (no factor)."""
  codes, factors = disentangled()
  copy = np.repeat([0.0, 1.0], 60)[:, None]
  return np.concatenate([codes, copy], 1), factors


def weak_mixture():
  """200 seeded points mixed into 2 codes under heavy noise: every logistic fit converges."""
  rng = np.random.default_rng(2)
  factors = rng.integers(0, (3, 4, 5), size=(200, 3))
  return factors @ rng.normal(size=(3, 2)) + 2.0 * rng.normal(size=(200, 2)), factors


# The reference's outputs (repr), per (case, discrete_latents): infom, infoe, infoc.
REFERENCE = {
    ('disentangled', False): (1.0, 0.9999986638932475, 1.0),
    ('disentangled', True): (1.0, 0.9999979502553007, 1.0),
    ('two_factors_in_one', False): (1.0, 0.6797934123131467, math.nan),
    ('two_factors_in_one', True): (0.625, 0.9999972057786207, 1.0),
    ('noisy_mixture', False): (0.4748868792917237, 0.7133471052392663, 0.4055942641290833),
    ('collapsed', False): (0.4748868792917237, 0.719920447171143, 0.4055942641290833),
    ('weak_mixture', False): (0.49361404749657944, 0.17158432032465978, 0.630766053271504),
}
# The reference's `nmi` of the noisy mixture ([factors, codes]).
NOISY_NMI = [[0.064942840338815, 0.22923015759276877, 0.18204739238069326, 0.7491403957589436],
             [0.29879867891095346, 0.4819201955269162, 0.15950724961986593, 0.0],
             [0.08698123864731609, 0.0, 0.06366507819893182, 0.17589884640717782]]
# Mutual information, its normalization and the pruning are deterministic: float64 rounding.
EXACT = 1e-10
# The reference's logistic regression stops at max_iter=100 wherever the classes separate
# (its loss has no minimum) or converge slowly; where it stops then depends on rounding in the
# loss and gradient: the same L-BFGS-B on the same objective, summed by numpy here and by
# sklearn's Cython there, ends 4e-6 apart in a factor's log loss (measured under the reference's
# own scipy). Fits that converge agree to rounding (`weak_mixture`: EXACT).
STOPPED_AT_MAX_ITER = 1e-5


@pytest.mark.parametrize('case, discrete', sorted(REFERENCE))
def test_the_reference_values(case, discrete):
  codes, factors = globals()[case]()
  scores = infomec.infomec(codes, factors, discrete_codes=discrete)
  infom, infoe, infoc = REFERENCE[case, discrete]
  np.testing.assert_allclose(scores['infom'], infom, rtol=0, atol=EXACT)
  np.testing.assert_allclose(scores['infoc'], infoc, rtol=0, atol=EXACT)
  tolerance = EXACT if case == 'weak_mixture' else STOPPED_AT_MAX_ITER
  np.testing.assert_allclose(scores['infoe'], infoe, rtol=0, atol=tolerance)


def test_the_normalized_information_and_pruning_of_the_reference():
  codes, factors = collapsed()
  nmi = infomec.normalized_information(codes, factors)
  np.testing.assert_allclose(nmi[:, :4], NOISY_NMI, rtol=0, atol=EXACT)
  # The reference's `active_latents`: the constant code and the one of range < 1/20 are pruned.
  np.testing.assert_array_equal(infomec.active_codes(codes), [1, 1, 1, 1, 0, 0])


def test_closed_forms_of_discrete_codes():
  # Codes equal to the factors on a full grid: each code informs its own factor only (NMI is the
  # identity), so InfoM = InfoC = 1.
  codes, factors = disentangled()
  scores = infomec.infomec(codes, factors, discrete_codes=True)
  assert (scores['infom'], scores['infoc']) == (1.0, 1.0)
  # Code 0 = (f0, f1): NMI columns (1, 1, 0) and (0, 0, 1). InfoM rescales the mean preference
  # (1/2 + 1)/2 from [1/3, 1]: 0.625; each factor is held by one code: InfoC = 1.
  codes, factors = two_factors_in_one()
  scores = infomec.infomec(codes, factors, discrete_codes=True)
  np.testing.assert_allclose(scores['infom'], ((0.5 + 1) / 2 - 1 / 3) / (1 - 1 / 3), atol=EXACT)
  np.testing.assert_allclose(scores['infoc'], 1.0, atol=EXACT)
  # InfoE's fit separates the classes but stops at 100 iterations: just below 1.
  assert 1 - 1e-5 < scores['infoe'] < 1


def test_the_null_loss_is_log_k_even_for_unbalanced_factors():
  # The reference's null model (all-zero inputs, balanced weights) predicts uniformly, so its log
  # loss is log K, not the factor's entropy.
  labels = np.array([0] * 7 + [1] * 2 + [2])
  loss = infomec._in_sample_log_loss(np.zeros((10, 3)), labels)  # pylint: disable=protected-access
  assert loss == pytest.approx(math.log(3), abs=EXACT)


def test_an_uninformative_active_code_is_skipped_by_infom():
  # Deliberate difference: the copy-index code is active (range 1) and informs no factor, so the
  # reference's max/sum is 0/0 and its InfoM NaN (both estimators); the authors' training-time
  # ratio (metrics/mutual_information.py, compute_mutual_information_ratio) skips such codes, as
  # here: the three other codes are perfectly modular.
  reference = {False: (math.nan, 0.9999986610632678, 1.0),
               True: (math.nan, 0.9999979502344081, 1.0)}
  codes, factors = uninformative()
  for discrete, (ref_infom, ref_infoe, ref_infoc) in reference.items():
    scores = infomec.infomec(codes, factors, discrete_codes=discrete)
    assert math.isnan(ref_infom) and scores['infom'] == 1.0
    assert scores['infoc'] == ref_infoc
    np.testing.assert_allclose(scores['infoe'], ref_infoe, rtol=0, atol=STOPPED_AT_MAX_ITER)


def test_a_constant_factor_is_dropped():
  # Deliberate difference: the reference divides its NMI row by the zero entropy, then raises
  # sklearn's "ValueError: This solver needs samples of at least 2 classes in the data, but the
  # data contains only one class: 0" (the disentangled case with a constant 4th factor); here the
  # factor is dropped, as every metric of the suite drops it.
  codes, factors = noisy_mixture()
  with_constant = np.concatenate([factors, np.full((300, 1), 4)], 1)
  assert infomec.infomec(codes, with_constant) == infomec.infomec(codes, factors)


def test_the_seed_repeats_the_jitter():
  codes, factors = noisy_mixture()
  first, again = (infomec.normalized_information(codes, factors, seed=3) for _ in range(2))
  np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize('codes, factors, message', [
    (np.zeros(20), np.zeros((20, 1)), r'^codes must be a 2-D array \[num_samples, dims\], '
                                      r'got shape \(20,\)$'),
    (np.zeros((20, 2)), np.zeros((19, 1)), r'^codes has 20 samples but factors has 19$'),
    (np.full((20, 2), np.nan), np.zeros((20, 1)), r'^codes contains NaN or infinite values$'),
    (np.zeros((20, 2)), np.full((20, 1), 0.5), r'^factors must be integer-valued'),
    (np.zeros((20, 2)), np.zeros((20, 1)), r'^every factor takes a single value'),
    (np.zeros((10, 2)), np.arange(10)[:, None] % 2,
     r'^codes has 10 samples; InfoMEC needs more than the 10 nearest neighbours'),
    (np.zeros((20, 2)), np.arange(20)[:, None],
     r'^factor 0 takes a different value at every one of the 20 points; InfoMEC needs '
     r'repeated values$'),
])
def test_bad_inputs_raise_one_line(codes, factors, message):
  with pytest.raises(UserInputError, match=message) as error:
    infomec.infomec(codes, factors)
  assert '\n' not in str(error.value)


def test_the_metric_declaration():
  assert infomec.METRIC.keys == ('infom', 'infoe', 'infoc')
  assert infomec.METRIC in registry.METRICS  # Whose import raises if a name or key is taken twice.
  assert metric.least_sizes(infomec.METRIC.least) == {
      'num_train': (11, 'InfoMEC estimates mutual information from 10 nearest neighbours')}
  codes, factors = weak_mixture()
  inputs = types.SimpleNamespace(codes_train={'mean': codes}, factors_train=factors,
                                 discrete_codes=False)
  assert infomec.METRIC.score(inputs) == {'mean': infomec.infomec(codes, factors)}
