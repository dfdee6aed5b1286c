"""DCI-ES explicitness, informativeness and size against the authors' code, closed forms and a
brute-force reading of the cut trees.

Reference: andreinicolicioiu/DCI-ES at commit 9329daec05ac18038e080596c5bde997d28a1aaa:
`train_test_random_forest` (src/loss_capacity/train_model_random_forest.py) fitted one forest
per depth on this file's cases (method='rf', max_leaf_nodes=None, num_trees=20, seed=0); the
losses are 1 − its test scores and the baselines 1 − 1/K, as src/simple_gather.py takes them;
`Explitcitness` (metrics/explitcitness.py) turned each factor's curve into E_j; I is the best mean
test score over depths (simple_gather.py). Run once, outside the project, with numpy 2.4.6 and
scikit-learn 1.9.1 (the project's): `/tmp/ref_dcies/bin/python /tmp/ref_dcies/run_reference.py`,
which imports their modules unchanged and stubs only their I/O (the representations come from
these arrays, no tensorboard writer, no torch/sage/xgboost, which the forest probes do not use).
"""

import numpy as np
import pytest

from vae.errors import UserInputError
from vae.evaluation import dci_es
from vae.evaluation import metric
from vae.evaluation import registry
from vae.evaluation import validation

_TREES = 20  # The reference run's forests (the module's default is the authors' 100).


def _factors(rng, n, sizes):
  """Exactly balanced labels: the majority baseline is the authors' 1 − 1/K."""
  return np.stack([rng.permutation(np.arange(n) % k) for k in sizes], axis=1)


def _mixture():
  """Factor 0 (8 values) in code 0, factor 1 (3 values) mixed with it in code 1, code 2 noise."""
  rng = np.random.default_rng(0)
  factors_train, factors_test = _factors(rng, 240, (8, 3)), _factors(rng, 120, (8, 3))

  def codes(f):
    noise = rng.normal(size=(len(f), 3))
    return np.stack([f[:, 0] + 0.3 * noise[:, 0], f[:, 1] + 0.2 * f[:, 0] + 0.3 * noise[:, 1],
                     noise[:, 2]], axis=1)

  return codes(factors_train), factors_train, codes(factors_test), factors_test


def _single_code():
  """Two factors in one noisy code: a forest has no feature to draw, cut trees equal refits."""
  rng = np.random.default_rng(1)
  factors_train, factors_test = _factors(rng, 240, (3, 2)), _factors(rng, 120, (3, 2))

  def codes(f):
    return (f[:, 0] + 0.3 * f[:, 1] + 0.4 * rng.normal(size=len(f)))[:, None]

  return codes(factors_train), factors_train, codes(factors_test), factors_test


def _perfect():
  """Each code is a binary factor: one split reads it."""
  rng = np.random.default_rng(2)
  factors_train, factors_test = _factors(rng, 240, (2, 2)), _factors(rng, 120, (2, 2))
  return factors_train.astype(float), factors_train, factors_test.astype(float), factors_test


def _collapsed():
  """Constant codes: every probe predicts one value."""
  rng = np.random.default_rng(3)
  factors_train, factors_test = _factors(rng, 240, (3, 4)), _factors(rng, 120, (3, 4))
  return np.zeros((240, 2)), factors_train, np.zeros((120, 2)), factors_test


# The reference run's test errors, as counts of the 120 test points, per factor and depth.
_REFERENCE_ERRORS = {
    'mixture': [[65, 41, 32, 28, 22, 25, 29, 29, 29, 29, 29, 29],
                [43, 44, 34, 18, 15, 11, 10, 10, 10, 10, 10, 10]],
    'single_code': [[18, 22, 23, 23, 26, 29, 29, 29, 29, 29, 29, 29],
                    [52, 57, 59, 61, 58, 56, 54, 57, 55, 56, 56, 56]],
}
_REFERENCE_MIXTURE = {'per_factor': (0.9597542242703533, 0.9108870967741935),
                      'explicitness': 0.9353206605222735, 'informativeness': 0.85}
_REFERENCE_SINGLE_CODE_INFORMATIVENESS = 0.7083333333333333


def _curves(case, refit):
  train, factors_train, test, factors_test = validation.train_test(*case())
  return dci_es.loss_curves(train, factors_train, test, factors_test, num_trees=_TREES,
                            refit=refit)


def test_curves_against_the_authors_curve_code():
  # Reference: their Explitcitness on these curves (same run); 'line' is also a closed form.
  # dip: running minimum [.9 .5 .5 .2 .2], area above 0.2 = 0.5 + 0.6 + 0.6 = 1.7, Z = 5.625.
  np.testing.assert_allclose(
      dci_es.explicitness_of_curve([1, 2, 4, 8, 16], [0.9, 0.5, 0.6, 0.2, 0.3], 0.75),
      0.6977777777777778, rtol=0, atol=1e-12)
  np.testing.assert_allclose(1 - 1.7 / 5.625, 0.6977777777777778, rtol=0, atol=1e-12)
  np.testing.assert_allclose(
      dci_es.explicitness_of_curve(np.log([14, 47, 131, 467, 1811]), [0.8, 0.4, 0.1, 0.05, 0.05],
                                   1.0), 0.6286381198713766, rtol=0, atol=1e-12)
  # A straight line from the baseline to zero fills the normalizing triangle: E = 0.
  assert dci_es.explicitness_of_curve([1, 2, 3], [1.0, 0.5, 0.0], 1.0) == pytest.approx(
      0.0, abs=1e-12)


def test_closed_forms_of_one_curve():
  # Lowest loss at the smallest capacity: no area, E = 1, whatever that loss is.
  assert dci_es.explicitness_of_curve([1, 2, 3], [0.4, 0.4, 0.4], 0.5) == 1.0
  # At the baseline until the last capacity, then 0: area b + b/2 over Z = b gives −1/2.
  assert dci_es.explicitness_of_curve([1, 2, 3], [0.5, 0.5, 0.0], 0.5) == pytest.approx(
      -0.5, abs=1e-12)
  # A loss that rises again counts as the lowest one so far.
  assert dci_es.explicitness_of_curve([1, 2, 3], [0.5, 0.0, 0.5], 0.5) == pytest.approx(
      1 - 0.25 / 0.5, abs=1e-12)
  assert dci_es.size(5, 10) == 0.5


def test_refitted_forests_equal_the_authors_on_a_noisy_mixture():
  losses, baselines = _curves(_mixture, refit=True)
  np.testing.assert_allclose(losses, np.array(_REFERENCE_ERRORS['mixture']) / 120, rtol=0,
                             atol=1e-12)
  np.testing.assert_array_equal(baselines, [1 - 1 / 8, 1 - 1 / 3])
  per_factor = [dci_es.explicitness_of_curve(dci_es.DEPTHS, c, b)
                for c, b in zip(losses, baselines)]
  np.testing.assert_allclose(per_factor, _REFERENCE_MIXTURE['per_factor'], rtol=0, atol=1e-12)
  scores = dci_es.dci_es(*_mixture(), num_trees=_TREES, refit=True)
  np.testing.assert_allclose(scores['dci_es_explicitness'], _REFERENCE_MIXTURE['explicitness'],
                             rtol=0, atol=1e-12)
  np.testing.assert_allclose(scores['dci_es_informativeness'],
                             _REFERENCE_MIXTURE['informativeness'], rtol=0, atol=1e-12)
  assert scores['dci_es_size'] == 2 / 3  # Two factors, three codes.


def test_cut_forests_on_a_noisy_mixture_show_both_values():
  """The default reads one deep forest at every depth; the authors refit per depth."""
  cut, _ = _curves(_mixture, refit=False)
  reference = np.array(_REFERENCE_ERRORS['mixture']) / 120
  # Depth 1 (the root's draw comes first in both) and the largest depth (the same forest) agree.
  np.testing.assert_allclose(cut[:, [0, -1]], reference[:, [0, -1]], rtol=0, atol=1e-12)
  cut_e = dci_es.dci_es(*_mixture(), num_trees=_TREES)['dci_es_explicitness']
  # In between only the random feature draws differ, a sampling difference (0.0017 here):
  # the two explicitness values agree to within 0.01, not to float precision.
  assert cut_e != _REFERENCE_MIXTURE['explicitness']
  assert abs(cut_e - _REFERENCE_MIXTURE['explicitness']) < 0.01


def test_cut_forests_equal_the_authors_refits_with_a_single_code():
  reference = np.array(_REFERENCE_ERRORS['single_code']) / 120
  for refit in (False, True):
    losses, _ = _curves(_single_code, refit)
    np.testing.assert_allclose(losses, reference, rtol=0, atol=1e-12)
  scores = dci_es.dci_es(*_single_code(), num_trees=_TREES)
  # Both curves are lowest at depth 1 (the reference's E_j are 1.0); two factors in one code.
  assert scores['dci_es_explicitness'] == 1.0
  np.testing.assert_allclose(scores['dci_es_informativeness'],
                             _REFERENCE_SINGLE_CODE_INFORMATIVENESS, rtol=0, atol=1e-12)
  assert scores['dci_es_size'] == 2.0


def test_cut_probabilities_against_decision_paths():
  # Brute force: each point's path through each tree (sklearn's decision_path), the node at
  # min(depth, path length − 1), its class fractions, averaged over trees.
  codes_train, factors_train, codes_test, _ = _mixture()
  forest = dci_es._forest(codes_train, factors_train[:, 0], 32, 5, 0)
  depths = (1, 3, 6, 32)
  expected = np.zeros((len(depths), len(codes_test), forest.n_classes_))
  for estimator in forest.estimators_:
    paths = estimator.decision_path(codes_test.astype(np.float32))
    values = estimator.tree_.value[:, 0, :]
    for n in range(len(codes_test)):
      path = paths.indices[paths.indptr[n]:paths.indptr[n + 1]]
      for i, d in enumerate(depths):
        node = path[min(d, len(path) - 1)]
        expected[i, n] += values[node] / values[node].sum()
  expected /= len(forest.estimators_)
  got = dci_es.cut_probabilities(forest, codes_test, depths)
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
  # Cut below every leaf, the forest is sklearn's own.
  np.testing.assert_allclose(got[-1], forest.predict_proba(codes_test), rtol=0, atol=1e-12)


def test_perfectly_explicit_code():
  # Closed form (and the reference run's): zero error at every depth, so E = 1, I = 1, S = 1.
  losses, _ = _curves(_perfect, refit=False)
  np.testing.assert_array_equal(losses, np.zeros((2, len(dci_es.DEPTHS))))
  assert dci_es.dci_es(*_perfect(), num_trees=_TREES) == {
      'dci_es_explicitness': 1.0, 'dci_es_informativeness': 1.0, 'dci_es_size': 1.0}


def test_collapsed_code_sits_at_the_baseline():
  # Every probe predicts one value: on balanced test labels its error is the baseline 1 − 1/K at
  # every depth. The curve is flat, so its area above its own lowest loss is 0 and E = 1 (the
  # authors' definition, and their run's value); informativeness is chance, 1 − (2/3 + 3/4)/2.
  losses, baselines = _curves(_collapsed, refit=False)
  np.testing.assert_allclose(losses, np.repeat(baselines[:, None], len(dci_es.DEPTHS), axis=1),
                             rtol=0, atol=1e-12)
  scores = dci_es.dci_es(*_collapsed(), num_trees=_TREES)
  assert scores['dci_es_explicitness'] == 1.0
  np.testing.assert_allclose(scores['dci_es_informativeness'], 7 / 24, rtol=0, atol=1e-12)


def test_metric_declaration_runs_per_representation():
  codes_train, factors_train, codes_test, factors_test = _perfect()
  inputs = metric.Inputs(None, None, {'mean': codes_train}, factors_train, {'mean': codes_test},
                         factors_test, None, (), (), 0)
  assert dci_es.METRIC.score(inputs) == {'mean': {
      'dci_es_explicitness': 1.0, 'dci_es_informativeness': 1.0, 'dci_es_size': 1.0}}
  assert dci_es.METRIC in registry.METRICS  # Whose import raises if a name or key is taken twice.


@pytest.mark.parametrize('change, message', [
    (lambda c: (c[0][:-1],) + c[1:], 'codes_train has 239 samples but factors_train has 240'),
    (lambda c: (np.full_like(c[0], np.nan),) + c[1:], 'codes_train contains NaN'),
    (lambda c: (c[0], c[1] + 0.5) + c[2:], 'factors_train must be integer-valued'),
    (lambda c: (c[0], np.zeros_like(c[1])) + c[2:], 'every factor takes a single value'),
    (lambda c: c[:2] + (c[2][:, :1], c[3]), 'codes_train has 2 codes but codes_test has 1'),
])
def test_bad_inputs(change, message):
  with pytest.raises(UserInputError, match=message):
    dci_es.dci_es(*change(_perfect()), num_trees=_TREES)


@pytest.mark.parametrize('options, message', [
    ({'depths': (3,)}, 'depths must list at least two capacities'),
    ({'depths': (1, 3, 2)}, 'depths must be finite and strictly increasing'),
    ({'depths': (0, 2)}, 'depths must be positive integers'),
    ({'depths': (1, 2.5)}, 'depths must be positive integers'),
    ({'num_trees': 0}, 'num_trees must be a positive integer'),
    ({'num_trees': 2.0}, 'num_trees must be a positive integer'),
])
def test_bad_settings(options, message):
  with pytest.raises(UserInputError, match=message):
    dci_es.dci_es(*_perfect(), **options)


def test_bad_curves():
  with pytest.raises(UserInputError, match='losses must be 3 finite values'):
    dci_es.explicitness_of_curve([1, 2, 3], [0.1, 0.2], 0.5)
  with pytest.raises(UserInputError, match='the baseline loss must be positive'):
    dci_es.explicitness_of_curve([1, 2, 3], [0.1, 0.2, 0.3], 0.0)
