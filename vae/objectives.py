"""Losses, one pure function per method: arrays in, `(loss, aux)` out.

Units: nats per example. Per-example terms of shape [B] are averaged over the batch into named
scalars; `kl_per_dim/i` keeps each latent's KL so a researcher sees which latents are active.
"""

import jax.numpy as jnp

from vae import distributions
from vae.likelihoods import Likelihood


def beta_vae_terms(x, outputs, likelihood: Likelihood):
  """Per-example terms of the (β-)VAE loss (sheet exercise 3): recon [B], kl_per_dim [B, D]."""
  recon = -likelihood.log_prob(x, outputs['decoder_out'])
  kl_per_dim = distributions.gaussian_kl_per_dim(outputs['mean'], outputs['logvar'])
  return {'recon': recon, 'kl_per_dim': kl_per_dim}


def beta_vae_loss(x, outputs, beta, likelihood: Likelihood):
  """recon + β·KL(q(z|x) ‖ p(z)), averaged over the batch; β = 1 is the VAE's negative ELBO."""
  terms = beta_vae_terms(x, outputs, likelihood)
  recon = terms['recon'].mean()
  kl_per_dim = terms['kl_per_dim'].mean(axis=0)
  kl = kl_per_dim.sum()
  loss = recon + beta * kl
  aux = {'loss': loss, 'recon': recon, 'kl': kl, 'elbo': -(recon + kl), 'beta': jnp.asarray(beta)}
  aux.update({f'kl_per_dim/{i}': kl_per_dim[i] for i in range(kl_per_dim.shape[0])})
  return loss, aux
