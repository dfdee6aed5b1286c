"""The autoencoder family: Jacobian penalties against references, corruptions, training, bad input."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vae.errors import UserInputError
from vae.methods import autoencoders
from vae.methods import corruptions
from vae.studies import autoencoder_comparison
from vae.training import loop
from vae.training.metric_writer import read_metrics

_RNG = np.random.default_rng(0)
_W1, _B1 = _RNG.normal(size=(6, 5)), _RNG.normal(size=5)
_W2, _B2 = _RNG.normal(size=(5, 3)), _RNG.normal(size=3)
_X = _RNG.normal(size=(4, 6))


def _encode_np(x):
  return np.tanh(x @ _W1 + _B1) @ _W2 + _B2


def _encode(x):
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  return jnp.tanh(x @ f32(_W1) + f32(_B1)) @ f32(_W2) + f32(_B2)


def _finite_difference_sq_norms(x, eps=1e-6):
  # Central differences of a float64 numpy copy of the encoder: independent of JAX autodiff.
  norms = []
  for example in x:
    columns = [(_encode_np(example + eps * e) - _encode_np(example - eps * e)) / (2 * eps)
               for e in np.eye(len(example))]
    norms.append(np.sum(np.square(columns)))
  return np.array(norms)


def test_exact_jacobian_norm_matches_finite_differences():
  exact = autoencoders.jacobian_sq_norm(_encode, jnp.asarray(_X, jnp.float32))
  np.testing.assert_allclose(exact, _finite_difference_sq_norms(_X), rtol=1e-4)


def test_hutchinson_mean_agrees_with_exact_within_its_standard_error():
  # E‖Jᵀv‖² = tr(J Jᵀ) = ‖J‖²_F for v ~ N(0, I) (Hutchinson 1990); the reference is the
  # finite-difference value, so this does not lean on the exact estimator being right.
  x = jnp.asarray(_X, jnp.float32)
  samples = np.asarray(autoencoders.hutchinson_samples(jax.random.key(0), _encode, x, 4000))
  standard_error = samples.std(axis=1) / np.sqrt(samples.shape[1])
  error = np.abs(samples.mean(axis=1) - _finite_difference_sq_norms(_X))
  assert np.all(error < 4 * standard_error), (error, standard_error)


def test_contractive_penalty_of_a_sigmoid_layer_has_the_closed_form():
  # Rifai et al. 2011, eq. 5: for h = σ(Wx + b), ‖J‖²_F = Σ_j (h_j(1−h_j))² Σ_i W_ij².
  w, b, x = _RNG.normal(size=(7, 4)), _RNG.normal(size=4), _RNG.normal(size=(5, 7))
  h = 1 / (1 + np.exp(-(x @ w + b)))
  closed_form = np.sum(np.square(h * (1 - h)) * np.sum(np.square(w), axis=0), axis=1)
  encode = lambda x: jax.nn.sigmoid(x @ jnp.asarray(w, jnp.float32) + jnp.asarray(b, jnp.float32))
  penalty = autoencoders.jacobian_sq_norm(encode, jnp.asarray(x, jnp.float32))
  np.testing.assert_allclose(penalty, closed_form, rtol=1e-5)


def test_corruption_levels_match_their_settings():
  n = 1_000_000
  ones = jnp.ones((n,))
  masked = corruptions.Corruption('masking', drop_probability=0.3)(jax.random.key(0), ones)
  dropped = float(jnp.mean(masked == 0))
  assert abs(dropped - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
  noisy = corruptions.Corruption('gaussian', noise_std=0.7)(jax.random.key(1), ones)
  assert abs(float(jnp.std(noisy - ones)) - 0.7) < 4 * 0.7 / np.sqrt(2 * n)
  halves = jnp.full((n,), 0.5)
  salted = corruptions.Corruption('salt_and_pepper', drop_probability=0.2)(
      jax.random.key(2), halves)
  assert abs(float(jnp.mean(salted != 0.5)) - 0.2) < 4 * np.sqrt(0.2 * 0.8 / n)
  assert abs(float(jnp.mean(salted == 1)) - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)


@pytest.mark.parametrize('name', corruptions.NAMES)
def test_same_key_same_corruption_different_keys_differ(name):
  corrupt = corruptions.Corruption(name)
  x = jnp.full((8, 16, 16, 1), 0.5)
  a, b = corrupt(jax.random.key(3), x), corrupt(jax.random.key(3), x)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, corrupt(jax.random.key(4), x))


_EXPECTED = {
    'ae': (),
    'sparse_ae': ('sparsity_penalty',),
    'denoising_ae': ('recon_corrupted_input',),
    'contractive_ae': ('jacobian_norm',),
}


@pytest.mark.parametrize('method, settings', [
    ('ae', {}), ('sparse_ae', {}), ('sparse_ae', {'sparsity_penalty': 'kl'}),
    ('denoising_ae', {'corruption': 'salt_and_pepper'}), ('contractive_ae', {}),
    ('contractive_ae', {'jacobian_estimator': 'hutchinson', 'num_probes': 2})])
def test_each_method_trains_with_finite_named_terms(config, tmp_path, method, settings):
  # The tiny config with a small MLP: the terms do not depend on the architecture, compiles do.
  config.update({'method': method, 'model': 'mlp', 'hidden': 32, **settings})
  workdir = str(tmp_path / method)
  metrics = loop.train_and_evaluate(config, workdir)
  names = ('loss', 'recon', 'mean_abs_code', 'inactive_fraction', *_EXPECTED[method])
  for row in [*read_metrics(workdir), metrics]:
    for name in names:
      assert np.isfinite(row[name]), (method, row, name)
  assert 'kl' not in metrics
  # An autoencoder is not generative: reconstructions only, no prior samples or traversals.
  assert os.listdir(os.path.join(workdir, 'figures')) == ['reconstructions.png']


@pytest.mark.parametrize('setting, value, allowed', [
    ('sparsity_weight', -1.0, '>= 0'), ('contractive_weight', -0.5, '>= 0'),
    ('drop_probability', 1.0, 'in [0, 1)'), ('drop_probability', -0.1, 'in [0, 1)'),
    ('noise_std', -1.0, '>= 0'), ('corruption', 'blur', 'allowed: gaussian, masking'),
    ('method', 'pca', 'allowed: ae, sparse_ae'), ('sparsity_penalty', 'l2', 'allowed: l1, kl'),
    ('jacobian_estimator', 'fd', 'allowed: exact, hutchinson')])
def test_bad_setting_is_a_one_line_error_and_writes_nothing(config, tmp_path, setting, value,
                                                            allowed):
  config[setting] = value
  workdir = tmp_path / 'run'
  with pytest.raises(UserInputError) as error:
    loop.train_and_evaluate(config, str(workdir))
  message = str(error.value)
  assert f'--config.{setting}' in message and allowed in message and '\n' not in message
  assert not workdir.exists()


def test_unknown_method_in_a_comparison_writes_nothing(config, tmp_path):
  config.methods, config.num_test_examples, config.test_seed = 'ae,pca', 8, 0
  with pytest.raises(UserInputError, match=r'--config.methods=.*allowed|must list methods'):
    autoencoder_comparison.compare_autoencoders(config, str(tmp_path / 'cmp'))
  assert not (tmp_path / 'cmp').exists()
