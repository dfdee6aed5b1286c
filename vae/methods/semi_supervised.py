"""The semi-supervised methods (Locatello et al., ICLR 2020, "Disentangling Factors of Variation
Using Few Labels"): an unsupervised method's loss on unlabelled images plus γ_sup·R_s, a
supervised term on the encoder means of a few labelled ones.

The reference is disentanglement_lib's `methods/semi_supervised/`. Its S2-β-VAE, S2-FactorVAE,
S2-DIP-VAE and S2-β-TCVAE train the unsupervised method's loss on an unlabelled batch plus
γ_sup(step)·R_s(μ(x_l), y_l); its supervised VAE trains R_s alone, the decoder learning from the
codes with their gradient stopped (so it draws what the labels taught, nothing more).

The labelled set (numpy, once per model, the same for every seed of a sweep, as the reference's
fixed supervised seed): `num_labelled` factor tuples drawn from the training distribution with
the key of `labelled_seed`, passed to a labeller: `perfect`; `bin` (each factor with more than
`label_bins` values cut into that many equal-width bins, a rough human labeller); `noisy` (each
entry replaced with probability `label_noise` by a value drawn uniformly from all the factor's
values, its own included); `permuted` (each factor's values relabelled by a random permutation:
order lost); `partial` (`observed_factors` factors drawn at random, latent i then standing for
observed factor i). The first ceil(n·`labelled_train_fraction`) rows train; the rest are what the
reference keeps to select models, which this codebase does not do. Each step renders `n`
labelled rows drawn uniformly with replacement beside the `n` unlabelled images.

Supervised terms (`supervised_loss`): `xent` (sigmoid cross-entropy of the first F means against
the labels divided by the factor sizes), `l2_sigmoid` (squared error of the sigmoid of those
means against the same targets) and `cov` (Σ_{i≠j} Cov(μ_i, y_j)² over the batch, every latent,
raw labels). Every term but `cov` needs a latent per factor. The reference's `l2` and `embed`
terms train parameters of their own (a scale, embeddings) beside the VAE's, and its S2-MINE-VAE
a network per pair of latent and factor; none of the three is here.

Where this differs from the reference, and why:
- Per-example terms, batch-averaged: the reference sums `xent` over the labelled batch (B times
  ours) while averaging recon over its batch, so its γ_sup is ours divided by B; `cov` (a batch
  statistic) is the same.
- `l2_sigmoid`: the reference's expand_dims broadcasts every example's means against every
  example's labels ([B, B, F]); here each example meets its own labels.
- Labelled rows drawn with replacement each step; the reference cycles through them in order.
- Binning in integers, floor(v·bins/size): the reference's float32 `v // (size/bins)` puts a
  value on a bin edge one bin low when size/bins is not exact in float32 (32 values in 6 bins: 16
  goes to bin 2, not 3). At 5 bins no factor of dSprites, Shapes3D or SmallNORB is affected.
- The labelled/validation split rounds n·fraction to 9 decimals before the ceiling, so
  (100, 0.07) trains on 7 labels (the reference's float ceiling gives 8).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from vae import distributions
from vae import rules
from vae.errors import UserInputError
from vae.methods.beta_tcvae import BetaTCVAE
from vae.methods.beta_vae import BetaVAE
from vae.methods.beta_vae import logged
from vae.methods.beta_vae import vae_terms
from vae.methods.dip_vae import DIPVAEI
from vae.methods.factor_vae import FactorVAE
from vae.methods.method import VariationalMethod
from vae.methods.method import setting

LABELLERS = ('perfect', 'bin', 'noisy', 'permuted', 'partial')
SUPERVISED_LOSSES = ('xent', 'l2_sigmoid', 'cov')
GAMMA_SCHEDULES = ('fixed', 'anneal', 'fine_tune')
FRACTION = rules.real(lambda v: 0 < v <= 1, 'a number in (0, 1]')
PROBABILITY = rules.real(lambda v: 0 <= v <= 1, 'a number in [0, 1]')
NON_NEGATIVE_INT = rules.Rule(lambda v: rules.is_int(v) and v >= 0, 'an integer >= 0')
# The one γ_sup the reference ships (its training test: 4 with a batch of 64), in this module's
# per-example units: 4 · 64.
GAMMA_SUP_DEFAULT = 256.0


# ---------------------------------------------------------------- labels (numpy, once)

def check_labels(labels, factor_sizes):
  """`labels` as int64 [N, F], each column in 0 … size − 1, or a one-line UserInputError."""
  sizes = np.asarray(factor_sizes)
  array = np.asarray(labels)
  if array.ndim != 2 or array.shape[1] != sizes.shape[0]:
    raise UserInputError(f'labels must be [num_labelled, {sizes.shape[0]}] (one column per '
                         f'factor), got shape {array.shape}')
  if not np.all(np.equal(np.mod(array, 1), 0)) or np.any(array < 0) or np.any(array >= sizes):
    raise UserInputError(f'labels must be integers in 0 … size − 1 of factor sizes '
                         f'{tuple(int(s) for s in sizes)}')
  return array.astype(np.int64)


def bin_labels(labels, factor_sizes, num_bins):
  """(labels, sizes) with every factor of more than `num_bins` values cut into `num_bins`
  equal-width bins: value v of n goes to floor(v·bins/n), in integers (see the module's note)."""
  if not (isinstance(num_bins, int) and num_bins >= 1):
    raise UserInputError(f'--config.label_bins={num_bins} must be a positive integer')
  labels = check_labels(labels, factor_sizes)
  sizes = np.asarray(factor_sizes, np.int64)
  binned = np.where(sizes > num_bins, labels * num_bins // sizes, labels)
  return binned, np.minimum(sizes, num_bins)


def replace_labels(labels, factor_sizes, prob_random, coins, picks):
  """Entry (i, j) becomes floor(picks_ij·size_j) where coins_ij < p; coins, picks in [0, 1).

  The draws are arguments so that a test can feed the reference's labeller the same ones.
  """
  if not 0 <= prob_random <= 1:
    raise UserInputError(f'--config.label_noise={prob_random} must be in [0, 1]')
  labels = check_labels(labels, factor_sizes)
  sizes = np.asarray(factor_sizes, np.int64)
  replacement = np.floor(np.asarray(picks, np.float64) * sizes).astype(np.int64)
  return np.where(np.asarray(coins) < prob_random, replacement, labels)


def noisy_labels(key, labels, factor_sizes, prob_random):
  """(labels, sizes) with each entry redrawn uniformly from its factor's values with probability
  `prob_random` (so it changes with probability p·(1 − 1/size))."""
  shape = np.shape(labels)
  coins, picks = np.asarray(jax.random.uniform(key, (2, *shape)), np.float64)
  return (replace_labels(labels, factor_sizes, prob_random, coins, picks),
          np.asarray(factor_sizes, np.int64))


def permute_labels(labels, factor_sizes, permutations):
  """Factor j's value v becomes permutations[j][v]: its values keep their classes, not their
  order."""
  labels = check_labels(labels, factor_sizes)
  columns = [np.asarray(perm, np.int64)[labels[:, j]] for j, perm in enumerate(permutations)]
  return np.stack(columns, axis=1)


def permuted_labels(key, labels, factor_sizes):
  """(labels, sizes) with each factor's values relabelled by a permutation drawn from `key`."""
  keys = jax.random.split(key, len(factor_sizes))
  perms = [np.asarray(jax.random.permutation(k, int(n))) for k, n in zip(keys, factor_sizes)]
  return permute_labels(labels, factor_sizes, perms), np.asarray(factor_sizes, np.int64)


def observe_factors(labels, factor_sizes, kept):
  """(labels[:, kept], sizes[kept], kept): only the factors `kept`, in that order."""
  labels = check_labels(labels, factor_sizes)
  kept = np.asarray(kept, np.int64)
  return labels[:, kept], np.asarray(factor_sizes, np.int64)[kept], kept


def partial_labels(key, labels, factor_sizes, num_observed):
  """(labels, sizes, kept) of `num_observed` factors drawn without replacement from `key`."""
  num_factors = len(factor_sizes)
  if not (isinstance(num_observed, int) and 1 <= num_observed <= num_factors):
    raise UserInputError(f'--config.observed_factors={num_observed} must be an integer in '
                         f'1 … {num_factors}')
  kept = np.asarray(jax.random.permutation(key, num_factors))[:num_observed]
  return observe_factors(labels, factor_sizes, kept)


def num_training_labels(num_labelled, train_fraction):
  """How many of the labelled rows train (the first ones): ceil(n·fraction), n·fraction rounded
  to 9 decimals first so that a fraction like 0.07 is not pushed up by its binary error."""
  if not 0 < train_fraction <= 1:
    raise UserInputError(f'--config.labelled_train_fraction={train_fraction} must be in (0, 1]')
  return math.ceil(round(num_labelled * train_fraction, 9))


def normalized_labels(labels, factor_sizes):
  """labels / size per factor, float32: in [0, (size − 1)/size], as the reference's
  `normalize_labels` (it divides by the size, not by size − 1)."""
  return jnp.asarray(labels, jnp.float32) / jnp.asarray(factor_sizes, jnp.float32)


# ---------------------------------------------------------------- supervised terms (jax)

def check_latents(kind, latents, num_factors):
  """UserInputError unless `kind` is known and, but for `cov`, there is a latent per factor."""
  rules.OneOf(SUPERVISED_LOSSES).check('--config.supervised_loss', kind)
  if kind != 'cov' and latents < num_factors:
    raise UserInputError(f'--config.latents={latents} must be at least {num_factors} for '
                         f'--config.supervised_loss={kind}, which ties latent j to factor j')


def xent_per_example(representation, targets):
  """[B]: Σ_j of the sigmoid cross-entropy of logit μ_j against target_j (label/size), j < F."""
  logits = representation[:, :targets.shape[1]]
  return (jax.nn.softplus(logits) - logits * targets).sum(axis=-1)


def l2_sigmoid_per_example(representation, targets):
  """[B]: Σ_j (sigmoid(μ_j) − target_j)², j < F."""
  fitted = jax.nn.sigmoid(representation[:, :targets.shape[1]])
  return jnp.square(fitted - targets).sum(axis=-1)


def cov_penalty(representation, labels):
  """Σ_{i≠j} Cov(μ_i, y_j)² over the batch (biased 1/B covariance, raw labels): every latent
  should covary only with its own factor. The diagonal is left free (not pushed to 1)."""
  centred = representation - representation.mean(axis=0)
  labels = jnp.asarray(labels, jnp.float32)
  covariance = centred.T @ (labels - labels.mean(axis=0)) / representation.shape[0]  # [D, F]
  off_diagonal = 1 - jnp.eye(*covariance.shape, dtype=covariance.dtype)
  return jnp.sum(jnp.square(covariance) * off_diagonal)


def supervised_term(kind, representation, labels, targets):
  """R_s of a labelled batch: the batch mean of `kind`'s per-example term (`cov`: the batch's
  penalty). `labels` are the raw labels, `targets` the labels divided by the factor sizes."""
  check_latents(kind, representation.shape[1], labels.shape[1])
  if kind == 'cov':
    return cov_penalty(representation, labels)
  if kind == 'xent':
    return xent_per_example(representation, targets).mean()
  return l2_sigmoid_per_example(representation, targets).mean()


def gamma_sup_at(gamma, step, schedule='fixed', threshold=1):
  """γ_sup at `step`: `fixed` γ; `anneal` γ·min(1, step/threshold); `fine_tune` 0 up to
  `threshold` and γ after it (γ·clip(step − threshold, 0, 1))."""
  rules.OneOf(GAMMA_SCHEDULES).check('--config.gamma_sup_schedule', schedule)
  step = jnp.asarray(step, jnp.float32)
  if schedule == 'fixed':
    return jnp.asarray(gamma, jnp.float32)
  if schedule == 'anneal':
    return gamma * jnp.minimum(1.0, step / threshold)
  return gamma * jnp.clip(step - threshold, 0.0, 1.0)


def with_supervision(loss, aux, supervised, gamma):
  """(loss + γ·R_s, aux with `supervised` and `gamma_sup`): an unsupervised method's (loss, aux)
  made semi-supervised. `aux['loss']` stays the model's own (FactorVAE's excludes its critic's)."""
  return loss + gamma * supervised, {**aux, 'loss': aux['loss'] + gamma * supervised,
                                     'supervised': supervised, 'gamma_sup': gamma}


# ---------------------------------------------------------------- the labelled set and batches

def labelled_set(dataset, method):
  """(factors int [m, F], labels int [m, F'], label sizes [F']) of the training rows of
  `method`'s labelled set on `dataset` (see the module docstring)."""
  draw_key, label_key = jax.random.split(jax.random.key(method.labelled_seed))
  draw = dataset.train_factors or dataset.sample_factors
  factors = np.asarray(draw(draw_key, method.num_labelled), np.int64)
  sizes = dataset.factor_sizes
  if method.labeller == 'bin':
    labels, label_sizes = bin_labels(factors, sizes, method.label_bins)
  elif method.labeller == 'noisy':
    labels, label_sizes = noisy_labels(label_key, factors, sizes, method.label_noise)
  elif method.labeller == 'permuted':
    labels, label_sizes = permuted_labels(label_key, factors, sizes)
  elif method.labeller == 'partial':
    labels, label_sizes, _ = partial_labels(label_key, factors, sizes, method.observed_factors)
  else:
    labels, label_sizes = check_labels(factors, sizes), np.asarray(sizes, np.int64)
  kept = num_training_labels(method.num_labelled, method.labelled_train_fraction)
  return factors[:kept], labels[:kept], label_sizes


@dataclasses.dataclass(frozen=True)
class LabelledSampler:
  """`(key, n) -> {'x': n unlabelled training observations, 'x_labelled': n rows of the labelled
  set (drawn with replacement), 'labels': float32 [n, F'], 'targets': labels / sizes}`.
  Hashable (tuples), so the compiled programs that take it are cached like a source's."""

  dataset: object
  factors: tuple
  labels: tuple
  label_sizes: tuple

  def __call__(self, key, n):
    unlabelled_key, pick_key = jax.random.split(key)
    rows = jax.random.randint(pick_key, (n,), 0, len(self.factors))
    labels = jnp.asarray(self.labels, jnp.float32)[rows]
    factors = jnp.asarray(self.factors, jnp.int32)[rows]
    if self.dataset.jittable:
      labelled = self.dataset.observations_from_factors(factors)
    else:
      labelled = np.asarray(self.dataset.observations_from_factors(np.asarray(factors)),
                            np.float32)
    return {'x': self.dataset.sample_train(unlabelled_key, n), 'x_labelled': labelled,
            'labels': labels, 'targets': normalized_labels(labels, self.label_sizes)}


# ---------------------------------------------------------------- the methods

@dataclasses.dataclass(frozen=True)
class Labelled(VariationalMethod):
  """What every method of the family shares: the labelled set's settings, the batches of
  `LabelledSampler` and the supervised term on their labelled half."""

  num_labelled: int = setting(1000, rules.POSITIVE_INT)
  labelled_train_fraction: float = setting(0.9, FRACTION)
  labelled_seed: int = setting(0, NON_NEGATIVE_INT)
  labeller: str = setting('perfect', rules.OneOf(LABELLERS))
  label_bins: int = setting(5, rules.POSITIVE_INT)
  label_noise: float = setting(0.1, PROBABILITY)
  observed_factors: int = setting(2, rules.POSITIVE_INT)
  supervised_loss: str = setting('xent', rules.OneOf(SUPERVISED_LOSSES))

  def check_source(self, dataset, config):
    super().check_source(dataset, config)
    source = f"--config.dataset={config.get('dataset', dataset.name)}"
    if not dataset.has_factor_grid:
      raise UserInputError(
          f'--config.method={self.name} labels images by their ground-truth factors; {source} '
          'has no grid of factors (use procedural_dsprites, dsprites, shapes3d or smallnorb)')
    columns = dataset.num_factors
    if self.labeller == 'partial':
      if self.observed_factors > dataset.num_factors:
        raise UserInputError(f'--config.observed_factors={self.observed_factors} must be an '
                             f'integer in 1 … {dataset.num_factors} ({source})')
      columns = self.observed_factors
    check_latents(self.supervised_loss, config.latents, columns)

  def sampler(self, dataset):
    factors, labels, label_sizes = labelled_set(dataset, self)
    return LabelledSampler(dataset, tuple(map(tuple, factors.tolist())),
                           tuple(map(tuple, labels.tolist())), tuple(label_sizes.tolist()))

  def supervised(self, model, params, batch):
    """R_s on the encoder means of the labelled half of `batch`."""
    means, _ = model.apply({'params': params}, batch['x_labelled'], method='encode')
    return supervised_term(self.supervised_loss, means, batch['labels'], batch['targets'])


@dataclasses.dataclass(frozen=True)
class SemiSupervised(Labelled):
  """A semi-supervised method is this class before an unsupervised method in its bases
  (`S2BetaVAE(SemiSupervised, BetaVAE)`): it keeps that method's strength, settings and loss on
  the unlabelled half, and adds γ_sup(step)·R_s."""

  gamma_sup: float = setting(GAMMA_SUP_DEFAULT, rules.FINITE_NON_NEGATIVE)
  gamma_sup_schedule: str = setting('fixed', rules.OneOf(GAMMA_SCHEDULES))
  gamma_sup_steps: int = setting(1, rules.POSITIVE_INT)

  def __call__(self, model, params, critic_params, batch, key, strength, step):
    loss, aux = super().__call__(model, params, critic_params, batch['x'], key, strength, step)
    gamma = gamma_sup_at(self.gamma_sup, step, self.gamma_sup_schedule, self.gamma_sup_steps)
    return with_supervision(loss, aux, self.supervised(model, params, batch), gamma)

  def evaluate(self, model, params, critic_params, x, key, strength, step):
    """The unsupervised method's terms on single observations (no labels at eval)."""
    return super().__call__(model, params, critic_params, x, key, strength, step)[1]


def _semi_supervised_terms(method):
  return (*method.terms, 'supervised', 'gamma_sup')


@dataclasses.dataclass(frozen=True)
class S2BetaVAE(SemiSupervised, BetaVAE):
  """recon + β·KL + γ_sup·R_s."""

  name = 's2_beta_vae'
  terms = _semi_supervised_terms(BetaVAE)


@dataclasses.dataclass(frozen=True)
class S2FactorVAE(SemiSupervised, FactorVAE):
  """recon + KL + γ·TC (the discriminator's) + γ_sup·R_s."""

  name = 's2_factor_vae'
  terms = _semi_supervised_terms(FactorVAE)


@dataclasses.dataclass(frozen=True)
class S2DIPVAEI(SemiSupervised, DIPVAEI):
  """DIP-VAE-I's loss + γ_sup·R_s."""

  name = 's2_dip_vae_i'
  terms = _semi_supervised_terms(DIPVAEI)


@dataclasses.dataclass(frozen=True)
class S2BetaTCVAE(SemiSupervised, BetaTCVAE):
  """The β-TCVAE's loss + γ_sup·R_s."""

  name = 's2_beta_tcvae'
  terms = _semi_supervised_terms(BetaTCVAE)


@dataclasses.dataclass(frozen=True)
class SupervisedVAE(Labelled):
  """R_s on the labelled batch trains the encoder's means alone; the decoder learns to draw
  the unlabelled images from their codes with the codes' gradient stopped (the reference's
  `supervised_vae`: no KL, no γ_sup, which Adam would not see)."""

  name = 'supervised_vae'
  terms = ('supervised',)

  def unsupervised(self, model, params, x, key):
    """(recon, the logged VAE terms) of the decoder on stopped codes of `x`."""
    mean, logvar = model.apply({'params': params}, x, method='encode')
    z = jax.lax.stop_gradient(distributions.reparameterize(key, mean, logvar))
    outputs = {'mean': mean, 'logvar': logvar,
               'decoder_out': model.apply({'params': params}, z, method='decode')}
    recon, kl_per_dim = vae_terms(x, outputs, model.likelihood)
    return recon, logged(recon, recon, kl_per_dim)

  def __call__(self, model, params, critic_params, batch, key, strength, step):
    recon, aux = self.unsupervised(model, params, batch['x'], key)
    term = self.supervised(model, params, batch)
    return recon + term, {**aux, 'loss': recon + term, 'supervised': term}

  def evaluate(self, model, params, critic_params, x, key, strength, step):
    return self.unsupervised(model, params, x, key)[1]
