"""Chen et al. 2018's quantities of the aggregate posterior q(z) = 1/N Σ_n q(z|x_n) over a dataset.

`chen_mig` is the Mutual Information Gap as their code computes it (not the reference library's
histogram MIG, `vae.evaluation.mig`): over the whole factor grid, each image's posterior is a
Gaussian component of q(z); H(z_j) and H(z_j | v_k) are Monte Carlo estimates of −E log q(z_j)
with z drawn one per image from q(z|x) (a random subset of `num_samples` images, or draws with
replacement where the set is smaller); I(z_j; v_k) = H(z_j) − H(z_j | v_k), clipped at 0, and
each factor's gap between its two most informative latents is divided by H(v_k) = log |v_k|.
Like their dSprites code it leaves out categorical factors named in `excluded` (shape).

`elbo_decomposition` is their split of the dataset's mean KL(q(z|x) ‖ p(z)) into the index-code
mutual information, the total correlation and the dimension-wise KL, estimated with the same
samples, so the three add up to the analytic mean KL exactly.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from vae import distributions
from vae.evaluation import metric

# The suite's settings that ask for these quantities (`config.disentanglement.<name>`).
WHOLE_GRID_SCORES = ('chen_mig', 'elbo_decomposition')
NUM_SAMPLES = 10_000  # Chen et al.'s samples of z per entropy estimate.
# `config.disentanglement.aggregate_samples`: the samples of z per entropy estimate.
LEAST = (metric.Least('aggregate_samples', 1),)
EXCLUDED_FACTORS = ('shape',)  # Their dSprites MIG leaves the categorical shape out.
_SAMPLE_CHUNK = 256  # Samples of z against ...
_COMPONENT_CHUNK = 2048  # ... components of q(z) at once: bounds memory at ~20 MB per latent.


def _log_aggregate(z, means, logvars):
  """(log q(z_j) [S, K], log q(z) [S]) of samples z [S, K] under the equal-weight mixture of the
  Gaussians (means, logvars) [M, K], accumulated over chunks of components."""
  num, latents = means.shape
  pad = (-num) % _COMPONENT_CHUNK
  valid = jnp.arange(num + pad) < num
  chunks = lambda a: jnp.pad(a, ((0, pad), (0, 0))).reshape(-1, _COMPONENT_CHUNK, latents)
  # log N(z; m, v) = offset − ½ (z − m)² / v: the per-component parts once, not per sample.
  offsets = -0.5 * (math.log(2 * math.pi) + logvars)
  precisions = jnp.exp(-logvars)

  def add(carry, chunk):
    marginal, joint = carry
    mean, offset, precision, keep = chunk
    log_density = offset[None] - 0.5 * jnp.square(z[:, None, :] - mean[None]) * precision[None]
    log_density = jnp.where(keep[None, :, None], log_density, -jnp.inf)
    marginal = jnp.logaddexp(marginal, jax.nn.logsumexp(log_density, axis=1))
    joint = jnp.logaddexp(joint, jax.nn.logsumexp(log_density.sum(-1), axis=1))
    return (marginal, joint), None

  start = (jnp.full(z.shape, -jnp.inf), jnp.full(z.shape[:1], -jnp.inf))
  (marginal, joint), _ = jax.lax.scan(
      add, start, (chunks(means), chunks(offsets), chunks(precisions),
                   valid.reshape(-1, _COMPONENT_CHUNK)))
  return marginal - math.log(num), joint - math.log(num)


def _draw(key, means, logvars, num_samples):
  """`num_samples` z, each from the posterior of a uniformly drawn component (without
  replacement where there are enough: Chen et al.'s one sample per image)."""
  index_key, noise_key = jax.random.split(key)
  num = means.shape[0]
  index = jax.random.choice(index_key, num, (num_samples,), replace=num_samples > num)
  eps = jax.random.normal(noise_key, (num_samples, means.shape[1]), means.dtype)
  return distributions.sample_from_noise(means[index], logvars[index], eps)


def _entropies(key, means, logvars, num_samples):
  """(H(z_j) [K], H(z)) of the mixture, each −mean log density over `num_samples` draws."""
  z = _draw(key, means, logvars, num_samples)
  groups = -(-num_samples // _SAMPLE_CHUNK)
  z = jnp.pad(z, ((0, groups * _SAMPLE_CHUNK - num_samples), (0, 0)))
  marginal, joint = jax.lax.map(lambda block: _log_aggregate(block, means, logvars),
                                z.reshape(groups, _SAMPLE_CHUNK, -1))
  marginal = marginal.reshape(-1, means.shape[1])[:num_samples]
  joint = joint.reshape(-1)[:num_samples]
  return -marginal.mean(axis=0), -joint.mean()


_entropies_jit = jax.jit(_entropies, static_argnums=3)


def conditional_entropies(key, means, logvars, factor_sizes, factor, num_samples):
  """H(z_j | v_factor) [K]: the mean over the factor's values of H(z_j) within the images that
  take it. `means`/`logvars` hold the whole grid in row-major order ([Π sizes, K])."""
  latents = means.shape[-1]
  grid = lambda a: jnp.moveaxis(a.reshape(*factor_sizes, latents), factor, 0).reshape(
      factor_sizes[factor], -1, latents)
  keys = jax.random.split(key, factor_sizes[factor])
  per_value = [_entropies_jit(k, m, v, num_samples)[0]
               for k, m, v in zip(keys, grid(means), grid(logvars))]
  return jnp.mean(jnp.stack(per_value), axis=0)


def chen_mig(key, means, logvars, factor_names, factor_sizes, num_samples=NUM_SAMPLES,
             excluded=EXCLUDED_FACTORS):
  """{'chen_mig': score, 'chen_mutual_information': I(z_j; v_k) [factors, latents] (nats),
  'chen_factors': the factors scored} of a grid's posteriors (row-major, [Π sizes, K])."""
  marginal_key, *factor_keys = jax.random.split(key, 1 + len(factor_sizes))
  marginal, _ = _entropies_jit(marginal_key, means, logvars, num_samples)
  scored = [k for k, name in enumerate(factor_names)
            if name not in excluded and factor_sizes[k] > 1]
  info = np.array([np.asarray(marginal - conditional_entropies(
      factor_keys[k], means, logvars, tuple(factor_sizes), k, num_samples)) for k in scored])
  info = np.maximum(info, 0.0)  # An estimate below zero is noise around a zero MI.
  top = -np.sort(-info, axis=1)
  gaps = (top[:, 0] - top[:, 1]) / np.log([factor_sizes[k] for k in scored])
  return {'chen_mig': float(np.mean(gaps)), 'chen_mutual_information': info.tolist(),
          'chen_factors': [factor_names[k] for k in scored]}


def elbo_decomposition(key, means, logvars, num_samples=NUM_SAMPLES):
  """Chen et al.'s terms of the dataset's mean KL(q(z|x) ‖ p(z)), in nats per example:
  {'dataset_mi': I(x; z) (index-code MI), 'dataset_tc': KL(q(z) ‖ Π_j q(z_j)),
  'dataset_dim_kl': Σ_j KL(q(z_j) ‖ p(z_j)), 'dataset_kl': the analytic mean KL}."""
  marginal, joint = _entropies_jit(key, means, logvars, num_samples)
  # E_x[−log q(z|x)] and E_x E_q[−log p(z_j)] in closed form, per latent.
  conditional = jnp.mean(0.5 * (math.log(2 * math.pi) + 1.0 + logvars), axis=0)
  cross = jnp.mean(0.5 * (math.log(2 * math.pi) + jnp.square(means) + jnp.exp(logvars)), axis=0)
  terms = {'dataset_mi': joint - conditional.sum(), 'dataset_tc': marginal.sum() - joint,
           'dataset_dim_kl': jnp.sum(cross - marginal), 'dataset_kl': jnp.sum(cross - conditional)}
  return {name: float(value) for name, value in terms.items()}
