"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising").

recon + KL + γ·TC, the total correlation estimated by a discriminator (the method's critic)
trained in the same step to tell q(z) from the product of its marginals. The reference study
sweeps γ over 10, 20, 30, 40, 50, 100.
"""

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from vae import rules
from vae.likelihoods import Likelihood
from vae.methods.beta_vae import logged
from vae.methods.beta_vae import vae_terms
from vae.methods.method import Strength
from vae.methods.method import VariationalMethod
from vae.methods.method import setting

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
  recon, kl_per_dim = vae_terms(x, outputs, likelihood)
  tc = (discriminator_logits_of_z[:, 0] - discriminator_logits_of_z[:, 1]).mean()
  loss = recon + kl_per_dim.sum() + gamma * tc
  return loss, logged(loss, recon, kl_per_dim, tc_estimate=tc, gamma=gamma)


def discriminator_loss(logits_real, logits_permuted):
  """Cross-entropy of telling q(z) samples (class 0) from `permute_dims` ones (class 1).

  −½ (E_q(z)[log D(z)] + E_∏q(z_d)[log(1 − D(z'))]), as disentanglement_lib; `logits_real` should
  see z with the gradient stopped, so this loss never moves the encoder. `discriminator_accuracy`
  is over both sets together; a tie between the two logits counts as wrong.
  """
  log_real = jax.nn.log_softmax(logits_real, axis=-1)[:, 0]
  log_permuted = jax.nn.log_softmax(logits_permuted, axis=-1)[:, 1]
  loss = -0.5 * (log_real.mean() + log_permuted.mean())
  # The two sets are equally large: the accuracy over both is the mean of each set's.
  accuracy = 0.5 * ((logits_real[:, 0] > logits_real[:, 1]).astype(jnp.float32).mean() +
                    (logits_permuted[:, 1] > logits_permuted[:, 0]).astype(jnp.float32).mean())
  return loss, {'discriminator_loss': loss, 'discriminator_accuracy': accuracy}


@functools.lru_cache(maxsize=None)
def critic_optimizer(learning_rate: float) -> optax.GradientTransformation:
  """The discriminator's Adam (β₁ 0.5, β₂ 0.9, Kim & Mnih 2018); one object per rate."""
  return optax.adam(learning_rate, b1=0.5, b2=0.9)


@dataclasses.dataclass(frozen=True)
class FactorVAE(VariationalMethod):
  """recon + KL + γ·TC; the discriminator (6 × 1000 LeakyReLU in the paper) is the critic.

  The loss returned is the VAE's plus the discriminator's, each seen by its own parameters only
  (stop-gradients), so one gradient trains both; `aux['loss']` is the VAE's alone.
  """

  name = 'factor_vae'
  strength = Strength('gamma', 'γ', (10.0, 20.0, 30.0, 40.0, 50.0, 100.0), default=10.0)
  terms = ('tc_estimate', 'discriminator_loss', 'discriminator_accuracy', 'gamma')
  summary_terms = ('tc_estimate', 'discriminator_accuracy')
  discriminator_hidden: int = setting(1000, rules.POSITIVE_INT)
  discriminator_layers: int = setting(6, rules.POSITIVE_INT)
  discriminator_learning_rate: float = setting(1e-4, rules.FINITE_POSITIVE)

  @property
  def discriminator(self) -> Discriminator:
    return Discriminator(self.discriminator_hidden, self.discriminator_layers)

  @property
  def critic_tx(self) -> optax.GradientTransformation:
    return critic_optimizer(float(self.discriminator_learning_rate))

  def init_critic(self, key, latents):
    return self.discriminator.init(key, jnp.zeros((1, latents), jnp.float32))['params']

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    discriminator = self.discriminator
    frozen = jax.lax.stop_gradient(critic_params)
    logits = discriminator.apply({'params': frozen}, outputs['z'])
    loss, aux = factor_vae_loss(x, outputs, strength, likelihood, logits)
    codes = jax.lax.stop_gradient(outputs['z'])
    # The ε key's own derivation: the permutation must not reuse the noise of z.
    permuted = permute_dims(jax.random.fold_in(key, 1), codes)
    critic_loss, critic_aux = discriminator_loss(
        discriminator.apply({'params': critic_params}, codes),
        discriminator.apply({'params': critic_params}, permuted))
    return loss + critic_loss, {**aux, **critic_aux}
