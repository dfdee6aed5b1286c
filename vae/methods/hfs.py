"""HFS, the Hausdorff factorized support criterion (Roth et al., ICLR 2023, "Disentanglement of
Correlated Factors via Hausdorff Factorized Support"), added to the β-VAE and the β-TCVAE.

A factorial q(z) is the wrong target when the ground-truth factors are correlated; what a
disentangled code still has is a factorized *support*: every combination of the latents' values
occurs. For latents i < j the batch's posterior means μ give a joint support {(μ_ci, μ_cj)}_c and
a factorized one, the product of its two marginal supports {(μ_ai, μ_bj)}_{a,b} (B² points).
HFS_ij is the directed Hausdorff distance from the factorized support to the joint one, with
squared Euclidean distances as in the authors' code (facebookresearch/
disentangling-correlated-factors, `dent/losses/factorizedsupportvae.py`, matching
`hausdorff_hard`, estimation `full`): max_{a,b} min_c (μ_ai − μ_ci)² + (μ_bj − μ_cj)². The other
direction is 0 (the joint support lies in the factorized one). The regularizer `hfs` is the sum
of HFS_ij over `hfs_pairs` pairs drawn afresh each step without replacement (the authors' 25),
or over all D(D − 1)/2 pairs when that is fewer or `hfs_pairs` = 0. Gradients flow into both
supports (the authors found that detaching the factorized points diverges).

`hfs_beta_vae`: recon + β·KL + γ·HFS; `hfs_beta_tcvae`: recon + MI + β·TC + dim_KL + γ·HFS. γ
(`hfs_gamma`) is the traced strength; β is a setting shared with `beta_vae` (`--config.beta=0`
is the authors' HFS-only objective). Their optional scale regularizer (weight δ, 0 by default)
is left out.
"""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from vae import rules
from vae.errors import UserInputError
from vae.likelihoods import Likelihood
from vae.methods.beta_tcvae import BetaTCVAE
from vae.methods.beta_tcvae import beta_tcvae_loss
from vae.methods.beta_vae import beta_vae_loss
from vae.methods.method import Strength
from vae.methods.method import VariationalMethod
from vae.methods.method import setting

# The authors' correlation benchmark sweeps γ over these (β-VAE and β-TCVAE, dSprites and
# Shapes3D); a single run takes their README's example γ = 300.
HFS_STRENGTH = Strength('hfs_gamma', 'γ_HFS', (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0),
                        default=300.0)
NUM_PAIRS_RULE = rules.Rule(lambda v: rules.is_int(v) and v >= 0,
                            'an integer >= 0 (0: every pair of latents)')
PAIR_KEY_DATA = 1  # Folded into the ε key for the pair draw, so z's noise is never reused.


def latent_pairs(num_latents) -> np.ndarray:
  """Every pair i < j of `num_latents` latents, in lexicographic order: [D(D − 1)/2, 2]."""
  if num_latents < 2:
    raise UserInputError(f'HFS compares pairs of latents and needs at least 2; got {num_latents}')
  return np.array(list(itertools.combinations(range(num_latents), 2)), np.int32)


def num_pairs_used(num_latents, num_pairs) -> int:
  """How many pairs a step sums over: `num_pairs`, capped at all of them (0: all of them)."""
  available = num_latents * (num_latents - 1) // 2
  return available if num_pairs == 0 else min(num_pairs, available)


def sampled_pairs(key, num_latents, num_pairs):
  """`num_pairs_used` distinct pairs drawn uniformly with `key`; all of them, in order, when
  that is every pair (the sum over pairs does not depend on their order)."""
  pairs = jnp.asarray(latent_pairs(num_latents))
  used = num_pairs_used(num_latents, num_pairs)
  if used == pairs.shape[0]:
    return pairs
  return pairs[jax.random.permutation(key, pairs.shape[0])[:used]]


def gaps_per_latent(codes, pairs):
  """(μ_ai − μ_ci)² and (μ_bj − μ_cj)² of every pair (i, j): [B (a), B (c), P] twice."""
  first, second = codes[:, pairs[:, 0]], codes[:, pairs[:, 1]]  # [B, P] each.
  return (first[:, None] - first[None]) ** 2, (second[:, None] - second[None]) ** 2


def squared_distances(codes, pairs):
  """|f_ab − j_c|² between each factorized point f_ab = (μ_ai, μ_bj) and each joint point
  j_c = (μ_ci, μ_cj) of every pair (i, j): [B (b), B (a), B (c), P].

  b before a: flattened, the factorized points come in the authors' order (a varies fastest), so
  a tie for the farthest point resolves to the same point as theirs.
  """
  first_gap, second_gap = gaps_per_latent(codes, pairs)
  return second_gap[:, None] + first_gap[None]


def hausdorff_witnesses(codes, pairs):
  """Per pair, the farthest factorized point (a, b) and its nearest joint point c: 3 × [P].

  Found by index (argmax, argmin: the first of tied ones, as torch's max and min), not by the
  gradient of max/min: under jit XLA may round the fused distances differently from the value
  that max/min's gradient compares them with, and then drops the winner's gradient.
  """
  codes = jax.lax.stop_gradient(codes)
  batch, num_pairs = codes.shape[0], pairs.shape[0]
  nearest = squared_distances(codes, pairs).argmin(axis=2)  # [b, a, P]: one pass over B³P.
  first_gap, second_gap = gaps_per_latent(codes, pairs)
  a, b = jnp.arange(batch)[None, :, None], jnp.arange(batch)[:, None, None]
  p = jnp.arange(num_pairs)
  gaps = first_gap[a, nearest, p] + second_gap[b, nearest, p]  # [b, a, P], O(B²P).
  farthest = gaps.reshape(batch * batch, num_pairs).argmax(axis=0)  # [P], b·B + a.
  c = nearest.reshape(batch * batch, num_pairs)[farthest, p]
  return farthest % batch, farthest // batch, c


def pair_hausdorff(codes, pairs):
  """HFS_ij of each pair: the largest squared distance from a point of the factorized support
  to its nearest point of the joint support, max_{a,b} min_c: [P]. Its gradient flows through
  that one distance, to both supports."""
  codes = jnp.asarray(codes)
  if codes.ndim != 2 or codes.shape[0] == 0:
    raise UserInputError(f'HFS needs codes of shape [batch, latents]; got {codes.shape}')
  a, b, c = hausdorff_witnesses(codes, pairs)
  first, second = pairs[:, 0], pairs[:, 1]
  return (codes[a, first] - codes[c, first]) ** 2 + (codes[b, second] - codes[c, second]) ** 2


def max_squared_distance(codes, pairs):
  """The largest squared distance between a factorized and a joint point of any pair (the
  authors' logged `max_distance`, a scale of the code). For a fixed c the farthest a and b are
  independent, so it is max_c [max_a (μ_ai − μ_ci)² + max_b (μ_bj − μ_cj)²]: O(B²P)."""
  first_gap, second_gap = gaps_per_latent(codes, pairs)
  return (first_gap.max(axis=0) + second_gap.max(axis=0)).max()


def hfs_terms(codes, pairs):
  """`hfs` (Σ over `pairs` of HFS_ij) and `hfs_max_distance` (`max_squared_distance`)."""
  return {'hfs': pair_hausdorff(codes, pairs).sum(),
          'hfs_max_distance': max_squared_distance(jnp.asarray(codes), pairs)}


def with_hfs(loss, aux, codes, gamma, pairs):
  """A VAE-based `(loss, aux)` plus γ·HFS of `codes` (the posterior means) on `pairs`."""
  terms = hfs_terms(codes, pairs)
  loss = loss + gamma * terms['hfs']
  return loss, {**aux, **terms, 'loss': loss, 'hfs_gamma': jnp.asarray(gamma)}


def hfs_beta_vae_loss(x, outputs, gamma, beta, likelihood: Likelihood, pairs):
  """recon + β·KL + γ·HFS(μ) over `pairs`, batch-averaged recon and KL (as `beta_vae_loss`)."""
  loss, aux = beta_vae_loss(x, outputs, beta, likelihood)
  return with_hfs(loss, aux, outputs['mean'], gamma, pairs)


def hfs_beta_tcvae_loss(x, outputs, gamma, beta, likelihood: Likelihood, dataset_size,
                        estimator, pairs):
  """recon + MI + β·TC + dim_KL + γ·HFS(μ) over `pairs` (terms as `beta_tcvae_loss`)."""
  loss, aux = beta_tcvae_loss(x, outputs, beta, likelihood, dataset_size, estimator)
  return with_hfs(loss, aux, outputs['mean'], gamma, pairs)


def check_latents(config):
  """Raises a one-line UserInputError when the code has fewer than 2 latents."""
  if config.get('latents', 2) < 2:
    raise UserInputError(f"--config.method={config.method} compares pairs of latents: "
                         f"--config.latents={config.latents} must be >= 2")


@dataclasses.dataclass(frozen=True)
class HFSBetaVAE(VariationalMethod):
  """recon + β·KL + γ·HFS, γ = `hfs_gamma`; `hfs_pairs` pairs of latents per step."""

  name = 'hfs_beta_vae'
  strength = HFS_STRENGTH
  terms = ('hfs', 'hfs_max_distance', 'hfs_gamma', 'beta')
  summary_terms = ('hfs',)
  beta: float = setting(4.0, rules.NON_NEGATIVE)
  hfs_pairs: int = setting(25, NUM_PAIRS_RULE)

  def check_source(self, dataset, config):
    check_latents(config)

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    pairs = sampled_pairs(jax.random.fold_in(key, PAIR_KEY_DATA), outputs['mean'].shape[1],
                          self.hfs_pairs)
    return hfs_beta_vae_loss(x, outputs, strength, self.beta, likelihood, pairs)


@dataclasses.dataclass(frozen=True)
class HFSBetaTCVAE(BetaTCVAE):
  """recon + MI + β·TC + dim_KL + γ·HFS, γ = `hfs_gamma`; the β-TCVAE's own settings."""

  name = 'hfs_beta_tcvae'
  strength = HFS_STRENGTH
  terms = ('mi', 'tc', 'dim_kl', 'hfs', 'hfs_max_distance', 'hfs_gamma', 'beta')
  summary_terms = ('mi', 'tc', 'dim_kl', 'hfs')
  beta: float = setting(4.0, rules.NON_NEGATIVE)
  hfs_pairs: int = setting(25, NUM_PAIRS_RULE)

  @classmethod
  def from_config(cls, config, num_examples=None):
    base = super().from_config(config, num_examples)
    return dataclasses.replace(base, beta=config.get('beta', 4.0),
                               hfs_pairs=config.get('hfs_pairs', 25))

  def check_source(self, dataset, config):
    check_latents(config)

  def loss(self, x, outputs, likelihood, strength, *, step, key, critic_params):
    pairs = sampled_pairs(jax.random.fold_in(key, PAIR_KEY_DATA), outputs['mean'].shape[1],
                          self.hfs_pairs)
    return hfs_beta_tcvae_loss(x, outputs, strength, self.beta, likelihood, self.dataset_size,
                               self.tc_estimator, pairs)
