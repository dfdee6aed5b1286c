"""Shapes, finiteness (with and without jit) and the generative path of every model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vae import models
from vae.errors import UserInputError

SHAPE = (64, 64, 1)


def _init(config, shape=SHAPE):
  model = models.create_model(config, shape, variational=True)
  params = model.init(jax.random.key(0), jnp.zeros((1, *shape)), jax.random.key(1))['params']
  return model, {'params': params}


@pytest.mark.parametrize('architecture', ['conv', 'mlp', 'chen_mlp'])
@pytest.mark.parametrize('likelihood,channels', [('bernoulli', 1), ('gaussian_fixed', 1),
                                                 ('gaussian_learned', 2)])
@pytest.mark.parametrize('use_jit', [False, True])
def test_forward_shapes_and_finiteness(config, architecture, likelihood, channels, use_jit):
  config.model, config.likelihood, config.hidden = architecture, likelihood, 32
  model, variables = _init(config)
  x = jax.random.bernoulli(jax.random.key(2), 0.3, (3, *SHAPE)).astype(jnp.float32)
  apply = jax.jit(model.apply) if use_jit else model.apply
  out = apply(variables, x, jax.random.key(3))
  assert out['mean'].shape == out['logvar'].shape == out['z'].shape == (3, config.latents)
  assert out['decoder_out'].shape == (3, 64, 64, channels)
  for value in out.values():
    assert np.all(np.isfinite(value))


def test_conv_matches_the_published_architecture(config):
  # Locatello et al. 2019, Table 1 (conv encoder 32,32,64,64 4x4 stride 2, FC 256, 2·latents).
  model, variables = _init(config)
  p = variables['params']
  assert [p['encoder'][f'Conv_{i}']['kernel'].shape for i in range(4)] == [
      (4, 4, 1, 32), (4, 4, 32, 32), (4, 4, 32, 64), (4, 4, 64, 64)]
  assert p['encoder']['Dense_0']['kernel'].shape == (4 * 4 * 64, 256)
  assert p['encoder']['Dense_1']['kernel'].shape == (256, 2 * config.latents)
  assert [p['decoder'][f'ConvTranspose_{i}']['kernel'].shape[-1] for i in range(4)] == [64, 32, 32, 1]


def test_mlp_matches_the_flax_example_sizes(config):
  config.model, config.latents = 'mlp', 20
  model, variables = _init(config, (28, 28, 1))
  p = variables['params']
  assert p['encoder']['Dense_0']['kernel'].shape == (784, 500)
  assert p['encoder']['Dense_1']['kernel'].shape == (500, 40)
  assert p['decoder']['Dense_1']['kernel'].shape == (500, 784)


def test_chen_mlp_matches_their_code(config):
  # Chen et al. 2018, vae_quant.py: MLPEncoder 4096-1200-1200-2·latents (ReLU), MLPDecoder
  # latents-1200-1200-1200-4096 (tanh).
  config.model = 'chen_mlp'
  model, variables = _init(config)
  p = variables['params']
  assert [p['encoder'][f'Dense_{i}']['kernel'].shape for i in range(3)] == [
      (4096, 1200), (1200, 1200), (1200, 2 * config.latents)]
  assert [p['decoder'][f'Dense_{i}']['kernel'].shape for i in range(4)] == [
      (config.latents, 1200), (1200, 1200), (1200, 1200), (1200, 4096)]
  # Saturating tanh units: scaling a large code by 10 leaves the logits as they are (ReLU units
  # would scale them by 10 too).
  z = 1e5 * jax.random.normal(jax.random.key(5), (1, config.latents))
  decode = lambda code: model.apply(variables, code, method=models.VAE.decode)
  np.testing.assert_allclose(decode(10.0 * z), decode(z), atol=1e-5)


def test_sample_reconstruct_traverse(config):
  model, variables = _init(config)
  samples = model.apply(variables, jax.random.key(4), 5, method=models.VAE.sample)
  assert samples.shape == (5, *SHAPE)
  assert np.all((samples >= 0) & (samples <= 1))  # Bernoulli means are probabilities.
  x = jnp.ones((2, *SHAPE))
  assert model.apply(variables, x, method=models.VAE.reconstruct).shape == (2, *SHAPE)
  values = jnp.linspace(-2, 2, 3)
  grid = model.apply(variables, x[:1], values, method=models.VAE.traverse)
  assert grid.shape == (config.latents, 3, *SHAPE)
  # Row i sets only latent i: decoding that code by hand must give the same image.
  mean = model.apply(variables, x[:1], method=models.VAE.encode)[0]
  code = mean.at[0, 1].set(values[2])
  expected = model.apply(variables, code, method=models.VAE.decode)
  np.testing.assert_allclose(grid[1, 2], jax.nn.sigmoid(expected[0]), rtol=1e-5, atol=1e-6)


def test_sampling_is_keyed(config):
  model, variables = _init(config)
  a = model.apply(variables, jax.random.key(5), 2, method=models.VAE.sample)
  b = model.apply(variables, jax.random.key(5), 2, method=models.VAE.sample)
  c = model.apply(variables, jax.random.key(6), 2, method=models.VAE.sample)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)


@pytest.mark.parametrize('setting,value,shape,message', [
    ('model', 'resnet', SHAPE, "unknown model 'resnet' (--config.model); allowed: conv, mlp"),
    ('likelihood', 'poisson', SHAPE,
     "unknown likelihood 'poisson' (--config.likelihood); allowed: bernoulli, gaussian_fixed,"
     ' gaussian_learned'),
    ('model', 'conv', (28, 28, 1), '--config.model=conv needs'),
])
def test_bad_model_settings(config, setting, value, shape, message):
  config[setting] = value
  with pytest.raises(UserInputError) as error:
    models.create_model(config, shape, variational=True)
  assert str(error.value).startswith(message)
  assert '\n' not in str(error.value)
