"""Losses, one pure function per method: arrays in, `(loss, aux)` out; `Objective` picks one.

Methods (sheet exercise 1): `ae`, `sparse_ae` (+ λ|z|₁), `denoising_ae` (reconstruct the clean
input from a corrupted one), `contractive_ae` (+ λ‖J_f(x)‖²_F, f the code map), and the (β-)VAE.
Units: nats per example. Per-example terms of shape [B] are averaged over the batch into named
scalars; `kl_per_dim/i` keeps each latent's KL so a researcher sees which latents are active.
`jacobian_norm` is the squared Frobenius norm ‖J_f(x)‖²_F, the contractive penalty's quantity.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from vae import corruptions
from vae import disentangling_losses
from vae import distributions
from vae.errors import UserInputError
from vae.likelihoods import Likelihood
from vae.models import VARIATIONAL_METHODS


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


# Adam moves a unit that L1 pushes toward 0 by about the learning rate (1e-3) per step, so such a
# unit hovers near 0 rather than at it; 0.01 is well above that jitter and two orders below the
# O(1) codes an unregularized autoencoder uses, so an entry this small is effectively off.
INACTIVE_THRESHOLD = 0.01
METHODS = ('ae', 'sparse_ae', 'denoising_ae', 'contractive_ae', *VARIATIONAL_METHODS)
# The setting that holds each method's strength: the number a sweep varies, traced in the step.
STRENGTH_SETTINGS = {'vae': 'beta', 'beta_vae': 'beta', 'beta_tcvae': 'beta',
                     'factor_vae': 'gamma', 'dip_vae_i': 'lambda_od', 'dip_vae_ii': 'lambda_od',
                     'annealed_vae': 'capacity_max'}
SPARSITY_PENALTIES = ('l1', 'kl')
JACOBIAN_ESTIMATORS = ('exact', 'hutchinson')
_PROBABILITY_FLOOR = 1e-6  # Keeps the sparsity KL finite when every sigmoid unit saturates.


def reconstruction(x, decoder_out, likelihood: Likelihood):
  """−log p(x | decoder_out) per example [B], in nats."""
  return -likelihood.log_prob(x, decoder_out)


def code_statistics(code):
  """`mean_abs_code` (mean |z| over examples and units) and `inactive_fraction` (|z| < 0.01)."""
  magnitude = jnp.abs(code)
  return {'mean_abs_code': magnitude.mean(),
          'inactive_fraction': (magnitude < INACTIVE_THRESHOLD).mean()}


def l1_penalty(code):
  """|z|₁ per example [B] (the sheet's sparse autoencoder)."""
  return jnp.abs(code).sum(axis=-1)


def kl_sparsity_penalty(code, target):
  """Σ_j KL(Bern(ρ) ‖ Bern(ρ̂_j)), ρ̂_j the batch mean of sigmoid(z_j) (a batch term)."""
  rate = jnp.clip(jax.nn.sigmoid(code).mean(axis=0), _PROBABILITY_FLOOR, 1 - _PROBABILITY_FLOOR)
  return distributions.bernoulli_kl(target, rate).sum()


def _single(encode):
  """`encode` (a batch map [B, ...] -> [B, D]) as a map of one example."""
  return lambda x: encode(x[None])[0]


def jacobian_sq_norm(encode, x):
  """‖J_f(x)‖²_F per example [B], exactly: a reverse-mode Jacobian per example (D VJPs)."""
  jacobians = jax.vmap(jax.jacrev(_single(encode)))(x)
  return jnp.square(jacobians).reshape(x.shape[0], -1).sum(axis=-1)


def hutchinson_samples(key, encode, x, num_probes):
  """‖Jᵀv‖² for v ~ N(0, I) in code space, [B, num_probes]; each is unbiased for ‖J‖²_F.

  E‖Jᵀv‖² = tr(J Jᵀ) (Hutchinson 1990). Code-space probes cost one VJP each after one shared
  linearization, and are D-dimensional rather than input-sized.
  """

  def one(key, x):
    code, vjp = jax.vjp(_single(encode), x)
    probes = jax.random.normal(key, (num_probes, *code.shape), code.dtype)
    pullbacks = jax.vmap(lambda v: vjp(v)[0])(probes)
    return jnp.square(pullbacks).reshape(num_probes, -1).sum(axis=-1)

  return jax.vmap(one)(jax.random.split(key, x.shape[0]), x)


def ae_loss(x, code, decoder_out, likelihood: Likelihood):
  """Plain autoencoder: the reconstruction error of a deterministic code."""
  recon = reconstruction(x, decoder_out, likelihood).mean()
  return recon, {'loss': recon, 'recon': recon, **code_statistics(code)}


def sparse_ae_loss(x, code, decoder_out, likelihood: Likelihood, weight, penalty='l1',
                   target=0.05):
  """recon + λ·|z|₁ (`penalty='l1'`) or recon + λ·Σ_j KL(ρ ‖ ρ̂_j) (`'kl'`, target ρ)."""
  recon, aux = ae_loss(x, code, decoder_out, likelihood)
  if penalty == 'l1':
    sparsity = l1_penalty(code).mean()
  else:
    sparsity = kl_sparsity_penalty(code, target)
    aux['mean_activation'] = jax.nn.sigmoid(code).mean()
  loss = recon + weight * sparsity
  return loss, {**aux, 'loss': loss, 'sparsity_penalty': sparsity}


def denoising_ae_loss(x, x_corrupted, code, decoder_out, likelihood: Likelihood):
  """Reconstruction of the corrupted input scored against the clean `x`.

  `recon_corrupted_input` is the identity baseline: the corrupted input itself taken as the
  prediction (for Bernoulli, as probabilities clipped to one grey level from 0 and 1, so each
  fully flipped pixel costs log 256 nats), in the same units as `recon`.
  """
  loss, aux = ae_loss(x, code, decoder_out, likelihood)
  identity = reconstruction(x, likelihood.params_for_mean(x_corrupted), likelihood).mean()
  return loss, {**aux, 'recon_corrupted_input': identity}


def contractive_ae_loss(x, code, decoder_out, jacobian_norms, likelihood: Likelihood, weight):
  """recon + λ·‖J_f(x)‖²_F; `jacobian_norm` logs the batch mean of the squared norm."""
  recon, aux = ae_loss(x, code, decoder_out, likelihood)
  jacobian_norm = jacobian_norms.mean()
  loss = recon + weight * jacobian_norm
  return loss, {**aux, 'loss': loss, 'jacobian_norm': jacobian_norm}


def _check_one_of(name, value, allowed):
  if value not in allowed:
    raise UserInputError(
        f"unknown {name} '{value}' (--config.{name}); allowed: {', '.join(allowed)}")


@functools.lru_cache(maxsize=None)
def critic_optimizer(learning_rate: float) -> optax.GradientTransformation:
  """FactorVAE's discriminator Adam (β₁ 0.5, β₂ 0.9, Kim & Mnih 2018); one object per rate."""
  return optax.adam(learning_rate, b1=0.5, b2=0.9)


@dataclasses.dataclass(frozen=True)
class Objective:
  """The training loss of `method` with its settings; hashable, so static in the jitted step.

  `vae` and `beta_vae` are the same objective (use β = 1 for the VAE's negative ELBO). The
  method's strength (`STRENGTH_SETTINGS`) is not a field: it is traced, passed to `__call__`.
  `dataset_size` is N for β-TCVAE's estimate of q(z). FactorVAE's discriminator is the critic:
  `init_critic` makes its parameters and `critic_tx` trains them.
  """

  method: str = 'beta_vae'
  sparsity_penalty: str = 'l1'
  sparsity_weight: float = 1.0
  sparsity_target: float = 0.05
  corruption: corruptions.Corruption = corruptions.Corruption()
  contractive_weight: float = 0.1
  jacobian_estimator: str = 'exact'
  num_probes: int = 1
  tc_estimator: str = 'mws'
  dataset_size: int = 0
  lambda_d_factor_i: float = disentangling_losses.DIP_DIAGONAL_FACTORS['i']
  lambda_d_factor_ii: float = disentangling_losses.DIP_DIAGONAL_FACTORS['ii']
  annealed_gamma: float = disentangling_losses.ANNEALED_GAMMA
  annealed_steps: int = disentangling_losses.ANNEALED_ITERATION_THRESHOLD
  discriminator_hidden: int = 1000
  discriminator_layers: int = 6
  discriminator_learning_rate: float = 1e-4

  def __post_init__(self):
    _check_one_of('method', self.method, METHODS)
    _check_one_of('sparsity_penalty', self.sparsity_penalty, SPARSITY_PENALTIES)
    _check_one_of('jacobian_estimator', self.jacobian_estimator, JACOBIAN_ESTIMATORS)
    _check_one_of('tc_estimator', self.tc_estimator, disentangling_losses.TC_ESTIMATORS)
    for name in ('sparsity_weight', 'contractive_weight', 'annealed_gamma', 'lambda_d_factor_i',
                 'lambda_d_factor_ii'):
      if not getattr(self, name) >= 0:
        raise UserInputError(f'--config.{name}={getattr(self, name)} must be >= 0')
    if not 0 < self.sparsity_target < 1:
      raise UserInputError(f'--config.sparsity_target={self.sparsity_target} must be in (0, 1)')
    for name in ('num_probes', 'annealed_steps', 'discriminator_hidden', 'discriminator_layers'):
      if getattr(self, name) < 1:
        raise UserInputError(f'--config.{name}={getattr(self, name)} must be a positive integer')
    if not self.discriminator_learning_rate > 0:
      raise UserInputError(f'--config.discriminator_learning_rate='
                           f'{self.discriminator_learning_rate} must be > 0')

  @property
  def discriminator(self) -> disentangling_losses.Discriminator:
    return disentangling_losses.Discriminator(self.discriminator_hidden,
                                              self.discriminator_layers)

  @property
  def critic_tx(self) -> optax.GradientTransformation:
    return critic_optimizer(float(self.discriminator_learning_rate))

  def init_critic(self, key, latents):
    """The critic's initial parameters (FactorVAE's discriminator), or None for other methods."""
    if self.method != 'factor_vae':
      return None
    return self.discriminator.init(key, jnp.zeros((1, latents), jnp.float32))['params']

  def __call__(self, model, params, critic_params, x, key, strength, step):
    """(loss, aux) of `model` with `params` on batch `x`; `key` drives ε, corruption, probes.

    `strength` is the method's traced strength and `step` the traced train step (AnnealedVAE's
    schedule). For FactorVAE the returned loss is the VAE's plus the discriminator's, each seen
    by its own parameters only (stop-gradients), so one gradient trains both; `aux['loss']` is
    the VAE's alone.
    """
    variables = {'params': params}
    likelihood = model.likelihood
    if self.method in VARIATIONAL_METHODS:
      return self._variational(model.apply(variables, x, key), x, key, likelihood, strength,
                               step, critic_params)
    if self.method == 'denoising_ae':
      x_corrupted = self.corruption(key, x)
      out = model.apply(variables, x_corrupted)
      return denoising_ae_loss(x, x_corrupted, out['code'], out['decoder_out'], likelihood)
    out = model.apply(variables, x)
    if self.method == 'sparse_ae':
      return sparse_ae_loss(x, out['code'], out['decoder_out'], likelihood, self.sparsity_weight,
                            self.sparsity_penalty, self.sparsity_target)
    if self.method == 'contractive_ae':
      encode = functools.partial(model.apply, variables, method='encode')
      if self.jacobian_estimator == 'exact':
        norms = jacobian_sq_norm(encode, x)
      else:
        norms = hutchinson_samples(key, encode, x, self.num_probes).mean(axis=-1)
      return contractive_ae_loss(x, out['code'], out['decoder_out'], norms, likelihood,
                                 self.contractive_weight)
    return ae_loss(x, out['code'], out['decoder_out'], likelihood)

  def _variational(self, outputs, x, key, likelihood, strength, step, critic_params):
    losses = disentangling_losses
    if self.method == 'beta_tcvae':
      return losses.beta_tcvae_loss(x, outputs, strength, likelihood, self.dataset_size,
                                    self.tc_estimator)
    if self.method == 'factor_vae':
      return self._factor_vae(outputs, x, key, likelihood, strength, critic_params)
    if self.method in ('dip_vae_i', 'dip_vae_ii'):
      dip_type = self.method.removeprefix('dip_vae_')
      return losses.dip_vae_loss(x, outputs, strength, likelihood, dip_type,
                                 getattr(self, f'lambda_d_factor_{dip_type}'))
    if self.method == 'annealed_vae':
      return losses.annealed_vae_loss(x, outputs, strength, likelihood, step,
                                      self.annealed_gamma, self.annealed_steps)
    return beta_vae_loss(x, outputs, strength, likelihood)

  def _factor_vae(self, outputs, x, key, likelihood, gamma, critic_params):
    losses, discriminator = disentangling_losses, self.discriminator
    frozen = jax.lax.stop_gradient(critic_params)
    logits = discriminator.apply({'params': frozen}, outputs['z'])
    loss, aux = losses.factor_vae_loss(x, outputs, gamma, likelihood, logits)
    codes = jax.lax.stop_gradient(outputs['z'])
    # The ε key's own derivation: the permutation must not reuse the noise of z.
    permuted = losses.permute_dims(jax.random.fold_in(key, 1), codes)
    critic_loss, critic_aux = losses.discriminator_loss(
        discriminator.apply({'params': critic_params}, codes),
        discriminator.apply({'params': critic_params}, permuted))
    return loss + critic_loss, {**aux, **critic_aux}


def strength_of(config) -> float:
  """The strength `config` trains with, from its `STRENGTH_SETTINGS` setting (0 for an
  autoencoder: it has none)."""
  setting = STRENGTH_SETTINGS.get(config.method)
  return float(config[setting]) if setting else 0.0


def dataset_size(config, num_examples) -> int:
  """N for β-TCVAE: `--config.dataset_size` when set (> 0), else the data source's own size
  `num_examples` (None when the source does not know it); 0 when neither is known."""
  size = config.get('dataset_size', 0) or num_examples or 0
  if config.get('method') == 'beta_tcvae' and not size:
    raise UserInputError(f"--config.method=beta_tcvae needs the number of training examples and "
                         f"--config.dataset={config.get('dataset')} does not know it: set "
                         '--config.dataset_size')
  return size


def from_config(config, num_examples=0) -> Objective:
  """The objective named by `config.method` and its settings; a bad one is a UserInputError.

  `num_examples` is the training set's size N (see `dataset_size`).
  """
  # `get` with the dataclass defaults: a config saved before these settings existed still loads.
  settings = {f.name: config.get(f.name, f.default) for f in dataclasses.fields(Objective)
              if f.name not in ('corruption', 'dataset_size')}
  default = corruptions.Corruption()
  corruption = corruptions.Corruption(
      config.get('corruption', default.name), float(config.get('noise_std', default.noise_std)),
      float(config.get('drop_probability', default.drop_probability)))
  return Objective(**settings, corruption=corruption, dataset_size=int(num_examples))
