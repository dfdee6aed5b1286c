"""BetaVAE score (Higgins et al. 2017), on every representation of a model at once.

A point is ``mean_b |z1_b − z2_b|`` over a batch of pairs that share the fixed factor's value
(`sampled_scores.fixed_factor_batches`, two copies); a logistic regression (the reference's
sklearn-0.20 ``LogisticRegression()``: one-vs-rest, liblinear, seeded from the key) predicts the
fixed factor from it. The reference's defaults: batch 64, 10,000 training and 5,000 evaluation
points.
"""

import jax
import numpy as np

from vae.evaluation import classifiers
from vae.evaluation import metric
from vae.evaluation import sampled_scores

_OWN_KEYS = ('train_accuracy', 'eval_accuracy')


def _pair_distance(codes):
  """BetaVAE point of codes ``[..., 2, B, C]``: ``mean_b |z1_b − z2_b|`` (numpy or JAX)."""
  return abs(codes[..., 0, :, :] - codes[..., 1, :, :]).mean(axis=-2)


def accuracies(x_train, y_train, x_eval, y_eval, key_model):
  """The logistic regression's accuracies on the BetaVAE points."""
  if np.unique(y_train).size < 2:
    # Only one factor can be fixed: the classifier has nothing to tell apart.
    return {'train_accuracy': 1.0, 'eval_accuracy': 1.0}
  model = classifiers.fit_quietly(
      classifiers.reference_logistic_regression(
          classifiers.seed_from_key(key_model)), x_train, y_train)
  return {'train_accuracy': float(model.score(x_train, y_train)),
          'eval_accuracy': float(model.score(x_eval, y_eval))}


def beta_vae_scores(data, encoder, key, noise_key, batch_size=64, num_train=10000,
                    num_eval=5000, observations_per_step=sampled_scores._OBSERVATIONS_PER_STEP):
  """``{name: {'train_accuracy', 'eval_accuracy'}}`` of every representation of a
  `sampled_scores.PureEncoder`; ``noise_key`` feeds the encoder's noise."""
  sampled_scores.check_dataset(data, batch_size, num_train, num_eval)
  key_train, key_eval, key_model = jax.random.split(key, 3)
  noise_train, noise_eval = jax.random.split(noise_key)
  (x_train, y_train), (x_eval, y_eval) = (
      sampled_scores._points(data, encoder, k, noise, batch_size, n, 2, _pair_distance,
                             observations_per_step)
      for k, noise, n in ((key_train, noise_train, num_train), (key_eval, noise_eval, num_eval)))
  return {name: accuracies(x_train[name], y_train, x_eval[name], y_eval, key_model)
          for name in x_train}


def _score(inputs):
  sizes = inputs.sizes
  return metric.prefixed('beta_vae', beta_vae_scores(
      inputs.dataset, inputs.encoder, inputs.keys[METRIC.stream],
      inputs.noise_keys[METRIC.stream], sizes.sampled_batch_size, sizes.sampled_num_train,
      sizes.sampled_num_eval, inputs.per_step))


def _observations(sizes):
  """A batch of pairs per point."""
  return 2 * sizes.sampled_batch_size * (sizes.sampled_num_train + sizes.sampled_num_eval)


METRIC = metric.Metric(
    'beta_vae', tuple(f'beta_vae_{key}' for key in _OWN_KEYS), _score, stream=2,
    least=(metric.Least('sampled_batch_size', 2, 'BetaVAE pairs', 'need two per batch'),
           metric.Least('sampled_num_train', 1), metric.Least('sampled_num_eval', 1)),
    observations=_observations)
