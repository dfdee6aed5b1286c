"""Each convolution form's float32 loss gradient against the same model computed in float64.

  .venv/bin/python -m benchmarks.conv_precision

The default conv β-VAE (β = 4) at initialization, on 8 procedural dSprites images, with the same
ε in both precisions (drawn in float32). Prints, per parameter leaf, max |g32 − g64| / max |g64|
for the matmul form as XLA compiles it by default, the matmul form with XLA:CPU's YNNPACK dots
left out, the XLA form, and the training loop's own scanned program (`train.train_steps`, default
form, batch 64, its worst step of 2); `BOUND` is what float32 rounding allows (tests/test_layers.py).
A ratio, not a time: the same on a quiet or a busy machine, but it depends on the processor.
"""

from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import default as default_config
from vae import distributions
from vae import methods
from vae.data import dsprites
from vae.training import train

# The most terms any gradient entry sums: ConvTranspose_3's kernel collects the 8 images × 32 × 32
# input positions of each tap. Float32 rounding of such a sum is ~√N·u of its terms' magnitude
# (u = 2⁻²⁴); a factor 4 covers the errors that the chain of layers adds on the way.
BOUND = 4 * np.sqrt(8 * 32 * 32) * 2.0**-24
# XLA:CPU's option naming the YNNPACK fusions it may use: '' leaves them all out.
WITHOUT_YNNPACK = {'xla_cpu_experimental_ynn_fusion_type': ''}
FORMS = {'matmul': ('matmul', None), 'matmul_without_ynnpack': ('matmul', WITHOUT_YNNPACK),
         'xla': ('xla', None)}


def _float32_noise(key, mean, logvar):
  """ε drawn in float32 whatever the model's dtype: the float64 run sees the same noise."""
  eps = jax.random.normal(key, jnp.shape(mean), jnp.float32).astype(mean.dtype)
  return distributions.sample_from_noise(mean, logvar, eps)


def _loss_and_grad(model, objective, params, batch, key, compiler_options=None):
  """The loss and its gradient; batch and key are traced, as in the training step."""
  loss = lambda p, batch, key: objective(model, p, None, batch, key, 4.0, 0)[0]  # noqa: E731
  step = jax.jit(jax.value_and_grad(loss), compiler_options=compiler_options)
  return jax.tree.map(np.asarray, step(params, batch, key))


def _scanned_grads(model, objective, params, train_key, batch_size, num_steps):
  """Each step's loss and gradient as `train.train_steps` computes them: scanned, batches drawn
  in-graph from `train.step_keys` (the update is left out: it would mix the steps' errors)."""

  def steps(params, train_key):
    def body(carry, step):
      data_key, noise_key = train.step_keys(train_key, step)
      batch = dsprites.sample(data_key, batch_size)
      loss = lambda p: objective(model, p, None, batch, noise_key, 4.0, step)[0]  # noqa: E731
      return carry, jax.value_and_grad(loss)(params)

    return jax.lax.scan(body, 0, jnp.arange(num_steps))[1]

  return jax.tree.map(np.asarray, jax.jit(steps)(params, train_key))


def _relative_errors(loss, grad, ref_loss, ref_grad):
  leaves = {jax.tree_util.keystr(path): float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
            for (path, ref), ours in zip(jax.tree_util.tree_flatten_with_path(ref_grad)[0],
                                         jax.tree.leaves(grad))}
  return float(np.max(np.abs(loss - ref_loss) / np.abs(ref_loss))), leaves


def _model_and_objective(impl):
  config = default_config.get_config()
  config.conv_impl = impl
  return train.create_model(config, dsprites.IMAGE_SHAPE), methods.from_config(config)


def _in_float64(tree):
  return jax.tree.map(lambda p: p.astype(np.float64), tree)


def errors_against_float64(impl, compiler_options=None):
  """(loss relative error, {leaf: max |g32 − g64| / max |g64|}) of the form `impl`."""
  model, objective = _model_and_objective(impl)
  batch = np.asarray(dsprites.sample(jax.random.key(0), 8))
  params = jax.tree.map(np.asarray,
                        model.init(jax.random.key(1), batch, jax.random.key(2))['params'])
  with mock.patch.object(distributions, 'reparameterize', _float32_noise):
    loss, grad = _loss_and_grad(model, objective, params, batch, jax.random.key(3),
                                compiler_options)
    with jax.enable_x64(True):
      ref = _loss_and_grad(model, objective, _in_float64(params), batch.astype(np.float64),
                           jax.random.key(3))
  return _relative_errors(loss, grad, *ref)


def training_errors_against_float64(impl='auto', batch_size=64, num_steps=2):
  """`errors_against_float64` of the training loop's own program: the default form, YNNPACK as
  XLA chooses, `num_steps` scanned steps from a `train.create_train_state` start."""
  model, objective = _model_and_objective(impl)
  params = jax.tree.map(np.asarray, train.create_train_state(
      jax.random.key(0), default_config.get_config(), model, dsprites.IMAGE_SHAPE).params)
  with mock.patch.object(distributions, 'reparameterize', _float32_noise):
    loss, grad = _scanned_grads(model, objective, params, jax.random.key(5), batch_size,
                                num_steps)
    with jax.enable_x64(True):
      ref = _scanned_grads(model, objective, _in_float64(params), jax.random.key(5), batch_size,
                           num_steps)
  return _relative_errors(loss, grad, *ref)


def main():
  forms = [name for name in FORMS if jax.default_backend() == 'cpu' or 'ynnpack' not in name]
  results = {name: errors_against_float64(*FORMS[name]) for name in forms}
  forms.append('train_steps (auto)')
  results[forms[-1]] = training_errors_against_float64()
  print(f'{jax.devices()[0].device_kind}; BOUND = {BOUND:.1e}')
  print(f"{'leaf':42s}" + ''.join(f'{name:>24s}' for name in forms))
  print(f"{'loss':42s}" + ''.join(f'{results[name][0]:24.1e}' for name in forms))
  for leaf in results[forms[0]][1]:
    print(f'{leaf:42s}' + ''.join(f'{results[name][1][leaf]:24.1e}' for name in forms))
  print(f"{'worst leaf':42s}" + ''.join(f'{max(results[name][1].values()):24.1e}'
                                         for name in forms))


if __name__ == '__main__':
  main()
