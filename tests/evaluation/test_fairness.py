"""The fairness metric: its total-variation reduction, its classifier's predictions and a run
through the score function on a small synthetic ground-truth dataset."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import sklearn.ensemble

from vae.data import dsprites
from vae.data import ground_truth
from vae.evaluation import fairness
from vae.evaluation import hist_gbt
from vae.evaluation import sampled_scores

_SIZES = (3, 2, 4, 8, 8)


def test_inter_group_fairness_of_the_reference_unit_case():
  # disentanglement_lib's fairness_test: p(prediction) = (1/3, 2/3); value 0 gives (0, 1), a TV of
  # 1/3; value 1 gives (1/2, 1/2), a TV of 1/6; weighted by counts 100 and 200: 1/3·1/3 + 2/3·1/6
  # = 2/9; the maximum is 1/3.
  mean, largest = fairness.inter_group_fairness(np.array([[0, 100], [100, 100]]))
  np.testing.assert_allclose((mean, largest), (2 / 9, 1 / 3), rtol=1e-12)


def test_inter_group_fairness_against_a_direct_loop():
  # Reference: TV = ½ Σ_k |p(k | c) − p(k)| written out entry by entry.
  counts = np.random.default_rng(0).integers(0, 50, size=(5, 7))
  total = counts.sum()
  distances, weights = [], []
  for c in range(counts.shape[1]):
    column = counts[:, c].sum()
    distances.append(sum(abs(counts[k, c] / column - counts[k].sum() / total)
                         for k in range(counts.shape[0])) / 2)
    weights.append(column)
  expected = (sum(d * w for d, w in zip(distances, weights)) / sum(weights), max(distances))
  np.testing.assert_allclose(fairness.inter_group_fairness(counts), expected, rtol=1e-12)


def test_reductions_of_the_reference_scores_dict():
  # disentanglement_lib's test_compute_scores_dict expectation for this matrix.
  matrix = np.array([[0., 2., 4.], [4., 0., 8.], [2., 10., 0.]])
  np.testing.assert_allclose(
      [fairness.reduced(matrix)[k] for k in ('mean_pred_mean_sens', 'mean_pred_max_sens',
                                             'max_pred_mean_sens', 'max_pred_max_sens')],
      [5., 22. / 3., 6., 10.])


def test_predictions_equal_sklearns():
  # Reference: sklearn's GradientBoostingClassifier() with its defaults on the same data.
  # sklearn's trees compare float32 copies of the features: float32 values make both exact.
  rng = np.random.default_rng(1)
  x_train, x_test = (rng.normal(size=(n, 4)).astype(np.float32).astype(np.float64)
                     for n in (300, 200))
  y_train = np.digitize(x_train[:, 0] + 0.5 * x_train[:, 1], [-0.5, 0.5])  # Three classes.
  expected = sklearn.ensemble.GradientBoostingClassifier(random_state=0).fit(x_train, y_train)
  _, train_labels, test_labels = hist_gbt.fit_predict(x_train, y_train, x_test)
  np.testing.assert_array_equal(train_labels, expected.predict(x_train))
  np.testing.assert_array_equal(test_labels, expected.predict(x_test))


def test_a_code_of_the_target_alone_is_perfectly_fair():
  # The code is the target factor itself: an intervention on another factor leaves the code,
  # hence the prediction, unchanged, so every p(prediction | value) is p(prediction).
  rng = np.random.default_rng(2)
  sizes = (3, 4)
  factors = np.stack([rng.integers(0, s, 500) for s in sizes], axis=1)
  originals = np.stack([rng.integers(0, s, 20) for s in sizes], axis=1)
  intervened = []
  for j, size in enumerate(sizes):
    tuples = np.repeat(originals[None], size, axis=0)
    tuples[:, :, j] = np.arange(size)[:, None]
    intervened.append(tuples[..., :1].astype(np.float64))  # The code: factor 0 only.
  mean, largest = fairness.fairness_matrices(factors[:, :1], factors, intervened, sizes)
  assert mean[0, 1] == largest[0, 1] == 0.0


def _factor_encoder():
  """A `PureEncoder` whose codes are dSprites' shape, scale and orientation pixel statistics:
  the image's pixel sum and its row and column centroids."""
  def statistics(params, observations):
    images = observations.reshape(observations.shape[0], 64, 64)
    mass = images.sum(axis=(1, 2))
    rows = (images.sum(axis=2) * jnp.arange(64)).sum(axis=1) / jnp.maximum(mass, 1)
    columns = (images.sum(axis=1) * jnp.arange(64)).sum(axis=1) / jnp.maximum(mass, 1)
    return params * jnp.stack([mass, rows, columns], axis=1)

  def with_noise(codes, key):
    return {'mean': codes, 'sampled': codes + jax.random.normal(key, codes.shape)}

  return sampled_scores.PureEncoder(statistics, with_noise, jnp.float32(1.0))


def test_scores_of_a_small_dataset():
  # Codes that carry the position factors (centroids) and scale (mass) but not one another: each
  # score is a total-variation distance, so in [0, 1], and the max reductions bound the means.
  data = dataclasses.replace(dsprites.dataset(), factor_sizes=_SIZES,
                             sample_factors=functools.partial(ground_truth.uniform_factors, _SIZES))
  scores = fairness.fairness_scores(data, _factor_encoder(), jax.random.key(0), jax.random.key(1),
                                    num_train=300, num_test_points_per_class=10, per_step=64)
  assert set(scores) == {'mean', 'sampled'}
  for values in scores.values():
    assert set(values) == set(fairness._OWN_KEYS)
    assert all(0.0 <= v <= 1.0 for v in values.values())
    for matrix in ('mean', 'max'):
      assert (values[f'{matrix}_fairness_mean_pred_mean_sens']
              <= values[f'{matrix}_fairness_max_pred_max_sens'])
    assert values['mean_fairness_max_pred_max_sens'] <= values['max_fairness_max_pred_max_sens']
