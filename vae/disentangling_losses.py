"""The reference study's other methods (Locatello et al. 2019) as pure losses: `(loss, aux)` out.

Each loss takes the batch `x`, the VAE's outputs (`mean`, `logvar`, `z`, `decoder_out`), the
method's strength, the likelihood and the method's extras. The strength is only ever used in
arithmetic, so it may be traced: a new value never recompiles the step. Units: nats per example,
batch-averaged; `kl` is the closed-form KL(q(z|x) ‖ p(z)) and `elbo` = −(recon + kl) whatever the
strength, as in `objectives.beta_vae_loss`.

  method        strength (what it weights)       reference study's values
  beta_vae      β (the KL)                       1, 2, 4, 6, 8, 16
  annealed_vae  C_max (final KL target, nats)    5, 10, 25, 50, 75, 100   (γ = 1000, T = 100,000)
  factor_vae    γ (the discriminator's TC)       10, 20, 30, 40, 50, 100
  dip_vae_i     λ_od (λ_d = 10·λ_od)             1, 2, 5, 10, 20, 50
  dip_vae_ii    λ_od (λ_d = λ_od)                1, 2, 5, 10, 20, 50
  beta_tcvae    β (the batch estimate of TC)     1, 2, 4, 6, 8, 10
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vae import distributions
from vae.errors import UserInputError
from vae.likelihoods import Likelihood

DEFAULT_STRENGTHS = {
    'beta_vae': (1.0, 2.0, 4.0, 6.0, 8.0, 16.0),
    'annealed_vae': (5.0, 10.0, 25.0, 50.0, 75.0, 100.0),
    'factor_vae': (10.0, 20.0, 30.0, 40.0, 50.0, 100.0),
    'dip_vae_i': (1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
    'dip_vae_ii': (1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
    'beta_tcvae': (1.0, 2.0, 4.0, 6.0, 8.0, 10.0),
}
TC_ESTIMATORS = ('mws', 'mss')
DIP_TYPES = ('i', 'ii')
DIP_DIAGONAL_FACTORS = {'i': 10.0, 'ii': 1.0}  # λ_d / λ_od in the reference study.
ANNEALED_GAMMA = 1000.0
ANNEALED_ITERATION_THRESHOLD = 100_000


def _base_terms(x, outputs, likelihood: Likelihood):
  """Batch means of −log p(x|z) and of each latent's closed-form KL [D]."""
  recon = -likelihood.log_prob(x, outputs['decoder_out']).mean()
  kl_per_dim = distributions.gaussian_kl_per_dim(outputs['mean'], outputs['logvar']).mean(axis=0)
  return recon, kl_per_dim


def _aux(loss, recon, kl_per_dim, **terms):
  kl = kl_per_dim.sum()
  aux = {'loss': loss, 'recon': recon, 'kl': kl, 'elbo': -(recon + kl)}
  aux.update({f'kl_per_dim/{i}': kl_per_dim[i] for i in range(kl_per_dim.shape[0])})
  aux.update({name: jnp.asarray(value) for name, value in terms.items()})
  return aux


# ---------------------------------------------------------------------------------------------
# β-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").


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
  tests/test_disentangling_losses.py).
  """
  recon, kl_per_dim = _base_terms(x, outputs, likelihood)
  terms = tc_decomposition(outputs['z'], outputs['mean'], outputs['logvar'], dataset_size,
                           estimator)
  loss = recon + terms['mi'] + beta * terms['tc'] + terms['dim_kl']
  return loss, _aux(loss, recon, kl_per_dim, **terms, beta=beta)


# ---------------------------------------------------------------------------------------------
# FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising").


class Discriminator(nn.Module):
  """FactorVAE's critic: MLP z -> 2 logits; logit 0 = "z came from q(z)", 1 = "from ∏_d q(z_d)"."""

  hidden: int = 1000
  layers: int = 6

  @nn.compact
  def __call__(self, z):
    h = z
    for _ in range(self.layers):
      h = nn.leaky_relu(nn.Dense(self.hidden)(h), negative_slope=0.2)
    return nn.Dense(2)(h)


def permute_dims(key, z):
  """Each latent dimension shuffled independently across the batch: samples of ∏_d q(z_d).

  Kim & Mnih's Algorithm 2: the marginal of every column is kept, the joint is broken.
  """
  keys = jax.random.split(key, z.shape[1])
  orders = jax.vmap(lambda k: jax.random.permutation(k, z.shape[0]))(keys)  # [D, B]
  return jnp.take_along_axis(z, orders.T, axis=0)


def factor_vae_loss(x, outputs, gamma, likelihood: Likelihood, discriminator_logits_of_z):
  """recon + KL + γ·TC with TC ≈ E[logit_0 − logit_1] of the discriminator on the batch's z.

  Density-ratio trick: for a discriminator D(z) = P(z from q(z)) = softmax(logits)_0,
  log D/(1 − D) = logit_0 − logit_1 ≈ log q(z)/∏_d q(z_d). The logits must be computed from
  `outputs['z']` without stopping the gradient, so γ·TC trains the encoder; the discriminator's
  own parameters are updated by `discriminator_loss` only.
  """
  recon, kl_per_dim = _base_terms(x, outputs, likelihood)
  tc = (discriminator_logits_of_z[:, 0] - discriminator_logits_of_z[:, 1]).mean()
  loss = recon + kl_per_dim.sum() + gamma * tc
  return loss, _aux(loss, recon, kl_per_dim, tc_estimate=tc, gamma=gamma)


def discriminator_loss(logits_real, logits_permuted):
  """Cross-entropy of telling q(z) samples (class 0) from `permute_dims` ones (class 1).

  −½ (E_q(z)[log D(z)] + E_∏q(z_d)[log(1 − D(z'))]), as disentanglement_lib; `logits_real` should
  see z with the gradient stopped, so this loss never moves the encoder. `discriminator_accuracy`
  is over both sets together; a tie between the two logits counts as wrong.
  """
  log_real = jax.nn.log_softmax(logits_real, axis=-1)[:, 0]
  log_permuted = jax.nn.log_softmax(logits_permuted, axis=-1)[:, 1]
  loss = -0.5 * (log_real.mean() + log_permuted.mean())
  correct = jnp.concatenate([logits_real[:, 0] > logits_real[:, 1],
                             logits_permuted[:, 1] > logits_permuted[:, 0]])
  return loss, {'discriminator_loss': loss,
                'discriminator_accuracy': correct.astype(jnp.float32).mean()}


# ---------------------------------------------------------------------------------------------
# DIP-VAE-I and -II (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts").


def dip_covariance(mean, logvar, dip_type):
  """Type i: Cov_batch[μ(x)]; type ii: that + E_batch[diag σ²(x)] = Cov_q(z)[z]; [D, D].

  The biased (1/B) batch covariance, as disentanglement_lib's E[μμᵀ] − E[μ]E[μ]ᵀ; centring first
  avoids that form's cancellation when the means share a large offset.
  """
  if dip_type not in DIP_TYPES:
    raise UserInputError(f"unknown DIP-VAE type '{dip_type}'; allowed: {', '.join(DIP_TYPES)}")
  centred = mean - mean.mean(axis=0)
  covariance = centred.T @ centred / mean.shape[0]
  if dip_type == 'ii':
    covariance = covariance + jnp.diag(jnp.exp(logvar).mean(axis=0))
  return covariance


def dip_vae_loss(x, outputs, lambda_od, likelihood: Likelihood, dip_type='i',
                 lambda_d_factor=None):
  """recon + KL + λ_od·Σ_{i≠j} C_ij² + λ_d·Σ_i (C_ii − 1)², λ_d = factor·λ_od.

  `dip_type` ('i' or 'ii', static) picks C (`dip_covariance`); the factor defaults to the
  reference study's (10 for i, 1 for ii). `dip_off_diagonal` and `dip_diagonal` are the unweighted
  sums, `dip_penalty` the weighted total. The off-diagonal sum counts both (i, j) and (j, i).
  """
  covariance = dip_covariance(outputs['mean'], outputs['logvar'], dip_type)
  factor = DIP_DIAGONAL_FACTORS[dip_type] if lambda_d_factor is None else lambda_d_factor
  recon, kl_per_dim = _base_terms(x, outputs, likelihood)
  diagonal = jnp.diagonal(covariance)
  off_diagonal = jnp.square(covariance).sum() - jnp.square(diagonal).sum()
  on_diagonal = jnp.square(diagonal - 1).sum()
  penalty = lambda_od * off_diagonal + factor * lambda_od * on_diagonal
  loss = recon + kl_per_dim.sum() + penalty
  return loss, _aux(loss, recon, kl_per_dim, dip_penalty=penalty, dip_off_diagonal=off_diagonal,
                    dip_diagonal=on_diagonal, lambda_od=lambda_od)


# ---------------------------------------------------------------------------------------------
# AnnealedVAE (Burgess et al. 2018, "Understanding disentangling in β-VAE").


def capacity(step, capacity_max, iteration_threshold=ANNEALED_ITERATION_THRESHOLD):
  """C(t) = min(C_max, C_max·t/T): the KL target grows linearly to C_max over T steps."""
  fraction = jnp.asarray(step, jnp.float32) / iteration_threshold
  return jnp.minimum(capacity_max, capacity_max * fraction)


def annealed_vae_loss(x, outputs, capacity_max, likelihood: Likelihood, step,
                      gamma=ANNEALED_GAMMA, iteration_threshold=ANNEALED_ITERATION_THRESHOLD):
  """recon + γ·|KL − C(t)|, KL the batch-mean closed-form KL; aux `capacity` = C(t).

  The absolute value is of the batch-mean KL, as disentanglement_lib (the paper leaves open
  whether it sits inside the expectation over x). `step` may be traced, like C_max and γ.
  """
  recon, kl_per_dim = _base_terms(x, outputs, likelihood)
  target = capacity(step, capacity_max, iteration_threshold)
  loss = recon + gamma * jnp.abs(kl_per_dim.sum() - target)
  return loss, _aux(loss, recon, kl_per_dim, capacity=target, capacity_max=capacity_max)
