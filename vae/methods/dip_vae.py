"""DIP-VAE-I and -II (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts").

recon + KL + λ_od·Σ_{i≠j} C_ij² + λ_d·Σ_i (C_ii − 1)², C the covariance of the means (type i) or
of q(z) (type ii), λ_d = factor·λ_od (the reference study's factor: 10 for i, 1 for ii). The
study sweeps λ_od over 1, 2, 5, 10, 20, 50.
"""

import dataclasses
from typing import ClassVar

import jax.numpy as jnp

from vae import rules
from vae.errors import UserInputError
from vae.likelihoods import Likelihood
from vae.methods.beta_vae import logged
from vae.methods.beta_vae import vae_terms
from vae.methods.method import Strength
from vae.methods.method import VariationalMethod
from vae.methods.method import setting

DIP_TYPES = ('i', 'ii')
DIP_DIAGONAL_FACTORS = {'i': 10.0, 'ii': 1.0}  # λ_d / λ_od in the reference study.
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
  recon, kl_per_dim = vae_terms(x, outputs, likelihood)
  diagonal = jnp.diagonal(covariance)
  off_diagonal = jnp.square(covariance).sum() - jnp.square(diagonal).sum()
  on_diagonal = jnp.square(diagonal - 1).sum()
  penalty = lambda_od * off_diagonal + factor * lambda_od * on_diagonal
  loss = recon + kl_per_dim.sum() + penalty
  return loss, logged(loss, recon, kl_per_dim, dip_penalty=penalty, dip_off_diagonal=off_diagonal,
                    dip_diagonal=on_diagonal, lambda_od=lambda_od)


@dataclasses.dataclass(frozen=True)
class _DIPVAE(VariationalMethod):
  """Both types: `dip_type` picks C, and the type's own `lambda_d_factor_<type>` setting λ_d."""

  dip_type: ClassVar[str]
  strength = Strength('lambda_od', 'λ_od', (1.0, 2.0, 5.0, 10.0, 20.0, 50.0), default=1.0)
  terms = ('dip_penalty', 'dip_off_diagonal', 'dip_diagonal', 'lambda_od')
  summary_terms = ('dip_off_diagonal', 'dip_diagonal')

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    factor = getattr(self, f'lambda_d_factor_{self.dip_type}')
    return dip_vae_loss(x, outputs, strength, likelihood, self.dip_type, factor)


@dataclasses.dataclass(frozen=True)
class DIPVAEI(_DIPVAE):
  """DIP-VAE-I: C = Cov_batch[μ(x)]; λ_d = lambda_d_factor_i·λ_od."""

  name = 'dip_vae_i'
  dip_type = 'i'
  lambda_d_factor_i: float = setting(DIP_DIAGONAL_FACTORS['i'], rules.NON_NEGATIVE)


@dataclasses.dataclass(frozen=True)
class DIPVAEII(_DIPVAE):
  """DIP-VAE-II: C = Cov_q(z)[z]; λ_d = lambda_d_factor_ii·λ_od."""

  name = 'dip_vae_ii'
  dip_type = 'ii'
  lambda_d_factor_ii: float = setting(DIP_DIAGONAL_FACTORS['ii'], rules.NON_NEGATIVE)
