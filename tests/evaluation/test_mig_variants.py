"""MIG-sup, DCIMIG and JEMMIG against closed forms and the authors' reference code.

Reference values: ubisoft/ubisoft-laforge-disentanglement-metrics at commit
05d5667c129bc1445c343a651d26ccd2926fdde6, src/metrics/mig_sup.py `mig_sup`, src/metrics/dcimig.py
`dcimig`, src/metrics/jemmig.py `jemmig` (pyitlib 0.3.1, numpy 2.4.6, scikit-learn 1.9.1), run
once in a scratch venv outside the project (`python3 -m venv /tmp/ref_migvar/venv; pip install
numpy scikit-learn pyitlib python-dateutil matplotlib; git archive HEAD | tar -x -C
/tmp/ref_migvar/src`): the inputs below were written by this file's generators to an .npz, then
`/tmp/ref_migvar/venv/bin/python run_ref.py` (src/src on sys.path) called each function as
`fn(factors, labels.astype(float), continuous_factors=False, nb_bins=20)` where `labels` is
`discretize.histogram_discretize(codes, 20)`, and on the raw mixture codes as `fn(factors,
codes, continuous_factors=False, nb_bins=20)`. The reference min-max scales its codes and bins
them into `nb_bins` equal bins; on our labels that binning is a relabeling of them (the script
checked it column by column), so the comparison checks the formulas, not the binning.
"""

import numpy as np
import pytest

from vae.errors import UserInputError
from vae.evaluation import discretize
from vae.evaluation import metric
from vae.evaluation import mig_variants
from vae.evaluation import registry

TOLERANCE = 1e-12


def _grid(*sizes, repeats):
  """Every combination of factors of the given sizes, ``repeats`` times: independent factors."""
  axes = np.meshgrid(*[np.arange(size) for size in sizes], indexing='ij')
  return np.tile(np.stack([axis.ravel() for axis in axes], axis=1), (repeats, 1))


def _perfect():
  """(codes, factors): two factors (4 and 5 values), each copied affinely into its own code."""
  factors = _grid(4, 5, repeats=10)
  return np.stack([0.5 * factors[:, 0] - 1, -2.0 * factors[:, 1] + 3], axis=1), factors


def _shared():
  """(codes, factors): factors of 2 and 4 values; code 0 holds both, code 1 half of factor 1."""
  factors = _grid(2, 4, repeats=25)
  codes = np.stack([factors[:, 0] + 2 * factors[:, 1], factors[:, 1] // 2], axis=1)
  return codes.astype(np.float64), factors


def _mixture():
  """(codes, factors): three random factors (3, 4, 5 values) mixed linearly into 4 noisy codes."""
  rng = np.random.default_rng(7)
  factors = np.stack([rng.integers(0, size, 300) for size in (3, 4, 5)], axis=1)
  weights = rng.standard_normal((3, 4))
  return factors @ weights + 0.5 * rng.standard_normal((300, 4)), factors


def _collapsed():
  """The mixture with a constant (collapsed) code inserted as code 1."""
  codes, factors = _mixture()
  return np.insert(codes, 1, 0.25, axis=1), factors


def _assert_scores(scores, expected):
  assert set(scores) == {'mig_sup', 'dcimig', 'jemmig'}
  for key, value in expected.items():
    assert scores[key] == pytest.approx(value, abs=TOLERANCE), key


def test_a_perfectly_disentangled_code_scores_1():
  # Closed form: each code holds all of its factor and none of the other, so every gap is the
  # full information and H(f, z*) - I(f; z*) = 0. The reference gave mig_sup
  # 1.0000000000000002, dcimig 1.0000000000000004, jemmig 1.0.
  _assert_scores(mig_variants.mig_variants(*_perfect()),
                 {'mig_sup': 1.0, 'dcimig': 1.0, 'jemmig': 1.0})


def test_a_code_holding_two_factors_matches_the_closed_form_and_the_reference():
  # Uniform factors f0 (2 values), f1 (4 values); z0 = f0 + 2 f1 takes 8 values, z1 = f1 // 2
  # two. Information (nats): I(z0; f0) = ln 2, I(z0; f1) = ln 4, I(z1; f0) = 0, I(z1; f1) = ln 2;
  # H(z0) = ln 8, H(z1) = ln 2.
  # MIG-sup: ((ln 4 - ln 2) / ln 8 + (ln 2 - 0) / ln 2) / 2 = (1/3 + 1) / 2 = 2/3.
  # DCIMIG: both codes give f1 a gap of ln 2, f0 gets none: ln 2 / (ln 2 + ln 4) = 1/3.
  # JEMMIG: f0's best code is z0: H(f0, z0) - I + 0 = ln 8 - ln 2 = ln 4, over ln 2 + ln 20;
  # f1's is z0: ln 8 - ln 4 + ln 2 = ln 4, over ln 4 + ln 20.
  # (Li et al.'s own code divides each information by the factor's entropy instead of the
  # code's, which would give MIG-sup ((1 - 1) + (1/2 - 0)) / 2 = 1/4 here; see the module.)
  jemmig = 1 - (np.log(4) / np.log(40) + np.log(4) / np.log(80)) / 2
  scores = mig_variants.mig_variants(*_shared())
  _assert_scores(scores, {'mig_sup': 2 / 3, 'dcimig': 1 / 3, 'jemmig': jemmig})
  _assert_scores(scores, {'mig_sup': 0.6666666666666666, 'dcimig': 0.3333333333333333,
                          'jemmig': 0.6539185843511102})  # The reference's outputs.


def test_a_noisy_mixture_matches_the_reference():
  _assert_scores(mig_variants.mig_variants(*_mixture()),
                 {'mig_sup': 0.0931131861548856, 'dcimig': 0.15730179300610098,
                  'jemmig': 0.1870626144867522})


def _reference_binning(codes, num_bins):
  """The reference's binning, rewritten: min-max scale, then equal bins of [0, 1], 1..num_bins."""
  low, high = codes.min(axis=0), codes.max(axis=0)
  scaled = (codes - low) / np.where(high > low, high - low, 1.0)
  return np.digitize(scaled, np.linspace(0, 1, num_bins + 1)[:-1])


def test_raw_codes_bin_the_same_way_in_both_pipelines():
  # The reference called on the raw mixture codes (nb_bins=20) binned no point differently from
  # histogram_discretize and returned the same three values as on our labels.
  codes, _ = _mixture()
  np.testing.assert_array_equal(_reference_binning(codes, 20),
                                discretize.histogram_discretize(codes, 20))


def test_a_collapsed_code_is_left_out_of_mig_sup_where_the_reference_returns_nan():
  # The reference normalizes each code's gap by the code's entropy: 0 / 0 for the constant
  # code, so its MIG-sup is NaN. Here that code is left out of MIG-sup's average, which gives
  # the reference's value on the other codes alone (its run on them: 0.0931131861548856).
  # It adds no gap to DCIMIG and is never a factor's best code in JEMMIG, where the reference
  # gives 0.15730179300610098 and 0.1870626144867522, the mixture's values.
  reference = {'mig_sup': float('nan'), 'dcimig': 0.15730179300610098,
               'jemmig': 0.1870626144867522}
  scores = mig_variants.mig_variants(*_collapsed())
  assert np.isnan(reference['mig_sup'])
  _assert_scores(scores, {'mig_sup': 0.0931131861548856, 'dcimig': reference['dcimig'],
                          'jemmig': reference['jemmig']})


def test_a_collapsed_code_beside_a_perfect_code_keeps_mig_sup_at_1():
  # Closed form: counting the constant code's gap as 0 would give (1 + 1 + 0) / 3 = 2/3.
  codes, factors = _perfect()
  scores = mig_variants.mig_variants(np.insert(codes, 1, -4.0, axis=1), factors)
  _assert_scores(scores, {'mig_sup': 1.0, 'dcimig': 1.0, 'jemmig': 1.0})


def test_every_code_collapsed_scores_0_on_mig_sup():
  mi = np.zeros((2, 3))
  assert mig_variants.mig_sup_from_information(mi, np.zeros(2)) == 0.0
  assert mig_variants.dcimig_from_information(mi, np.ones(3)) == 0.0


def test_a_constant_factor_is_dropped():
  codes, factors = _mixture()
  with_constant = np.insert(factors, 1, 2, axis=1)
  _assert_scores(mig_variants.mig_variants(codes, with_constant),
                 mig_variants.mig_variants(codes, factors))


@pytest.mark.parametrize('codes, factors, message', [
    (np.zeros((30, 2)), np.zeros((29, 1)), r'^codes has 30 samples but factors has 29$'),
    (np.full((30, 2), np.nan), np.zeros((30, 1)), r'^codes contains NaN or infinite values$'),
    (np.zeros((30, 2)), np.full((30, 1), 0.5), r'^factors must be integer-valued'),
    (np.zeros((10, 2)), np.zeros((10, 1)), r'^codes has 10 samples, fewer than num_bins=20$'),
])
def test_bad_inputs_raise_one_line_errors(codes, factors, message):
  with pytest.raises(UserInputError, match=message):
    mig_variants.mig_variants(codes, factors)


def test_the_metric_declaration_and_its_keys_are_unique_in_the_suite():
  declared = mig_variants.METRIC
  assert (declared.name, declared.keys) == ('mig_variants', ('mig_sup', 'dcimig', 'jemmig'))
  assert declared.least == (metric.Least('num_train', 20, 'the MIG variants',
                                         'histogram the codes into 20 bins'),)
  assert declared in registry.METRICS  # Whose import raises if a name or key is taken twice.
