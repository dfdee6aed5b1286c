"""QLAE's quantized latent: values and gradients against the authors' code, closed forms, the
module, the optimizer's decay mask, bad input.

Reference: github.com/kylehkhsu/latent_quantization at commit
9a420a33505e03914f9b4fbfcafd221d25b8162f, files disentangle/latents/quantized.py
(`QuantizedLatent`) and disentangle/models/quantized_ae.py (`QuantizedAE.quantization_loss`,
`QuantizedAE.commitment_loss`), run once in float64 (jax_enable_x64) on CPU in a scratch venv
(jax 0.10.2, equinox 0.13.8, optax 0.2.8):
  python3 -m venv /tmp/ref_qlae && /tmp/ref_qlae/bin/pip install jax==0.10.2 equinox optax
  git --git-dir=<mirror> archive HEAD | tar -x -C /tmp/ref_qlae/src
  /tmp/ref_qlae/bin/python /tmp/ref_qlae/run_ref.py
The script imports those two files (the package __init__ bypassed), sets the latent's
`_values_per_latent` to the rows of _VALUES, applies `jax.vmap(latent)` to _CODES, batch-averages
`jax.vmap(QuantizedAE.<term>)(z_continuous, z_quantized)` as `QuantizedAE.batched_loss` does, and
differentiates with respect to the codes and the grid; the straight-through case differentiates
sum(z_hat · _WEIGHTS). Printed values (shortest round-trip repr) are copied below.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vae import quantization
from vae.errors import UserInputError

_TOL = 1e-12

_CODES = np.array([[0.125, -0.45, 1.3],  # 0.125: a tie between 0.0 and 0.25 (lower index wins).
                   [-0.9, 0.12, 0.02],  # -0.9, 1.3: outside the grid's range.
                   [0.31, 0.6, -0.35],
                   [0.5, -0.2, -0.12]])  # 0.5, -0.2: already on the grid.
_VALUES = np.array([[-0.5, -0.25, 0.0, 0.25, 0.5],  # The authors' initial grid for K = 5.
                    [-0.7, -0.2, 0.05, 0.3, 0.9],
                    [0.4, -0.6, 0.1, -0.1, 0.75]])  # Unsorted, as a learned grid may be.
_WEIGHTS = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0], [-0.5, 1.5, 2.0], [0.75, -1.25, 4.0]])

# The reference run's outputs.
_REF_INDICES = np.array([[2, 0, 4], [0, 2, 2], [3, 3, 3], [4, 1, 3]])
_REF_QUANTIZED = np.array([[0.0, -0.7, 0.75], [-0.5, 0.05, 0.1], [0.25, 0.3, -0.1],
                           [0.5, -0.2, -0.1]])  # z_quantized, and z_hat (equal, exactly).
_REF_TERM_PER_EXAMPLE = np.array([0.126875, 0.0571, 0.05203333333333333,
                                  0.00013333333333333318])  # Quantization and commitment alike.
_REF_TERM_MEAN = 0.05903541666666667
_REF_QUANTIZATION_GRAD_VALUES = np.array(
    [[0.06666666666666667, 0.0, -0.020833333333333332, -0.009999999999999998, 0.0],
     [-0.04166666666666666, 0.0, -0.011666666666666665, -0.049999999999999996, 0.0],
     [0.0, 0.0, 0.013333333333333332, 0.04499999999999999, -0.09166666666666667]])
_REF_COMMITMENT_GRAD_CODES = np.array(
    [[0.020833333333333332, 0.04166666666666666, 0.09166666666666667],
     [-0.06666666666666667, 0.011666666666666665, -0.013333333333333332],
     [0.009999999999999998, 0.049999999999999996, -0.04166666666666666],
     [0.0, 0.0, -0.0033333333333333314]])
# Quantization loss: zero gradient in the codes; commitment loss and the straight-through
# output: zero gradient in the grid; straight-through output: gradient _WEIGHTS in the codes.
_REF_INIT_ROWS = {2: [-0.5, 0.5], 3: [-0.5, 0.0, 0.5], 4: [-0.5, -0.1666666666666667,
                                                           0.16666666666666663, 0.5],
                  5: [-0.5, -0.25, 0.0, 0.25, 0.5]}


@pytest.fixture(autouse=True)
def float64():
  with jax.enable_x64(True):
    yield


def _batch_term(term):
  """The batch mean of a term, as a function of (grid, codes)."""
  def loss(values, codes):
    return quantization.quantize(codes, values)[term].mean()
  return loss


def _straight_through_output(values, codes):
  return jnp.sum(quantization.quantize(codes, values)['quantized'] * _WEIGHTS)


def _assert_close(actual, expected):
  np.testing.assert_allclose(np.asarray(actual), expected, rtol=0, atol=_TOL)


@pytest.mark.parametrize('jit', [False, True])
def test_quantize_matches_the_authors_code(jit):
  fn = jax.jit(quantization.quantize) if jit else quantization.quantize
  out = fn(jnp.asarray(_CODES), jnp.asarray(_VALUES))
  np.testing.assert_array_equal(np.asarray(out['indices']), _REF_INDICES)
  _assert_close(out['quantized'], _REF_QUANTIZED)
  _assert_close(out['code'], _CODES)
  _assert_close(out['quantization_loss'], _REF_TERM_PER_EXAMPLE)
  _assert_close(out['commitment_loss'], _REF_TERM_PER_EXAMPLE)


# Each term's gradient reaches one side: the quantization loss the grid, the commitment loss the
# codes (the reference's gradients; the other side's is exactly zero).
@pytest.mark.parametrize('term, reaches', [('quantization_loss', 'grid'),
                                           ('commitment_loss', 'codes')])
def test_each_terms_gradient_reaches_one_side_only(term, reaches):
  value, (grad_values, grad_codes) = jax.value_and_grad(
      _batch_term(term), argnums=(0, 1))(jnp.asarray(_VALUES), jnp.asarray(_CODES))
  _assert_close(value, _REF_TERM_MEAN)
  if reaches == 'grid':
    _assert_close(grad_values, _REF_QUANTIZATION_GRAD_VALUES)
    np.testing.assert_array_equal(np.asarray(grad_codes), np.zeros_like(_CODES))
  else:
    _assert_close(grad_codes, _REF_COMMITMENT_GRAD_CODES)
    np.testing.assert_array_equal(np.asarray(grad_values), np.zeros_like(_VALUES))


def test_straight_through_gradient_is_the_identity_in_the_codes_and_zero_in_the_grid():
  grad_values, grad_codes = jax.grad(_straight_through_output, argnums=(0, 1))(
      jnp.asarray(_VALUES), jnp.asarray(_CODES))
  np.testing.assert_array_equal(np.asarray(grad_codes), _WEIGHTS)
  np.testing.assert_array_equal(np.asarray(grad_values), np.zeros_like(_VALUES))


def test_codes_on_the_grid_are_kept_with_zero_terms():
  # Closed form: every code is one of its latent's values, so q = z and both terms vanish.
  indices = np.array([[0, 4, 1], [2, 1, 3], [4, 0, 0]])
  codes = _VALUES[np.arange(3)[None, :], indices]
  out = quantization.quantize(jnp.asarray(codes), jnp.asarray(_VALUES))
  np.testing.assert_array_equal(np.asarray(out['indices']), indices)
  np.testing.assert_array_equal(np.asarray(out['quantized']), codes)
  np.testing.assert_array_equal(np.asarray(out['quantization_loss']), np.zeros(3))
  np.testing.assert_array_equal(np.asarray(out['commitment_loss']), np.zeros(3))
  grads = jax.grad(lambda v, z: quantization.quantize(z, v)['quantization_loss'].sum()
                   + quantization.quantize(z, v)['commitment_loss'].sum(),
                   argnums=(0, 1))(jnp.asarray(_VALUES), jnp.asarray(codes))
  for grad, like in zip(grads, (_VALUES, codes)):
    np.testing.assert_array_equal(np.asarray(grad), np.zeros_like(like))


@pytest.mark.parametrize('values_per_latent', [2, 3, 4, 5])
def test_initial_grid_is_the_authors(values_per_latent):
  grid = quantization.evenly_spaced(None, (3, values_per_latent), jnp.float64)
  _assert_close(grid, np.tile(_REF_INIT_ROWS[values_per_latent], (3, 1)))


def test_module_initializes_the_grid_and_reproduces_the_reference():
  layer = quantization.QuantizedLatent(latents=3, values_per_latent=5, param_dtype=jnp.float64)
  params = layer.init(jax.random.key(0), jnp.asarray(_CODES))['params']
  assert list(params) == ['values']
  _assert_close(params['values'], np.tile(_REF_INIT_ROWS[5], (3, 1)))
  out = jax.jit(layer.apply)({'params': {'values': jnp.asarray(_VALUES)}}, jnp.asarray(_CODES))
  _assert_close(out['quantized'], _REF_QUANTIZED)
  _assert_close(out['commitment_loss'], _REF_TERM_PER_EXAMPLE)
  grad = jax.grad(lambda v: layer.apply({'params': {'values': v}}, jnp.asarray(_CODES))[
      'quantization_loss'].mean())(jnp.asarray(_VALUES))
  _assert_close(grad, _REF_QUANTIZATION_GRAD_VALUES)


def test_module_float32_default():
  layer = quantization.QuantizedLatent(latents=3)
  params = layer.init(jax.random.key(0), jnp.zeros((2, 3), jnp.float32))['params']
  assert params['values'].shape == (3, quantization.DEFAULT_VALUES_PER_LATENT)
  assert params['values'].dtype == jnp.float32


def test_qlae_objective_is_the_weighted_sum_of_batch_means():
  recon = jnp.asarray([100.0, 120.0, 90.0, 110.0])  # Mean 105.
  terms = jnp.asarray(_REF_TERM_PER_EXAMPLE)
  loss, aux = quantization.qlae_objective(recon, terms, 2 * terms, 0.01, 0.5)
  _assert_close(loss, 105.0 + 0.01 * _REF_TERM_MEAN + 0.5 * 2 * _REF_TERM_MEAN)
  _assert_close(aux['recon'], 105.0)
  _assert_close(aux['quantization_loss'], _REF_TERM_MEAN)
  _assert_close(aux['commitment_loss'], 2 * _REF_TERM_MEAN)
  assert aux['loss'] is loss


def test_end_share_counts_codes_on_a_grid_s_smallest_or_largest_value():
  # An unsorted learned grid: latent 0's ends are indices 2 (smallest) and 0 (largest).
  values = jnp.array([[0.9, 0.1, -0.7], [-1.0, 0.0, 1.0]])
  codes = jnp.array([[5.0, 0.1], [0.2, -3.0], [-2.0, 0.4], [0.0, 2.0]])
  indices = quantization.nearest_indices(codes, values)
  # Brute force: each entry's nearest value compared with its latent's min and max.
  nearest = np.asarray(quantization.gather_values(values, indices))
  ends = (nearest == np.asarray(values).min(1)) | (nearest == np.asarray(values).max(1))
  assert ends.tolist() == [[True, False], [False, True], [True, False], [False, True]]
  assert float(quantization.end_share(indices, values)) == ends.mean() == 0.5


def test_weight_for_summed_recon():
  # 64×64×1 dSprites, the authors' dSprites λ = 0.001: 0.001·4096 beside a summed reconstruction.
  assert quantization.weight_for_summed_recon(0.001, 64 * 64) == pytest.approx(4.096, abs=_TOL)


def _params():
  rng = np.random.default_rng(1)
  layer = lambda i, o: {'kernel': rng.normal(size=(i, o)), 'bias': rng.normal(size=o)}
  return {'encoder': {'Dense_0': layer(3, 4)}, 'quantizer': {'values': _VALUES.copy()},
          'decoder': {'Dense_0': layer(3, 2), 'Dense_1': layer(2, 3)}}


def test_decay_mask_marks_weights_not_biases_nor_the_grid():
  mask = quantization.decay_mask(_params())
  assert mask == {'encoder': {'Dense_0': {'kernel': True, 'bias': False}},
                  'quantizer': {'values': False},
                  'decoder': {'Dense_0': {'kernel': True, 'bias': False},
                              'Dense_1': {'kernel': True, 'bias': False}}}
  decoder_only = quantization.decay_mask(_params(), scopes=('decoder',))
  assert decoder_only['encoder']['Dense_0']['kernel'] is False
  assert decoder_only['decoder']['Dense_1']['kernel'] is True


def _authors_optimizer(learning_rate, weight_decay, clip, mask):
  # The authors' AE.construct_optimizer, in optax: clip + AdamW on the decayed labels, Adam on
  # the rest (disentangle/models/ae.py at the commit above).
  labels = jax.tree_util.tree_map(lambda m: 'regularized' if m else 'unregularized', mask)
  return optax.multi_transform(
      {'regularized': optax.chain(optax.clip(clip),
                                  optax.adamw(learning_rate, weight_decay=weight_decay)),
       'unregularized': optax.adam(learning_rate)}, labels)


def test_qlae_optimizer_equals_the_authors_two_group_optimizer():
  params = jax.tree_util.tree_map(jnp.asarray, _params())
  mask = quantization.decay_mask(params)
  ours = quantization.qlae_optimizer(1e-3, mask, weight_decay=0.1, clip=1.0)
  theirs = _authors_optimizer(1e-3, 0.1, 1.0, mask)
  rng = np.random.default_rng(2)
  p_ours, p_theirs = params, params
  s_ours, s_theirs = ours.init(params), theirs.init(params)
  for _ in range(3):  # Gradients of scale 3 so that the clip bites on some entries.
    grads = jax.tree_util.tree_map(lambda p: jnp.asarray(3 * rng.normal(size=p.shape)), params)
    u_ours, s_ours = ours.update(grads, s_ours, p_ours)
    u_theirs, s_theirs = theirs.update(grads, s_theirs, p_theirs)
    p_ours = optax.apply_updates(p_ours, u_ours)
    p_theirs = optax.apply_updates(p_theirs, u_theirs)
  jax.tree_util.tree_map(_assert_close, p_ours, p_theirs)
  # A mask given as the function `decay_mask` (what a train state can hold) acts the same.
  by_function = quantization.qlae_optimizer(1e-3, quantization.decay_mask, weight_decay=0.1)
  u_function, _ = by_function.update(grads, by_function.init(params), params)
  u_array, _ = ours.update(grads, ours.init(params), params)
  jax.tree_util.tree_map(_assert_close, u_function, u_array)
  moved = jax.tree_util.tree_map(lambda a, b: float(jnp.abs(a - b).max()), p_ours, params)
  assert min(jax.tree_util.tree_leaves(moved)) > 0


@pytest.mark.parametrize('call', [
    lambda: quantization.quantize(jnp.zeros((4, 2)), jnp.asarray(_VALUES)),
    lambda: quantization.quantize(jnp.zeros(3), jnp.asarray(_VALUES)),
    lambda: quantization.quantize(jnp.zeros((4, 3)), jnp.zeros(3)),
    lambda: quantization.evenly_spaced(None, (3, 1)),
    lambda: quantization.QuantizedLatent(latents=0).init(jax.random.key(0), jnp.zeros((1, 0))),
    lambda: quantization.QuantizedLatent(latents=2, values_per_latent=1).init(
        jax.random.key(0), jnp.zeros((1, 2))),
    lambda: quantization.weight_for_summed_recon(0.01, 0),
])
def test_bad_input_is_a_one_line_user_error(call):
  with pytest.raises(UserInputError) as error:
    call()
  assert '\n' not in str(error.value)
