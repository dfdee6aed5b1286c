"""`vae.layers` against flax's own nn.Conv / nn.ConvTranspose on the same weights.

The reference is flax (`lax.conv_general_dilated` / `lax.conv_transpose`), an independent
implementation of the same functions: forward values and the gradients with respect to the input
and to both parameters must agree to float32 rounding, also under `jax.vmap` over stacked
weights (how the β sweep runs K models in one program). A whole conv VAE built with
`conv_impl='matmul'` and with `'xla'` (flax's layers) shares one parameter tree, and each form's
loss and loss gradient agree with the same model computed in float64.
"""

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import conv_precision
from vae import layers

# Each kind: (ours, flax's), both called as make(features, name=None).
_PAIRS = {
    'conv': (layers.StridedConv,
             lambda f, name=None: nn.Conv(f, (4, 4), strides=(2, 2), padding='SAME', name=name)),
    'transpose': (layers.StridedConvTranspose,
                  lambda f, name=None: nn.ConvTranspose(f, (4, 4), strides=(2, 2), padding='SAME',
                                                        name=name)),
}
# [batch, height, width, in channels] and out channels: the model's shapes, odd and non-square
# sides, one channel in or out, and channel ratios that take both branches of `_conv2x2`.
_SHAPES = [((2, 64, 64, 1), 32), ((2, 16, 16, 32), 64), ((2, 32, 32, 32), 1), ((3, 7, 5, 3), 4),
           ((1, 6, 10, 8), 2), ((2, 1, 1, 4), 3)]


def _assert_close(actual, expected):
  """Equal to float32 rounding of sums of many terms: relative to the largest entry."""
  scale = float(jnp.max(jnp.abs(expected)))
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def _normal(rng, *shape):
  # numpy draws: jax.random would compile a sampler per shape, most of this file's run time.
  return rng.standard_normal(shape).astype(np.float32)


def _params(rng, in_channels, features):
  """A kernel at flax's initial scale, and a random bias so that the bias path is checked too."""
  kernel = _normal(rng, 4, 4, in_channels, features) / np.sqrt(16 * in_channels)
  return {'kernel': kernel, 'bias': _normal(rng, features)}


@functools.partial(jax.jit, static_argnums=0)
def _value_and_vjp(module, params, x, cotangent):
  """The layer's output and its vector-Jacobian product with `cotangent` (params, x)."""
  y, vjp = jax.vjp(lambda p, x: module.apply({'params': p}, x), params, x)
  return y, vjp(cotangent)


@pytest.mark.parametrize('kind', sorted(_PAIRS))
@pytest.mark.parametrize('shape,features', _SHAPES)
def test_values_and_gradients_match_flax(kind, shape, features):
  ours, reference = _PAIRS[kind][0](features), _PAIRS[kind][1](features)
  rng = np.random.default_rng(sum(shape) + features)
  x, params = _normal(rng, *shape), _params(rng, shape[-1], features)
  cotangent = _normal(rng, *jax.eval_shape(reference.apply, {'params': params}, x).shape)
  (ours_y, (ours_p, ours_x)), (ref_y, (ref_p, ref_x)) = (
      _value_and_vjp(m, params, x, cotangent) for m in (ours, reference))
  _assert_close(ours_y, ref_y)
  _assert_close(ours_x, ref_x)
  _assert_close(ours_p['kernel'], ref_p['kernel'])
  _assert_close(ours_p['bias'], ref_p['bias'])


@pytest.mark.parametrize('kind', sorted(_PAIRS))
def test_vmap_over_stacked_weights_matches_flax(kind):
  models, features, shape = 3, 8, (2, 8, 8, 4)
  ours, reference = _PAIRS[kind][0](features), _PAIRS[kind][1](features)
  rng = np.random.default_rng(7)
  xs = _normal(rng, models, *shape)
  params = jax.tree.map(lambda *p: np.stack(p),
                        *(_params(rng, shape[-1], features) for _ in range(models)))
  one_y = jax.eval_shape(reference.apply, {'params': jax.tree.map(lambda p: p[0], params)}, xs[0])
  cotangents = _normal(rng, models, *one_y.shape)
  stacked = jax.jit(jax.vmap(_value_and_vjp, in_axes=(None, 0, 0, 0)), static_argnums=0)
  (ours_y, (ours_p, ours_x)), (ref_y, (ref_p, ref_x)) = (
      stacked(m, params, xs, cotangents) for m in (ours, reference))
  _assert_close(ours_y, ref_y)
  _assert_close(ours_x, ref_x)
  _assert_close(ours_p['kernel'], ref_p['kernel'])
  _assert_close(ours_p['bias'], ref_p['bias'])


class _Parent(nn.Module):
  """Creates its child by name inside a compact method, as models.py does."""

  make: Callable

  @nn.compact
  def __call__(self, x):
    return self.make(5, name='layer')(x)


@pytest.mark.parametrize('kind', sorted(_PAIRS))
def test_initialization_matches_flax(kind):
  # Same name, same key, same parameters: the model starts exactly where the flax one did.
  x = jnp.zeros((1, 8, 8, 3))
  ours, reference = (_Parent(make).init(jax.random.key(3), x) for make in _PAIRS[kind])
  jax.tree.map(np.testing.assert_array_equal, ours, reference)


@pytest.mark.parametrize('in_channels,out_channels', [(8, 2), (2, 8)])
def test_conv2x2_both_sides_match_lax(in_channels, out_channels):
  # (8, 2) sums shifted matmul outputs, (2, 8) multiplies concatenated windows.
  rng = np.random.default_rng(4)
  x, w = _normal(rng, 2, 5, 6, in_channels), _normal(rng, 2, 2, in_channels, out_channels)
  expected = jax.lax.conv_general_dilated(x, w, (1, 1), 'VALID',
                                          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  _assert_close(layers._conv2x2(x, w), expected)  # pylint: disable=protected-access


@pytest.mark.parametrize('form', ['matmul_without_ynnpack', 'xla'])
def test_conv_vae_loss_and_gradients_match_float64(form):
  """Each form in float32 against the same model, inputs and ε in float64, at initialization.

  The float64 gradient is the reference: comparing the two float32 forms with each other tests how
  two XLA programs round, which depends on the processor. The matmul form is checked without
  XLA:CPU's YNNPACK dots, which on an AVX-512-BF16 EPYC carry 1.6e-3 of relative error in this
  program (BUILD_NOTES.md, "Convolution paths and float32 rounding"); the training step's own
  program, which uses them, is checked in tests/training/test_train.py.
  """
  impl, options = conv_precision.FORMS[form]
  if options and jax.default_backend() != 'cpu':
    pytest.skip('a CPU compiler option')
  loss_error, leaf_errors = conv_precision.errors_against_float64(impl, options)
  # The loss sums 8 × 4096 pixel terms of ~0.7 nats: √32768·u ≈ 1e-5 of it.
  assert loss_error <= 1e-5
  worst = max(leaf_errors, key=leaf_errors.get)
  assert leaf_errors[worst] <= conv_precision.BOUND, (worst, leaf_errors[worst])
