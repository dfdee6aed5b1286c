"""The VAE and β-VAE (Higgins et al. 2017): recon + β·KL(q(z|x) ‖ p(z)); β = 1 is the VAE.
The reference study (Locatello et al. 2019) sweeps β over 1, 2, 4, 6, 8, 16.

Also the terms every VAE-based method logs (`vae_terms`, `logged`): `recon`, `kl` (the
closed-form KL), `elbo` = −(recon + kl) whatever the method's strength, and `kl_per_dim/i`, each
latent's KL, so a researcher sees which latents are active. Units: nats per example,
batch-averaged.
"""

import dataclasses

import jax.numpy as jnp

from vae import distributions
from vae.likelihoods import Likelihood
from vae.methods.method import Strength
from vae.methods.method import VariationalMethod


def beta_vae_terms(x, outputs, likelihood: Likelihood):
  """Per-example terms of the (β-)VAE loss: recon [B], kl_per_dim [B, D]."""
  recon = -likelihood.log_prob(x, outputs['decoder_out'])
  kl_per_dim = distributions.gaussian_kl_per_dim(outputs['mean'], outputs['logvar'])
  return {'recon': recon, 'kl_per_dim': kl_per_dim}


def vae_terms(x, outputs, likelihood: Likelihood):
  """Batch means of −log p(x|z) and of each latent's closed-form KL [D]."""
  terms = beta_vae_terms(x, outputs, likelihood)
  return terms['recon'].mean(), terms['kl_per_dim'].mean(axis=0)


def logged(loss, recon, kl_per_dim, **terms):
  """The named scalars of a VAE-based loss: loss, recon, kl, elbo, kl_per_dim/i and `terms`."""
  kl = kl_per_dim.sum()
  aux = {'loss': loss, 'recon': recon, 'kl': kl, 'elbo': -(recon + kl)}
  aux.update({f'kl_per_dim/{i}': kl_per_dim[i] for i in range(kl_per_dim.shape[0])})
  aux.update({name: jnp.asarray(value) for name, value in terms.items()})
  return aux


def beta_vae_loss(x, outputs, beta, likelihood: Likelihood):
  """recon + β·KL(q(z|x) ‖ p(z)), averaged over the batch; β = 1 is the VAE's negative ELBO."""
  recon, kl_per_dim = vae_terms(x, outputs, likelihood)
  loss = recon + beta * kl_per_dim.sum()
  return loss, logged(loss, recon, kl_per_dim, beta=beta)


@dataclasses.dataclass(frozen=True)
class BetaVAE(VariationalMethod):
  """recon + β·KL."""

  name = 'beta_vae'
  strength = Strength('beta', 'β', (1.0, 2.0, 4.0, 6.0, 8.0, 16.0), default=4.0)
  terms = ('beta',)

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    return beta_vae_loss(x, outputs, strength, likelihood)


@dataclasses.dataclass(frozen=True)
class VAE(BetaVAE):
  """The VAE: the β-VAE's objective, named for β = 1 (its negative ELBO)."""

  name = 'vae'
  same_as = 'beta_vae'
