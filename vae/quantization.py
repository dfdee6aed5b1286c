"""Latent quantization: QLAE's quantized code and its loss terms (Hsu et al., NeurIPS 2023,
"Disentanglement via Latent Quantization"; reference code github.com/kylehkhsu/latent_quantization).

Each of the D latents owns a learned scalar grid of K values (its "codebook"), initialized evenly
spaced in [-0.5, 0.5]. A continuous code z [B, D] is quantized latent by latent to the nearest
value of that latent's grid, q; the decoder reads ẑ = z + sg(q − z), equal to q in value and to
the identity in gradient (the straight-through estimator), so the reconstruction trains the encoder
but never the grids. Two terms per example, means over the D latents as in the authors' code:
  quantization  mean_d (sg(z_d) − q_d)²   moves the grid values toward the codes;
  commitment    mean_d (z_d − sg(q_d))²   pulls the codes toward their grid values.
Both have the same value; they differ only in which side the gradient reaches.

QLAE's objective: recon + λ_q·quantization + λ_c·commitment, plus weight decay applied by the
optimizer (AdamW, decoupled: never a loss term) on the encoder's and decoder's weights, neither
their biases nor the grids. The authors' defaults: K = 10, λ_q = λ_c = 0.01, decay 0.1, learning
rate 1e-3, elementwise gradient clipping at 1 on the decayed parameters only. Their reconstruction
is a per-pixel mean; this codebase sums nats over pixels, so their λ is worth λ·P here
(`weight_for_summed_recon`).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vae.errors import UserInputError

INIT_LOW, INIT_HIGH = -0.5, 0.5  # The authors' grid: jnp.linspace(-0.5, 0.5, K) per latent.
DEFAULT_VALUES_PER_LATENT = 10
DEFAULT_QUANTIZATION_WEIGHT = 0.01
DEFAULT_COMMITMENT_WEIGHT = 0.01
DEFAULT_WEIGHT_DECAY = 0.1
DEFAULT_GRADIENT_CLIP = 1.0


def check_grid_size(latents, values_per_latent):
  """Raises a one-line UserInputError unless both are integers >= 1 and >= 2 respectively."""
  if isinstance(latents, bool) or not isinstance(latents, (int, np.integer)) or latents < 1:
    raise UserInputError(f'latents must be a positive integer, got {latents!r}')
  if (isinstance(values_per_latent, bool) or not isinstance(values_per_latent, (int, np.integer))
      or values_per_latent < 2):
    raise UserInputError(
        f'values_per_latent must be an integer >= 2 (one value carries no information), '
        f'got {values_per_latent!r}')


def evenly_spaced(key, shape, dtype=jnp.float32):
  """A Linen initializer: every row of a [D, K] grid is K values evenly spaced in [-0.5, 0.5].

  Deterministic (`key` is unused): the authors' grids start identical for all latents.
  """
  del key
  if len(shape) != 2:
    raise UserInputError(f'a value grid has shape [latents, values_per_latent], got {shape}')
  check_grid_size(shape[0], shape[1])
  row = jnp.linspace(INIT_LOW, INIT_HIGH, shape[1], dtype=dtype)
  return jnp.broadcast_to(row, tuple(shape))


def check_codes(codes, values):
  """Raises a one-line UserInputError unless codes [B, D] match a value grid [D, K]."""
  if values.ndim != 2:
    raise UserInputError(f'values must be [latents, values_per_latent], got {values.shape}')
  if codes.ndim != 2 or codes.shape[1] != values.shape[0]:
    raise UserInputError(
        f'codes must be [batch, {values.shape[0]}] for a grid of {values.shape[0]} latents, '
        f'got {codes.shape}')


def nearest_indices(codes, values):
  """Index [B, D] of the grid value nearest to each code entry; ties go to the lower index.

  Distances are |z − v| (argmin takes the first minimum), exactly the authors' rule; the grid
  need not be sorted.
  """
  check_codes(codes, values)
  return jnp.argmin(jnp.abs(codes[:, :, None] - values[None, :, :]), axis=-1)


def gather_values(values, indices):
  """q[b, d] = values[d, indices[b, d]]: differentiable in `values` (a scatter-add back)."""
  return values[jnp.arange(values.shape[0])[None, :], indices]


def straight_through(codes, quantized):
  """z + sg(q − z): the value of q, the gradient of the identity in z and none in the grid."""
  return codes + jax.lax.stop_gradient(quantized - codes)


def quantization_loss(codes, quantized):
  """mean_d (sg(z_d) − q_d)² per example [B]: trains the grid values only."""
  return jnp.mean(jnp.square(jax.lax.stop_gradient(codes) - quantized), axis=-1)


def commitment_loss(codes, quantized):
  """mean_d (z_d − sg(q_d))² per example [B]: trains the encoder only."""
  return jnp.mean(jnp.square(codes - jax.lax.stop_gradient(quantized)), axis=-1)


def end_share(indices, values):
  """The share of code entries [B, D] on the smallest or largest value of their latent's grid
  [D, K]: near 1, the encoder has run past the grid and the code is nearly binary."""
  low, high = jnp.argmin(values, axis=1), jnp.argmax(values, axis=1)
  return jnp.mean((indices == low[None]) | (indices == high[None]))


def quantize(codes, values):
  """Quantizes codes [B, D] on the grid [D, K]; returns the decoder's input and the terms.

  `code` (z), `quantized` (ẑ, straight-through), `indices` [B, D] and the per-example
  `quantization_loss` and `commitment_loss` [B].
  """
  indices = nearest_indices(codes, values)
  nearest = gather_values(values, indices)
  return {'code': codes, 'quantized': straight_through(codes, nearest), 'indices': indices,
          'quantization_loss': quantization_loss(codes, nearest),
          'commitment_loss': commitment_loss(codes, nearest)}


class QuantizedLatent(nn.Module):
  """The quantized latent layer: one learned grid `values` [latents, values_per_latent].

  Called on continuous codes [B, latents], returns `quantize`'s dict. Add it as a submodule
  (e.g. `quantizer`) between encoder and decoder; its one parameter is `values`.
  """

  latents: int
  values_per_latent: int = DEFAULT_VALUES_PER_LATENT
  param_dtype: jnp.dtype = jnp.float32

  def setup(self):
    check_grid_size(self.latents, self.values_per_latent)
    self.values = self.param('values', evenly_spaced, (self.latents, self.values_per_latent),
                             self.param_dtype)

  def __call__(self, codes):
    return quantize(codes, self.values)


def weight_for_summed_recon(weight, observation_size):
  """The authors' λ (beside a reconstruction averaged over the P observed numbers) as the λ·P
  that gives the same objective, up to the factor P, beside a reconstruction summed over them."""
  if observation_size < 1:
    raise UserInputError(f'observation_size must be positive, got {observation_size}')
  return weight * observation_size


def qlae_objective(recon, quantization, commitment, quantization_weight, commitment_weight):
  """(loss, aux): batch means of recon + λ_q·quantization + λ_c·commitment, per-example [B] in.

  Weight decay is not here: the optimizer applies it (`qlae_optimizer`).
  """
  recon, quantization, commitment = recon.mean(), quantization.mean(), commitment.mean()
  loss = recon + quantization_weight * quantization + commitment_weight * commitment
  return loss, {'loss': loss, 'recon': recon, 'quantization_loss': quantization,
                'commitment_loss': commitment}


def _path_names(path):
  return [str(getattr(entry, 'key', getattr(entry, 'name', entry))) for entry in path]


def decay_mask(params, scopes=('encoder', 'decoder')):
  """True on every parameter under a top-level scope of `scopes` whose name is not `bias`.

  The authors' set is the default: encoder and decoder weights, never biases nor the grids.
  `('decoder',)` decays the decoder alone.
  """
  def decayed(path, _):
    names = _path_names(path)
    return bool(names) and names[0] in scopes and names[-1] != 'bias'
  return jax.tree_util.tree_map_with_path(decayed, params)


def qlae_optimizer(learning_rate, mask, weight_decay=DEFAULT_WEIGHT_DECAY,
                   clip=DEFAULT_GRADIENT_CLIP):
  """Adam on every parameter; on those `mask` marks, gradients clipped elementwise to [−clip,
  clip] first and decoupled weight decay (param ← param − lr·decay·param) added, as AdamW.

  The same updates as the authors' multi_transform of clip + adamw (decayed) and adam (the rest):
  Adam's moments are per entry, so one Adam over both groups is the two. `mask` is a pytree of
  booleans or a function of the params (`decay_mask`).
  """
  return optax.chain(optax.masked(optax.clip(clip), mask),
                     optax.adamw(learning_rate, weight_decay=weight_decay, mask=mask))
