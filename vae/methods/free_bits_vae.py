"""The free-bits VAE (Kingma et al. 2016, "Improving Variational Inference with Inverse
Autoregressive Flow", appendix on free bits): recon + Σ_j max(λ, KL_j).

KL_j is latent j's KL(q(z_j|x) ‖ p(z_j)) averaged over the batch. A latent whose KL is below λ
nats costs λ, a constant, so the KL exerts no pull on it: each latent may carry up to λ nats for
free, which keeps latents from collapsing onto the prior early in training. λ = 0 is the VAE.
"""

import dataclasses

import jax.numpy as jnp

from vae.likelihoods import Likelihood
from vae.methods.beta_vae import logged
from vae.methods.beta_vae import vae_terms
from vae.methods.method import Strength
from vae.methods.method import VariationalMethod


def free_bits_vae_loss(x, outputs, free_bits, likelihood: Likelihood):
  """recon + Σ_j max(λ, KL_j); `kl_floored` is that sum, `free_latents` the count below λ."""
  recon, kl_per_dim = vae_terms(x, outputs, likelihood)
  floored = jnp.maximum(free_bits, kl_per_dim)
  loss = recon + floored.sum()
  return loss, logged(loss, recon, kl_per_dim, kl_floored=floored.sum(),
                      free_latents=(kl_per_dim < free_bits).sum(), free_bits=free_bits)


@dataclasses.dataclass(frozen=True)
class FreeBitsVAE(VariationalMethod):
  """recon + Σ_j max(λ, KL_j), λ = `free_bits` nats per latent."""

  name = 'free_bits_vae'
  strength = Strength('free_bits', 'λ', (0.0, 0.25, 0.5, 1.0, 2.0), default=0.5)
  terms = ('kl_floored', 'free_latents', 'free_bits')

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    return free_bits_vae_loss(x, outputs, strength, likelihood)
