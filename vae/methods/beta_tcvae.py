"""β-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

recon + MI + β·TC + dim_KL, with q(z) estimated from the batch (minibatch-weighted or
minibatch-stratified sampling). The reference study sweeps β over 1, 2, 4, 6, 8, 10.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from vae import distributions
from vae import rules
from vae.errors import UserInputError
from vae.likelihoods import Likelihood
from vae.methods.beta_vae import logged
from vae.methods.beta_vae import vae_terms
from vae.methods.method import Strength
from vae.methods.method import VariationalMethod
from vae.methods.method import setting

TC_ESTIMATORS = ('mws', 'mss')

def log_density_matrix(z, mean, logvar):
  """log q(z_i,d | x_j) for every sample i, posterior j and latent d: [B, B, D]."""
  return distributions.gaussian_log_prob(z[:, None, :], mean[None], logvar[None])


def log_importance_weights(batch_size, dataset_size, estimator):
  """log w_ij, the weight of q(z_i | x_j) in the batch estimate of q(z_i): [B, B], constant.

  `mws` (Chen et al.'s minibatch-weighted sampling): every w_ij = 1/(N·M), M = B, so log q(z_i)
  is the log of the batch's mixture (1/M) Σ_j q(z_i | x_j) minus log N: a lower bound in
  expectation, too low by log M (separate posteriors) to log N (overlapping ones). Even with the
  constants kept the logged terms carry such offsets per latent (TC = the batch mixture's TC +
  (D − 1)·log N exactly, so ≈ (D − 1)·log N on a factorized code with overlapping posteriors).
  `mss` (minibatch-stratified sampling): z_i's own posterior gets 1/N; of the M = B − 1 others,
  x_{i+1 mod B} gets (N − M)/(N·M) and the rest 1/M. Each row sums to 1 and is unbiased for
  q(z_i) over random batches; the reference code (rtqichen/beta-tcvae) fills a column, not the
  diagonal, with 1/N (a stride of B, not B + 1), so this follows the paper's formula instead.
  """
  if estimator not in TC_ESTIMATORS:
    raise UserInputError(
        f"unknown TC estimator '{estimator}'; allowed: {', '.join(TC_ESTIMATORS)}")
  n = dataset_size
  if estimator == 'mws':
    return jnp.full((batch_size, batch_size), -(math.log(n) + math.log(batch_size)), jnp.float32)
  if batch_size < 2 or n < batch_size:
    raise UserInputError(f'minibatch-stratified sampling needs 2 <= batch size <= dataset size;'
                         f' got batch size {batch_size}, dataset size {n}')
  m = batch_size - 1
  own = np.eye(batch_size, dtype=bool)
  partner = np.roll(own, 1, axis=1)  # Row i's stratum of one: x_{i+1 mod B}.
  weights = np.where(own, 1 / n, np.where(partner, (n - m) / (n * m), 1 / m))
  return jnp.asarray(np.log(weights), jnp.float32)


def log_aggregate_estimates(z, mean, logvar, dataset_size, estimator):
  """Batch estimates of log q(z_i) and log ∏_d q(z_i,d) for each sample: ([B], [B]).

  q(z) = (1/N) Σ_n q(z | x_n) is the aggregate posterior over the N examples of the data set;
  the batch's own posteriors stand in for the sum (`log_importance_weights`).
  """
  log_w = log_importance_weights(z.shape[0], dataset_size, estimator)
  log_q = log_density_matrix(z, mean, logvar)
  log_qz = jax.nn.logsumexp(log_w + log_q.sum(axis=-1), axis=1)
  log_qz_product = jax.nn.logsumexp(log_w[:, :, None] + log_q, axis=1).sum(axis=-1)
  return log_qz, log_qz_product


def tc_decomposition(z, mean, logvar, dataset_size, estimator):
  """Index-code MI, total correlation and dimension-wise KL of the batch, in nats.

  MI = E[log q(z|x) − log q(z)], TC = E[log q(z) − Σ_d log q(z_d)], dim_KL = E[Σ_d log q(z_d) −
  log p(z)], each a mean over the batch's samples z_i ~ q(z|x_i). The weights' constants (log N·M
  for `mws`) are kept, so the terms are in nats; they sum to the one-sample KL estimate
  E[log q(z|x) − log p(z)] whatever the estimator.
  """
  log_qz, log_qz_product = log_aggregate_estimates(z, mean, logvar, dataset_size, estimator)
  log_qz_x = distributions.gaussian_log_prob(z, mean, logvar).sum(axis=-1)
  log_pz = distributions.gaussian_log_prob(z, jnp.zeros_like(z), jnp.zeros_like(z)).sum(axis=-1)
  return {'mi': (log_qz_x - log_qz).mean(), 'tc': (log_qz - log_qz_product).mean(),
          'dim_kl': (log_qz_product - log_pz).mean()}


def beta_tcvae_loss(x, outputs, beta, likelihood: Likelihood, dataset_size, estimator):
  """recon + MI + β·TC + dim_KL (Chen et al.'s objective, α = γ = 1); aux `mi`, `tc`, `dim_kl`.

  `dataset_size` is N, the number of examples the batch is drawn from (a Python int);
  `estimator` ('mws' or 'mss', static) picks the batch estimator of q(z). MI + TC + dim_KL is
  the sampled KL, so β = 1 is the VAE's loss up to that KL's sampling noise. `mws` is what the
  reference study trains with (disentanglement_lib drops its constants) but its logged terms are
  offset (`log_importance_weights`); `mss`'s weights sum to 1, so its terms are nats, biased
  low by O(1/B) (log of an unbiased q̂): little for overlapping posteriors or large batches, but
  with confident posteriors at B = 64 its TC can be 0.2–0.7 nats low, even negative (measured in
  tests/methods/test_disentangling_methods.py).
  """
  recon, kl_per_dim = vae_terms(x, outputs, likelihood)
  terms = tc_decomposition(outputs['z'], outputs['mean'], outputs['logvar'], dataset_size,
                           estimator)
  loss = recon + terms['mi'] + beta * terms['tc'] + terms['dim_kl']
  return loss, logged(loss, recon, kl_per_dim, **terms, beta=beta)


def dataset_size(config, num_examples) -> int:
  """N: `--config.dataset_size` when set (> 0), else the data source's own size `num_examples`
  (None when the source does not know it)."""
  size = config.get('dataset_size', 0) or num_examples or 0
  if not size:
    raise UserInputError(f"--config.method=beta_tcvae needs the number of training examples and "
                         f"--config.dataset={config.get('dataset')} does not know it: set "
                         '--config.dataset_size')
  return size


@dataclasses.dataclass(frozen=True)
class BetaTCVAE(VariationalMethod):
  """recon + MI + β·TC + dim_KL; `dataset_size` is N (0 in a config: the source's own size)."""

  name = 'beta_tcvae'
  strength = Strength('beta', 'β', (1.0, 2.0, 4.0, 6.0, 8.0, 10.0), default=4.0)
  terms = ('mi', 'tc', 'dim_kl', 'beta')
  summary_terms = ('mi', 'tc', 'dim_kl')
  tc_estimator: str = setting('mws', rules.OneOf(TC_ESTIMATORS))
  dataset_size: int = setting(0, rules.Rule(lambda v: rules.is_int(v) and v >= 0,
                                            "an integer >= 0 (0: the data source's own size)"))

  @classmethod
  def from_config(cls, config, num_examples=None):
    return cls(config.get('tc_estimator', 'mws'), dataset_size(config, num_examples))

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    return beta_tcvae_loss(x, outputs, strength, likelihood, self.dataset_size,
                           self.tc_estimator)
