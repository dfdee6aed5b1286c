"""Observation models p(x | z): how a decoder's output becomes a log-likelihood.

The decoder emits `params_per_channel` numbers per observed channel:
  bernoulli         logits                          (1 per channel)
  gaussian_fixed    mean; log-variance fixed        (1 per channel, a constant Σ_θ)
  gaussian_learned  mean and log-variance Σ_θ(z)    (2 per channel: a decoder-chosen Σ_θ(z) as in
                                                    docs/exercise_sheet.md, question 7)
Log-likelihoods are in nats, summed over every observed element of an example.
"""

import dataclasses

import jax
import jax.numpy as jnp

from vae import distributions
from vae.errors import UserInputError

NAMES = ('bernoulli', 'gaussian_fixed', 'gaussian_learned')
# A Bernoulli "prediction" given as an image must avoid probabilities 0 and 1 (infinite NLL): one
# 8-bit grey level is the least confidence an image can express, so a fully wrong pixel costs
# log(256) = 5.5 nats instead of infinity.
_IMAGE_PROBABILITY_FLOOR = 1.0 / 256


@dataclasses.dataclass(frozen=True)
class Likelihood:
  """A named observation model; `fixed_logvar` is used by `gaussian_fixed` only."""

  name: str = 'bernoulli'
  fixed_logvar: float = 0.0

  def __post_init__(self):
    if self.name not in NAMES:
      raise UserInputError(
          f"unknown likelihood '{self.name}' (--config.likelihood); allowed: {', '.join(NAMES)}")

  @property
  def params_per_channel(self) -> int:
    return 2 if self.name == 'gaussian_learned' else 1

  def _mean_logvar(self, params):
    if self.name == 'gaussian_learned':
      return jnp.split(params, 2, axis=-1)
    return params, jnp.full_like(params, self.fixed_logvar)

  def log_prob(self, x, params):
    """log p(x | params) per example: summed over all but the leading (batch) axis."""
    # Flattened to [B, D] first: image shapes end in a 1-channel axis that XLA:CPU reduces slowly.
    flat = lambda a: a.reshape(a.shape[0], -1)  # noqa: E731
    if self.name == 'bernoulli':
      return distributions.bernoulli_log_prob(flat(params), flat(x)).sum(axis=-1)
    mean, logvar = self._mean_logvar(params)
    return distributions.gaussian_log_prob(flat(x), flat(mean), flat(logvar)).sum(axis=-1)

  def params_for_mean(self, mean):
    """Parameters whose E[x] is `mean` (clipped into (0, 1) if Bernoulli; σ² fixed if learned)."""
    if self.name == 'bernoulli':
      p = jnp.clip(mean, _IMAGE_PROBABILITY_FLOOR, 1 - _IMAGE_PROBABILITY_FLOOR)
      return jnp.log(p) - jnp.log1p(-p)
    if self.name == 'gaussian_learned':
      return jnp.concatenate([mean, jnp.full_like(mean, self.fixed_logvar)], axis=-1)
    return mean

  def mean(self, params):
    """E[x | params]: what figures show for a reconstruction or a sample."""
    if self.name == 'bernoulli':
      return jax.nn.sigmoid(params)
    return self._mean_logvar(params)[0]

  def sample(self, key, params):
    """One draw x ~ p(x | params)."""
    if self.name == 'bernoulli':
      return jax.random.bernoulli(key, jax.nn.sigmoid(params)).astype(params.dtype)
    mean, logvar = self._mean_logvar(params)
    return distributions.reparameterize(key, mean, logvar)
