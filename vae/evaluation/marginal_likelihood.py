"""The importance-weighted (IWAE) estimate of log p(x) (Burda, Grosse & Salakhutdinov 2016).

With z_1..z_K ~ q(z|x) independently, L_K(x) = log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x) is a
lower bound on log p(x) in expectation (Jensen): E[L_K] ≤ log p(x), E[L_K] is non-decreasing in K
(Burda et al. Theorem 1) and tends to log p(x) as K → ∞ for bounded weights; E[L_1] is the ELBO.
When q is the exact posterior every weight equals p(x), so L_K = log p(x) for every K and draw.
Since log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)), `elbo_gap = log_px − elbo` estimates that KL, the
ELBO's slack (docs/exercise_sheet.md, question 8); from below for finite K, as log_px is itself
a lower bound.
Values are in nats per example; the prior is p(z) = N(0, I).

The K samples are drawn `chunk_size` at a time with a running logsumexp, so peak memory is one
chunk (B · chunk_size latents and one decoder pass on them), whatever K is: under `lax.scan` in
`iwae_log_px`, one compiled call per chunk in `vae_log_px` (a stop request ends it between two).
"""

import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from vae import distributions
from vae import preemption
from vae.errors import UserInputError


def _positive_int(value, setting):
  """`value` as a Python int, or the one-line UserInputError that vae.settings also raises."""
  # bool is an Integral, but True samples is a typo, not a count.
  if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0):
    shown = repr(value) if isinstance(value, str) else value
    raise UserInputError(f'--config.{setting}={shown} must be a positive integer')
  return int(value)


def _chunks(num_samples, chunk_size):
  """(samples per chunk C = min(chunk_size, K), number of chunks) of K = `num_samples`."""
  chunk = min(chunk_size, num_samples)
  return chunk, -(-num_samples // chunk)


def iwae_log_px(key, encode, log_likelihood, x, num_samples: int, chunk_size: int,
                first_chunk=0, num_chunks: int | None = None):
  """Per-example K-sample bound log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x): [B] nats.

  encode(x [B, ...]) -> (mean [B, D], logvar [B, D]) of the diagonal Gaussian q(z|x);
  log_likelihood(x [B, ...], z [B, D]) -> log p(x|z) [B]; prior p(z) = N(0, I).
  With C = min(chunk_size, K), chunk c's noise is normal(fold_in(key, c), [B, C, D]); its sample
  j is sample c·C + j, and those past K (the last chunk's padding) are masked out.
  `num_chunks` chunks from `first_chunk` (default: all K) give their share of the bound,
  log (1/K) Σ over their samples: the shares of every chunk, combined by logaddexp, are the
  bound. `num_samples`, `chunk_size` and `num_chunks` are static (Python ints); the rest is
  jit-safe jnp.
  """
  num_samples = _positive_int(num_samples, 'num_importance_samples')
  chunk, all_chunks = _chunks(num_samples, _positive_int(chunk_size, 'importance_chunk_size'))
  num_chunks = all_chunks if num_chunks is None else num_chunks
  mean, logvar = encode(x)
  batch, latents = mean.shape
  x_rep = jnp.repeat(x, chunk, axis=0)  # Row b·chunk + j pairs with z[b, j] after the reshape.

  def body(running, index):
    eps = jax.random.normal(jax.random.fold_in(key, index), (batch, chunk, latents), mean.dtype)
    z = distributions.sample_from_noise(mean[:, None], logvar[:, None], eps)
    log_q = distributions.gaussian_log_prob(z, mean[:, None], logvar[:, None]).sum(-1)
    log_prior = distributions.gaussian_log_prob(z, 0.0, 0.0).sum(-1)
    log_lik = log_likelihood(x_rep, z.reshape(batch * chunk, latents)).reshape(batch, chunk)
    valid = index * chunk + jnp.arange(chunk) < num_samples
    log_w = jnp.where(valid, log_lik + log_prior - log_q, -jnp.inf)
    # Every chunk holds at least one valid sample, so its logsumexp is finite.
    return jnp.logaddexp(running, jax.nn.logsumexp(log_w, axis=-1)), None

  start = jnp.full((batch,), -jnp.inf, mean.dtype)
  total, _ = jax.lax.scan(body, start, first_chunk + jnp.arange(num_chunks))
  return total - math.log(num_samples)


@functools.partial(jax.jit, static_argnames=('model',))
def batch_posterior(model, params, x):
  """(mean, logvar) of q(z|x) for one batch of a flax VAE."""
  return model.apply({'params': params}, x, method='encode')


@functools.partial(jax.jit, static_argnames=('model', 'num_samples', 'chunk_size'))
def batch_log_px_chunk(model, params, x, posterior, key, chunk_index, running, num_samples,
                       chunk_size):
  """`running` logaddexp chunk `chunk_index`'s share of iwae_log_px, for one batch of a flax VAE
  whose q(z|x) is `posterior` (mean, logvar); compiled once per (model, shape, K, chunk)."""

  def log_likelihood(x, z):
    return model.likelihood.log_prob(x, model.apply({'params': params}, z, method='decode'))

  share = iwae_log_px(key, lambda x: posterior, log_likelihood, x, num_samples, chunk_size,
                      first_chunk=chunk_index, num_chunks=1)
  return jnp.logaddexp(running, share)


def vae_log_px(model, params, images, key, num_samples, chunk_size, batch_size):
  """Mean over `images` of iwae_log_px for a `vae.models.VAE` (flax) with `params`.

  Examples are processed batch_size at a time, batch i with fold_in(key, i). The last partial
  batch is padded to batch_size by repeating its final example (so the program compiles once)
  and the padding is dropped before averaging. Each batch's chunks run one call each, so a
  stop request ends the estimate between two chunks (B · chunk_size decodes: seconds on a CPU at
  the published 5,000 samples, where a whole batch takes minutes). Returns a Python float: the
  float64 mean of the per-example values.
  """
  num_samples = _positive_int(num_samples, 'num_importance_samples')
  chunk_size = _positive_int(chunk_size, 'importance_chunk_size')
  batch_size = _positive_int(batch_size, 'eval_batch_size')
  count = len(images)
  if count == 0:
    raise UserInputError('vae_log_px needs at least one image; got an empty array')
  _, num_chunks = _chunks(num_samples, chunk_size)
  per_batch = []
  for index, start in enumerate(range(0, count, batch_size)):
    x = jnp.asarray(images[start:start + batch_size])
    size = x.shape[0]
    if size < batch_size:
      x = jnp.concatenate([x, jnp.repeat(x[-1:], batch_size - size, axis=0)])
    batch_key, posterior = jax.random.fold_in(key, index), batch_posterior(model, params, x)
    values = jnp.full((batch_size,), -jnp.inf, posterior[0].dtype)
    for chunk_index in range(num_chunks):
      values = batch_log_px_chunk(model, params, x, posterior, batch_key, chunk_index, values,
                                  num_samples, chunk_size)
      # Waiting for each chunk costs nothing beside its work (B · chunk decodes), and lets a
      # stop request end the estimate between chunks.
      values.block_until_ready()
      preemption.stop_point('estimating log p(x)')
    per_batch.append(values[:size])
  values = np.concatenate([np.asarray(v, dtype=np.float64) for v in per_batch])
  return float(values.mean())
