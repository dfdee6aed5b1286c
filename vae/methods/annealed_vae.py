"""AnnealedVAE (Burgess et al. 2018, "Understanding disentangling in β-VAE").

recon + γ·|KL − C(t)|, the KL target C(t) growing linearly to C_max over T steps. The reference
study uses γ = 1000, T = 100,000 and sweeps C_max over 5, 10, 25, 50, 75, 100 nats.
"""

import dataclasses

import jax.numpy as jnp

from vae import rules
from vae.likelihoods import Likelihood
from vae.methods.beta_vae import logged
from vae.methods.beta_vae import vae_terms
from vae.methods.method import Strength
from vae.methods.method import VariationalMethod
from vae.methods.method import setting

ANNEALED_GAMMA = 1000.0
ANNEALED_ITERATION_THRESHOLD = 100_000

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
  recon, kl_per_dim = vae_terms(x, outputs, likelihood)
  target = capacity(step, capacity_max, iteration_threshold)
  loss = recon + gamma * jnp.abs(kl_per_dim.sum() - target)
  return loss, logged(loss, recon, kl_per_dim, capacity=target, capacity_max=capacity_max)



@dataclasses.dataclass(frozen=True)
class AnnealedVAE(VariationalMethod):
  """recon + annealed_gamma·|KL − C(t)|, C(t) = min(C_max, C_max·t/annealed_steps)."""

  name = 'annealed_vae'
  strength = Strength('capacity_max', 'C_max', (5.0, 10.0, 25.0, 50.0, 75.0, 100.0),
                      default=25.0)
  terms = ('capacity', 'capacity_max')
  summary_terms = ('capacity',)
  annealed_gamma: float = setting(ANNEALED_GAMMA, rules.FINITE_NON_NEGATIVE)
  annealed_steps: int = setting(ANNEALED_ITERATION_THRESHOLD, rules.POSITIVE_INT)

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    return annealed_vae_loss(x, outputs, strength, likelihood, step, self.annealed_gamma,
                             self.annealed_steps)
