"""The deterministic autoencoders: plain, sparse, denoising and contractive.

  ae              recon
  sparse_ae       recon + λ·|z|₁, or recon + λ·Σ_j KL(ρ ‖ ρ̂_j) (a target activation ρ)
  denoising_ae    recon of the clean x from a corrupted one (`vae.methods.corruptions`)
  contractive_ae  recon + λ·‖J_f(x)‖²_F, f the code map (exact, or Hutchinson's estimate)

Units: nats per example, batch-averaged. `jacobian_norm` is the squared Frobenius norm
‖J_f(x)‖²_F, the contractive penalty's quantity.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp

from vae import distributions
from vae import rules
from vae.likelihoods import Likelihood
from vae.methods import corruptions
from vae.methods.method import Method
from vae.methods.method import setting

# Adam moves a unit that L1 pushes toward 0 by about the learning rate (1e-3) per step, so such a
# unit hovers near 0 rather than at it; 0.01 is well above that jitter and two orders below the
# O(1) codes an unregularized autoencoder uses, so an entry this small is effectively off.
INACTIVE_THRESHOLD = 0.01
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
  """|z|₁ per example [B]."""
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


@dataclasses.dataclass(frozen=True)
class PlainAE(Method):
  """The plain autoencoder."""

  name = 'ae'
  variational = False
  terms = ('mean_abs_code', 'inactive_fraction')

  def __call__(self, model, params, critic_params, x, key, strength, step):
    out = model.apply({'params': params}, x)
    return ae_loss(x, out['code'], out['decoder_out'], model.likelihood)


@dataclasses.dataclass(frozen=True)
class SparseAE(Method):
  """recon + sparsity_weight · (|z|₁ for 'l1', Σ_j KL(sparsity_target ‖ ρ̂_j) for 'kl')."""

  name = 'sparse_ae'
  variational = False
  terms = ('mean_abs_code', 'inactive_fraction', 'sparsity_penalty')
  sparsity_penalty: str = setting('l1', rules.OneOf(SPARSITY_PENALTIES))
  sparsity_weight: float = setting(1.0, rules.FINITE_NON_NEGATIVE)
  sparsity_target: float = setting(0.05, rules.real(lambda v: 0 < v < 1, 'in (0, 1)'))

  def __call__(self, model, params, critic_params, x, key, strength, step):
    out = model.apply({'params': params}, x)
    return sparse_ae_loss(x, out['code'], out['decoder_out'], model.likelihood,
                          self.sparsity_weight, self.sparsity_penalty, self.sparsity_target)


@dataclasses.dataclass(frozen=True)
class DenoisingAE(Method):
  """Reconstructs the clean input from one corrupted with noise from the step's key."""

  name = 'denoising_ae'
  variational = False
  terms = ('mean_abs_code', 'inactive_fraction', 'recon_corrupted_input')
  corruption: str = setting('gaussian', rules.OneOf(corruptions.NAMES))
  noise_std: float = setting(0.5, rules.FINITE_NON_NEGATIVE)
  drop_probability: float = setting(0.25, rules.real(lambda v: 0 <= v < 1, 'in [0, 1)'))

  def corrupt(self, key, x):
    """x corrupted by the configured corruption with noise from `key`."""
    return corruptions.Corruption(self.corruption, float(self.noise_std),
                                  float(self.drop_probability))(key, x)

  def __call__(self, model, params, critic_params, x, key, strength, step):
    x_corrupted = self.corrupt(key, x)
    out = model.apply({'params': params}, x_corrupted)
    return denoising_ae_loss(x, x_corrupted, out['code'], out['decoder_out'], model.likelihood)


@dataclasses.dataclass(frozen=True)
class ContractiveAE(Method):
  """recon + contractive_weight · ‖J‖²_F, exact or Hutchinson's estimate with num_probes."""

  name = 'contractive_ae'
  variational = False
  terms = ('mean_abs_code', 'inactive_fraction', 'jacobian_norm')
  contractive_weight: float = setting(0.1, rules.FINITE_NON_NEGATIVE)
  jacobian_estimator: str = setting('exact', rules.OneOf(JACOBIAN_ESTIMATORS))
  num_probes: int = setting(1, rules.POSITIVE_INT)

  def __call__(self, model, params, critic_params, x, key, strength, step):
    variables = {'params': params}
    out = model.apply(variables, x)
    encode = functools.partial(model.apply, variables, method='encode')
    if self.jacobian_estimator == 'exact':
      norms = jacobian_sq_norm(encode, x)
    else:
      norms = hutchinson_samples(key, encode, x, self.num_probes).mean(axis=-1)
    return contractive_ae_loss(x, out['code'], out['decoder_out'], norms, model.likelihood,
                               self.contractive_weight)
