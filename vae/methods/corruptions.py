"""Input corruptions of the denoising autoencoder: pure `(key, x, setting)`.

  gaussian         x + σ·ε, ε ~ N(0, I)                        (`noise_std` σ)
  masking          each element set to 0 with probability p    (`drop_probability` p)
  salt_and_pepper  each element set to 0 or 1 (equally likely) with probability p

Values are not clipped back into [0, 1]: the encoder takes any real input, and clipping would
make the Gaussian noise level differ from σ.
"""

import dataclasses

import jax
import jax.numpy as jnp


def gaussian(key, x, noise_std):
  """x plus isotropic Gaussian noise of standard deviation `noise_std`."""
  return x + noise_std * jax.random.normal(key, x.shape, x.dtype)


def masking(key, x, drop_probability):
  """x with each element zeroed independently with probability `drop_probability`."""
  keep = jax.random.bernoulli(key, 1.0 - drop_probability, x.shape)
  return jnp.where(keep, x, jnp.zeros_like(x))


def salt_and_pepper(key, x, drop_probability):
  """x with each element replaced, with probability `drop_probability`, by 0 or 1 at random."""
  hit_key, value_key = jax.random.split(key)
  hit = jax.random.bernoulli(hit_key, drop_probability, x.shape)
  salt = jax.random.bernoulli(value_key, 0.5, x.shape).astype(x.dtype)
  return jnp.where(hit, salt, x)


_BY_NAME = {'gaussian': ('noise_std', gaussian), 'masking': ('drop_probability', masking),
            'salt_and_pepper': ('drop_probability', salt_and_pepper)}
NAMES = tuple(_BY_NAME)


@dataclasses.dataclass(frozen=True)
class Corruption:
  """A named corruption and its level; hashable, so it can be a static part of a jitted step."""

  name: str = 'gaussian'
  noise_std: float = 0.5
  drop_probability: float = 0.25

  def __call__(self, key, x):
    """x corrupted with noise from `key` (the same key gives the same corruption)."""
    setting, corrupt = _BY_NAME[self.name]
    return corrupt(key, x, getattr(self, setting))
