"""Group VAEs trained on pairs of observations that differ in a few factors (Locatello et al.
2020, "Weakly-Supervised Disentanglement Without Compromises"; pairs from `vae.data.pairs`).

Both views are encoded; δ_j = KL(q(z_j|x₁) ‖ q(z_j|x₂)) per latent. The latents treated as
shared take one posterior built from the two views' (each view keeps its own on the others),
and the loss is both views' β-VAE loss on those posteriors:
Σ_views [−log p(x_v|z_v) + β·KL(q̃(z|x_v) ‖ p(z))], batch-averaged (disentanglement_lib averages
the two views, half this; Adam hardly sees a constant factor).

Which latents are shared:
- adaptive (Ada-GVAE, Ada-ML-VAE): those with δ_j below the midpoint of [min δ, max δ] of the
  pair (disentanglement_lib's two equal-width bins over [min, max]). Its δ is 2·KL; the midpoint
  of a scaled δ is the scaled midpoint, so the split is the same. When every δ_j is equal there
  is no split and no latent is shared.
- labels (GroupVAE and ML-VAE with labels): every latent but those of the changed factors, latent
  j standing for factor j (the library marks one changed factor, the last it drew; here every
  changed one, the same at k = 1).

The shared posterior:
- GroupVAE's average: μ = ½(μ₁ + μ₂), σ² = ½(σ₁² + σ₂²).
- ML-VAE's product of experts, each view's density raised to ½ (normalized, as in
  disentanglement_lib's `MLVae`): precision ½(1/σ₁² + 1/σ₂²), mean the precision-weighted mean.
  The unraised product would add the precisions, halving the variance of a latent two identical
  views share.

The methods are scored on single observations like every other method (`evaluate`: the β-VAE's
terms of each image's own posterior), so their eval rows and scores compare directly.
"""

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp

from vae import distributions
from vae import rules
from vae.data import pairs
from vae.errors import UserInputError
from vae.methods.beta_vae import BetaVAE
from vae.methods.beta_vae import beta_vae_loss
from vae.methods.beta_vae import beta_vae_terms
from vae.methods.beta_vae import logged
from vae.methods.method import Method
from vae.methods.method import setting

NUM_CHANGED_RULE = rules.Rule(
    lambda v: v == pairs.RANDOM_K or (rules.is_int(v) and v >= 1) or
    (isinstance(v, str) and v.isascii() and v.isdigit() and int(v) >= 1),
    f"a positive integer or '{pairs.RANDOM_K}'")


def adaptive_shared(delta):
  """bool [B, D]: the latents of each pair whose δ is below the midpoint of its [min, max]."""
  low, high = delta.min(axis=-1, keepdims=True), delta.max(axis=-1, keepdims=True)
  return delta < low + (high - low) / 2


def labelled_shared(changed, latents):
  """bool [B, D]: every latent but those of the changed factors [B, F] (latent j: factor j)."""
  kept = jnp.pad(changed, ((0, 0), (0, latents - changed.shape[-1])))
  return ~kept


def average(mean_1, logvar_1, mean_2, logvar_2):
  """GroupVAE's shared posterior: μ = ½(μ₁ + μ₂), σ² = ½(σ₁² + σ₂²)."""
  return (mean_1 + mean_2) / 2, jnp.logaddexp(logvar_1, logvar_2) - math.log(2)


def product_of_experts(mean_1, logvar_1, mean_2, logvar_2):
  """ML-VAE's shared posterior ∝ q₁^½ q₂^½: precision ½(1/σ₁² + 1/σ₂²), precision-weighted μ."""
  weight_1 = jax.nn.sigmoid(logvar_2 - logvar_1)  # (1/σ₁²) / (1/σ₁² + 1/σ₂²)
  mean = weight_1 * mean_1 + (1 - weight_1) * mean_2
  return mean, math.log(2) - jnp.logaddexp(-logvar_1, -logvar_2)


def _views(rows):
  """[2B, D] of pairs side by side -> the first views [B, D] and the second views [B, D]."""
  pairs_ = rows.reshape(-1, 2, rows.shape[-1])
  return pairs_[:, 0], pairs_[:, 1]


def _pairs_of(per_pair):
  """[B, D] -> [2B, D]: each pair's row for both of its views, side by side."""
  return jnp.repeat(per_pair, 2, axis=0)


@dataclasses.dataclass(frozen=True)
class PairVAE(Method):
  """The family's base: pairs drawn with `num_changed_factors` and `pair_sampler`, β traced."""

  num_changed_factors: str = setting(pairs.RANDOM_K, NUM_CHANGED_RULE)
  pair_sampler: str = setting('uniform', rules.OneOf(pairs.DRAWS))
  strength = BetaVAE.strength  # The paper sweeps the β-VAE's β values.
  terms = ('beta', 'shared_latents', 'recon_1', 'recon_2', 'kl_1', 'kl_2')
  uses_labels: ClassVar[bool] = False  # Shared latents from the changed factors, not from δ.
  aggregate: ClassVar = staticmethod(average)

  def sampler(self, dataset):
    return pairs.PairSampler(dataset, pairs.parse_num_changed(self.num_changed_factors),
                             self.pair_sampler)

  def check_source(self, dataset, config):
    source = f"--config.dataset={config.get('dataset', dataset.name)}"
    if not dataset.has_factor_grid or min(dataset.factor_sizes) < 2:
      raise UserInputError(
          f'--config.method={self.name} trains on pairs that differ in ground-truth factors; '
          f'{source} has no grid of factors that each take 2 or more values (use '
          'procedural_dsprites, dsprites, shapes3d or smallnorb)')
    num_factors = dataset.num_factors
    k = self.num_changed_factors
    if k != pairs.RANDOM_K and not 1 <= int(k) <= num_factors - 1:
      raise UserInputError(
          f"--config.num_changed_factors={rules.shown(k)} must be '{pairs.RANDOM_K}' or an "
          f'integer in 1 … {num_factors - 1} ({source} has {num_factors} factors)')
    if self.uses_labels and config.latents < num_factors:
      raise UserInputError(
          f'--config.latents={config.latents} must be at least {num_factors} for '
          f'--config.method={self.name}, which ties latent j to factor j of {source}')

  def __call__(self, model, params, critic_params, batch, key, strength, step):
    n = batch['x1'].shape[0]
    # Both views in one pass, each pair's two rows side by side ([x1_0, x2_0, x1_1, ...]): a
    # batch split over devices keeps each pair where it was drawn (concatenating the views
    # would move half of every device's rows to another).
    x = jnp.stack([batch['x1'], batch['x2']], axis=1).reshape(2 * n, *batch['x1'].shape[1:])
    mean, logvar = model.apply({'params': params}, x, method='encode')
    (mean_1, mean_2), (logvar_1, logvar_2) = _views(mean), _views(logvar)
    delta = distributions.diag_gaussian_kl_per_dim(mean_1, logvar_1, mean_2, logvar_2)
    if self.uses_labels:
      shared = labelled_shared(batch['changed'], mean.shape[-1])
    else:
      shared = adaptive_shared(delta)
    shared_mean, shared_logvar = self.aggregate(mean_1, logvar_1, mean_2, logvar_2)
    both = _pairs_of(shared)
    mean = jnp.where(both, _pairs_of(shared_mean), mean)
    logvar = jnp.where(both, _pairs_of(shared_logvar), logvar)
    z = distributions.reparameterize(key, mean, logvar)
    outputs = {'mean': mean, 'logvar': logvar,
               'decoder_out': model.apply({'params': params}, z, method='decode')}
    terms = beta_vae_terms(x, outputs, model.likelihood)
    recon = terms['recon'].reshape(n, 2).mean(axis=0)  # Each view's, [2].
    kl_per_dim = terms['kl_per_dim'].reshape(n, 2, -1).mean(axis=0)  # [2, D]
    kl = kl_per_dim.sum(axis=-1)
    loss = jnp.sum(recon + strength * kl)
    # recon, kl and elbo per observation (the views' mean), comparable with one-view methods.
    aux = logged(loss, recon.mean(), kl_per_dim.mean(axis=0), beta=strength,
                 shared_latents=shared.sum(axis=-1).mean(), recon_1=recon[0], recon_2=recon[1],
                 kl_1=kl[0], kl_2=kl[1])
    aux.update({f'delta/{j}': value for j, value in enumerate(delta.mean(axis=0))})
    return loss, aux

  def evaluate(self, model, params, critic_params, x, key, strength, step):
    outputs = model.apply({'params': params}, x, key)
    return beta_vae_loss(x, outputs, strength, model.likelihood)[1]


@dataclasses.dataclass(frozen=True)
class AdaGVAE(PairVAE):
  """Ada-GVAE: the adaptive split, the averaged posterior."""

  name = 'ada_gvae'


@dataclasses.dataclass(frozen=True)
class AdaMLVAE(PairVAE):
  """Ada-ML-VAE: the adaptive split, the product of experts."""

  name = 'ada_mlvae'
  aggregate = staticmethod(product_of_experts)


@dataclasses.dataclass(frozen=True)
class GroupVAELabels(PairVAE):
  """GroupVAE with the changed factors given: the averaged posterior on the others' latents."""

  name = 'group_vae_labels'
  uses_labels = True


@dataclasses.dataclass(frozen=True)
class MLVAELabels(PairVAE):
  """ML-VAE with the changed factors given: the product of experts on the others' latents."""

  name = 'mlvae_labels'
  uses_labels = True
  aggregate = staticmethod(product_of_experts)
