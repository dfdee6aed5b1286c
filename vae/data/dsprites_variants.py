"""Coloured, noisy and textured dSprites: the procedural sprites painted in RGB, in pure JAX.

The variants of Locatello et al. (2019), composed on `dsprites.render` (the same five factors,
the same grid and the same sprite masks); observations are float32 [64, 64, 3] in [0, 1]:

  color_dsprites     the sprite in a colour c, each channel uniform in [0.5, 1], on black.
  noisy_dsprites     a white sprite on noise, each pixel and channel uniform in [0, 1].
  textured_dsprites  a background b = (crop + c) / 2: a random 64 x 64 crop of a texture mixed
                     with a colour c uniform in [0, 1]^3; where the sprite is, 1 - b (the sprite
                     inverts the background). The texture is the image at
                     --config.texture_path (The Scream gives the study's Scream-dSprites) or,
                     without one, a fixed procedural noise field (vae/data/textures.py); the
                     name never claims The Scream.

Per-image randomness (colour, noise, crop offset) is not a factor, yet
`observations_from_factors` takes factors only. So each row's key is derived from a hash of the
whole factor batch folded with the row's position (`image_keys`): two rows with equal factors
differ, any change to the batch redraws every row, and through the hash the nuisance is
independent of each row's own factors (nothing a metric could read a factor from), while
rendering the same batch again is bit-identical (reproducible evaluations). No caller changes:
training, evaluation and the metrics call these datasets exactly like procedural dSprites.
"""

import functools

import jax
import jax.numpy as jnp

from vae.data import dsprites
from vae.data import textures
from vae.data.ground_truth import GroundTruthDataset

IMAGE_SHAPE = (*dsprites.IMAGE_SHAPE[:2], 3)
NAMES = ('color_dsprites', 'noisy_dsprites', 'textured_dsprites')

_NUISANCE_SEED = 13
_COLOR_LOW = 0.5  # color_dsprites channels are uniform in [0.5, 1].


def image_keys(factors):
  """One key per row of `factors` [n, 5]: the batch's hash folded with the row's position."""
  base = jax.random.key(_NUISANCE_SEED)
  index = dsprites.factors_to_index(factors).astype(jnp.uint32)
  position = jnp.arange(index.shape[0], dtype=jnp.uint32)
  row_hash = jax.vmap(lambda i, p: jax.random.bits(
      jax.random.fold_in(jax.random.fold_in(base, i), p)))(index, position)
  batch = jax.random.fold_in(base, jnp.sum(row_hash))  # uint32: the sum wraps around.
  return jax.vmap(lambda p: jax.random.fold_in(batch, p))(position)


def _paint_color(key, sprite):
  return sprite * jax.random.uniform(key, (3,), minval=_COLOR_LOW, maxval=1.0)


def _paint_noisy(key, sprite):
  return jnp.where(sprite > 0, 1.0, jax.random.uniform(key, IMAGE_SHAPE))


def _paint_textured(texture, key, sprite):
  offset_key, color_key = jax.random.split(key)
  height, width = texture.shape[:2]
  top_left = jax.random.randint(offset_key, (2,), 0,
                                jnp.array([height - IMAGE_SHAPE[0] + 1,
                                           width - IMAGE_SHAPE[1] + 1]))
  crop = jax.lax.dynamic_slice(texture, (top_left[0], top_left[1], 0), IMAGE_SHAPE)
  background = (crop + jax.random.uniform(color_key, (3,))) / 2.0
  return jnp.where(sprite > 0, 1.0 - background, background)


def _dataset(name, paint) -> GroundTruthDataset:
  @jax.jit
  def observations_from_factors(factors):
    factors = jnp.asarray(factors, dtype=jnp.int32)
    return jax.vmap(paint)(image_keys(factors), dsprites.render(factors))

  return GroundTruthDataset(
      name=name,
      factor_names=dsprites.FACTOR_NAMES,
      factor_sizes=dsprites.FACTOR_SIZES,
      observation_shape=IMAGE_SHAPE,
      sample_factors=dsprites.sample_factors,
      observations_from_factors=observations_from_factors,
      jittable=True,
      fixed_observations=False,  # The nuisance depends on the whole batch (`image_keys`).
  )


# One instance per process (per texture), so compiled programs are found again by later runs.
@functools.cache
def color_dataset() -> GroundTruthDataset:
  return _dataset('color_dsprites', _paint_color)


@functools.cache
def noisy_dataset() -> GroundTruthDataset:
  return _dataset('noisy_dsprites', _paint_noisy)


@functools.cache
def textured_dataset(texture_path: str = '') -> GroundTruthDataset:
  """Textured dSprites on the image at `texture_path`, or on the procedural texture if ''."""
  texture = textures.from_file(texture_path) if texture_path else textures.procedural()
  return _dataset('textured_dsprites', functools.partial(_paint_textured, jnp.asarray(texture)))
